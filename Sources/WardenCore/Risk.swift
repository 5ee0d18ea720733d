// Risk rules: exposure, open positions, daily loss, loss-streak cooldown on entries; drawdown halts.
public import Foundation

public struct RiskLimits: Sendable, Equatable, Codable {
    /// Drawdown from peak equity, as a fraction, that halts a sub-account (exits only until reset).
    public var maxDrawdownFraction: Double = 0.2
    public var dailyLossLimit: Micros = 100 * Fixed.one
    public var maxExposurePerMarket: Micros = 200 * Fixed.one
    public var maxTotalExposure: Micros = 800 * Fixed.one
    public var maxOpenPositions = 20
    public var lossStreak = 3
    public var lossStreakCooldown: TimeInterval = 3600
    public init() {}
}

public enum RiskDecision: Sendable, Equatable {
    case allow
    case reject(String)
}

public enum RiskGate {
    /// Whether an intent may go ahead. Exits are always allowed: they only reduce risk.
    public static func check(_ intent: OrderIntent, account: Account, limits: RiskLimits, dayStartEquity: Micros,
                             equity: Micros, cooldownUntil: Date?, now: Date) -> RiskDecision {
        if intent.kind == .exit { return .allow }
        if let until = cooldownUntil, now < until {
            return .reject("cooling down after \(limits.lossStreak) losses in a row until \(until)")
        }
        if dayStartEquity - equity >= limits.dailyLossLimit {
            return .reject("daily loss \(Fixed.text(dayStartEquity - equity)) reached the limit \(Fixed.text(limits.dailyLossLimit))")
        }
        let cost = Fixed.costUp(intent.limitPrice, intent.shares)
        if account.exposure(market: intent.marketID) + cost > limits.maxExposurePerMarket {
            return .reject("exposure in market \(intent.marketID) would be \(Fixed.text(account.exposure(market: intent.marketID) + cost)), over \(Fixed.text(limits.maxExposurePerMarket))")
        }
        if account.exposure + cost > limits.maxTotalExposure {
            return .reject("total exposure would be \(Fixed.text(account.exposure + cost)), over \(Fixed.text(limits.maxTotalExposure))")
        }
        if account.positions[intent.tokenID] == nil && account.openPositions >= limits.maxOpenPositions {
            return .reject("\(account.openPositions) open positions is the limit")
        }
        return .allow
    }

    /// True when equity has fallen `maxDrawdownFraction` or more below the account's peak.
    public static func drawdownBreached(peak: Micros, equity: Micros, limits: RiskLimits) -> Bool {
        guard peak > 0 else { return false }
        return Double(peak - equity) / Double(peak) >= limits.maxDrawdownFraction
    }
}
