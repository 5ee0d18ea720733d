// What the engine says: an activity item (and, when `alert`, an alert), with its kind and severity as enums.
import Foundation

/// What an activity item is about; the raw value is what subscribers and the notifier see.
public enum EventKind: String, Sendable, Equatable, CaseIterable {
    case paused, resumed, halted, data, recovery, settlement, risk, strategy, fill, order, storage, backup, `operator`, startup, venue
}

public enum Severity: String, Sendable, Equatable, CaseIterable, Comparable {
    case info, warning, critical
    var rank: Int { self == .info ? 0 : self == .warning ? 1 : 2 }
    public static func < (a: Self, b: Self) -> Bool { a.rank < b.rank }
}

/// One thing the engine says; the driver publishes it (and persists it under the next alert seq when `alert`).
public struct EngineNotice: Sendable, Equatable {
    public var key: String
    public var kind: EventKind
    public var severity: Severity
    public var message: String
    /// How long the condition that ended lasted (recoveries).
    public var duration: Double?
    public var alert: Bool

    public init(key: String, kind: EventKind, severity: Severity, message: String, duration: Double? = nil, alert: Bool = true) {
        self.key = key; self.kind = kind; self.severity = severity; self.message = message; self.duration = duration; self.alert = alert
    }
}
