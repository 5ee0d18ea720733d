// The engine's book refresh on a scripted in-memory source (pure engine logic, no network): the book's tick
// and minimum size stay authoritative over the listing's, whether the book changes or a market is added.
import Foundation
import Logging
import Synchronization
import Testing
import WardenCore
import WardenHTTP
import WardenIPC
import WardenKit
@testable import WardenEngine

/// Markets and books set by the test; every book is stamped as just observed.
private final class ScriptedSource: MarketDataSource {
    struct Script { var markets: [Market] = []; var ticks: [String: Micros] = [:] }
    let script = Mutex(Script())
    var name: String { "scripted" }

    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { (script.withLock { $0.markets }, []) }
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        let ticks = script.withLock { $0.ticks }
        let now = Date()
        return (tokenIDs.map { t in
            OrderBook(tokenID: t, bids: [BookLevel(price: 400_000, size: 100 * Fixed.one)], asks: [BookLevel(price: 600_000, size: 100 * Fixed.one)],
                      tickSize: ticks[t] ?? 10_000, minOrderSize: 5 * Fixed.one, bookTime: now, observedAt: now)
        }, [])
    }
    func market(id: String) async throws -> Market {
        guard let m = script.withLock({ $0.markets.first { $0.id == id } }) else { throw CancellationError() }
        return m
    }
    func hostStats() -> [HostStats] { [] }
}

private func market(_ id: String) -> Market {
    Market(id: id, tokens: [OutcomeToken(tokenID: "\(id)y", outcome: "Yes"), OutcomeToken(tokenID: "\(id)n", outcome: "No")],
           tickSize: 10_000, minOrderSize: 5 * Fixed.one)
}

@Suite("Engine refresh")
struct EngineRefreshTests {
    private func engine(_ source: ScriptedSource, discoveryEvery: Duration) -> TradingEngine {
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.discoveryInterval = discoveryEvery
        s.minFreePercent = 0
        s.complementArb = false; s.nearResolution = false; s.meanReversion = false
        return TradingEngine(settings: s, journal: nil, journalProblem: nil, source: source, publisher: EventPublisher(),
                             stateDir: tempDir(), logger: Logger(label: "test"))
    }

    @Test("a book's tick size is carried onto its market at the first refresh and whenever the book's tick moves")
    func tickFollowsBook() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.ticks = ["1y": 1_000] }
        let e = engine(source, discoveryEvery: .seconds(86_400))
        await e.cycle()
        #expect(await e.markets["1"]?.tickSize == 1_000, "the book's 0.001 over the listing's 0.01")
        await e.cycle()
        #expect(await e.markets["1"]?.tickSize == 1_000)
        source.script.withLock { $0.ticks["1y"] = 10_000 }
        await e.cycle()
        #expect(await e.markets["1"]?.tickSize == 10_000, "the book's tick moved back, without a new discovery")
    }

    @Test("markets from a new discovery get their books' tick sizes, also when no book changed")
    func tickAfterDiscovery() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.ticks = ["1y": 1_000, "2y": 1_000] }
        let e = engine(source, discoveryEvery: .zero)
        await e.cycle()
        await e.cycle()
        #expect(await e.markets["1"]?.tickSize == 1_000, "a rediscovered listing with the old tick is corrected again")
        source.script.withLock { $0.markets.append(market("2")) }
        await e.cycle()
        #expect(await e.markets["2"]?.tickSize == 1_000, "a market added later")
        #expect(await e.markets["1"]?.tickSize == 1_000)
    }
}
