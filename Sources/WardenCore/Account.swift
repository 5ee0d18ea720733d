// A strategy's paper sub-account: cash, positions at cost, fees and realised P&L, kept exact.
public import Foundation

public struct Position: Sendable, Equatable, Codable {
    public var marketID: String
    public var tokenID: String
    public var shares: Micros
    /// What the shares still held cost (fees excluded).
    public var costBasis: Micros
    public var openedAt: Date
    public init(marketID: String, tokenID: String, shares: Micros = 0, costBasis: Micros = 0, openedAt: Date) {
        self.marketID = marketID; self.tokenID = tokenID; self.shares = shares; self.costBasis = costBasis; self.openedAt = openedAt
    }
    public var averagePrice: Micros { shares > 0 ? costBasis * Fixed.one / shares : 0 }
}

public enum AccountError: Error, Equatable, CustomStringConvertible {
    case insufficientCash(needed: Micros, available: Micros)
    case insufficientShares(tokenID: String, needed: Micros, held: Micros)
    case alreadySettled(marketID: String)
    public var description: String {
        switch self {
        case .insufficientCash(let n, let a): return "needs \(Fixed.text(n)) cash, has \(Fixed.text(a))"
        case .insufficientShares(let t, let n, let h): return "sells \(Fixed.text(n)) of \(t), holds \(Fixed.text(h))"
        case .alreadySettled(let m): return "market \(m) already settled"
        }
    }
}

/// Invariant, exact in micro-dollars: cash + Σ cost basis + fees = bankroll + realised P&L (gross of fees).
/// Equivalently cash + positions at cost = bankroll + realised P&L net of fees.
public struct Account: Sendable, Equatable, Codable {
    public var strategy: String
    public var bankroll: Micros
    public var cash: Micros
    public var fees: Micros = 0
    public var realizedPnL: Micros = 0
    public var positions: [String: Position] = [:]
    public var settledMarkets: Set<String> = []
    public var fills = 0
    public var wins = 0
    public var losses = 0
    public var peakEquity: Micros
    public var maxDrawdown: Micros = 0
    public var consecutiveLosses = 0

    public init(strategy: String, bankroll: Micros) {
        self.strategy = strategy
        self.bankroll = bankroll
        self.cash = bankroll
        self.peakEquity = bankroll
    }

    public var invariantHolds: Bool {
        cash + positions.values.reduce(0) { $0 + $1.costBasis } + fees == bankroll + realizedPnL
    }
    public var exposure: Micros { positions.values.reduce(0) { $0 + $1.costBasis } }
    public func exposure(market: String) -> Micros {
        positions.values.filter { $0.marketID == market }.reduce(0) { $0 + $1.costBasis }
    }
    public var openPositions: Int { positions.values.filter { $0.shares > 0 }.count }

    /// Equity with positions marked at `marks` (token → price); unmarked positions count at cost.
    public func equity(marks: [String: Micros]) -> Micros {
        cash + positions.values.reduce(0) { sum, p in
            sum + (marks[p.tokenID].map { Fixed.proceedsDown($0, p.shares) } ?? p.costBasis)
        }
    }

    /// Applies a fill; throws (changing nothing) when cash or shares do not suffice.
    public mutating func apply(_ fill: Fill) throws {
        switch fill.side {
        case .buy:
            let needed = fill.notional + fill.fee
            guard needed <= cash else { throw AccountError.insufficientCash(needed: needed, available: cash) }
            var p = positions[fill.tokenID] ?? Position(marketID: fill.marketID, tokenID: fill.tokenID, openedAt: fill.at)
            p.shares += fill.shares
            p.costBasis += fill.notional
            positions[fill.tokenID] = p
            cash -= needed
        case .sell:
            guard var p = positions[fill.tokenID], p.shares >= fill.shares else {
                throw AccountError.insufficientShares(tokenID: fill.tokenID, needed: fill.shares, held: positions[fill.tokenID]?.shares ?? 0)
            }
            let released = p.shares == fill.shares ? p.costBasis : p.costBasis * fill.shares / p.shares
            p.shares -= fill.shares
            p.costBasis -= released
            let pnl = fill.notional - released
            realizedPnL += pnl
            recordOutcome(pnl - fill.fee)
            cash += fill.notional - fill.fee
            if p.shares == 0 { positions[fill.tokenID] = nil } else { positions[fill.tokenID] = p }
        }
        fees += fill.fee
        fills += 1
    }

    /// Takes back a fill the venue voided (its trade FAILED at settlement): cash, fees and shares exactly as if it had
    /// never been applied — positions stay the sum of the fills that stand, even when a buy is voided after its shares
    /// were sold (the position goes short until the sell is voided too). Cost follows the average; realised P&L is
    /// what keeps the invariant.
    public mutating func void(_ fill: Fill) {
        var p = positions[fill.tokenID] ?? Position(marketID: fill.marketID, tokenID: fill.tokenID, openedAt: fill.at)
        switch fill.side {
        case .buy:
            cash += fill.notional + fill.fee
            if p.shares > 0 {
                let removed = min(fill.shares, p.shares)
                p.costBasis -= removed == p.shares ? p.costBasis : p.costBasis * removed / p.shares
            }
            p.shares -= fill.shares
        case .sell:
            cash -= fill.notional - fill.fee
            // The shares come back at the position's average cost (at the sale's price when none is held).
            let cost = p.shares > 0 ? p.costBasis * fill.shares / p.shares : p.shares == 0 ? fill.notional : 0
            p.shares += fill.shares
            p.costBasis += cost
        }
        if p.shares <= 0 { p.costBasis = 0 }
        positions[fill.tokenID] = p.shares == 0 ? nil : p
        fees -= fill.fee
        fills = max(0, fills - 1)
        realizedPnL = cash + exposure + fees - bankroll
    }

    /// Settles every position in a resolved market at 1 (winner) or 0, exactly once.
    @discardableResult
    public mutating func settle(marketID: String, winningTokenID: String) throws -> Micros {
        guard !settledMarkets.contains(marketID) else { throw AccountError.alreadySettled(marketID: marketID) }
        settledMarkets.insert(marketID)
        var total: Micros = 0
        for (token, p) in positions where p.marketID == marketID {
            let payout = token == winningTokenID ? p.shares : 0  // 1 dollar per share = shares in micros
            let pnl = payout - p.costBasis
            realizedPnL += pnl
            recordOutcome(pnl)
            cash += payout
            total += payout
            positions[token] = nil
        }
        return total
    }

    private mutating func recordOutcome(_ pnl: Micros) {
        if pnl > 0 { wins += 1; consecutiveLosses = 0 } else if pnl < 0 { losses += 1; consecutiveLosses += 1 }
    }

    /// Updates peak equity and maximum drawdown from a fresh equity figure.
    public mutating func mark(equity: Micros) {
        peakEquity = max(peakEquity, equity)
        maxDrawdown = max(maxDrawdown, peakEquity - equity)
    }
}
