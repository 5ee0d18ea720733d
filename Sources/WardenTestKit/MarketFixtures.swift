// Hand-made markets and books for unit tests of pure logic (strategies, the paper venue, accounts).
public import Foundation
public import WardenCore

/// A fixed instant tests count from.
public let t0 = Date(timeIntervalSince1970: 1_800_000_000)

/// Binary market `m1` (tokens `yes` and `no`), tick 0.01, minimum 5 shares.
public func market(fees: FeeSchedule = .none, end: Date? = nil) -> Market {
    Market(id: "m1", question: "Will it?", endDate: end,
           tokens: [OutcomeToken(tokenID: "yes", outcome: "Yes"), OutcomeToken(tokenID: "no", outcome: "No")],
           tickSize: 10_000, minOrderSize: 5 * Fixed.one, fees: fees)
}

/// A book of `token` from (price, size) pairs, best first, observed at `at`.
public func book(_ token: String, bids: [(Double, Double)] = [], asks: [(Double, Double)] = [], at: Date = t0) -> OrderBook {
    OrderBook(tokenID: token,
              bids: bids.map { BookLevel(price: Fixed.from($0.0)!, size: Fixed.from($0.1)!) },
              asks: asks.map { BookLevel(price: Fixed.from($0.0)!, size: Fixed.from($0.1)!) },
              tickSize: 10_000, minOrderSize: 5 * Fixed.one, bookTime: at, observedAt: at)
}
