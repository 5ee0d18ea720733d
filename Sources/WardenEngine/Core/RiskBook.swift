// The risk book: each sub-account marked at the cycle's prices, the UTC day's starting equity, loss-streak
// cool-downs, and the drawdown halt. Pure: accounts, marks and the time come in; what changed comes out as facts
// the engine records and says (a cool-down to persist, a halt to raise). No clock, no journal, no I/O.
public import Foundation
public import WardenCore

public struct RiskBook: Sendable {
    public let limits: RiskLimits
    /// Each strategy's equity at the start of the current UTC day (the daily loss limit counts from it).
    public private(set) var dayStart: [String: (day: Int, equity: Micros)] = [:]
    /// Strategies cooling down after a loss streak, until when (kept across restarts by the journal).
    public private(set) var cooldownUntil: [String: Date] = [:]

    public init(limits: RiskLimits, cooldowns: [String: Date] = [:]) {
        self.limits = limits
        self.cooldownUntil = cooldowns
    }

    /// What a pass of the risk book found.
    public enum Fact: Sendable, Equatable {
        /// `strategy` lost `losses` times in a row: entries stop until `until` (persist it).
        case cooldownStarted(strategy: String, losses: Int, until: Date)
        /// The cool-down of `strategy` is over (persist its end).
        case cooldownEnded(strategy: String)
        /// Total equity fell from its peak past the limit: trading halts, exits only, until an operator resets.
        case drawdownBreached(drawdownFraction: Double, equity: Micros, peak: Micros)
    }

    /// Marks every account at `marks` (peak equity and drawdown follow), rolls the day's starting equity at UTC
    /// midnight, starts and ends loss-streak cool-downs, and reports a drawdown past the limit unless already
    /// `halted`. Accounts are marked in place; facts come back in a stable order (by strategy name).
    public mutating func assess(_ accounts: inout [String: Account], marks: [String: Micros], now: Date, halted: Bool) -> [Fact] {
        var facts: [Fact] = []
        let day = Int(now.timeIntervalSince1970 / 86_400)
        var total: Micros = 0, peak: Micros = 0
        for name in accounts.keys.sorted() {
            guard var a = accounts[name] else { continue }
            let equity = a.equity(marks: marks)
            a.mark(equity: equity)
            accounts[name] = a
            total += equity
            peak += a.peakEquity
            if dayStart[name]?.day != day { dayStart[name] = (day, equity) }
            if a.consecutiveLosses >= limits.lossStreak, cooldownUntil[name] == nil {
                let until = now.addingTimeInterval(limits.lossStreakCooldown)
                cooldownUntil[name] = until
                facts.append(.cooldownStarted(strategy: name, losses: a.consecutiveLosses, until: until))
            }
            if let until = cooldownUntil[name], now >= until, a.consecutiveLosses < limits.lossStreak {
                cooldownUntil[name] = nil
                facts.append(.cooldownEnded(strategy: name))
            }
        }
        if !halted, RiskGate.drawdownBreached(peak: peak, equity: total, limits: limits) {
            facts.append(.drawdownBreached(drawdownFraction: Double(peak - total) / Double(max(peak, 1)), equity: total, peak: peak))
        }
        return facts
    }

    /// Whether `intent` of `account` may go ahead now: exits always; entries within the daily loss limit, the
    /// exposure caps and the open-position cap, and not while the strategy cools down.
    public func check(_ intent: OrderIntent, account: Account, marks: [String: Micros], now: Date) -> RiskDecision {
        let equity = account.equity(marks: marks)
        return RiskGate.check(intent, account: account, limits: limits, dayStartEquity: dayStart[intent.strategy]?.equity ?? equity,
                              equity: equity, cooldownUntil: cooldownUntil[intent.strategy], now: now)
    }
}
