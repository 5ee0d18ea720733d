// The engine's section, declared in WardenEngine (with each strategy's beneath it): defaults, bounds, named items,
// cross-key checks, and the errors named.
import Foundation
import WardenPolymarket
import Logging
import Testing
import WardenCore
import WardenHTTP
import WardenIPC
@testable import WardenEngine
import WardenKit
import WardenTestKit

@Suite("Engine section")
struct EngineSettingsTests {
    @Test("nothing written: the declared defaults (live data from Polymarket, paper bankroll 1000, 2 s cycle)")
    func defaults() async throws {
        let c = try await ConfigFixture.load("programs: {}\n", sections: EngineApplication.configSections)
        #expect(c.engine == EngineSettings())
        #expect(c.engine.source == .live && c.engine.bankroll == 1000 && c.engine.cycle == .seconds(2) && c.engine.feeRates.isEmpty)
        #expect(c.engine.wsURL == "wss://ws-subscriptions-clob.polymarket.com/ws/market")
    }

    @Test("fee rates by category (any name, lower-cased), bounded; replay needs its file; base over cap; unknown keys and strategies named")
    func namedItemsAndErrors() async throws {
        let c = try await ConfigFixture.load("engine:\n  fee_rates: {Crypto: 0.072, sports: 0}\n  risk: {daily_loss: 50}\n",
                                             sections: EngineApplication.configSections)
        #expect(c.engine.feeRates == ["crypto": 0.072, "sports": 0] && c.engine.dailyLoss == 50)
        let found = try await ConfigFixture.problems("""
        engine:
          source: replay
          fee_rates: {crypto: 0.9}
          cycle: 1h
          ws: {reconnect: {base: 10s, cap: 1s}}
          risk: {max_drawdwn: 0.1}
          strategies:
            grid_bot: {enabled: true}
        """, sections: EngineApplication.configSections)
        #expect(found.contains { $0.hasPrefix("engine.replay_file: required when source is replay") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("engine.fee_rates.crypto: 0.9 is out of range") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("engine.cycle: 1h is out of range") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("engine.ws.reconnect.base: must not exceed reconnect.cap") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("engine.risk.max_drawdwn: unknown key (did you mean `max_drawdown`?)") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("engine.strategies.grid_bot: unknown key") }, "\(found)")
    }

    @Test("a configuration changed only in the engine's section is a change of that section, and only of it")
    func changedSection() async throws {
        let a = try await ConfigFixture.load("engine: {cycle: 1s}\n", sections: EngineApplication.configSections)
        var b = a
        #expect(b.sections.changedSections(from: a.sections).isEmpty)
        b.engine.cycle = .seconds(3)
        #expect(b.sections.changedSections(from: a.sections) == ["engine"] && a != b)
    }
}

@Suite("Engine money settings and order ends under failing storage")
struct EngineMoneyAndStorageTests {
    @Test("an amount that is not one is refused naming its key; the defaults build")
    func tradingLimits() throws {
        let ok = try TradingLimits(EngineSettings())
        #expect(ok.bankroll == 1000 * Fixed.one && ok.risk.dailyLossLimit == 100 * Fixed.one && ok.slippage == 20_000)
        var s = EngineSettings()
        s.bankroll = 1e300
        #expect(throws: ConfigurationError.self) { try TradingLimits(s) }
        do { _ = try TradingLimits(s) } catch { #expect("\(error)".contains("engine.paper.bankroll"), "\(error)") }
        s = EngineSettings()
        s.dailyLoss = .nan
        do { _ = try TradingLimits(s); Issue.record("a NaN daily loss was taken") } catch { #expect("\(error)".contains("engine.risk.daily_loss")) }
    }

    @Test("a resting order cancelled while storage fails is held, and written when storage works again: a restart never puts it back on the book")
    func cancellationHeldUntilStorageWorks() async throws {
        let dir = try ScratchDirectory("engine-storage")
        let (journal, _) = try Journal.open(path: dir.file("engine.db"), backupsDir: dir.file("backups"))
        let clock = ManualClock()
        var s = EngineSettings()
        s.minFreePercent = 0
        let e = try TradingEngine(settings: s, journal: journal, journalProblem: nil, source: NoMarkets(),
                                  publisher: EventPublisher(), stateDir: dir.path, logger: Logger(label: "test"), strategies: [],
                                  clock: clock.read)
        try await e.recover()
        let intent = OrderIntent(strategy: "maker", marketID: "m1", tokenID: "t1", side: .buy, kind: .entry, limitPrice: 400_000,
                                 shares: 10 * Fixed.one, reason: "quote", timeInForce: .resting)
        try journal.recordIntent(intent, at: clock.now)
        try journal.markResting(intent.id)
        await e.restore(RestingOrder(intent: intent, open: intent.shares, since: clock.now))
        await e.storageFailed("disk gone (test)", clock.now)
        _ = await e.killSwitch(on: true, author: "test")
        #expect(await e.core.venue.openOrders.isEmpty, "off the book at once")
        #expect(try journal.restingIntents().map(\.intent.id) == [intent.id], "not yet recorded: storage is failing")
        #expect(await e.pendingFinishes.count == 1)
        clock.advance(.seconds(5))
        await e.probeStorage(clock.now)
        #expect(try journal.restingIntents().isEmpty, "written once storage works: a restart finds nothing to put back")
        let held = await e.pendingFinishes.count, problem = await e.storageProblem
        #expect(held == 0 && problem == nil)
    }
}

/// A source with no markets (the test drives orders itself).
@Suite("Engine timers")
struct EngineTimerTests {
    @Test("equity points and backups run on timers beside the cycle: equity after the first cycle, backups with their time said; a slow one is said")
    func timers() async throws {
        let dir = try ScratchDirectory("engine-timers")
        let (journal, _) = try Journal.open(path: dir.file("engine.db"), backupsDir: dir.file("backups"), durable: false)
        var s = EngineSettings()
        s.minFreePercent = 0
        let publisher = EventPublisher()
        let e = try TradingEngine(settings: s, journal: journal, journalProblem: nil, source: NoMarkets(), publisher: publisher,
                                  stateDir: dir.path, logger: Logger(label: "test"), strategies: [BuyNothing()])
        try await e.recover()
        let timers = EngineTimerService(engine: e, equityEvery: .milliseconds(200), backupEvery: .milliseconds(300), backupsKeep: 2,
                                        backupSlowAfter: .milliseconds(1), logger: Logger(label: "test"))
        let running = Task { try await timers.run() }
        defer { running.cancel() }
        try await Task.sleep(for: .milliseconds(400))
        #expect(try journal.equityHistory(strategy: "nothing", limit: 10).isEmpty, "no point before a cycle marked the positions")
        await e.cycle()
        func said(_ key: String) -> Bool {
            publisher.retained(EngineTopic.activity).contains { String(decoding: $0.payload, as: UTF8.self).contains("\"key\":\"\(key)\"") }
        }
        let end = ContinuousClock.now + .seconds(60)
        func points() -> Int { (try? journal.equityHistory(strategy: "nothing", limit: 10).count) ?? 0 }
        while ContinuousClock.now < end, !(said("backup") && said("backup_slow") && points() >= 2) {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(try journal.equityHistory(strategy: "nothing", limit: 10).count >= 2)
        #expect(said("backup") && said("backup_slow"), "a backup done and one said slow (bound 1 ms)")
        let backups = try FileManager.default.contentsOfDirectory(atPath: dir.file("backups")).filter { $0.hasSuffix(".db") }
        #expect(!backups.isEmpty && backups.count <= 2)
    }
}

private struct BuyNothing: Strategy {
    var name: String { "nothing" }
    func decide(_ context: StrategyContext) throws -> [StrategyDecision] { [] }
}

private struct NoMarkets: MarketDataSource {
    var name: String { "none" }
    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { ([], []) }
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) { ([], []) }
    func market(id: String) async throws -> Market { throw CancellationError() }
    func hostStats() -> [HostStats] { [] }
}
