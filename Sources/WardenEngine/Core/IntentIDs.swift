// The ids the engine gives the orders it sends: `<run>-<n>`, n counting from 1 within one run of the engine. The
// run prefix comes from the driver (the start time in base 36 for a running engine, a fixed one for a backtest), so
// ids are unique across restarts with no randomness in the core, and a backtest's ids repeat run after run.
// Strategies never name new orders: they cancel by the ids their open orders carry.
public import Foundation

public struct IntentIDs: Sendable, Equatable {
    public let run: String
    public private(set) var issued = 0

    /// `issued`: ids of this run already in the journal (a restart within the same millisecond, or a test's clock
    /// that starts at the same instant twice, continues after them).
    public init(run: String, issued: Int = 0) { self.run = run; self.issued = max(0, issued) }

    /// A running engine's prefix: its start time in milliseconds, base 36 (one engine per state directory, so two
    /// runs never share a millisecond).
    public static func runPrefix(startedAt: Date) -> String {
        String(UInt64(max(0, startedAt.timeIntervalSince1970 * 1000)), radix: 36)
    }

    public mutating func next() -> String {
        issued += 1
        return "\(run)-\(issued)"
    }
}
