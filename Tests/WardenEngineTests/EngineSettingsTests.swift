// The engine's section, declared in WardenEngine (with each strategy's beneath it): defaults, bounds, named items,
// cross-key checks, and the errors named.
import Testing
import WardenEngine
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
