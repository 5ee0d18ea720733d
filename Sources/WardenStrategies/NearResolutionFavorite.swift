// Near-resolution favourite: buy an outcome priced in a band (0.90–0.98) within some hours of the market's end,
// and hold it to resolution.
import Foundation
public import WardenCore
public import WardenKit

public struct NearResolutionFavorite: IntentStrategy {
    public struct Configuration: ConfigSection, Sendable, Equatable {
        public var enabled = true
        public var bandLow = 0.90
        public var bandHigh = 0.98
        public var withinHours = 24.0
        /// Dollars per trade.
        public var stake = 50.0
        public init() {}

        public static let configPath = "engine.strategies.near_resolution"
        public static var defaults: Self { Self() }
        public static let configKeys: [KeyDeclaration<Self>] = [
            .bool("enabled", \.enabled, "Buy an outcome priced in the band near its end; hold to resolution"),
            .double("band_low", \.bandLow, in: 0.01...0.99, "Lowest price bought"),
            .double("band_high", \.bandHigh, in: 0.01...0.99, "Highest price bought"),
            .double("within_hours", \.withinHours, in: 0.01...8760, "Hours before the end"),
            .double("stake", \.stake, in: 0.01...1e9, "Dollars per trade"),
        ]

        public static func crossCheck(_ s: Self) -> [(key: String, reason: String)] {
            s.bandLow >= s.bandHigh ? [("band_low", "must be below band_high (\(s.bandHigh))")] : []
        }
    }

    public let name: String
    public var band: ClosedRange<Micros>
    public var withinHours: Double
    public var stake: Micros
    public init(name: String = "near_resolution", band: ClosedRange<Micros> = 900_000...980_000, withinHours: Double = 24,
                stake: Micros = 50 * Fixed.one) {
        self.name = name; self.band = band; self.withinHours = withinHours; self.stake = stake
    }

    public init(_ c: Configuration) throws {
        let low = try micros(c.bandLow, "band_low", of: Configuration.self), high = try micros(c.bandHigh, "band_high", of: Configuration.self)
        guard low < high else { throw StrategyConfigurationError(key: Configuration.configPath + ".band_low", reason: "must be below band_high") }
        self.init(band: low...high, withinHours: c.withinHours, stake: try micros(c.stake, "stake", of: Configuration.self))
    }

    public func evaluate(_ s: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        guard positions.isEmpty, let end = s.market.endDate else { return [] }
        let left = end.timeIntervalSince(s.now)
        guard left > 0, left <= withinHours * 3600 else { return [] }
        for token in s.market.tokens {
            guard let ask = s.books.best(token.tokenID)?.ask, band.contains(ask), let book = s.books[token.tokenID] else { continue }
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
