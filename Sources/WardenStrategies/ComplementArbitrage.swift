// Complement arbitrage: buy both outcomes of a binary market when their asks plus taker fees sum below 1 − edge,
// a profit locked in at resolution (one of the two pays 1).
import Foundation
public import WardenCore
public import WardenKit

public struct ComplementArbitrage: IntentStrategy {
    public struct Configuration: ConfigSection, Sendable, Equatable {
        public var enabled = true
        /// Edge required below 1 (0.01: asks + fees must sum under 0.99).
        public var edge = 0.01
        /// Shares per trade at most.
        public var maxShares = 200.0
        public init() {}

        public static let configPath = "engine.strategies.complement_arb"
        public static var defaults: Self { Self() }
        public static let configKeys: [KeyDeclaration<Self>] = [
            .bool("enabled", \.enabled, "Buy both outcomes when asks + fees < 1 − edge"),
            .double("edge", \.edge, in: 0...0.5, "Edge required"),
            .double("max_shares", \.maxShares, in: 1...1e7, "Shares per trade at most"),
        ]
    }

    public let name: String
    public var edge: Micros
    public var maxShares: Micros
    public init(name: String = "complement_arb", edge: Micros = 10_000, maxShares: Micros = 200 * Fixed.one) {
        self.name = name; self.edge = edge; self.maxShares = maxShares
    }

    public init(_ c: Configuration) throws {
        self.init(edge: try micros(c.edge, "edge", of: Configuration.self), maxShares: try micros(c.maxShares, "max_shares", of: Configuration.self))
    }

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        guard s.market.tokens.count == 2, positions.isEmpty else { return [] }
        let (a, b) = (s.market.tokens[0], s.market.tokens[1])
        // The best asks first (no book copied): most markets most cycles stop here.
        guard let askA = s.books.best(a.tokenID)?.ask, let askB = s.books.best(b.tokenID)?.ask else { return [] }
        let feeA = s.market.fees.takerFee(price: askA, shares: Fixed.one)
        let feeB = s.market.fees.takerFee(price: askB, shares: Fixed.one)
        guard askA + askB + feeA + feeB < Fixed.one - edge, let bookA = s.books[a.tokenID], let bookB = s.books[b.tokenID] else { return [] }
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
