// The engine's book refresh on a scripted in-memory source (pure engine logic, no network): the book's tick
// and minimum size stay authoritative over the listing's, whether the book changes or a market is added.
import Foundation
import WardenPolymarket
import Logging
import Synchronization
import Testing
import WardenCore
import WardenHTTP
import WardenIPC
import WardenKit
@testable import WardenEngine
import WardenTestKit

/// Markets and books set by the test; every book is stamped as observed now by the test's manual clock.
private final class ScriptedSource: MarketDataSource {
    struct Script {
        var markets: [Market] = []; var ticks: [String: Micros] = [:]; var missing: Set<String> = []; var hash: String?; var down = false
        /// While set, a fetch waits (with `fetching` true) before it answers.
        var held = false; var fetching = false
    }
    let script = Mutex(Script())
    let clock: ManualClock
    init(clock: ManualClock = ManualClock()) { self.clock = clock }
    var name: String { "scripted" }

    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { (script.withLock { $0.markets }, []) }
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        script.withLock { $0.fetching = true }
        while script.withLock({ $0.held }) { try await Task.sleep(for: .milliseconds(5)) }
        let (ticks, missing, hash, down) = script.withLock { ($0.ticks, $0.missing, $0.hash, $0.down) }
        script.withLock { $0.fetching = false }
        if down { throw URLError(.cannotConnectToHost) }
        let now = clock.now
        // As POST /books: tokens without a book are left out, and the answer comes in another order.
        return (tokenIDs.filter { !missing.contains($0) }.reversed().map { t in
            OrderBook(tokenID: t, bids: [BookLevel(price: 400_000, size: 100 * Fixed.one)], asks: [BookLevel(price: 600_000, size: 100 * Fixed.one)],
                      tickSize: ticks[t] ?? 10_000, minOrderSize: 5 * Fixed.one, bookTime: now, observedAt: now, hash: hash)
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
    private func engine(_ source: ScriptedSource, discoveryEvery: Duration, staleDataAfter: Duration = .seconds(30)) throws -> TradingEngine {
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.discoveryInterval = discoveryEvery
        s.staleDataAfter = staleDataAfter
        s.minFreePercent = 0
        return try TradingEngine(settings: s, journal: nil, journalProblem: nil, source: source, publisher: EventPublisher(),
                             stateDir: tempDir(), logger: Logger(label: "test"), strategies: [], clock: source.clock.read)
    }

    @Test("a book's tick size is carried onto its market at the first refresh and whenever the book's tick moves")
    func tickFollowsBook() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.ticks = ["1y": 1_000] }
        let e = try engine(source, discoveryEvery: .seconds(86_400))
        await e.cycle(now: source.clock.now)
        #expect(await e.markets["1"]?.tickSize == 1_000, "the book's 0.001 over the listing's 0.01")
        await e.cycle(now: source.clock.now)
        #expect(await e.markets["1"]?.tickSize == 1_000)
        source.script.withLock { $0.ticks["1y"] = 10_000 }
        await e.cycle(now: source.clock.now)
        #expect(await e.markets["1"]?.tickSize == 10_000, "the book's tick moved back, without a new discovery")
    }

    @Test("markets from a new discovery get their books' tick sizes, also when no book changed")
    func tickAfterDiscovery() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.ticks = ["1y": 1_000, "2y": 1_000] }
        let e = try engine(source, discoveryEvery: .zero)
        await e.cycle(now: source.clock.now)
        await e.cycle(now: source.clock.now)
        #expect(await e.markets["1"]?.tickSize == 1_000, "a rediscovered listing with the old tick is corrected again")
        source.script.withLock { $0.markets.append(market("2")) }
        await e.cycle(now: source.clock.now)
        #expect(await e.markets["2"]?.tickSize == 1_000, "a market added later")
        #expect(await e.markets["1"]?.tickSize == 1_000)
    }

    @Test("issue 17: markets the CLOB answers no book for are 'no book' on status, and their old books are dropped")
    func missingBooks() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = (1...7).map { market(String($0)) } }
        let e = try engine(source, discoveryEvery: .seconds(86_400))
        await e.cycle(now: source.clock.now)
        #expect(await e.snapshot().data.no_book_markets == 0)
        source.script.withLock { $0.missing = ["1y", "2n", "3y", "4y", "5n"] }
        await e.cycle(now: source.clock.now)
        let data = await e.snapshot().data
        #expect(data.no_book_markets == 5 && data.no_book == ["1", "2", "3", "4", "5"], "\(String(describing: data))")
        #expect(await e.books["1y"] == nil, "no old book stands in for a missing one")
        source.script.withLock { $0.missing = [] }
        await e.cycle(now: source.clock.now)
        #expect(await e.snapshot().data.no_book_markets == 0)
    }

    @Test("issue 17: a book is aged by the first observation of its content, not by the answer's timestamp")
    func frozenByHash() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.hash = "h1" }
        let e = try engine(source, discoveryEvery: .seconds(86_400))
        await e.cycle(now: source.clock.now)
        let first = try #require(await e.books["1y"]?.changedAt)
        source.clock.advance(.seconds(3))
        await e.cycle(now: source.clock.now)
        #expect(await e.books["1y"]?.changedAt == first, "same hash: unchanged since the first observation")
        #expect(await e.books["1y"].map { $0.observedAt > first } == true, "while every answer is new")
        source.script.withLock { $0.hash = "h2" }
        await e.cycle(now: source.clock.now)
        #expect(await e.books["1y"].map { $0.changedAt! > first } == true, "a new hash is a change")
    }

    @Test("on a manual clock: refreshes failing past stale_data_after pause entries with data_stale since the last good one; a good refresh resumes")
    func staleDataOnManualClock() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")] }
        let e = try engine(source, discoveryEvery: .seconds(86_400), staleDataAfter: .seconds(10))
        await e.cycle(now: source.clock.now)
        let lastGood = source.clock.now
        #expect(await e.snapshot(source.clock.now).trading_state == "ACTIVE")
        source.script.withLock { $0.down = true }
        source.clock.advance(.seconds(9))
        await e.cycle(now: source.clock.now)
        #expect(await e.snapshot(source.clock.now).trading_state == "ACTIVE", "9 s without a refresh is inside the 10 s bound")
        source.clock.advance(.seconds(2))
        await e.cycle(now: source.clock.now)
        let paused = await e.snapshot(source.clock.now)
        let reason = try #require(paused.reasons.first { $0.code == "data_stale" })
        #expect(paused.trading_state == "PAUSED" && reason.since == isoString(lastGood), "\(paused.reasons)")
        #expect(paused.data.status == "down" && paused.data.age_s == 11)
        source.script.withLock { $0.down = false }
        source.clock.advance(.seconds(1))
        await e.cycle(now: source.clock.now)
        #expect(await e.snapshot(source.clock.now).trading_state == "ACTIVE", "fresh data again: entries resume by themselves")
    }

    @Test("changes that come while a snapshot is fetched and are newer than it (server times) go back on its book; older ones do not")
    func changesDuringFetch() async throws {
        let source = ScriptedSource()
        source.script.withLock { $0.markets = [market("1")]; $0.hash = "1" }
        let e = try engine(source, discoveryEvery: .seconds(86_400))
        await e.cycle(now: source.clock.now)
        source.clock.advance(.seconds(1))
        source.script.withLock { $0.held = true; $0.hash = "2" }
        let cycle = Task { await e.cycle(now: source.clock.now) }
        let end = ContinuousClock.now + .seconds(60)
        while !source.script.withLock({ $0.fetching }) && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(5)) }
        // The snapshot in flight is built when the fetch answers (at t+2); one change came before that, one after.
        let older = LevelChange(tokenID: "1y", side: .bid, price: 390_000, size: 5 * Fixed.one, hash: "1b", serverTime: source.clock.now + 0.5)
        let newer = LevelChange(tokenID: "1y", side: .bid, price: 410_000, size: 7 * Fixed.one, hash: "3", serverTime: source.clock.now + 2)
        source.clock.advance(.seconds(1))
        await e.apply(.events(shard: 0, [.levels([older, newer])], rejected: [], at: source.clock.now))
        source.script.withLock { $0.held = false }
        await cycle.value
        let book = try #require(await e.books["1y"])
        #expect(book.bids.first == BookLevel(price: 410_000, size: 7 * Fixed.one) && book.hash == "3", "the newer change is on the book: \(book.bids)")
        #expect(!book.bids.contains { $0.price == 390_000 }, "the older one is in the snapshot already (here: gone from it)")
        #expect(await e.feed.replayedAfterSnapshot == 1)
    }
}
