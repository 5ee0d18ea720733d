// Strategies, intent validation, strategy health, risk gate and trading-state reasons.
import Foundation
import Testing
import WardenTestKit
@testable import WardenCore

@Suite("Intents and strategy health")
struct StrategyTests {
    @Test("invalid intents are named; repeated strategy errors disable only that strategy")
    func validationAndHealth() {
        var bad = buy(limit: 0.5, shares: 10, strategy: "s")
        bad.limitPrice = 1_500_000
        #expect(IntentValidator.problem(bad, strategy: "s", market: market())?.contains("outside (0, 1)") == true)
        bad = buy(limit: 0.5, shares: 10, strategy: "s")
        bad.shares = -1
        #expect(IntentValidator.problem(bad, strategy: "s", market: market())?.contains("not positive") == true)
        #expect(IntentValidator.problem(buy(limit: 0.5, shares: 10, strategy: "s"), strategy: "s", market: market()) == nil)
        var health = StrategyHealth()
        let disabledBy = (0..<3).map { health.record(error: "boom", at: t0.addingTimeInterval(Double($0)), maxErrors: 3, window: 60) }
        #expect(disabledBy == [false, false, true], "the third error within the window disables")
        #expect(health.isDisabled && health.disabledReason?.contains("3 errors") == true)
        var spaced = StrategyHealth()
        for i in 0..<5 { _ = spaced.record(error: "rare", at: t0.addingTimeInterval(Double(i) * 100), maxErrors: 3, window: 60) }
        #expect(!spaced.isDisabled, "errors spread out beyond the window do not disable")
    }
}

@Suite("Risk and trading state")
struct RiskStateTests {
    @Test("entries are refused past exposure, position, daily-loss and cooldown limits; exits always pass")
    func riskGate() {
        var limits = RiskLimits()
        limits.maxExposurePerMarket = 100 * Fixed.one
        limits.maxOpenPositions = 1
        var a = Account(strategy: "s", bankroll: 1000 * Fixed.one)
        a.positions["no"] = Position(marketID: "m1", tokenID: "no", shares: 100 * Fixed.one, costBasis: 90 * Fixed.one, openedAt: t0)
        func check(_ i: OrderIntent, dayStart: Micros = 1000 * Fixed.one, equity: Micros = 1000 * Fixed.one, cooldown: Date? = nil) -> RiskDecision {
            RiskGate.check(i, account: a, limits: limits, dayStartEquity: dayStart, equity: equity, cooldownUntil: cooldown, now: t0)
        }
        guard case .reject(let r1) = check(buy(limit: 0.5, shares: 30)) else { Issue.record("exposure"); return }
        #expect(r1.contains("exposure in market m1"))
        var other = buy(limit: 0.5, shares: 10)
        other.marketID = "m2"
        guard case .reject(let r2) = check(other) else { Issue.record("positions"); return }
        #expect(r2.contains("open positions"))
        guard case .reject(let r3) = check(buy(limit: 0.5, shares: 10), equity: 850 * Fixed.one) else { Issue.record("daily"); return }
        #expect(r3.contains("daily loss"))
        guard case .reject = check(buy(limit: 0.5, shares: 10), cooldown: t0.addingTimeInterval(60)) else { Issue.record("cooldown"); return }
        var exit = buy("no", limit: 0.5, shares: 100)
        exit.side = .sell
        exit.kind = .exit
        #expect(check(exit, equity: 0, cooldown: t0.addingTimeInterval(60)) == .allow)
        #expect(RiskGate.drawdownBreached(peak: 1000 * Fixed.one, equity: 790 * Fixed.one, limits: limits))
        #expect(!RiskGate.drawdownBreached(peak: 1000 * Fixed.one, equity: 810 * Fixed.one, limits: limits))
    }

    @Test("the effective state is the most restrictive reason; market reasons block only their market")
    func tradingControl() {
        var c = TradingControl()
        #expect(c.effective == .ACTIVE)
        let firstIsNew = c.raise(TradingReason(code: .dataStale, source: .degradation, effect: .PAUSED, since: t0, message: "stale"))
        let secondIsNew = c.raise(TradingReason(code: .dataStale, source: .degradation, effect: .PAUSED, since: t0.addingTimeInterval(5), message: "stale"))
        #expect(firstIsNew && !secondIsNew)
        #expect(c.reasons.first?.since == t0, "a refreshed reason keeps its since")
        c.raise(TradingReason(code: .drawdown, source: .risk, effect: .HALTED, since: t0, message: "dd"))
        #expect(c.effective == .HALTED)
        #expect(c.blocking(.exit, marketID: "m1")?.code == .dataStale, "PAUSED blocks exits too")
        _ = c.clear(.dataStale)
        #expect(c.blocking(.exit, marketID: "m1") == nil, "HALTED allows exits")
        #expect(c.blocking(.entry, marketID: "m1")?.code == .drawdown)
        var m = TradingControl()
        m.raise(TradingReason(code: .marketStale, source: .degradation, effect: .PAUSED, since: t0, message: "frozen", marketID: "m9"))
        #expect(m.effective == .ACTIVE)
        #expect(m.blocking(.entry, marketID: "m9") != nil && m.blocking(.entry, marketID: "m1") == nil)
        m.raise(TradingReason(code: .operatorPause, source: .operator, effect: .PAUSED, since: t0, expiresAt: t0.addingTimeInterval(60), message: "lunch", author: "ops"))
        let expired = m.expire(now: t0.addingTimeInterval(61)).map(\.code)
        #expect(expired == [.operatorPause])
    }
}
