// The market WebSocket's numbers: level changes applied into the engine's books per second (one core), and the
// time from a frame written by a loopback WebSocket server to the updated book in the engine, at 2,000 assets.
import Foundation
import WardenPolymarket
import Logging
import Synchronization
import WardenCore
import WardenEngine
import WardenFakes
import WardenIPC
import WardenKit

enum FeedBench {
    struct Result {
        var applyLevelsPerSecond: Double
        var parseAndApplyLevelsPerSecond: Double
        var levels: Int
        var endToEnd: Summary
        var assets: Int
        var frames: Int
    }

    /// An engine on synthetic books for `markets` markets (two assets each), its feed from `url`.
    static func engine(markets: Int, url: String) async throws -> (TradingEngine, MarketStream) {
        var s = EngineSettings()
        s.bookRefresh = .seconds(86_400)
        s.discoveryInterval = .seconds(86_400)
        s.maxMarkets = markets
        s.minFreePercent = 0
        s.ws.url = url
        s.ws.pingInterval = .seconds(10)
        let stream = MarketStream(settings: MarketStream.Settings(s), logger: Logger(label: "bench"))
        let engine = try TradingEngine(settings: s, journal: nil, journalProblem: nil, source: SyntheticMarkets(count: markets, now: Date()),
                                   publisher: EventPublisher(retainPerTopic: 100), stateDir: NSTemporaryDirectory(), logger: Logger(label: "bench"),
                                   strategies: [], stream: stream)
        return (engine, stream)
    }

    /// `n` level changes spread over the synthetic books, near their mids (inserts, replaces and removals).
    static func changes(_ n: Int, markets: Int) -> [LevelChange] {
        var rng = UInt64(42)
        func next() -> UInt64 { rng = rng &* 6364136223846793005 &+ 1442695040888963407; return rng >> 33 }
        return (0..<n).map { i in
            let m = Int(next() % UInt64(markets))
            let p = Micros(200_000 + (m * 7919) % 600_000)
            let mid = p - p % 10_000
            let bid = next() % 2 == 0
            let offset = Micros(1 + next() % 6) * 10_000
            return LevelChange(tokenID: "y\(m)", side: bid ? .bid : .ask, price: bid ? mid - offset : mid + offset,
                               size: next() % 5 == 0 ? 0 : Micros(1 + next() % 500) * Fixed.one, hash: String(i))
        }
    }

    static func run(markets: Int, levels: Int, frames: Int) async throws -> Result {
        // 1. Apply: parsed changes into the books, 100 per notice (a busy frame), no network.
        let (engine, stream) = try await Self.engine(markets: markets, url: "ws://127.0.0.1:1/ws/market")
        stream.stop()
        await engine.cycle()  // books from the synthetic snapshot
        let all = changes(levels, markets: markets)
        let batches = stride(from: 0, to: all.count, by: 100).map { Array(all[$0..<min($0 + 100, all.count)]) }
        var t = ContinuousClock.now
        for b in batches { await engine.apply(.events(shard: 1, [.levels(b)], rejected: [], at: Date())) }
        let apply = Double(levels) / (ContinuousClock.now - t).seconds
        // 2. Parse and apply: the same changes as wire text (the newer price_change form).
        let texts = batches.map { b -> String in
            let items = b.map { c in
                "{\"asset_id\":\"\(c.tokenID)\",\"price\":\"\(Fixed.text(c.price, decimals: 2))\",\"size\":\"\(Fixed.text(c.size, decimals: 2))\",\"side\":\"\(c.side == .bid ? "BUY" : "SELL")\",\"hash\":\"\(c.hash ?? "")\"}"
            }
            return "{\"event_type\":\"price_change\",\"market\":\"0xab\",\"price_changes\":[\(items.joined(separator: ","))],\"timestamp\":\"1782753357257\"}"
        }
        t = ContinuousClock.now
        for text in texts {
            let now = Date()
            let parsed = MarketChannelParser.parse(text, observedAt: now)
            await engine.apply(.events(shard: 1, parsed.events, rejected: parsed.rejected, at: now))
        }
        let parseApply = Double(levels) / (ContinuousClock.now - t).seconds

        // 3. End to end over loopback: a WebSocket server of ours writes frames of one change each; the time until
        // the engine's book carries the change (its hash = the frame's number).
        let peers = Mutex<[FakeWebSocket]>([])
        let route = FakeWebSocketRoute(path: "/ws/market", accept: { true }, connected: { p in peers.withLock { $0.append(p) } })
        let server = try await LoopbackHTTPServer.start(webSocket: route) { _ in .respond(.json("{}", status: 404)) }
        let (live, feed) = try await Self.engine(markets: markets, url: "ws://127.0.0.1:\(server.port)/ws/market")
        let sent = Mutex([ContinuousClock.Instant?](repeating: nil, count: frames))
        let done = Mutex([Double](repeating: .nan, count: frames))
        let consumer = Task {
            for await n in feed.notices {
                await live.apply(n)
                guard case .events(_, let events, _, _) = n else { continue }
                let at = ContinuousClock.now
                for case .levels(let l) in events {
                    for c in l {
                        guard let h = c.hash, let i = Int(h), i < frames, let s = sent.withLock({ $0[i] }) else { continue }
                        done.withLock { $0[i] = (at - s).seconds * 1000 }
                    }
                }
            }
        }
        await live.cycle()  // discovery: the stream connects for every asset
        let shards = (markets * 2 + 499) / 500
        let deadline = ContinuousClock.now + .seconds(60)
        while peers.withLock({ $0.count }) < shards && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        try await Task.sleep(for: .milliseconds(300))
        await live.cycle()  // the snapshot after the connects: deltas trusted from here
        let dropped0 = await live.snapshot().data.feed?.dropped_untrusted_total ?? 0
        guard let peer = peers.withLock({ $0.first }) else { throw BenchError("the feed never connected") }
        let wire = changes(frames, markets: markets)
        for (i, c) in wire.enumerated() {
            let text = "{\"event_type\":\"price_change\",\"market\":\"0xab\",\"price_changes\":[{\"asset_id\":\"\(c.tokenID)\",\"price\":\"\(Fixed.text(c.price, decimals: 2))\",\"size\":\"\(Fixed.text(c.size, decimals: 2))\",\"side\":\"\(c.side == .bid ? "BUY" : "SELL")\",\"hash\":\"\(i)\"}]}"
            sent.withLock { $0[i] = ContinuousClock.now }
            peer.send(text)
            try await Task.sleep(for: .milliseconds(1))  // ~1,000 frames/s: latency, not a flood
        }
        let end = ContinuousClock.now + .seconds(30)
        while done.withLock({ $0.contains { $0.isNaN } }) && ContinuousClock.now < end { try await Task.sleep(for: .milliseconds(50)) }
        let dropped = (await live.snapshot().data.feed?.dropped_untrusted_total ?? 0) - dropped0
        if dropped > 0 { throw BenchError("\(dropped) frames were dropped as untrusted: the timing would not be of applied changes") }
        feed.stop()
        consumer.cancel()
        await server.stop()
        let lat = done.withLock { $0 }.filter { !$0.isNaN }
        guard !lat.isEmpty else { throw BenchError("no frame reached the engine") }
        return Result(applyLevelsPerSecond: apply, parseAndApplyLevelsPerSecond: parseApply, levels: levels, endToEnd: Summary(lat),
                      assets: markets * 2, frames: lat.count)
    }
}
