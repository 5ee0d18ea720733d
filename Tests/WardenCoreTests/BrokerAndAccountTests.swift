// Paper broker (book walking, fees, limits) and accounts (exact invariant, settlement exactly once).
import Foundation
import Testing
import WardenTestKit
@testable import WardenCore


func buy(_ token: String = "yes", limit: Double, shares: Double, strategy: String = "s") -> OrderIntent {
    OrderIntent(strategy: strategy, marketID: "m1", tokenID: token, side: .buy, kind: .entry,
                limitPrice: Fixed.from(limit)!, shares: Fixed.from(shares)!, reason: "test")
}

@Suite("Fixed point")
struct FixedPointTests {
    @Test("decimal strings parse exactly; junk is refused")
    func parse() {
        #expect(Fixed.parse("0.15") == 150_000)
        #expect(Fixed.parse("100") == 100_000_000)
        #expect(Fixed.parse(".5") == 500_000)
        #expect(Fixed.parse("0.1234567") == 123_456)
        for bad in ["", "abc", "1.2.3", "NaN", "1e5", "--1", "."] { #expect(Fixed.parse(bad) == nil, "\(bad)") }
        #expect(Fixed.from(.nan) == nil)
        #expect(Fixed.text(1_234_500_000) == "1234.50")
    }
}

@Suite("Paper broker")
struct PaperBrokerTests {
    let broker = PaperBroker(slippageBound: 30_000)

    @Test("a buy walks the asks best first (the API's order is irrelevant) and averages the price")
    func walksBook() {
        // CLOB order: best last. OrderBook normalises.
        let b = book("yes", asks: [(0.60, 100), (0.52, 10), (0.50, 10)])
        #expect(b.bestAsk == 500_000)
        guard case .filled(let f) = broker.execute(buy(limit: 0.55, shares: 15), market: market(), book: b, at: t0) else {
            Issue.record("not filled"); return
        }
        #expect(f.shares == 15 * Fixed.one)
        #expect(f.notional == 5_000_000 + 2_600_000)  // 10 × 0.50 + 5 × 0.52
        #expect(f.levels == 2)
        #expect(f.averagePrice == 506_666)
    }

    @Test("what the limit and slippage bound leave unfilled is a partial fill")
    func partial() {
        let b = book("yes", asks: [(0.50, 10), (0.52, 10), (0.60, 100)])
        guard case .partial(let f, let unfilled) = broker.execute(buy(limit: 0.99, shares: 50), market: market(), book: b, at: t0) else {
            Issue.record("expected a partial fill"); return
        }
        #expect(f.shares == 20 * Fixed.one, "0.60 is beyond best + 0.03 slippage")
        #expect(unfilled == 30 * Fixed.one)
    }

    @Test("taker fee follows the market's schedule: shares × rate × p × (1 − p)")
    func fees() {
        let m = market(fees: FeeSchedule(rate: 0.02))
        guard case .filled(let f) = broker.execute(buy(limit: 0.5, shares: 100), market: m, book: book("yes", asks: [(0.5, 100)]), at: t0) else {
            Issue.record("not filled"); return
        }
        #expect(f.fee == 500_000)  // 100 × 0.02 × 0.25
    }

    @Test("invalid ticks, sizes below the minimum, and empty books are rejected with a reason")
    func rejections() {
        let b = book("yes", asks: [(0.50, 3)])
        let cases: [(OrderIntent, String)] = [
            (buy(limit: 0.505, shares: 10), "not a valid price"),
            (buy(limit: 0.5, shares: 1), "below the market minimum"),
            (buy(limit: 0.5, shares: 10), "below the minimum"),  // only 3 available
            (buy(limit: 0.4, shares: 10), "no liquidity"),
        ]
        for (intent, why) in cases {
            guard case .rejected(let reason) = broker.execute(intent, market: market(), book: b, at: t0) else {
                Issue.record("accepted: \(intent)"); continue
            }
            #expect(reason.contains(why), "\(reason)")
        }
        guard case .rejected(let r) = broker.execute(buy(limit: 0.5, shares: 10), market: market(), book: book("yes"), at: t0) else { return }
        #expect(r.contains("no asks"))
    }
}

@Suite("Accounts")
struct AccountTests {
    @Test("the accounting invariant holds exactly through random fills and settlements")
    func invariantUnderRandomFills() throws {
        var rng = SeededRandom(seed: 42)
        let m = market(fees: FeeSchedule(rate: 0.03))
        let broker = PaperBroker(slippageBound: 50_000)
        var account = Account(strategy: "s", bankroll: 10_000 * Fixed.one)
        for i in 0..<2000 {
            let token = rng.next() % 2 == 0 ? "yes" : "no"
            let price = Double(10 + rng.next() % 80) / 100
            let levels = (0..<3).map { k in (price + Double(k) / 100, Double(5 + rng.next() % 50)) }
            let held = account.positions[token]?.shares ?? 0
            let selling = held >= 5 * Fixed.one && rng.next() % 3 == 0
            let intent = selling
                ? OrderIntent(strategy: "s", marketID: "m1", tokenID: token, side: .sell, kind: .exit,
                              limitPrice: 10_000, shares: max(5 * Fixed.one, held / 2), reason: "t")
                : buy(token, limit: 0.99, shares: Double(5 + rng.next() % 40))
            let b = selling ? book(token, bids: levels.map { ($0.0, $0.1) }) : book(token, asks: levels)
            switch broker.execute(intent, market: m, book: b, at: t0) {
            case .filled(let f), .partial(let f, _):
                do { try account.apply(f) } catch { /* insufficient cash: nothing changed */ }
            case .rejected:
                break
            }
            #expect(account.invariantHolds, "after step \(i)")
        }
        try account.settle(marketID: "m1", winningTokenID: "yes")
        #expect(account.invariantHolds)
        #expect(account.positions.isEmpty)
    }

    @Test("settlement pays 1 per winning share, 0 per losing share, exactly once")
    func settlement() throws {
        var a = Account(strategy: "s", bankroll: 1000 * Fixed.one)
        try a.apply(Fill(intentID: "1", strategy: "s", marketID: "m1", tokenID: "yes", side: .buy, shares: 100 * Fixed.one,
                         notional: 60 * Fixed.one, fee: Fixed.one, levels: 1, at: t0))
        try a.apply(Fill(intentID: "2", strategy: "s", marketID: "m1", tokenID: "no", side: .buy, shares: 50 * Fixed.one,
                         notional: 20 * Fixed.one, fee: 0, levels: 1, at: t0))
        let paid = try a.settle(marketID: "m1", winningTokenID: "yes")
        #expect(paid == 100 * Fixed.one)
        #expect(a.cash == (1000 - 60 - 1 - 20 + 100) * Fixed.one)
        #expect(a.realizedPnL == (40 - 20) * Fixed.one)
        #expect(a.invariantHolds)
        #expect(throws: AccountError.alreadySettled(marketID: "m1")) { try a.settle(marketID: "m1", winningTokenID: "yes") }
        #expect(a.cash == (1000 - 60 - 1 - 20 + 100) * Fixed.one, "a second settlement changes nothing")
    }

    @Test("voided fills (trades FAILED at settlement) are taken back exactly, in any order: a buy voided after its sale goes short until the sale is voided too; the invariant holds throughout")
    func voids() throws {
        var a = Account(strategy: "s", bankroll: 1000 * Fixed.one)
        let t = Date(timeIntervalSince1970: 0)
        func fill(_ side: Side, _ shares: Micros, _ notional: Micros, _ fee: Micros) -> Fill {
            Fill(intentID: "i", strategy: "s", marketID: "m", tokenID: "y", side: side, shares: shares, notional: notional, fee: fee, levels: 1, at: t)
        }
        let buy = fill(.buy, 10 * Fixed.one, 5 * Fixed.one, 10_000), sell = fill(.sell, 10 * Fixed.one, 6 * Fixed.one, 12_000)
        try a.apply(buy)
        try a.apply(sell)
        a.void(buy)
        #expect(a.positions["y"]?.shares == -10 * Fixed.one && a.invariantHolds, "short until the sale is voided")
        a.void(sell)
        #expect(a.positions.isEmpty && a.cash == 1000 * Fixed.one && a.fees == 0 && a.fills == 0 && a.realizedPnL == 0 && a.invariantHolds)
        var b = Account(strategy: "s", bankroll: 1000 * Fixed.one)
        try b.apply(buy)
        b.void(buy)
        #expect(b.positions.isEmpty && b.cash == 1000 * Fixed.one && b.realizedPnL == 0 && b.invariantHolds)
    }

    @Test("a buy beyond the cash or a sell beyond the position changes nothing")
    func insufficient() {
        var a = Account(strategy: "s", bankroll: 10 * Fixed.one)
        let before = a
        #expect(throws: AccountError.self) {
            try a.apply(Fill(intentID: "1", strategy: "s", marketID: "m1", tokenID: "yes", side: .buy, shares: 100 * Fixed.one,
                             notional: 50 * Fixed.one, fee: 0, levels: 1, at: t0))
        }
        #expect(throws: AccountError.self) {
            try a.apply(Fill(intentID: "2", strategy: "s", marketID: "m1", tokenID: "yes", side: .sell, shares: Fixed.one,
                             notional: 500_000, fee: 0, levels: 1, at: t0))
        }
        #expect(a == before)
    }
}

/// A small deterministic generator (SplitMix64) for reproducible property tests.
struct SeededRandom {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
}
