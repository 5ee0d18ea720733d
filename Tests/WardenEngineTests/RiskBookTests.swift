// The risk book as a pure component: hand-made accounts and marks, a manual clock, the facts it reports.
import Foundation
import Testing
import WardenCore
import WardenEngine
import WardenTestKit

@Suite("Risk book")
struct RiskBookTests {
    static func limits() -> RiskLimits {
        var l = RiskLimits()
        l.maxDrawdownFraction = 0.2
        l.dailyLossLimit = 50 * Fixed.one
        l.lossStreak = 3
        l.lossStreakCooldown = 600
        return l
    }

    static func entry(_ strategy: String) -> OrderIntent {
        OrderIntent(strategy: strategy, marketID: "m", tokenID: "t", side: .buy, kind: .entry, limitPrice: 500_000, shares: 10 * Fixed.one, reason: "test")
    }

    @Test("a loss streak starts one cool-down (entries refused, exits allowed), said once; it ends when its time is over")
    func cooldown() {
        let clock = ManualClock()
        var book = RiskBook(limits: Self.limits())
        var accounts = ["a": Account(strategy: "a", bankroll: 1000 * Fixed.one)]
        accounts["a"]!.consecutiveLosses = 3
        let until = clock.now.addingTimeInterval(600)
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: false) == [.cooldownStarted(strategy: "a", losses: 3, until: until)])
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: false).isEmpty, "said once, not every cycle")
        #expect(book.check(Self.entry("a"), account: accounts["a"]!, marks: [:], now: clock.now) != .allow)
        var exit = Self.entry("a")
        exit.kind = .exit
        #expect(book.check(exit, account: accounts["a"]!, marks: [:], now: clock.now) == .allow, "exits only reduce risk")
        accounts["a"]!.consecutiveLosses = 0  // a win
        clock.advance(.seconds(599))
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: false).isEmpty, "still inside the cool-down")
        clock.advance(.seconds(1))
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: false) == [.cooldownEnded(strategy: "a")])
        #expect(book.check(Self.entry("a"), account: accounts["a"]!, marks: [:], now: clock.now) == .allow)
    }

    @Test("a cool-down read back from the journal holds after a restart")
    func cooldownAcrossRestart() {
        let clock = ManualClock()
        let book = RiskBook(limits: Self.limits(), cooldowns: ["a": clock.now.addingTimeInterval(60)])
        #expect(book.check(Self.entry("a"), account: Account(strategy: "a", bankroll: 1000 * Fixed.one), marks: [:], now: clock.now) != .allow)
    }

    @Test("total equity 20 % under its peak is reported once as a drawdown breach, with the figures; not again while halted")
    func drawdown() {
        let clock = ManualClock()
        var book = RiskBook(limits: Self.limits())
        var accounts = ["a": Account(strategy: "a", bankroll: 500 * Fixed.one), "b": Account(strategy: "b", bankroll: 500 * Fixed.one)]
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: false).isEmpty)
        accounts["a"]!.cash = 300 * Fixed.one  // 200 of 1000 gone: exactly the limit
        let facts = book.assess(&accounts, marks: [:], now: clock.now, halted: false)
        #expect(facts == [.drawdownBreached(drawdownFraction: 0.2, equity: 800 * Fixed.one, peak: 1000 * Fixed.one)])
        #expect(accounts["a"]!.maxDrawdown == 200 * Fixed.one, "the account is marked in place")
        #expect(book.assess(&accounts, marks: [:], now: clock.now, halted: true).isEmpty)
    }

    @Test("the daily loss limit counts from the equity at the start of the UTC day, and a new day starts it again")
    func dailyLoss() {
        let midnight = Date(timeIntervalSince1970: 20_000 * 86_400)
        let clock = ManualClock(midnight.addingTimeInterval(-3600))
        var book = RiskBook(limits: Self.limits())
        var accounts = ["a": Account(strategy: "a", bankroll: 1000 * Fixed.one)]
        _ = book.assess(&accounts, marks: [:], now: clock.now, halted: false)
        accounts["a"]!.cash = 940 * Fixed.one  // 60 lost today, over the 50 limit
        _ = book.assess(&accounts, marks: [:], now: clock.now, halted: false)
        #expect(book.check(Self.entry("a"), account: accounts["a"]!, marks: [:], now: clock.now) != .allow)
        clock.advance(.seconds(3600))  // past UTC midnight: the day starts at 940
        _ = book.assess(&accounts, marks: [:], now: clock.now, halted: false)
        #expect(book.dayStart["a"]?.equity == 940 * Fixed.one)
        #expect(book.check(Self.entry("a"), account: accounts["a"]!, marks: [:], now: clock.now) == .allow)
    }

    @Test("the same accounts, marks and times give the same facts (no clock, no randomness inside)")
    func deterministic() {
        func run() -> [RiskBook.Fact] {
            let clock = ManualClock()
            var book = RiskBook(limits: Self.limits())
            var accounts = (1...5).reduce(into: [String: Account]()) { d, i in
                var a = Account(strategy: "s\(i)", bankroll: 200 * Fixed.one)
                a.consecutiveLosses = i
                d["s\(i)"] = a
            }
            var facts: [RiskBook.Fact] = []
            for step in 0..<5 {
                accounts["s1"]!.cash -= 20 * Fixed.one
                facts += book.assess(&accounts, marks: [:], now: clock.now, halted: step > 3)
                clock.advance(.seconds(300))
            }
            return facts
        }
        #expect(run() == run())
        #expect(run().count == 3, "three streaks of 3 or more start three cool-downs")
    }
}
