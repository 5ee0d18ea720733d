// A scripted Polymarket: markets, seeded price paths, resolutions, a clock speed-up.
import Foundation

public struct FakeMarketSpec: Codable, Sendable {
    public var id: String
    public var question: String
    public var yesToken: String
    public var noToken: String
    /// Hours from the scenario's start until the market's end date.
    public var endsInHours: Double
    public var tick: String = "0.01"
    public var minSize: Double = 5
    /// Taker fee rate; nil means fees disabled.
    public var feeRate: Double?
    public var startPrice: Double
    /// Standard deviation of the yes price per step.
    public var volatility: Double = 0.01
    public var liquidity: Double = 50_000
    public var volume: Double = 250_000
    /// Per step, the chance that the No asks dip so that both asks sum below 1 (an arbitrage window).
    public var arbChance: Double = 0
    /// The price path moves every this many steps (nil: every step); between moves the book reads the same
    /// (levels, sizes, hash), as a quiet market's does.
    public var moveEverySteps: Int?
    /// Ticks between the mid and each side's best level (nil: 1, a spread of two ticks). A wider book leaves room
    /// inside the spread for a market maker's quotes.
    public var halfSpreadTicks: Int?
    /// Resolves (closes with a winner) this many scenario hours after the start, if set.
    public var resolvesAfterHours: Double?
    public var winner: String?

    public init(id: String, question: String, yesToken: String, noToken: String, endsInHours: Double, startPrice: Double) {
        self.id = id; self.question = question; self.yesToken = yesToken; self.noToken = noToken
        self.endsInHours = endsInHours; self.startPrice = startPrice
    }
}

public struct FakeScenario: Codable, Sendable {
    public var seed: UInt64 = 1
    /// Scenario seconds per real second.
    public var speed: Double = 1
    /// Scenario seconds per price step.
    public var stepSeconds: Double = 1
    public var markets: [FakeMarketSpec]

    public init(seed: UInt64 = 1, speed: Double = 1, stepSeconds: Double = 1, markets: [FakeMarketSpec]) {
        self.seed = seed; self.speed = speed; self.stepSeconds = stepSeconds; self.markets = markets
    }

    /// The offline demo: a favourite near resolution, a mean-reverting market, an arbitrage-prone one, and filler.
    /// `wideMarket`: the last filler gets a wide, busy book (room inside its spread for a market maker, moves
    /// that cross its quotes); off by default, so every other scenario built on the demo keeps its price paths.
    public static func demo(seed: UInt64 = 7, wideMarket: Bool = false) -> FakeScenario {
        var fav = FakeMarketSpec(id: "501", question: "Will the demo favourite win?", yesToken: "9001", noToken: "9002",
                                 endsInHours: 6, startPrice: 0.94)
        fav.volatility = 0.002
        fav.resolvesAfterHours = 0.05
        fav.winner = "9001"
        var swing = FakeMarketSpec(id: "502", question: "Will the swing market swing?", yesToken: "9003", noToken: "9004",
                                   endsInHours: 240, startPrice: 0.5)
        swing.volatility = 0.02
        var arb = FakeMarketSpec(id: "503", question: "Will the mispriced market stay mispriced?", yesToken: "9005", noToken: "9006",
                                 endsInHours: 120, startPrice: 0.45)
        arb.arbChance = 0.3
        arb.feeRate = 0.01
        var markets = [fav, swing, arb]
        for i in 0..<7 {
            var m = FakeMarketSpec(id: "\(510 + i)", question: "Filler market \(i + 1)?", yesToken: "\(9100 + 2 * i)",
                                   noToken: "\(9101 + 2 * i)", endsInHours: 48 + Double(i) * 24, startPrice: 0.2 + Double(i) * 0.08)
            m.volatility = 0.005
            if i == 6 && wideMarket {
                // A wide, busy book: room inside its spread for the market maker, and moves that cross its quotes.
                m.halfSpreadTicks = 3
                m.volatility = 0.02
            }
            markets.append(m)
        }
        return FakeScenario(seed: seed, speed: 60, stepSeconds: 5, markets: markets)
    }
}

extension FakeScenario {
    /// A day of a venue with `markets` binary markets, as the backtest benchmark records it: a few busy books that
    /// move every 5 s step, more that move every 30 s, most that move every 5 minutes (quiet long-tail markets);
    /// some mispriced now and then, some with wide books, about one in twenty resolving during the day.
    /// Deterministic per seed. Its clock is whatever the fake is given (a bench moves one by hand).
    public static func day(markets count: Int, seed: UInt64 = 11) -> FakeScenario {
        var rng = SplitMix(state: seed)
        var markets: [FakeMarketSpec] = []
        for i in 0..<count {
            let start = 0.05 + rng.unit() * 0.9
            var m = FakeMarketSpec(id: "\(20_000 + i)", question: "Day market \(i + 1)?", yesToken: "\(700_000 + 2 * i)",
                                   noToken: "\(700_001 + 2 * i)", endsInHours: 30 + rng.unit() * 700, startPrice: start)
            let kind = rng.unit()
            m.moveEverySteps = kind < 0.1 ? 1 : kind < 0.4 ? 6 : 60
            m.volatility = kind < 0.1 ? 0.004 : 0.008
            m.liquidity = 5_000 + rng.unit() * 200_000
            m.volume = 20_000 + rng.unit() * 2_000_000
            if rng.unit() < 0.15 { m.arbChance = 0.05 }
            if rng.unit() < 0.2 { m.halfSpreadTicks = 3 }
            if rng.unit() < 0.3 { m.feeRate = 0.01 }
            if rng.unit() < 0.05 {
                m.resolvesAfterHours = 2 + rng.unit() * 20
                m.winner = rng.unit() < 0.5 ? m.yesToken : m.noToken
            }
            markets.append(m)
        }
        return FakeScenario(seed: seed, speed: 1, stepSeconds: 5, markets: markets)
    }
}

/// SplitMix64: small, seeded, reproducible.
struct SplitMix {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E3779B97F4A7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) &* 0x94D049BB133111EB
        return z ^ (z >> 31)
    }
    mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    /// Standard normal (Box–Muller).
    mutating func normal() -> Double {
        let u1 = max(unit(), 1e-12), u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
    }
}
