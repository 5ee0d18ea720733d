// The three built-in strategies. Every knob comes from configuration.
import Foundation

/// Buys both outcomes when their asks plus fees sum below 1 − edge: a locked profit at resolution.
public struct ComplementArbitrage: Strategy {
    public let name: String
    public var edge: Micros
    public var maxShares: Micros
    public init(name: String = "complement_arb", edge: Micros = 10_000, maxShares: Micros = 200 * Fixed.one) {
        self.name = name; self.edge = edge; self.maxShares = maxShares
    }

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        guard s.market.tokens.count == 2, positions.isEmpty else { return [] }
        let (a, b) = (s.market.tokens[0], s.market.tokens[1])
        guard let bookA = s.books[a.tokenID], let bookB = s.books[b.tokenID],
              let askA = bookA.bestAsk, let askB = bookB.bestAsk else { return [] }
        let feeA = s.market.fees.takerFee(price: askA, shares: Fixed.one)
        let feeB = s.market.fees.takerFee(price: askB, shares: Fixed.one)
        guard askA + askB + feeA + feeB < Fixed.one - edge else { return [] }
        let perPair = askA + askB + feeA + feeB
        let affordable = cash * Fixed.one / max(perPair, 1)
        let depth = min(bookA.asks[0].size, bookB.asks[0].size)
        let shares = roundShares(min(depth, maxShares, affordable))
        guard shares >= s.market.minOrderSize else { return [] }
        let why = "asks \(Fixed.text(askA, decimals: 3)) + \(Fixed.text(askB, decimals: 3)) + fees < 1 − edge"
        return [
            OrderIntent(strategy: name, marketID: s.market.id, tokenID: a.tokenID, side: .buy, kind: .entry, limitPrice: askA, shares: shares, reason: why),
            OrderIntent(strategy: name, marketID: s.market.id, tokenID: b.tokenID, side: .buy, kind: .entry, limitPrice: askB, shares: shares, reason: why),
        ]
    }
}

/// Buys an outcome priced in a band (e.g. 0.90–0.98) within N hours of the market's end; holds to resolution.
public struct NearResolutionFavorite: Strategy {
    public let name: String
    public var band: ClosedRange<Micros>
    public var withinHours: Double
    public var stake: Micros
    public init(name: String = "near_resolution", band: ClosedRange<Micros> = 900_000...980_000, withinHours: Double = 24,
                stake: Micros = 50 * Fixed.one) {
        self.name = name; self.band = band; self.withinHours = withinHours; self.stake = stake
    }

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        guard positions.isEmpty, let end = s.market.endDate else { return [] }
        let left = end.timeIntervalSince(s.now)
        guard left > 0, left <= withinHours * 3600 else { return [] }
        for token in s.market.tokens {
            guard let book = s.books[token.tokenID], let ask = book.bestAsk, band.contains(ask) else { continue }
            let spend = min(stake, cash)
            let shares = roundShares(min(spend * Fixed.one / ask, book.asks[0].size))
            guard shares >= s.market.minOrderSize else { return [] }
            return [OrderIntent(strategy: name, marketID: s.market.id, tokenID: token.tokenID, side: .buy, kind: .entry,
                                limitPrice: ask, shares: shares,
                                reason: "favourite at \(Fixed.text(ask, decimals: 3)) with \(Int(left / 3600))h to resolution")]
        }
        return []
    }
}

/// Buys the first outcome when its mid falls `zEntry` deviations below its rolling mean; exits on
/// take-profit or stop-loss (per share, against the best bid).
public struct MeanReversion: Strategy {
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

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        guard let token = s.market.tokens.first, let book = s.books[token.tokenID] else { return [] }
        if let held = positions.first(where: { $0.tokenID == token.tokenID && $0.shares > 0 }) {
            guard let bid = book.bestBid else { return [] }
            let change = bid - held.averagePrice
            guard change >= takeProfit || change <= -stopLoss else { return [] }
            return [OrderIntent(strategy: name, marketID: s.market.id, tokenID: token.tokenID, side: .sell, kind: .exit,
                                limitPrice: max(bid, s.market.tickSize), shares: held.shares,
                                reason: change >= takeProfit ? "take profit \(Fixed.text(change, decimals: 3))/share"
                                                             : "stop loss \(Fixed.text(change, decimals: 3))/share")]
        }
        let history = (s.midHistory[token.tokenID] ?? []).suffix(window)
        guard history.count >= window, let mid = book.mid, let ask = book.bestAsk else { return [] }
        let values = history.map(Fixed.double)
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count)
        let sd = variance.squareRoot()
        guard sd > 0.0005 else { return [] }
        let z = (Fixed.double(mid) - mean) / sd
        guard z <= -zEntry else { return [] }
        let shares = roundShares(min(min(stake, cash) * Fixed.one / ask, book.asks[0].size))
        guard shares >= s.market.minOrderSize else { return [] }
        return [OrderIntent(strategy: name, marketID: s.market.id, tokenID: token.tokenID, side: .buy, kind: .entry,
                            limitPrice: ask, shares: shares, reason: String(format: "mid %.3f is %.1f sd below its mean %.3f", Fixed.double(mid), -z, mean))]
    }
}
