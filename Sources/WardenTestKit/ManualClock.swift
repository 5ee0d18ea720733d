// A clock a test moves by hand: what the engine's wall clock (`clock: () -> Date`) and a backtest's simulated
// time read, so time-dependent logic (staleness, cool-downs, expiries, intervals) is tested without sleeping.
public import Foundation
import Synchronization

public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date = t0) { current = Mutex(start) }

    /// The time now, as the code under test reads it.
    public var now: Date { current.withLock { $0 } }

    /// The clock as the closure the engine takes.
    public var read: @Sendable () -> Date { { [self] in now } }

    /// Moves time forward (never back: a test wanting a step back says so with `set`).
    public func advance(_ d: Duration) {
        precondition(d >= .zero, "ManualClock.advance: a negative step; use set(_:) for a clock stepped back")
        current.withLock { $0 = $0.addingTimeInterval(Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
    }

    /// Sets the time (a clock step, either way).
    public func set(_ date: Date) { current.withLock { $0 = date } }
}
