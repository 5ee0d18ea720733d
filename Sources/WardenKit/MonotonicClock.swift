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

/// Notices that the whole process was stopped (SIGSTOP, a suspended VM, a starved host): a task that wakes every
/// `tick` and measures, on the monotonic clock, how long it really slept. A wake-up more than `bound` after the
/// previous one means nothing in the process ran for that long, wherever its other tasks were at the time (a
/// gap between a loop's rounds alone misses a stop that lands inside a round).
public enum SuspensionWatch {
    public static func run(tick: Duration = .seconds(1), bound: Duration, onGap: (Duration) async -> Void) async {
        var last = MonotonicInstant.now()
        while !Task.isCancelled {
            do { try await Task.sleep(for: tick) } catch { return }
            let now = MonotonicInstant.now()
            let gap = now - last
            last = now
            if gap > bound { await onGap(gap) }
        }
    }
}
