// The shipped strategies as pure functions: hand-made snapshots in, decisions out. The market maker's quotes,
// requotes, inventory cap and end-of-market stop; each strategy's section read strictly; the registry.
import Foundation
import Testing
import WardenTestKit
import WardenCore
import WardenKit
import WardenEngine
@testable import WardenStrategies


@Suite("Strategies")
struct StrategyTests {
    @Test("complement arbitrage buys both outcomes when asks plus fees are below 1 − edge, sized by depth")
    func complementArb() throws {
        let s = ComplementArbitrage(edge: 10_000, maxShares: 500 * Fixed.one)
        let snap = MarketSnapshot(market: market(), books: [
            "yes": book("yes", asks: [(0.45, 80)]), "no": book("no", asks: [(0.50, 60)])], now: t0)
        let intents = try s.evaluate(snap, positions: [], cash: 1000 * Fixed.one)
        #expect(intents.count == 2)
        #expect(intents.allSatisfy { $0.shares == 60 * Fixed.one && $0.side == .buy })
        let none = try s.evaluate(MarketSnapshot(market: market(), books: [
            "yes": book("yes", asks: [(0.50, 80)]), "no": book("no", asks: [(0.50, 60)])], now: t0), positions: [], cash: 1000 * Fixed.one)
        #expect(none.isEmpty, "0.50 + 0.50 leaves no edge")
    }

    @Test("near-resolution favourite buys inside the band and window only")
    func favourite() throws {
        let s = NearResolutionFavorite(band: 900_000...980_000, withinHours: 24, stake: 50 * Fixed.one)
        let soon = market(end: t0.addingTimeInterval(3 * 3600))
        let late = market(end: t0.addingTimeInterval(72 * 3600))
        let books = ["yes": book("yes", asks: [(0.95, 1000)]), "no": book("no", asks: [(0.06, 1000)])]
        let intents = try s.evaluate(MarketSnapshot(market: soon, books: books, now: t0), positions: [], cash: 1000 * Fixed.one)
        #expect(intents.count == 1 && intents[0].tokenID == "yes")
        #expect(intents[0].shares == 52_630_000)  // 50 / 0.95 rounded down to hundredths
        #expect(try s.evaluate(MarketSnapshot(market: late, books: books, now: t0), positions: [], cash: 1000 * Fixed.one).isEmpty)
    }

    @Test("mean reversion enters below the band and exits on take-profit or stop-loss")
    func meanReversion() throws {
        let s = MeanReversion(window: 10, zEntry: 2, takeProfit: 30_000, stopLoss: 50_000, stake: 20 * Fixed.one)
        let history: [Micros] = [500_000, 510_000, 490_000, 505_000, 495_000, 500_000, 510_000, 490_000, 500_000, 500_000]
        let dip = MarketSnapshot(market: market(), books: ["yes": book("yes", bids: [(0.43, 100)], asks: [(0.45, 100)])],
                                 midHistory: ["yes": history], now: t0)
        let entry = try s.evaluate(dip, positions: [], cash: 100 * Fixed.one)
        #expect(entry.count == 1 && entry[0].side == .buy && entry[0].kind == .entry)
        let held = Position(marketID: "m1", tokenID: "yes", shares: 40 * Fixed.one, costBasis: 18 * Fixed.one, openedAt: t0)
        let up = MarketSnapshot(market: market(), books: ["yes": book("yes", bids: [(0.49, 100)], asks: [(0.50, 100)])], now: t0)
        let exit = try s.evaluate(up, positions: [held], cash: 0)
        #expect(exit.count == 1 && exit[0].kind == .exit && exit[0].reason.contains("take profit"))
        let down = MarketSnapshot(market: market(), books: ["yes": book("yes", bids: [(0.39, 100)], asks: [(0.41, 100)])], now: t0)
        #expect(try s.evaluate(down, positions: [held], cash: 0).first?.reason.contains("stop loss") == true)
    }

}

@Suite("Market maker")
struct MarketMakerTests {
    let mm = MarketMaker(halfSpread: 10_000, minSpread: 30_000, size: 20 * Fixed.one, maxInventory: 30 * Fixed.one, stopBeforeEndHours: 6)
    let wide = ["yes": book("yes", bids: [(0.40, 100)], asks: [(0.50, 100)]), "no": book("no", bids: [(0.50, 100)], asks: [(0.60, 100)])]

    func context(_ books: [String: OrderBook], held: Double = 0, open: [RestingOrder] = [], cash: Double = 1000, end: Date? = nil) -> StrategyContext {
        let positions = held > 0 ? [Position(marketID: "m1", tokenID: "yes", shares: Fixed.from(held)!, costBasis: Fixed.from(held * 0.44)!, openedAt: t0)] : []
        return StrategyContext(snapshot: MarketSnapshot(market: market(end: end), books: books, now: t0), positions: positions,
                               openOrders: open, cash: Fixed.from(cash)!)
    }

    func places(_ d: [StrategyDecision]) -> [OrderIntent] { d.compactMap { if case .place(let i) = $0 { return i } else { return nil } } }
    func cancels(_ d: [StrategyDecision]) -> [String] { d.compactMap { if case .cancel(let id, _) = $0 { return id } else { return nil } } }

    @Test("flat: one resting bid inside the spread around the mid, no ask (nothing to sell)")
    func flatBid() throws {
        let d = try mm.decide(context(wide))
        let p = places(d)
        #expect(p.count == 1 && p[0].side == .buy && p[0].timeInForce == .resting && p[0].kind == .entry)
        #expect(p[0].limitPrice == Fixed.from(0.44)! && p[0].shares == 20 * Fixed.one, "mid 0.45 − 0.01, inside 0.40–0.50")
    }

    @Test("holding: both sides; the ask sells at most what is held; at the inventory cap only the ask")
    func inventory() throws {
        let both = places(try mm.decide(context(wide, held: 12)))
        #expect(both.map(\.side) == [.buy, .sell])
        #expect(both[0].shares == 18 * Fixed.one, "bid up to the cap of 30")
        #expect(both[1].limitPrice == Fixed.from(0.46)! && both[1].shares == 12 * Fixed.one && both[1].kind == .exit)
        let capped = places(try mm.decide(context(wide, held: 30)))
        #expect(capped.map(\.side) == [.sell])
    }

    @Test("a quote already resting where it should be is kept; one that is not is cancelled and placed again")
    func requote() throws {
        let bid = OrderIntent(id: "b1", strategy: "market_maker", marketID: "m1", tokenID: "yes", side: .buy, kind: .entry,
                              limitPrice: Fixed.from(0.44)!, shares: 20 * Fixed.one, reason: "q", timeInForce: .resting)
        let kept = try mm.decide(context(wide, open: [RestingOrder(intent: bid, open: 20 * Fixed.one, since: t0)]))
        #expect(kept.isEmpty, "nothing to do: the bid is where it should be")
        let moved = ["yes": book("yes", bids: [(0.50, 100)], asks: [(0.60, 100)])]
        let d = try mm.decide(context(moved, open: [RestingOrder(intent: bid, open: 20 * Fixed.one, since: t0)]))
        #expect(cancels(d) == ["b1"])
        #expect(places(d).first?.limitPrice == Fixed.from(0.54)!)
    }

    @Test("no quotes in a tight book, near the market's end, or with no cash; open quotes are cancelled there")
    func noQuotes() throws {
        let tight = ["yes": book("yes", bids: [(0.44, 100)], asks: [(0.46, 100)])]
        #expect(try mm.decide(context(tight)).isEmpty)
        let bid = OrderIntent(id: "b1", strategy: "market_maker", marketID: "m1", tokenID: "yes", side: .buy, kind: .entry,
                              limitPrice: Fixed.from(0.44)!, shares: 20 * Fixed.one, reason: "q", timeInForce: .resting)
        let open = [RestingOrder(intent: bid, open: 20 * Fixed.one, since: t0)]
        #expect(cancels(try mm.decide(context(tight, open: open))) == ["b1"])
        #expect(cancels(try mm.decide(context(wide, open: open, end: t0.addingTimeInterval(3600)))) == ["b1"])
        #expect(places(try mm.decide(context(wide, cash: 1))).isEmpty, "2 shares affordable: under the minimum of 5")
    }

    @Test("the same context gives the same decisions (pure)")
    func pure() throws {
        let a = try mm.decide(context(wide, held: 12)).map { d -> String in
            if case .place(let i) = d { return "\(i.side) \(i.limitPrice) \(i.shares)" } else { return "\(d)" } }
        let b = try mm.decide(context(wide, held: 12)).map { d -> String in
            if case .place(let i) = d { return "\(i.side) \(i.limitPrice) \(i.shares)" } else { return "\(d)" } }
        #expect(a == b)
    }
}

@Suite("Strategy registry")
struct StrategyRegistryTests {
    @Test("the defaults build the three taker strategies; the market maker only when enabled")
    func defaults() throws {
        #expect(try StrategyRegistry.build(RegisteredSections()).map(\.name) == ["complement_arb", "near_resolution", "mean_reversion"])
    }

    @Test("each strategy's keys are read strictly from its own section, cross-key mistakes named by key")
    func sections() async throws {
        ConfigLoader.register(EngineSettings.configSections)  // as the engine registers them: its section and each strategy's
        let dir = NSTemporaryDirectory() + "strategies-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let good = dir + "/good.yaml"
        try "engine:\n  strategies:\n    market_maker:\n      enabled: true\n      size: 15\n".write(toFile: good, atomically: true, encoding: .utf8)
        let cfg = try await ConfigLoader.load(path: good, environment: [:])
        #expect(cfg.sections.get(MarketMaker.Configuration.self).size == 15)
        #expect(try StrategyRegistry.build(cfg.sections).map(\.name).last == "market_maker")
        let bad = dir + "/bad.yaml"
        try "engine:\n  strategies:\n    market_maker:\n      sise: 15\n      max_inventory: 1\n    near_resolution:\n      band_low: 0.99\n      band_high: 0.95\n    grid_bot:\n      enabled: true\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        do {
            _ = try await ConfigLoader.load(path: bad, environment: [:])
            Issue.record("a bad strategy section was accepted")
        } catch let e as ConfigurationError {
            let paths = e.issues.map(\.keyPath)
            #expect(paths.contains("engine.strategies.market_maker.sise") && e.description.contains("did you mean `size`"), "\(e)")
            #expect(paths.contains("engine.strategies.market_maker.max_inventory"), "\(e)")
            #expect(paths.contains("engine.strategies.near_resolution.band_low"), "\(e)")
            #expect(paths.contains("engine.strategies.grid_bot"), "an unknown strategy is named: \(e)")
        }
    }
}
