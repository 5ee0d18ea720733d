// IPC throughput and latency over a real Unix socket, journal commit rates against the raw SQLite ceiling,
// and the engine cycle's CPU time on synthetic markets (no network).
import Foundation
import WardenPolymarket
import GRDB
import Logging
import Synchronization
import WardenCore
import WardenEngine
import WardenHTTP
import WardenIPC
import WardenKit
import WardenStrategies

func nowNS() -> UInt64 { MonotonicInstant.now().nanoseconds }

/// A handler for a socket that only streams.
struct NoRequests: IPCRequestHandler {
    func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        throw IPCError(.unknownType, "no requests here")
    }
}

/// What the subscribers received, shared with their reading tasks.
final class Tally: Sendable {
    private let m = Mutex<(n: Int, gaps: Int, last: UInt64, lat: [Double])>((0, 0, 0, []))
    func withLock<T>(_ body: (inout (n: Int, gaps: Int, last: UInt64, lat: [Double])) -> T) -> T { m.withLock { body(&$0) } }
}

private let dataKey = Array("\"data\":\"".utf8)

/// The 20-digit send time at the start of a bench event's data string.
func sentAt(_ raw: Data) -> UInt64? {
    raw.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> UInt64? in
        guard b.count > dataKey.count + 20 else { return nil }
        var i = b.count - 1
        // The data string sits at the end of the frame; search backwards for its key.
        while i >= dataKey.count {
            if b[i - dataKey.count + 1] == dataKey[0], (0..<dataKey.count).allSatisfy({ b[i - dataKey.count + 1 + $0] == dataKey[$0] }) {
                var v: UInt64 = 0
                for k in (i + 1)..<(i + 21) {
                    guard k < b.count, b[k] >= 48, b[k] <= 57 else { return nil }
                    v = v * 10 + UInt64(b[k] - 48)
                }
                return v
            }
            i -= 1
        }
        return nil
    }
}

enum IPCBench {
    struct Result { var eventsPerSecond: Double; var p50ms: Double; var p99ms: Double; var delivered: Int; var gaps: Int }

    /// `events` 200-byte events to `subscribers` clients: throughput (as fast as the publisher goes) and latency
    /// (a paced run, so queueing does not count as latency).
    static func run(dir: String, subscribers: Int, events: Int) async throws -> Result {
        let publisher = EventPublisher(retainPerTopic: 16)
        let path = dir + "/bench-\(subscribers)-\(UUID().uuidString.prefix(6)).sock"
        let server = IPCServer(path: path, role: "bench", handler: NoRequests(), publisher: publisher,
                               queueLimit: events + 1000, logger: Logger(label: "bench"))
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        try await server.waitUntilListening()
        let counts = Tally()
        var clients: [IPCClient] = [], tasks: [Task<Void, Never>] = []
        for _ in 0..<subscribers {
            let c = IPCClient(path: path, role: "bench", logger: Logger(label: "bench"), eventBuffer: events + 1000)
            clients.append(c)
            tasks.append(Task { await c.run() })
            tasks.append(Task {
                for await e in c.events {
                    switch e {
                    case .event(let f):
                        let at = nowNS()
                        // The event's data starts with the send time in ns. Read from the raw frame: the transport is
                        // measured, not a consumer's JSON decoder (the dashboard passes frames on as they are).
                        if let sent = sentAt(f.raw) {
                            counts.withLock { $0.n += 1; $0.last = at; if $0.lat.count < 200_000 { $0.lat.append(Double(at &- sent) / 1e6) } }
                        }
                    case .gap: counts.withLock { $0.gaps += 1 }
                    default: break
                    }
                }
            })
            try await c.subscribeConfirmed(SubscribeRequest(topics: ["bench"]))
        }
        defer { tasks.forEach { $0.cancel() } }
        let pad = String(repeating: "x", count: 180)
        func payload() -> String {
            let t = String(nowNS())
            return String(repeating: "0", count: max(0, 20 - t.count)) + t + pad
        }
        // Throughput.
        let start = nowNS()
        for _ in 0..<events { publisher.publish("bench", payload()) }
        let target = events * subscribers
        let deadline = ContinuousClock.now + .seconds(120)
        while counts.withLock({ $0.n + $0.gaps }) < target && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        let (n, gaps, last) = counts.withLock { ($0.n, $0.gaps, $0.last) }
        let rate = Double(n) / Double(subscribers) / (Double(last &- start) / 1e9)
        // Latency, paced at about 10 % of the measured rate.
        counts.withLock { $0.lat = [] }
        // Batches of 10 with a sleep between them: the publisher yields its thread instead of spinning on it.
        let paced = min(10_000, max(500, events / 10))
        let perSecond = max(1000, rate / 10)
        for i in 0..<paced {
            publisher.publish("bench", payload())
            if i % 10 == 9 { try await Task.sleep(for: .microseconds(Int64(10 / perSecond * 1e6))) }
        }
        let want = paced * subscribers
        let d2 = ContinuousClock.now + .seconds(60)
        while counts.withLock({ $0.lat.count }) < want && ContinuousClock.now < d2 { try await Task.sleep(for: .milliseconds(5)) }
        let lat = counts.withLock { $0.lat }.sorted()
        return Result(eventsPerSecond: rate, p50ms: percentile(lat, 0.5), p99ms: percentile(lat, 0.99), delivered: n, gaps: gaps)
    }
}

enum JournalBench {
    struct Result { var perFill: Summary; var intentAndFill: Summary; var grouped: Double; var raw: Double }

    static func fill(_ i: Int, intent: String) -> Fill {
        Fill(intentID: intent, strategy: "bench", marketID: "m\(i % 100)", tokenID: "t\(i % 200)", side: .buy, shares: 10 * Fixed.one,
             notional: 5 * Fixed.one, fee: 10_000, levels: 1, at: Date())
    }

    static func run(dir: String, fills: Int) throws -> Result {
        let path = dir + "/journal-bench.db"
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        let (j, _) = try Journal.open(path: path, backupsDir: dir + "/backups")
        var account = Account(strategy: "bench", bankroll: 1_000_000 * Fixed.one)
        var commit: [Double] = [], both: [Double] = []
        let event = TradeInfo(id: 0, intent_id: "", strategy: "bench", market_id: "m", token_id: "t", side: "buy", shares: "10", price: "0.5",
                              notional: "5", fee: "0.01", at: 0)
        let t0 = nowNS()
        for i in 0..<fills {
            let intent = OrderIntent(strategy: "bench", marketID: "m\(i % 100)", tokenID: "t\(i % 200)", side: .buy, kind: .entry,
                                     limitPrice: 500_000, shares: 10 * Fixed.one, reason: "bench")
            let a = nowNS()
            try j.recordIntent(intent, at: Date())
            let b = nowNS()
            let f = fill(i, intent: intent.id)
            try account.apply(f)
            try j.recordFill(f, account: account, status: "filled", eventTopic: "trades", event: event)
            let c = nowNS()
            commit.append(Double(c - b) / 1e6)
            both.append(Double(c - a) / 1e6)
        }
        let total = Double(nowNS() - t0) / 1e9
        // Grouped: one transaction per "cycle" of 20 fills, the same statements.
        let q = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.prepareDatabase { try $0.execute(sql: "PRAGMA synchronous = FULL") }; return c }())
        let groups = max(1, fills / 20)
        let g0 = nowNS()
        for g in 0..<groups {
            try q.write { db in
                for k in 0..<20 {
                    let id = "g\(g)-\(k)"
                    try db.execute(sql: "INSERT INTO intents (id, strategy, market_id, token_id, side, kind, limit_price, shares, reason, status, created_at) VALUES (?, 'bench', 'm', 't', 'buy', 'entry', 500000, 10000000, 'bench', 'filled', 0)", arguments: [id])
                    try db.execute(sql: "INSERT INTO fills (intent_id, strategy, market_id, token_id, side, shares, notional, fee, levels, at) VALUES (?, 'bench', 'm', 't', 'buy', 10000000, 5000000, 10000, 1, 0)", arguments: [id])
                    try db.execute(sql: "INSERT OR REPLACE INTO accounts (strategy, state, updated_at) VALUES ('bench', '{}', 0)")
                    try db.execute(sql: "INSERT INTO events (topic, topic_seq, at, payload) VALUES ('grouped', ?, 0, '{}')", arguments: [g * 20 + k])
                }
            }
        }
        let grouped = Double(groups * 20) / (Double(nowNS() - g0) / 1e9)
        // The raw ceiling: one bare-row insert per transaction, same disk, same durability.
        try q.write { try $0.execute(sql: "CREATE TABLE IF NOT EXISTS bare (x INTEGER)") }
        let r0 = nowNS()
        for i in 0..<fills { try q.write { try $0.execute(sql: "INSERT INTO bare (x) VALUES (?)", arguments: [i]) } }
        let raw = Double(fills) / (Double(nowNS() - r0) / 1e9)
        _ = total
        return Result(perFill: Summary(commit), intentAndFill: Summary(both), grouped: grouped, raw: raw)
    }
}

/// Markets and books held in memory: the engine's cycle without a network.
struct SyntheticMarkets: MarketDataSource {
    let markets: [Market]
    let books: [String: OrderBook]
    /// The books in the order of the last request (the engine asks for the same tokens in the same order every
    /// cycle): answered from this list without a lookup per token, so the source's own work stays out of the figure.
    private let lastAsked = AskedBooks()
    final class AskedBooks: Sendable {
        let state = Mutex<(ids: [String], books: [OrderBook])>(([], []))
        func withLock<T>(_ body: (inout (ids: [String], books: [OrderBook])) -> T) -> T { state.withLock { body(&$0) } }
    }
    var name: String { "synthetic" }

    init(count: Int, now: Date) {
        var ms: [Market] = [], bs: [String: OrderBook] = [:]
        for i in 0..<count {
            let yes = "y\(i)", no = "n\(i)"
            let p = Micros(200_000 + (i * 7919) % 600_000)
            let p2 = p - p % 10_000
            ms.append(Market(id: "\(i)", endDate: now.addingTimeInterval(Double(3600 * (1 + i % 200))),
                             tokens: [OutcomeToken(tokenID: yes, outcome: "Yes"), OutcomeToken(tokenID: no, outcome: "No")],
                             tickSize: 10_000, minOrderSize: 5 * Fixed.one))
            for (t, mid) in [(yes, p2), (no, Fixed.one - p2)] {
                bs[t] = OrderBook(tokenID: t, bids: (1...5).map { BookLevel(price: mid - Micros($0) * 10_000, size: 200 * Fixed.one) },
                                  asks: (1...5).map { BookLevel(price: mid + Micros($0) * 10_000, size: 200 * Fixed.one) },
                                  tickSize: 10_000, minOrderSize: 5 * Fixed.one, bookTime: now, observedAt: now)
            }
        }
        markets = ms
        books = bs
    }

    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { (markets, []) }
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        let now = Date()
        // Re-stamped in place (a book is a reference to its fields: a copy per book per cycle would be the source's
        // own work, not the engine's).
        let list = lastAsked.withLock { asked in
            if asked.ids != tokenIDs { asked = (tokenIDs, tokenIDs.compactMap { books[$0] }) }
            for i in asked.books.indices { asked.books[i].observedAt = now; asked.books[i].bookTime = now }
            return asked.books
        }
        return (list, [])
    }
    func market(id: String) async throws -> Market {
        guard let m = markets.first(where: { $0.id == id }) else { throw BenchError("no market \(id)") }
        return m
    }
    func hostStats() -> [HostStats] { [] }
}

enum CycleBench {
    /// CPU time (user + system) of steady-state cycles at `markets` markets; the journal on `dir`.
    static func run(dir: String, markets: Int, cycles: Int) async throws -> Summary {
        let path = dir + "/cycle-\(markets).db"
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        let (j, _) = try Journal.open(path: path, backupsDir: dir + "/backups")
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.discoveryInterval = .seconds(86_400)
        s.maxMarkets = markets
        s.equityInterval = .seconds(86_400)
        s.backupInterval = .seconds(86_400)
        s.minFreePercent = 0
        let strategies = try StrategyRegistry.build(RegisteredSections())
        let engine = try TradingEngine(settings: s, journal: j, journalProblem: nil, source: SyntheticMarkets(count: markets, now: Date()),
                                   publisher: EventPublisher(retainPerTopic: 100), stateDir: dir, logger: Logger(label: "bench"),
                                   strategies: strategies)
        try await engine.recover()
        // Warm up until every strategy's mid history is full (the mean reversion's window is 30 refreshes of a
        // history of 60): before that it returns early, and the figure would leave out its steady work.
        for _ in 0..<(3 + (strategies.map(\.historyLength).max() ?? 0)) { await engine.cycle() }
        var cpu: [Double] = []
        for _ in 0..<cycles {
            let a = cpuSeconds()
            await engine.cycle()
            cpu.append((cpuSeconds() - a) * 1000)
        }
        return Summary(cpu)
    }

    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }
}

struct Summary {
    var p50: Double, p99: Double, min: Double, max: Double, n: Int
    init(_ xs: [Double]) {
        let s = xs.sorted()
        p50 = percentile(s, 0.5); p99 = percentile(s, 0.99); min = s.first ?? 0; max = s.last ?? 0; n = s.count
    }
}

func percentile(_ sorted: [Double], _ q: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * q).rounded()))]
}

/// Request round trips over one socket in one process, with this process's RSS read along the way.
enum RequestBench {
    struct Echo: IPCRequestHandler {
        func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable { Empty() }
    }

    static func rssBytes() -> Int {
        let s = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let kb = s.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return kb * 1024
    }

    /// `rounds` × `perRound` requests; returns (requests per second, RSS after each round).
    static func run(dir: String, rounds: Int, perRound: Int) async throws -> (rate: Double, rss: [Int]) {
        let path = dir + "/req-\(UUID().uuidString.prefix(6)).sock"
        let server = IPCServer(path: path, role: "bench", handler: Echo(), publisher: EventPublisher(retainPerTopic: 1), logger: Logger(label: "bench"))
        let serverTask = Task { try await server.run() }
        defer { serverTask.cancel() }
        try await server.waitUntilListening()
        var rss = [rssBytes()]
        let t0 = nowNS()
        for _ in 0..<rounds {
            _ = try await StackBench.requests(socket: path, type: "echo", count: perRound)
            rss.append(rssBytes())
        }
        return (Double(rounds * perRound) / (Double(nowNS() - t0) / 1e9), rss)
    }
}
