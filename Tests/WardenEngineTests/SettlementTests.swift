// Settlement as a pure component: which held markets are looked up, and each holder paid 1 per winning share and
// 0 per losing one, exactly once.
import Foundation
import Testing
import WardenCore
import WardenEngine
import WardenTestKit

@Suite("Settlement")
struct SettlementTests {
    /// `strategy` holding 10 `yes` shares of m1 bought at 0.40, and 10 `no` at 0.55.
    static func holder(_ strategy: String) -> Account {
        var a = Account(strategy: strategy, bankroll: 100 * Fixed.one)
        a.positions["yes"] = Position(marketID: "m1", tokenID: "yes", shares: 10 * Fixed.one, costBasis: 4 * Fixed.one, openedAt: t0)
        a.positions["no"] = Position(marketID: "m1", tokenID: "no", shares: 10 * Fixed.one, costBasis: 5_500_000, openedAt: t0)
        a.cash = 100 * Fixed.one - 9_500_000
        return a
    }

    @Test("a resolved market pays each holder 1 per winning share and 0 per losing one, once; an open one pays nothing")
    func exactlyOnce() {
        var accounts = ["a": Self.holder("a"), "b": Self.holder("b"), "c": Account(strategy: "c", bankroll: 100 * Fixed.one)]
        var m = market()
        #expect(Settlement.payouts(accounts, market: m).isEmpty, "not resolved")
        m.closed = true
        m.winningTokenID = "yes"
        let paid = Settlement.payouts(accounts, market: m)
        #expect(paid.map(\.strategy) == ["a", "b"], "only holders, in order")
        #expect(paid.allSatisfy { $0.amount == 10 * Fixed.one && $0.account.positions.isEmpty && $0.account.cash == 100_500_000 })
        #expect(paid[0].account.realizedPnL == 500_000 && paid[0].account.invariantHolds)
        for p in paid { accounts[p.strategy] = p.account }
        #expect(Settlement.payouts(accounts, market: m).isEmpty, "settled accounts are never paid twice")
    }

    @Test("a payout not applied (its record failed) is offered again next time, unchanged")
    func retriedUntilRecorded() {
        let accounts = ["a": Self.holder("a")]
        var m = market()
        m.closed = true
        m.winningTokenID = "no"
        let first = Settlement.payouts(accounts, market: m)
        #expect(first == Settlement.payouts(accounts, market: m) && first.first?.amount == 10 * Fixed.one)
    }

    @Test("held markets looked up: unknown, ended, closed, named by the channel, or bookless in a refresh that worked")
    func lookups() {
        let held: Set<String> = ["m1", "m2", "m3", "m4", "m5", "m6"]
        func m(_ id: String, end: Date? = nil, closed: Bool = false) -> Market {
            Market(id: id, endDate: end, tokens: [OutcomeToken(tokenID: id + "y", outcome: "Yes"), OutcomeToken(tokenID: id + "n", outcome: "No")], closed: closed)
        }
        let markets = ["m1": m("m1"), "m2": m("m2", end: t0.addingTimeInterval(-1)), "m3": m("m3", closed: true), "m4": m("m4"), "m5": m("m5")]
        let books: Set<String> = ["m1y", "m1n", "m2y", "m3y", "m4y", "m4n"]
        #expect(Settlement.needingLookup(held: held, markets: markets, hasBook: books.contains, refreshWorked: true, hinted: ["m4"], now: t0)
                == ["m2", "m3", "m4", "m5", "m6"])
        #expect(Settlement.needingLookup(held: held, markets: markets, hasBook: books.contains, refreshWorked: false, hinted: [], now: t0)
                == ["m2", "m3", "m6"], "a failed refresh says nothing about missing books")
        #expect(Settlement.heldMarkets(["a": Self.holder("a")]) == ["m1"])
    }
}
