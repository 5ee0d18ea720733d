// Alert sequencing: every alert gets the next seq of the `alerts` topic (subscribers see it, the journal stores it
// under the same one); alerts the journal cannot take while storage fails are held in memory, bounded, and written
// under their own seqs when it works again. Pure: no clock, no journal.
public import Foundation

public struct AlertSequencer: Sendable {
    /// An alert published but not yet in the journal.
    public struct Held: Sendable, Equatable {
        public var seq: UInt64
        public var at: Date
        public var payload: String
        public init(seq: UInt64, at: Date, payload: String) { self.seq = seq; self.at = at; self.payload = payload }
    }

    /// The seq the next alert gets.
    public private(set) var nextSeq: UInt64
    /// Held alerts, oldest first.
    public private(set) var held: [Held] = []
    /// At most this many are held; past it the oldest is dropped (and said by the caller).
    public let limit: Int

    /// `after`: the last seq the journal has (0 for a fresh one).
    public init(after last: UInt64 = 0, limit: Int = 10_000) {
        nextSeq = last + 1
        self.limit = max(1, limit)
    }

    /// The seq of a new alert.
    public mutating func assign() -> UInt64 {
        defer { nextSeq += 1 }
        return nextSeq
    }

    /// Holds an alert the journal could not take; returns the one dropped to stay within the limit, if any.
    public mutating func hold(_ alert: Held) -> Held? {
        held.append(alert)
        return held.count > limit ? held.removeFirst() : nil
    }

    /// The held alerts were written to the journal.
    public mutating func written() { held = [] }
}
