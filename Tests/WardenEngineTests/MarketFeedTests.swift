// The market WebSocket: the parser on hand-made frames (both price_change forms, tick changes, resolutions),
// and the engine following the loopback fake's market channel over a real WebSocket (WSClient) beside its REST
// snapshots: deltas applied, drift counted, a frozen feed found and reconnected, a feed that cannot connect
// pausing entries until it does, tick changes re-snapshotted, deltas untrusted until a snapshot after a connect.
import Foundation
import WardenPolymarket
import Logging
import Testing
import WardenCore
import WardenFakes
import WardenHTTP
import WardenIPC
import WardenKit
import WSClient
@testable import WardenEngine

@Suite("Market channel parsing")
struct MarketChannelParsingTests {
    let now = Date()

    @Test("the newer price_change form: many books in one message, size 0 removes, side BUY is a bid")
    func newerForm() throws {
        let text = #"{"event_type":"price_change","market":"0xab","price_changes":[{"asset_id":"111","price":"0.45","size":"120","side":"BUY","hash":"h1","best_bid":"0.45","best_ask":"0.47"},{"asset_id":"222","price":"0.55","size":"0","side":"SELL","hash":"h2"}],"timestamp":"1782753357257"}"#
        let r = MarketChannelParser.parse(text, observedAt: now)
        #expect(r.rejected.isEmpty)
        // The message's timestamp is each change's server time (a snapshot built before it lacks it).
        let at = Date(timeIntervalSince1970: 1_782_753_357.257)
        #expect(r.events == [.levels([LevelChange(tokenID: "111", side: .bid, price: 450_000, size: 120 * Fixed.one, hash: "h1", serverTime: at),
                                      LevelChange(tokenID: "222", side: .ask, price: 550_000, size: 0, hash: "h2", serverTime: at)])])
    }

    @Test("the older forms: one level at the top, or `changes` under one asset")
    func olderForms() throws {
        let one = #"{"event_type":"price_change","asset_id":"111","market":"0xab","price":"0.4","size":"10","side":"SELL","hash":"h"}"#
        #expect(MarketChannelParser.parse(one, observedAt: now).events == [.levels([LevelChange(tokenID: "111", side: .ask, price: 400_000, size: 10 * Fixed.one, hash: "h")])])
        let changes = #"{"event_type":"price_change","asset_id":"111","changes":[{"price":"0.4","size":"10","side":"BUY"},{"price":"0.41","size":"0","side":"BUY"}],"hash":"h"}"#
        #expect(MarketChannelParser.parse(changes, observedAt: now).events == [.levels([
            LevelChange(tokenID: "111", side: .bid, price: 400_000, size: 10 * Fixed.one, hash: "h"),
            LevelChange(tokenID: "111", side: .bid, price: 410_000, size: 0, hash: "h")])])
    }

    @Test("an array of book snapshots (the initial dump), a tick size change, a resolution, PONG, unknown kinds")
    func otherEvents() throws {
        let dump = #"[{"event_type":"book","asset_id":"111","market":"0xab","bids":[{"price":".48","size":"30"},{"price":".49","size":"20"}],"asks":[{"price":".53","size":"60"},{"price":".52","size":"25"}],"timestamp":"1782753357257","hash":"0x1","tick_size":"0.01"},{"event_type":"best_bid_ask","asset_id":"111"}]"#
        let r = MarketChannelParser.parse(dump, observedAt: now)
        #expect(r.rejected.isEmpty)
        guard case .book(let b)? = r.events.first else { Issue.record("no book in \(r.events)"); return }
        #expect(r.events.count == 1, "best_bid_ask is not needed for books and is skipped")
        #expect(b.bestBid == 490_000 && b.bestAsk == 520_000 && b.hash == "0x1")
        #expect(MarketChannelParser.parse(#"{"event_type":"tick_size_change","asset_id":"111","old_tick_size":"0.01","new_tick_size":"0.001"}"#, observedAt: now).events
                == [.tickSize(tokenID: "111", tick: 1_000)])
        #expect(MarketChannelParser.parse(#"{"event_type":"market_resolved","market":"0xcd","assets_ids":["111","222"],"winning_asset_id":"111"}"#, observedAt: now).events
                == [.resolved(condition: "0xcd", tokens: ["111", "222"], winner: "111")])
        #expect(MarketChannelParser.parse("PONG", observedAt: now).pong)
        // Upstream's channel book has no tick_size: accepted with tick 0 ("as known"), the engine keeps its own.
        let bare = MarketChannelParser.parse(#"{"event_type":"book","asset_id":"111","market":"0xab","bids":[{"price":".48","size":"30"}],"asks":[{"price":".52","size":"25"}],"timestamp":"123456789000","hash":"0x2"}"#, observedAt: now)
        guard case .book(let nb)? = bare.events.first else { Issue.record("no book in \(bare)"); return }
        #expect(bare.rejected.isEmpty && nb.tickSize == 0)
    }

    @Test("bad frames and bad levels are rejected with their reason; the good events of a frame are kept")
    func rejections() throws {
        let cut = MarketChannelParser.parse(#"{"event_type":"price_change","price_changes":[{"price":"#, observedAt: now)
        #expect(cut.events.isEmpty && cut.rejected.first?.reason.hasPrefix("not JSON") == true)
        let mixed = #"[{"event_type":"price_change","asset_id":"1","price":"1.5","size":"1","side":"BUY"},{"event_type":"price_change","asset_id":"2","price":"0.5","size":"1","side":"SIDEWAYS"},{"event_type":"last_trade_price","asset_id":"3","price":"0.5","size":"3","side":"BUY"}]"#
        let r = MarketChannelParser.parse(mixed, observedAt: now)
        #expect(r.events == [.lastTrade(tokenID: "3", price: 500_000)])
        #expect(r.rejected.map(\.reason) == ["price missing or outside (0, 1)", "side is neither BUY nor SELL"])
    }

    @Test("a level change keeps each side best first: insert, replace, remove")
    func applyLevels() throws {
        var b = OrderBook(tokenID: "t", bids: [BookLevel(price: 400_000, size: 10), BookLevel(price: 420_000, size: 10)],
                          asks: [BookLevel(price: 500_000, size: 10)], tickSize: 10_000, minOrderSize: 0, bookTime: nil, observedAt: Date())
        b.apply(.bid, price: 410_000, size: 5)
        b.apply(.bid, price: 430_000, size: 7)
        b.apply(.bid, price: 400_000, size: 0)
        b.apply(.ask, price: 480_000, size: 3)
        b.apply(.ask, price: 500_000, size: 9)
        #expect(b.bids.map(\.price) == [430_000, 420_000, 410_000])
        #expect(b.asks == [BookLevel(price: 480_000, size: 3), BookLevel(price: 500_000, size: 9)])
    }

    @Test("the reconnect delay grows by the multiplier up to the cap, moved by at most the jitter")
    func backoff() throws {
        var w = WebSocketSettings()
        w.reconnectBase = .seconds(1); w.reconnectMultiplier = 2; w.reconnectCap = .seconds(10); w.reconnectJitter = 0.2
        let p = ReconnectPolicy(w)
        #expect(p.delay(attempt: 1, unit: 0.5) == .seconds(1))
        #expect(p.delay(attempt: 3, unit: 0.5) == .seconds(4))
        #expect(p.delay(attempt: 9, unit: 0.5) == .seconds(10))
        #expect(p.delay(attempt: 9, unit: 0) == .seconds(8))
        #expect(p.delay(attempt: 9, unit: 0.999_999) <= .seconds(12))
    }
}

/// An engine on the fake's REST answers and its market channel, the feed applied as it arrives.
private struct FeedRig {
    let fake: PolymarketFake
    let engine: TradingEngine
    let stream: MarketStream
    let consumer: Task<Void, Never>

    static func start(_ tweak: (inout EngineSettings) -> Void = { _ in }) async throws -> FeedRig {
        var markets: [FakeMarketSpec] = []
        for i in 0..<3 {
            var m = FakeMarketSpec(id: "\(700 + i)", question: "Feed market \(i)?", yesToken: "\(7000 + 2 * i)", noToken: "\(7001 + 2 * i)",
                                   endsInHours: 100, startPrice: 0.3 + Double(i) * 0.2)
            m.volatility = 0.01
            markets.append(m)
        }
        let fake = try await PolymarketFake.start(FakeScenario(seed: 3, speed: 1, stepSeconds: 0.25, markets: markets))
        var s = EngineSettings()
        s.gammaURL = fake.baseURL
        s.clobURL = fake.baseURL
        s.bookRefresh = .milliseconds(500)
        s.minFreePercent = 0
        s.ws.pingInterval = .seconds(1)
        s.ws.reconnectBase = .milliseconds(50)
        s.ws.reconnectCap = .milliseconds(200)
        tweak(&s)
        var retry = RetryPolicy()
        retry.maxAttempts = 1
        let client = PolymarketClient(http: HTTPClient(retry: retry), gammaURL: fake.baseURL, clobURL: fake.baseURL, timeout: .seconds(5))
        var settings = MarketStream.Settings(s)
        settings.connectTimeout = .seconds(10)
        let stream = MarketStream(settings: settings, logger: Logger(label: "feed-test"))
        let engine = try TradingEngine(settings: s, journal: nil, journalProblem: nil, source: LiveMarketData(client: client, filters: MarketFilters()),
                                   publisher: EventPublisher(), stateDir: tempDir(), logger: Logger(label: "feed-test"), strategies: [], stream: stream)
        let consumer = Task { for await n in stream.notices { await engine.apply(n) } }
        return FeedRig(fake: fake, engine: engine, stream: stream, consumer: consumer)
    }

    func stop() async {
        stream.stop()
        consumer.cancel()
        await fake.stop()
    }

    /// Runs cycles (every 100 ms) until `condition` holds of the engine's feed status, for at most `bound`.
    @discardableResult
    func until(_ what: String, within bound: Duration = .seconds(60), _ condition: (FeedInfo, EngineSnapshot) async -> Bool) async throws -> FeedInfo {
        let end = ContinuousClock.now + bound
        var last: FeedInfo?
        while ContinuousClock.now < end {
            await engine.cycle()
            let snap = await engine.snapshot()
            if let f = snap.data.feed {
                last = f
                if await condition(f, snap) { return f }
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("not within \(bound): \(what); feed \(String(describing: last))")
        throw CancellationError()
    }

    func fault(_ set: (inout PolymarketFake.Faults) -> Void) {
        var f = fake.faults
        set(&f)
        fake.setFaults(f)
    }
}

@Suite("Market WebSocket against the fake", .serialized)
struct MarketFeedTests {
    @Test("books follow the channel's deltas between REST snapshots, and agree with the snapshots (no drift)")
    func deltasFollow() async throws {
        let rig = try await FeedRig.start { $0.bookRefresh = .seconds(2) }
        defer { Task { await rig.stop() } }
        try await rig.until("connected, trusted and many deltas applied") { f, _ in
            f.connected == 1 && f.awaiting_snapshot == 0 && f.deltas_total > 200
        }
        // Between two snapshots, the books moved by deltas alone: a new hash with no /books request in between
        // (a refresh in between starts the observation again).
        var moved = false
        let end = ContinuousClock.now + .seconds(60)
        var baseline = (await rig.engine.books["7000"]?.hash, rig.fake.requestCount("/books"))
        while !moved && ContinuousClock.now < end {
            try await Task.sleep(for: .milliseconds(50))
            let now = (await rig.engine.books["7000"]?.hash, rig.fake.requestCount("/books"))
            if now.1 != baseline.1 { baseline = now; continue }
            moved = now.0 != baseline.0
        }
        #expect(moved, "the book moved without a REST refresh")
        let restBefore = rig.fake.requestCount("/books")
        let f = try await rig.until("several snapshots compared") { f, _ in rig.fake.requestCount("/books") >= restBefore + 3 }
        #expect(f.drift_total == 0, "deltas built the same books the snapshots show: \(f.last_drift ?? "")")
        #expect(f.frozen_total == 0)
    }

    @Test("F42: deltas that disagree with the next snapshot of the same version are counted as drift; the snapshot wins")
    func drift() async throws {
        let rig = try await FeedRig.start()
        defer { Task { await rig.stop() } }
        try await rig.until("trusted") { f, _ in f.connected == 1 && f.awaiting_snapshot == 0 && f.deltas_total > 20 }
        rig.fault { $0.wsDrift = true }
        let f = try await rig.until("drift counted") { f, _ in f.drift_total > 0 }
        #expect(f.last_drift?.contains("disagreed with the REST snapshot") == true)
        // The snapshot wins: with the deltas right again, the engine's book equals the REST answer of the same version.
        rig.fault { $0 = PolymarketFake.Faults() }
        let client = PolymarketClient(http: HTTPClient(), gammaURL: rig.fake.baseURL, clobURL: rig.fake.baseURL, timeout: .seconds(5))
        try await rig.until("the engine's book equal to a REST answer of the same hash") { _, _ in
            guard let rest = try? await client.books(["7000"]).books.first, let mine = await rig.engine.books["7000"] else { return false }
            return rest.hash == mine.hash && rest.sameLevels(as: mine)
        }
    }

    @Test("F41: a connection open and answering PING but silent while REST shows its books moving is frozen, closed and reconnected")
    func frozen() async throws {
        let rig = try await FeedRig.start { $0.ws.silentAfter = .seconds(2) }
        defer { Task { await rig.stop() } }
        try await rig.until("connected with data") { f, _ in f.connected == 1 && f.deltas_total > 10 }
        let connectionsBefore = rig.fake.webSocketStats.connectionsTotal
        rig.fault { $0.wsFreeze = true }
        let f = try await rig.until("freeze detected") { f, _ in f.frozen_total >= 1 }
        #expect(f.frozen_total >= 1)
        try await rig.until("reconnected") { _, _ in rig.fake.webSocketStats.connectionsTotal > connectionsBefore }
        rig.fault { $0 = PolymarketFake.Faults() }
        try await rig.until("data again after the freeze") { f, _ in f.connected == 1 && (f.data_age_s ?? 99) < 1 }
    }

    @Test("F40: dropped again and again, past max attempts entries pause; connected again, they resume")
    func dropped() async throws {
        let rig = try await FeedRig.start { $0.ws.reconnectMaxAttempts = 3 }
        defer { Task { await rig.stop() } }
        try await rig.until("connected") { f, _ in f.connected == 1 }
        rig.fault { $0.wsDrop = true }
        let paused = try await rig.until("global pause") { _, s in s.reasons.contains { $0.code == "market_ws_down" } }
        #expect(paused.reconnects_total >= 3)
        #expect(paused.shards?.first?.state == "down" || paused.shards?.first?.state == "waiting" || paused.shards?.first?.state == "connecting")
        rig.fault { $0 = PolymarketFake.Faults() }
        try await rig.until("resumed") { f, s in f.connected == 1 && !s.reasons.contains { $0.code == "market_ws_down" } }
    }

    @Test("a tick size change drops the book until a snapshot, which brings the new tick")
    func tickChange() async throws {
        let rig = try await FeedRig.start()
        defer { Task { await rig.stop() } }
        try await rig.until("trusted") { f, _ in f.connected == 1 && f.awaiting_snapshot == 0 }
        let body = try JSONSerialization.data(withJSONObject: ["market": "701", "tick": "0.001"])
        let r = try await HTTPClient().send(HTTPRequest(method: "POST", url: rig.fake.baseURL + "/admin/tick", body: body, timeout: .seconds(5)))
        #expect(r.status == 200)
        try await rig.until("the market trades on the new tick") { _, _ in await rig.engine.markets["701"]?.tickSize == 1_000 }
    }
}

extension MarketFeedTests {
    @Test("a resolution on the fake reaches the engine as market_resolved (custom features), naming the market")
    func resolvedEvent() async throws {
        let rig = try await FeedRig.start()
        defer { Task { await rig.stop() } }
        try await rig.until("trusted") { f, _ in f.connected == 1 && f.awaiting_snapshot == 0 }
        let body = try JSONSerialization.data(withJSONObject: ["market": "702", "winner": "no"])
        _ = try await HTTPClient().send(HTTPRequest(method: "POST", url: rig.fake.baseURL + "/admin/resolve", body: body, timeout: .seconds(5)))
        try await rig.until("market_resolved seen") { _, _ in await rig.engine.feed.resolvedSeen >= 1 }
    }

    @Test("malformed frames on the channel are rejected and counted; the good deltas beside them are applied")
    func malformedFrames() async throws {
        let rig = try await FeedRig.start()
        defer { Task { await rig.stop() } }
        try await rig.until("trusted") { f, _ in f.connected == 1 && f.awaiting_snapshot == 0 }
        rig.fault { $0.wsMalformed = true }
        let before = try await rig.until("deltas flowing") { f, _ in f.deltas_total > 0 }.deltas_total
        let f = try await rig.until("malformed frames rejected, deltas still applied") { f, s in
            s.data.rejected_items_total > 0 && f.deltas_total > before + 20
        }
        #expect(f.connected == 1, "a malformed frame does not cost the connection")
    }

    @Test("shards hold at most assets_per_connection; tokens no longer followed close their shard, new ones get a new shard")
    func sharding() async throws {
        var s = EngineSettings()
        s.ws.url = "ws://127.0.0.1:1/ws/market"  // never connects: only the bookkeeping is looked at
        s.ws.assetsPerConnection = 500
        let stream = MarketStream(settings: MarketStream.Settings(s), logger: Logger(label: "t"))
        defer { stream.stop() }
        stream.follow(Set((0..<1200).map { "t\($0)" }))
        #expect(stream.snapshot().map(\.assets) == [500, 500, 200])
        // The first shard's tokens (sorted: t0, t1, t10, …) leave: that shard closes; the others shrink or stay.
        let first = Set(stream.snapshot()[0].tokens)
        stream.follow(Set((0..<1200).map { "t\($0)" }).subtracting(first).union(["n1", "n2"]))
        let after = stream.snapshot()
        #expect(after.map(\.assets) == [500, 200, 2], "\(after.map(\.assets))")
        #expect(Set(after.flatMap(\.tokens)).isDisjoint(with: first))
    }
}

@Suite("Deltas and snapshots")
struct DeltaTrustTests {
    @Test("after a (re)connect deltas are dropped and the book is not tradable until a REST snapshot taken since")
    func untrustedUntilSnapshot() async throws {
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.minFreePercent = 0
        let fake = try await PolymarketFake.start(.demo())
        s.gammaURL = fake.baseURL
        s.clobURL = fake.baseURL  // the channel on the fake too: nothing but loopback
        s.ws.url = "ws://127.0.0.1:1/ws/market"  // and one that never connects: the notices below are fed by hand
        let client = PolymarketClient(http: HTTPClient(), gammaURL: fake.baseURL, clobURL: fake.baseURL, timeout: .seconds(5))
        let stream = MarketStream(settings: MarketStream.Settings(s), logger: Logger(label: "t"))
        defer { stream.stop(); Task { await fake.stop() } }
        let e = try TradingEngine(settings: s, journal: nil, journalProblem: nil, source: LiveMarketData(client: client, filters: MarketFilters()),
                              publisher: EventPublisher(), stateDir: tempDir(), logger: Logger(label: "t"), strategies: [], stream: stream)
        await e.cycle()
        let book = try #require(await e.books["9003"])
        await e.apply(.connected(shard: 1, assets: ["9003", "9004"], at: Date(), recovered: false))
        await e.apply(.events(shard: 1, [.levels([LevelChange(tokenID: "9003", side: .bid, price: 10_000, size: 77 * Fixed.one)])], rejected: [], at: Date()))
        #expect(await e.books["9003"]?.bids == book.bids, "the delta is not applied before the snapshot")
        #expect(await e.feed.droppedUntrusted == 1)
        #expect(await e.isTradable(book, now: Date(), freshFor: 60) == false)
        try await Task.sleep(for: .milliseconds(10))
        await e.cycle()  // the snapshot the connect asked for
        let fresh = try #require(await e.books["9003"])
        #expect(await e.isTradable(fresh, now: Date(), freshFor: 60))
        await e.apply(.events(shard: 1, [.levels([LevelChange(tokenID: "9003", side: .bid, price: 10_000, size: 77 * Fixed.one)])], rejected: [], at: Date()))
        #expect(await e.books["9003"]?.bids.contains(BookLevel(price: 10_000, size: 77 * Fixed.one)) == true, "trusted after the snapshot")
        // A channel book (no tick size upstream) replaces the levels and keeps the known tick and minimum.
        let replacement = OrderBook(tokenID: "9003", bids: [BookLevel(price: 400_000, size: Fixed.one)], asks: [BookLevel(price: 600_000, size: Fixed.one)],
                                    tickSize: 0, minOrderSize: 0, bookTime: nil, observedAt: Date(), hash: "ws")
        await e.apply(.events(shard: 1, [.book(replacement)], rejected: [], at: Date()))
        let after = try #require(await e.books["9003"])
        #expect(after.hash == "ws" && after.tickSize == fresh.tickSize && after.minOrderSize == fresh.minOrderSize && after.bestBid == 400_000)
    }
}

@Suite("Recording the feed")
struct FeedRecordingTests {
    @Test("a recording's WebSocket deltas are replayed on top of the snapshot before them, at their recorded times")
    func replayAppliesDeltas() async throws {
        let m = Market(id: "1", tokens: [OutcomeToken(tokenID: "a", outcome: "Yes"), OutcomeToken(tokenID: "b", outcome: "No")],
                       tickSize: 10_000, minOrderSize: Fixed.one)
        let t0 = 1_800_000_000.0
        let book = OrderBook(tokenID: "a", bids: [BookLevel(price: 400_000, size: 10 * Fixed.one)], asks: [BookLevel(price: 600_000, size: 10 * Fixed.one)],
                             tickSize: 10_000, minOrderSize: Fixed.one, bookTime: nil, observedAt: Date(timeIntervalSince1970: t0), hash: "h0")
        let lines = [ReplayRecord(kind: .markets, at: t0, markets: [m]), ReplayRecord(kind: .books, at: t0, books: [book]),
                     ReplayRecord(kind: .deltas, at: t0 + 1, changes: [LevelChange(tokenID: "a", side: .bid, price: 410_000, size: 5 * Fixed.one, hash: "h1")]),
                     ReplayRecord(kind: .deltas, at: t0 + 3, changes: [LevelChange(tokenID: "a", side: .bid, price: 400_000, size: 0, hash: "h2")]),
                     ReplayRecord(kind: .markets, at: t0 + 10, markets: [m])]
        let path = tempDir() + "/rec.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: try lines.reduce(Data()) { $0 + (try $1.line()) })
        func books(after seconds: Double) async throws -> OrderBook? {
            let replay = try ReplayMarketData(path: path, speed: 1, startedAt: Date().addingTimeInterval(-seconds))
            return try await replay.books(["a"]).books.first
        }
        let at2 = try #require(try await books(after: 2))
        #expect(at2.bids.map(\.price) == [410_000, 400_000] && at2.hash == "h1")
        let at4 = try #require(try await books(after: 4))
        #expect(at4.bids.map(\.price) == [410_000] && at4.hash == "h2")
        #expect(abs(at4.observedAt.timeIntervalSinceNow + 1) < 0.5, "observed when the last delta was, moved onto the real clock")
    }

    @Test("warden-engine record's recorder writes the WebSocket deltas beside the REST snapshots")
    func recorderWritesDeltas() async throws {
        let fake = try await PolymarketFake.start(FakeScenario(seed: 5, speed: 1, stepSeconds: 0.2, markets: FakeScenario.demo().markets))
        defer { Task { await fake.stop() } }
        var s = EngineSettings()
        s.gammaURL = fake.baseURL
        s.clobURL = fake.baseURL
        let client = PolymarketClient(http: HTTPClient(), gammaURL: fake.baseURL, clobURL: fake.baseURL, timeout: .seconds(5))
        let stream = MarketStream(settings: MarketStream.Settings(s), logger: Logger(label: "record-test"))
        let path = tempDir() + "/rec.jsonl.gz"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        let recorder = MarketRecorder(source: LiveMarketData(client: client, filters: MarketFilters()), bookRefresh: .seconds(1),
                                      discoveryInterval: .seconds(60), stream: stream)
        let n = try await recorder.record(to: handle, compressed: true, for: .seconds(8)) { _ in }
        try handle.close()
        let raw = try #require(FileManager.default.contents(atPath: path))
        #expect(raw.starts(with: [0x1f, 0x8b]), "gzip on disk")
        let (text, cutShort) = try RecordingFile.text(raw)
        #expect(!cutShort && text.count > raw.count * 3, "compressed \(text.count) → \(raw.count) bytes")
        let records = try String(decoding: text, as: UTF8.self).split(separator: "\n").map {
            try ReplayRecord.decoder.decode(ReplayRecord.self, from: Data($0.utf8))
        }
        let kinds = records.map(\.kind)
        #expect(n == kinds.count)
        #expect(kinds.contains(.deltas), "deltas recorded: \(kinds)")
        #expect(kinds.contains(.books) && kinds.contains(.markets))
        // The first snapshot after the market list is whole; the later ones hold only what changed.
        let snapshots = records.filter { $0.kind == .books }
        #expect(snapshots.first?.partial == nil && snapshots.count >= 3, "\(snapshots.count) snapshots")
        #expect(snapshots.dropFirst().allSatisfy { $0.partial == true })
        let whole = snapshots.first?.books?.count ?? 0
        #expect(snapshots.dropFirst().allSatisfy { ($0.books?.count ?? 0) <= whole })
        _ = try ReplayMarketData(path: path, speed: 1)
    }

    @Test("a gzip recording stays readable when its recorder stops mid-way (every flushed line), reads concatenated members, and a plain file cut inside a line replays up to it")
    func compressedRecordings() throws {
        let m = Market(id: "1", tokens: [OutcomeToken(tokenID: "a", outcome: "Yes")], tickSize: 10_000, minOrderSize: Fixed.one)
        let book = OrderBook(tokenID: "a", bids: [BookLevel(price: 400_000, size: Fixed.one)], asks: [], tickSize: 10_000,
                             minOrderSize: Fixed.one, bookTime: nil, observedAt: Date(timeIntervalSince1970: 1), hash: "h")
        let recs = [ReplayRecord(kind: .markets, at: 1, markets: [m]), ReplayRecord(kind: .books, at: 1, books: [book])]
        let path = tempDir() + "/cut.jsonl.gz"
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let h = try #require(FileHandle(forWritingAtPath: path))
        let first = try RecordingSink(handle: h, compressed: true)
        for r in recs { try first.write(try r.line()) }
        try first.flush()
        try first.write(try ReplayRecord(kind: .books, at: 2, books: [book], partial: true).line())  // never flushed: lost with the process
        // The process dies here (no close): what was flushed is readable.
        let cut = try RecordingFile.text(try #require(FileManager.default.contents(atPath: path)))
        #expect(!cut.cutShort && String(decoding: cut.lines, as: UTF8.self).split(separator: "\n").count == 2)
        _ = try ReplayMarketData(path: path, speed: 1)
        try h.close()
        // A file of two finished members (gzip files concatenated) reads as one.
        let two = tempDir() + "/two.jsonl.gz"
        _ = FileManager.default.createFile(atPath: two, contents: nil)
        let h2 = try #require(FileHandle(forWritingAtPath: two))
        for r in recs {
            let sink = try RecordingSink(handle: h2, compressed: true)
            try sink.write(try r.line())
            try sink.close()
        }
        try h2.close()
        let both = try RecordingFile.text(try #require(FileManager.default.contents(atPath: two)))
        #expect(String(decoding: both.lines, as: UTF8.self).split(separator: "\n").count == 2)
        // A plain file cut inside its last line: the whole lines replay, and it is said.
        let plain = tempDir() + "/cut.jsonl"
        let whole = try recs.reduce(Data()) { $0 + (try $1.line()) }
        _ = FileManager.default.createFile(atPath: plain, contents: whole + Data("{\"kind\":\"bo".utf8))
        let replay = try ReplayMarketData(path: plain, speed: 1)
        #expect(replay.warnings.first?.contains("ends inside line 3") == true, "\(replay.warnings)")
        // Gzip magic over garbage: refused, naming the file.
        let broken = tempDir() + "/broken.jsonl.gz"
        _ = FileManager.default.createFile(atPath: broken, contents: Data([0x1f, 0x8b, 0x08, 0, 0xde, 0xad, 0xbe, 0xef, 1, 2, 3, 4, 5, 6, 7, 8]))
        do {
            _ = try ReplayMarketData(path: broken, speed: 1)
            Issue.record("a corrupt gzip file was accepted")
        } catch let e as ReplayError {
            #expect(e.description.contains("broken.jsonl.gz") && e.description.contains("not readable gzip"), "\(e)")
        }
    }

    @Test("a snapshot's changes: other levels, tick, minimum or hash are a change; a new observation of the same content is not; a token asked for without a book is gone")
    func snapshotChanges() {
        func book(_ id: String, bid: Micros, hash: String, at: Double) -> OrderBook {
            OrderBook(tokenID: id, bids: [BookLevel(price: bid, size: 10 * Fixed.one)], asks: [BookLevel(price: 600_000, size: 10 * Fixed.one)],
                      tickSize: 10_000, minOrderSize: Fixed.one, bookTime: nil, observedAt: Date(timeIntervalSince1970: at), hash: hash)
        }
        let last = ["a": book("a", bid: 400_000, hash: "h", at: 0), "b": book("b", bid: 300_000, hash: "h", at: 0),
                    "c": book("c", bid: 200_000, hash: "h", at: 0)]
        let now = [book("a", bid: 400_000, hash: "h", at: 5), book("b", bid: 310_000, hash: "h2", at: 5), book("d", bid: 100_000, hash: "h", at: 5)]
        let (changed, gone) = MarketRecorder.changes(since: last, now: now, asked: ["a", "b", "c", "d"])
        #expect(changed.map(\.tokenID) == ["b", "d"])
        #expect(gone == ["c"])
    }

    @Test("a partial snapshot replays as the one before with its changes: unchanged books observed at its time, gone ones without a book")
    func partialSnapshots() async throws {
        let m = Market(id: "1", tokens: [OutcomeToken(tokenID: "a", outcome: "Yes"), OutcomeToken(tokenID: "b", outcome: "No")],
                       tickSize: 10_000, minOrderSize: Fixed.one)
        let t0 = 1_800_000_000.0
        func book(_ id: String, bid: Micros) -> OrderBook {
            OrderBook(tokenID: id, bids: [BookLevel(price: bid, size: 10 * Fixed.one)], asks: [BookLevel(price: 600_000, size: 10 * Fixed.one)],
                      tickSize: 10_000, minOrderSize: Fixed.one, bookTime: nil, observedAt: Date(timeIntervalSince1970: t0), hash: "h\(bid)")
        }
        let lines = [ReplayRecord(kind: .markets, at: t0, markets: [m]),
                     ReplayRecord(kind: .books, at: t0, books: [book("a", bid: 400_000), book("b", bid: 300_000)]),
                     ReplayRecord(kind: .books, at: t0 + 2, books: [book("a", bid: 410_000)], partial: true),
                     ReplayRecord(kind: .books, at: t0 + 4, books: [], partial: true, gone: ["b"]),
                     ReplayRecord(kind: .markets, at: t0 + 10, markets: [m])]
        let path = tempDir() + "/partial.jsonl"
        _ = FileManager.default.createFile(atPath: path, contents: try lines.reduce(Data()) { $0 + (try $1.line()) })
        func books(after seconds: Double) async throws -> [String: OrderBook] {
            let replay = try ReplayMarketData(path: path, speed: 1, startedAt: Date().addingTimeInterval(-seconds))
            return Dictionary(uniqueKeysWithValues: try await replay.books(["a", "b"]).books.map { ($0.tokenID, $0) })
        }
        let at3 = try await books(after: 3)
        #expect(at3["a"]?.bids.first?.price == 410_000 && at3["b"]?.bids.first?.price == 300_000)
        #expect(abs((at3["b"]?.observedAt.timeIntervalSinceNow ?? 99) + 1) < 0.5, "the unchanged book observed at the partial snapshot's time")
        let at5 = try await books(after: 5)
        #expect(at5["a"]?.bids.first?.price == 410_000 && at5["b"] == nil, "b gone: no book")
        // A partial snapshot with no whole one before it is named with its line.
        let bad = tempDir() + "/bad.jsonl"
        _ = FileManager.default.createFile(atPath: bad, contents: try [lines[0], lines[2]].reduce(Data()) { $0 + (try $1.line()) })
        #expect(throws: ReplayError.self) { try ReplayMarketData(path: bad, speed: 1) }
    }
}


@Suite("The fake's market channel")
struct FakeMarketChannelTests {
    /// The event types of what the fake sends within `window` after subscribing `assets`.
    /// Subscribes `assets` and collects the kinds of events the fake sends until `enough` holds of them (at most
    /// `bound`: a loaded machine may take long to connect, so a fixed window would be flaky).
    func received(_ fake: PolymarketFake, assets: [String], bound: Duration = .seconds(60), until enough: @escaping @Sendable ([String]) -> Bool) async throws -> [String] {
        let seen = ResultList()
        let sub = MarketChannelParser.subscription(assets, customFeatures: false)
        let url = "ws://127.0.0.1:\(fake.port)/ws/market"
        let task = Task {
            try await WebSocketClient.connect(url: url, configuration: .init(maxFrameSize: 1 << 24), logger: Logger(label: "t")) { inbound, outbound, _ in
                try await outbound.writeTextMessage(sub)
                for try await m in inbound.messages(maxSize: 1 << 24) {
                    guard case .text(let t) = m else { continue }
                    let parsed = MarketChannelParser.parse(t, observedAt: Date())
                    for e in parsed.events {
                        switch e {
                        case .book: seen.append("book")
                        case .levels: seen.append("price_change")
                        default: seen.append("other")
                        }
                    }
                }
            }
        }
        let end = ContinuousClock.now + bound
        while !enough(seen.all) && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
        task.cancel()
        return seen.all
    }

    @Test("as upstream: a subscription of more than 500 assets gets no snapshots (deltas still come); one within the limit gets them")
    func assetLimit() async throws {
        let fake = try await PolymarketFake.start(FakeScenario(seed: 2, speed: 1, stepSeconds: 0.1, markets: FakeScenario.demo().markets))
        defer { Task { await fake.stop() } }
        let real = FakeScenario.demo().markets.flatMap { [$0.yesToken, $0.noToken] }
        let within = try await received(fake, assets: real) { $0.contains("book") && $0.contains("price_change") }
        #expect(within.contains("book") && within.contains("price_change"), "\(Set(within))")
        // Past the limit: deltas arrive (several, so any snapshot would have come first) and no snapshot.
        let past = try await received(fake, assets: real + (0..<490).map { "unknown-\($0)" }) { $0.filter { $0 == "price_change" }.count >= 5 }
        #expect(!past.contains("book") && past.contains("price_change"), "\(Set(past))")
    }
}

private final class ResultList: @unchecked Sendable {
    private var items: [String] = []
    private let lock = NSLock()
    func append(_ s: String) { lock.lock(); items.append(s); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return items }
}
