// The sd_notify client (libsystemd): READY, WATCHDOG, STATUS, STOPPING towards whoever supervises us.
import CSystemd
import Foundation

/// Sends sd_notify messages to $NOTIFY_SOCKET (systemd, or Warden's supervisor for its children).
/// See sd_notify(3) and sd_watchdog_enabled(3).
public struct SystemdNotifier: Sendable {
    public init() {}

    /// True when a supervisor listens ($NOTIFY_SOCKET set).
    public var isSupervised: Bool { ProcessInfo.processInfo.environment["NOTIFY_SOCKET"] != nil }

    /// Sends `state` (newline-separated KEY=VALUE lines). Returns false when nobody listens;
    /// throws when the send itself failed.
    @discardableResult
    public func notify(_ state: String) throws -> Bool {
        let r = sd_notify(0, state)
        if r < 0 { throw WardenError.posix("sd_notify", errno: -r) }
        return r > 0
    }

    public func ready(status: String? = nil) throws {
        try notify("READY=1" + (status.map { "\nSTATUS=\(Self.oneLine($0))" } ?? ""))
    }
    public func watchdog() throws { try notify("WATCHDOG=1") }
    public func status(_ text: String) throws { try notify("STATUS=\(Self.oneLine(text))") }
    public func stopping() throws { try notify("STOPPING=1") }

    /// The watchdog interval our supervisor expects (ping at least every half of it), or nil.
    public func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        let r = sd_watchdog_enabled(0, &usec)
        guard r > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    static func oneLine(_ s: String) -> String {
        String(s.map { $0.isNewline ? " " : $0 }.prefix(1000))
    }
}
