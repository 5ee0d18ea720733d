// Monotonic and boot-time clock readings; every timeout and interval in Warden uses these.
import CWardenOS

/// A point on the monotonic clock, in nanoseconds since an arbitrary origin.
/// A plain value so pure logic can be tested with an injected clock.
public struct MonotonicInstant: Comparable, Hashable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    public static func now() -> MonotonicInstant { MonotonicInstant(nanoseconds: warden_monotonic_ns()) }
    public static func < (a: Self, b: Self) -> Bool { a.nanoseconds < b.nanoseconds }

    public static func + (a: Self, d: Duration) -> Self {
        let ns = Int64(d.seconds * 1e9)
        return MonotonicInstant(nanoseconds: ns >= 0 ? a.nanoseconds &+ UInt64(ns) : a.nanoseconds &- UInt64(-ns))
    }
    /// Time from `b` to `a` (zero when `b` is later).
    public static func - (a: Self, b: Self) -> Duration {
        a.nanoseconds >= b.nanoseconds ? .nanoseconds(Int64(a.nanoseconds - b.nanoseconds)) : .zero
    }
    public var description: String { "mono+\(Double(nanoseconds) / 1e9)s" }
}

/// The boot-time clock, which keeps counting while the machine is suspended.
public enum BootClock {
    public static func nanoseconds() -> UInt64 { warden_boottime_ns() }
}
