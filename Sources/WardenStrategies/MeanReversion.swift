// Mean reversion: buy the first outcome when its mid falls z_entry deviations below its rolling mean; exit on
// take-profit or stop-loss (per share, against the best bid).
import Foundation
public import WardenCore
public import WardenKit

public struct MeanReversion: IntentStrategy {
    public struct Configuration: ConfigSection, Sendable, Equatable {
        public var enabled = true
        public var window = 30
        public var zEntry = 2.0
        public var takeProfit = 0.03
        public var stopLoss = 0.05
        public var stake = 25.0
        public init() {}

        public static let configPath = "engine.strategies.mean_reversion"
        public static var defaults: Self { Self() }
        public static let configKeys: [KeyDeclaration<Self>] = [
            .bool("enabled", \.enabled, "Buy when the mid is z_entry deviations below its mean"),
            .int("window", \.window, in: 2...10_000, "Refreshes in the mean"),
            .double("z_entry", \.zEntry, in: 0.1...10, "Deviations below the mean to buy"),
            .double("take_profit", \.takeProfit, in: 0.001...0.99, "Exit this far above the entry (per share)"),
            .double("stop_loss", \.stopLoss, in: 0.001...0.99, "Exit this far below the entry (per share)"),
            .double("stake", \.stake, in: 0.01...1e9, "Dollars per trade"),
        ]
    }

    public let name: String
    public var window: Int
    public var zEntry: Double
    public var takeProfit: Micros
    public var stopLoss: Micros
    public var stake: Micros
    public init(name: String = "mean_reversion", window: Int = 30, zEntry: Double = 2, takeProfit: Micros = 30_000,
                stopLoss: Micros = 50_000, stake: Micros = 25 * Fixed.one) {
        self.name = name; self.window = window; self.zEntry = zEntry; self.takeProfit = takeProfit
        self.stopLoss = stopLoss; self.stake = stake
    }

    public init(_ c: Configuration) throws {
        self.init(window: c.window, zEntry: c.zEntry, takeProfit: try micros(c.takeProfit, "take_profit", of: Configuration.self),
                  stopLoss: try micros(c.stopLoss, "stop_loss", of: Configuration.self), stake: try micros(c.stake, "stake", of: Configuration.self))
    }

    /// Twice the window of mids is kept, so the mean has history to spare after a gap.
    public var historyLength: Int { window * 2 }

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        // The best prices (no book copied): the book itself only for the size of an entry.
        guard let token = s.market.tokens.first, let best = s.books.best(token.tokenID) else { return [] }
        if let held = positions.first(where: { $0.tokenID == token.tokenID && $0.shares > 0 }) {
            guard let bid = best.bid else { return [] }
            let change = bid - held.averagePrice
            guard change >= takeProfit || change <= -stopLoss else { return [] }
            return [OrderIntent(strategy: name, marketID: s.market.id, tokenID: token.tokenID, side: .sell, kind: .exit,
                                limitPrice: max(bid, s.market.tickSize), shares: held.shares,
                                reason: change >= takeProfit ? "take profit \(Fixed.text(change, decimals: 3))/share"
                                                             : "stop loss \(Fixed.text(change, decimals: 3))/share")]
        }
        let history = (s.midHistory[token.tokenID] ?? []).suffix(window)
        guard history.count >= window, let bid = best.bid, let ask = best.ask else { return [] }
        let mid = (bid + ask) / 2
        // One pass over the window, in order, without an array of its own (this runs for every market every cycle):
        // sums of the mids and of their squares in integer micros (exact: 30 mids below 1e6 each), then the variance.
        var sum: Int64 = 0, sumSquares: Int64 = 0
        for m in history {
            let p = min(max(m, 0), Fixed.one)  // a price: bounded, so the sums cannot overflow for any window allowed
            sum += p; sumSquares += p * p
        }
        let n = Double(history.count)
        let mean = Double(sum) / n / Double(Fixed.one)
        let variance = max(0, (Double(sumSquares) / n - (Double(sum) / n) * (Double(sum) / n))) / (Double(Fixed.one) * Double(Fixed.one))
        let sd = variance.squareRoot()
        guard sd > 0.0005 else { return [] }
        let z = (Fixed.double(mid) - mean) / sd
        guard z <= -zEntry else { return [] }
        guard let book = s.books[token.tokenID], let top = book.asks.first else { return [] }
        let shares = roundShares(min(min(stake, cash) * Fixed.one / ask, top.size))
        guard shares >= s.market.minOrderSize else { return [] }
        return [OrderIntent(strategy: name, marketID: s.market.id, tokenID: token.tokenID, side: .buy, kind: .entry,
                            limitPrice: ask, shares: shares, reason: String(format: "mid %.3f is %.1f sd below its mean %.3f", Fixed.double(mid), -z, mean))]
    }
}
