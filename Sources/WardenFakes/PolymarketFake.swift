// A loopback Polymarket (Gamma + CLOB public endpoints) that behaves like EXTERNAL-APIS.md, quirks
// included, plays a scenario, and takes faults at run time through /admin.
public import Foundation
import Synchronization
public import WardenCore

public final class PolymarketFake: Sendable {
    /// Fault modes set through `POST /admin/fault`.
    public struct Faults: Sendable, Codable, Equatable {
        public var down = false
        public var slowMS = 0
        public var rateLimitRetryAfter: Int?
        public var serverError = false
        public var reset = false
        public var malformed = false
        /// What an outside probe sent (F58): a price with a combining mark, a size of 1e400, a 2 MB question,
        /// a 1 MB endDate and a 5,000-character id, beside the good items.
        public var hostile = false
        public var frozenTokens: Set<String> = []
        /// Tokens `POST /books` leaves out (and `GET /book` answers 404 for), as upstream does for a market in
        /// proposed resolution.
        public var noBookTokens: Set<String> = []
        /// Market channel: drop every connection (and each new one as soon as it subscribes).
        public var wsDrop = false
        /// Market channel: refuse upgrades (the endpoint is down).
        public var wsRefuse = false
        /// Market channel: connections stay open and answer PING, and deliver nothing.
        public var wsFreeze = false
        /// Market channel: a malformed frame beside each batch.
        public var wsMalformed = false
        /// Market channel: deltas with wrong sizes under the true hash (the next snapshot disagrees).
        public var wsDrift = false
        /// Market channel: price changes in the older form, one level per message.
        public var wsLegacy = false
        public init() {}
    }

    private struct MarketState {
        var spec: FakeMarketSpec
        var step = 0
        /// How many times the price path has moved (the book's sizes and hash follow it, so a book that did not
        /// move reads the same).
        var moves = 0
        var yes: Double
        var arbDip = false
        var rng: SplitMix
        var closed = false
        var winner: String?
        var override: Double?
    }
    private struct State {
        var markets: [MarketState]
        var faults = Faults()
        var frozenBooks: [String: [String: Any]] = [:]
        /// The market of each outcome token (its index in `markets`).
        var marketOfToken: [String: Int] = [:]
        /// Each token's book as last built, with the move it was built at (a book is rebuilt only when its market
        /// moved; its timestamp is set per answer).
        var builtBooks: [String: (moves: Int, override: Double?, book: [String: Any])] = [:]
        var requests: [String: Int] = [:]
        var subscribers: [ObjectIdentifier: Subscriber] = [:]
        var wsConnections = 0
        var announcedResolved: Set<String> = []
    }
    /// One market-channel connection: what it subscribed to and the books as last sent to it.
    private struct Subscriber {
        var peer: FakeWebSocket
        var assets: [String] = []
        var custom = false
        var sent: [String: SentBook] = [:]
    }
    private struct SentBook {
        var bids: [String: String]
        var asks: [String: String]
        var hash: String
        var tick: String
    }
    private struct Box: @unchecked Sendable { var state: State }
    private let box: Mutex<Box>
    private let scenario: FakeScenario
    private let startedAt: Date
    /// The scenario's clock: the real one, or one a bench moves by hand (a day recorded in minutes).
    private let clock: @Sendable () -> Date
    private let server: LoopbackHTTPServer
    private let publisher = Mutex<Task<Void, Never>?>(nil)

    private init(scenario: FakeScenario, server: LoopbackHTTPServer, initial: State, clock: @escaping @Sendable () -> Date) {
        self.scenario = scenario
        self.clock = clock
        self.startedAt = clock()
        self.server = server
        self.box = Mutex(Box(state: initial))
    }

    public var baseURL: String { server.baseURL }
    public var port: Int { server.port }

    /// Starts serving on 127.0.0.1 (`port` 0: any free port). `clock`: the scenario's time (its start is the clock's
    /// reading now); the real clock unless a caller moves one of its own.
    public static func start(_ scenario: FakeScenario, port: Int = 0, clock: @escaping @Sendable () -> Date = { Date() }) async throws -> PolymarketFake {
        let markets = scenario.markets.enumerated().map { i, spec in
            MarketState(spec: spec, yes: spec.startPrice, rng: SplitMix(state: scenario.seed &* 1_000_003 &+ UInt64(i)))
        }
        let holder = HandlerHolder()
        let route = FakeWebSocketRoute(path: "/ws/market", accept: { holder.fake.withLock { $0 }?.acceptsWebSocket() ?? false },
                                       connected: { peer in holder.fake.withLock { $0 }?.connected(peer) })
        let server = try await LoopbackHTTPServer.start(port: port, webSocket: route) { req in await holder.handle(req) }
        var initial = State(markets: markets)
        for (i, m) in markets.enumerated() {
            initial.marketOfToken[m.spec.yesToken] = i
            initial.marketOfToken[m.spec.noToken] = i
        }
        let fake = PolymarketFake(scenario: scenario, server: server, initial: initial, clock: clock)
        holder.fake.withLock { $0 = fake }
        fake.publisher.withLock { $0 = Task { await fake.publishLoop() } }
        return fake
    }

    public func stop() async {
        publisher.withLock { $0?.cancel() }
        let peers = box.withLock { b in b.state.subscribers.values.map(\.peer) }
        for p in peers { p.drop() }
        await server.stop()
    }

    public var faults: Faults {
        get { box.withLock { $0.state.faults } }
    }
    public func setFaults(_ f: Faults) {
        box.withLock { $0.state.faults = f }
        dropSocketsIfFaulted()
    }
    public func requestCount(_ path: String) -> Int { box.withLock { $0.state.requests[path] ?? 0 } }

    /// Every open token's book now, as levels (best first): the liquidity a CLOB fake beside this one matches orders
    /// against, so an order meets the same book the engine reads.
    public func currentBooks() -> [(token: String, bids: [BookLevel], asks: [BookLevel])] {
        box.withLock { b in
            advance(&b.state)
            var out: [(token: String, bids: [BookLevel], asks: [BookLevel])] = []
            for m in b.state.markets where !m.closed {
                for token in [m.spec.yesToken, m.spec.noToken] {
                    let wire = book(m, token: token, malformed: false)
                    func levels(_ key: String) -> [BookLevel] {
                        ((wire[key] as? [[String: String]]) ?? []).reversed().compactMap { l in
                            guard let p = l["price"].flatMap(Fixed.parse), let sz = l["size"].flatMap(Fixed.parse) else { return nil }
                            return BookLevel(price: p, size: sz)
                        }
                    }
                    out.append((token, levels("bids"), levels("asks")))
                }
            }
            return out
        }
    }

    // MARK: - Scenario clock and prices

    private func scenarioSeconds() -> Double { clock().timeIntervalSince(startedAt) * scenario.speed }

    /// Advances every market's price path to the current scenario step (deterministic per seed).
    private func advance(_ s: inout State) {
        let target = Int(scenarioSeconds() / max(scenario.stepSeconds, 0.001))
        let hours = scenarioSeconds() / 3600
        for i in s.markets.indices {
            var m = s.markets[i]
            while m.step < target && !m.closed {
                m.step += 1
                guard m.step % max(m.spec.moveEverySteps ?? 1, 1) == 0 else { continue }
                m.moves += 1
                m.yes = min(0.98, max(0.02, m.yes + m.rng.normal() * m.spec.volatility))
                m.arbDip = m.rng.unit() < m.spec.arbChance
            }
            if !m.closed, let after = m.spec.resolvesAfterHours, hours >= after {
                m.closed = true
                m.winner = m.spec.winner ?? m.spec.yesToken
            }
            s.markets[i] = m
        }
    }

    private func tickSize(_ spec: FakeMarketSpec) -> Double { Double(spec.tick) ?? 0.01 }


    private func roundTick(_ p: Double, _ tick: Double) -> Double { (p / tick).rounded() * tick }

    private func fmt(_ d: Double, _ tick: Double) -> String {
        let decimals = max(0, Int((-log10(tick)).rounded()))
        return String(format: "%.\(decimals)f", d)
    }

    /// The CLOB book of one token, in wire form (strings, best last).
    private func book(_ m: MarketState, token: String, malformed: Bool) -> [String: Any] {
        let tick = tickSize(m.spec)
        let yesMid = m.override ?? m.yes
        let mid = token == m.spec.yesToken ? yesMid : 1 - yesMid
        // Seeded by the token's bytes (not `hashValue`, which is seeded per process): the same sizes in every run.
        var rng = SplitMix(state: UInt64(m.moves) &* 31 &+ token.utf8.reduce(UInt64(14_695_981_039_346_656_037)) { ($0 ^ UInt64($1)) &* 1_099_511_628_211 })
        let half = Double(m.spec.halfSpreadTicks ?? 1) * tick
        var bestAsk = roundTick(mid + half, tick)
        var bestBid = roundTick(mid - half, tick)
        if m.arbDip && token == m.spec.noToken { bestAsk = roundTick(mid - 2 * tick, tick); bestBid = roundTick(bestAsk - tick, tick) }
        bestAsk = min(1 - tick, max(tick * 2, bestAsk))
        bestBid = min(bestAsk - tick, max(tick, bestBid))
        var bids: [[String: String]] = [], asks: [[String: String]] = []
        for k in (0..<5).reversed() {  // ascending bids, best last
            let p = bestBid - Double(k) * tick
            if p >= tick { bids.append(["price": fmt(p, tick), "size": String(format: "%.2f", 50 + rng.unit() * 450)]) }
        }
        for k in (0..<5).reversed() {  // descending asks, best last
            let p = bestAsk + Double(k) * tick
            if p <= 1 - tick { asks.append(["price": fmt(p, tick), "size": String(format: "%.2f", 50 + rng.unit() * 450)]) }
        }
        if malformed, !asks.isEmpty { asks[asks.count - 1]["price"] = "1.5" }
        return ["market": "0x" + String(repeating: "ab", count: 32), "asset_id": token, "bids": bids, "asks": asks,
                "hash": String(m.moves), "min_order_size": String(format: "%g", m.spec.minSize), "neg_risk": false,
                "tick_size": m.spec.tick, "timestamp": String(Int64(clock().timeIntervalSince1970 * 1000)),
                "last_trade_price": ""]
    }

    /// The Gamma market object: JSON-encoded strings inside the JSON, numbers as strings where the API does that.
    private func marketObject(_ m: MarketState, malformed: Bool) -> [String: Any] {
        let end = startedAt.addingTimeInterval(m.spec.endsInHours * 3600 / max(scenario.speed, 0.0001))
        let iso = ISO8601DateFormatter()
        let yes = m.override ?? m.yes
        var prices = [String(format: "%.3f", yes), String(format: "%.3f", 1 - yes)]
        if m.closed { prices = m.winner == m.spec.yesToken ? ["1", "0"] : ["0", "1"] }
        var o: [String: Any] = [
            "id": m.spec.id, "question": m.spec.question, "conditionId": "0x" + String(repeating: "cd", count: 32),
            "slug": "fake-\(m.spec.id)", "endDate": iso.string(from: end),
            "outcomes": "[\"Yes\", \"No\"]",
            "outcomePrices": "[\"\(prices[0])\", \"\(prices[1])\"]",
            "clobTokenIds": "[\"\(m.spec.yesToken)\", \"\(m.spec.noToken)\"]",
            "liquidity": String(format: "%.2f", m.spec.liquidity), "liquidityNum": m.spec.liquidity,
            "volume": String(format: "%.2f", m.spec.volume), "volumeNum": m.spec.volume,
            "orderPriceMinTickSize": tickSize(m.spec), "orderMinSize": m.spec.minSize,
            "active": true, "closed": m.closed, "archived": false, "acceptingOrders": !m.closed,
            "enableOrderBook": true, "negRisk": false, "feesEnabled": m.spec.feeRate != nil,
        ]
        if let rate = m.spec.feeRate { o["feeSchedule"] = ["exponent": 1, "rate": rate, "takerOnly": true, "rebateRate": 0] }
        if malformed { o["outcomes"] = 5 }
        return o
    }

    // MARK: - Routing

    fileprivate func handle(_ req: FakeRequest) async -> FakeAction {
        if req.path.hasPrefix("/admin/") { return admin(req) }
        let faults = box.withLock { b -> Faults in
            b.state.requests[req.path, default: 0] += 1
            return b.state.faults
        }
        if faults.down || faults.reset { return .reset }
        if let retry = faults.rateLimitRetryAfter {
            return .respond(.json(#"{"error":"Too Many Requests"}"#, status: 429, headers: [("Retry-After", String(retry))]))
        }
        if faults.serverError { return .respond(.json(#"{"error":"internal error"}"#, status: 500)) }
        let response = route(req, faults: faults)
        return faults.slowMS > 0 ? .delayed(.milliseconds(faults.slowMS), response) : .respond(response)
    }

    private func route(_ req: FakeRequest, faults: Faults) -> FakeResponse {
        box.withLock { b -> FakeResponse in
            advance(&b.state)
            let s = b.state
            switch (req.method, req.path) {
            case ("GET", "/markets/keyset"):
                return keyset(req, s, malformed: faults.malformed, hostile: faults.hostile)
            case ("GET", "/markets"):
                return legacy(req, s, malformed: faults.malformed)
            case ("GET", let p) where p.hasPrefix("/markets/slug/"):
                let slug = String(p.dropFirst("/markets/slug/".count))
                guard let m = s.markets.first(where: { "fake-\($0.spec.id)" == slug }) else { return .json(#"{"error":"not found"}"#, status: 404) }
                return .jsonValue(marketObject(m, malformed: false))
            case ("GET", let p) where p.hasPrefix("/markets/"):
                let id = String(p.dropFirst("/markets/".count))
                guard let m = s.markets.first(where: { $0.spec.id == id }) else { return .json(#"{"error":"not found"}"#, status: 404) }
                return .jsonValue(marketObject(m, malformed: false))
            case ("GET", "/book"):
                guard let token = req.first("token_id"), !token.isEmpty else { return .json(#"{"error":"Invalid token id"}"#, status: 400) }
                guard let obj = bookFor(token, &b.state, faults) else {
                    return .json(#"{"error":"No orderbook exists for the requested token id"}"#, status: 404)
                }
                return .jsonValue(obj)
            case ("POST", "/books"):
                guard let list = try? JSONSerialization.jsonObject(with: req.body) as? [[String: Any]] else {
                    return .json(#"{"error":"Invalid payload"}"#, status: 400)
                }
                guard list.count <= 500 else { return .json(#"{"error":"too many token ids (max 500)"}"#, status: 400) }
                var books = list.compactMap { ($0["token_id"] as? String).flatMap { bookFor($0, &b.state, faults) } }
                if faults.hostile {
                    if var first = books.first, var bids = first["bids"] as? [[String: String]], !bids.isEmpty {
                        bids[bids.count - 1]["price"] = "0.0\u{301}5"
                        first["bids"] = bids
                        books[0] = first
                    }
                    books.append(["asset_id": "hostile-1e400", "bids": [["price": "0.5", "size": Self.hugeNumberMarker]], "asks": [], "tick_size": "0.01"])
                    return Self.withHugeNumbers(.jsonValue(books))
                }
                return .jsonValue(books)
            case ("GET", "/midpoint"):
                guard let token = req.first("token_id"), let obj = bookFor(token, &b.state, faults),
                      let bid = ((obj["bids"] as? [[String: String]])?.last?["price"]).flatMap(Double.init),
                      let ask = ((obj["asks"] as? [[String: String]])?.last?["price"]).flatMap(Double.init) else {
                    return .json(#"{"error":"No orderbook exists for the requested token id"}"#, status: 404)
                }
                return .jsonValue(["mid": String(format: "%.4f", (bid + ask) / 2)])
            case ("GET", "/price"):
                guard let token = req.first("token_id"), let side = req.first("side"), side == "BUY" || side == "SELL",
                      let obj = bookFor(token, &b.state, faults) else {
                    return .json(#"{"error":"Invalid token id"}"#, status: 400)
                }
                let key = side == "BUY" ? "asks" : "bids"
                return .jsonValue(["price": (obj[key] as? [[String: String]])?.last?["price"] ?? "0"])
            case ("GET", "/prices-history"):
                guard let token = req.first("market"), let m = s.markets.first(where: { $0.spec.yesToken == token || $0.spec.noToken == token }) else {
                    return .json(#"{"error":"market required"}"#, status: 400)
                }
                let now = Int(clock().timeIntervalSince1970)
                let yes = m.override ?? m.yes
                let p = token == m.spec.yesToken ? yes : 1 - yes
                return .jsonValue(["history": (0..<10).map { ["t": now - (9 - $0) * 60, "p": p] }])
            default:
                return .json(#"{"error":"not found"}"#, status: 404)
            }
        }
    }

    private func bookFor(_ token: String, _ s: inout State, _ faults: Faults) -> [String: Any]? {
        guard let i = s.marketOfToken[token] else { return nil }
        let m = s.markets[i]
        if m.closed || faults.noBookTokens.contains(token) { return nil }
        if faults.frozenTokens.contains(token) {
            // As upstream: a book that has not moved keeps its content and hash; its timestamp is when the answer
            // was built, so it is new every time.
            if var frozen = s.frozenBooks[token] {
                frozen["timestamp"] = String(Int64(clock().timeIntervalSince1970 * 1000))
                return frozen
            }
            let b = book(m, token: token, malformed: false)
            s.frozenBooks[token] = b
            return b
        }
        s.frozenBooks[token] = nil
        if faults.malformed { return book(m, token: token, malformed: true) }
        if var built = s.builtBooks[token], built.moves == m.moves, built.override == m.override {
            built.book["timestamp"] = String(Int64(clock().timeIntervalSince1970 * 1000))
            return built.book
        }
        let b = book(m, token: token, malformed: false)
        s.builtBooks[token] = (m.moves, m.override, b)
        return b
    }

    /// `order` takes camelCase field names; snake_case ones get 422, as upstream.
    private static let orderFields: Set<String> = ["volumeNum", "liquidityNum", "endDate", "startDate", "id", "volume24hr"]

    /// The markets a listing request selects, or the 422 it earns.
    private func filtered(_ req: FakeRequest, _ s: State) -> Listing {
        if let order = req.first("order") {
            let fields = order.split(separator: ",").map(String.init)
            if fields.isEmpty || !fields.allSatisfy(Self.orderFields.contains) {
                return .refused(.json(#"{"type":"validation error","error":"order fields are not valid"}"#, status: 422))
            }
        }
        let wantClosed = req.first("closed") == "true"
        let liqMin = req.first("liquidity_num_min").flatMap(Double.init)
        let volMin = req.first("volume_num_min").flatMap(Double.init)
        let iso = ISO8601DateFormatter()
        let endMin = req.first("end_date_min").flatMap { iso.date(from: $0) }
        let endMax = req.first("end_date_max").flatMap { iso.date(from: $0) }
        var list = s.markets.filter { m in
            let end = startedAt.addingTimeInterval(m.spec.endsInHours * 3600 / max(scenario.speed, 0.0001))
            return m.closed == wantClosed && liqMin.map { m.spec.liquidity >= $0 } != false
                && volMin.map { m.spec.volume >= $0 } != false
                && endMin.map { end >= $0 } != false && endMax.map { end <= $0 } != false
        }
        if req.first("order")?.hasPrefix("volumeNum") == true {
            list.sort { req.first("ascending") == "true" ? $0.spec.volume < $1.spec.volume : $0.spec.volume > $1.spec.volume }
        }
        return .markets(list)
    }

    private enum Listing {
        case markets([MarketState])
        case refused(FakeResponse)
    }

    private func keyset(_ req: FakeRequest, _ s: State, malformed: Bool, hostile: Bool = false) -> FakeResponse {
        if req.first("offset") != nil {
            return .json(#"{"type":"validation error","error":"offset is not supported, use after_cursor"}"#, status: 422)
        }
        let list: [MarketState]
        switch filtered(req, s) {
        case .markets(let l): list = l
        case .refused(let r): return r
        }
        let limit = min(max(Int(req.first("limit") ?? "20") ?? 20, 1), 100)
        // `cursor=` is silently ignored, as upstream: only `after_cursor` pages. A cursor names the last market of
        // the page before (a keyset): markets that close meanwhile shift nothing, as with the real API.
        let start: Int = req.first("after_cursor").map { c in
            let lastID = String(c.dropFirst(2))
            if let i = list.firstIndex(where: { $0.spec.id == lastID }) { return i + 1 }
            return list.firstIndex { Self.idOrder(lastID, $0.spec.id) } ?? list.count
        } ?? 0
        let page = Array(list.dropFirst(start).prefix(limit))
        var markets = page.enumerated().map { i, m in marketObject(m, malformed: malformed && i == 0) }
        if hostile, start == 0, var extra = markets.first {
            extra["id"] = "hostile-question"
            extra["question"] = String(repeating: "Q", count: 2 << 20)
            extra["clobTokenIds"] = "[\"hostile-a\", \"hostile-b\"]"
            markets.append(extra)
            extra["id"] = "hostile-end"
            extra["question"] = "end"
            extra["endDate"] = String(repeating: "2", count: 1 << 20)
            extra["clobTokenIds"] = "[\"hostile-c\", \"hostile-d\"]"
            markets.append(extra)
            extra["id"] = String(repeating: "9", count: 5000)
            extra["endDate"] = nil
            extra["clobTokenIds"] = "[\"hostile-e\", \"hostile-f\"]"
            markets.append(extra)
        }
        var body: [String: Any] = ["markets": markets]
        // As upstream: a full page carries a cursor even when it is the last one (the page after it is empty).
        if start + limit <= list.count, let last = page.last { body["next_cursor"] = "c_\(last.spec.id)" }
        return .jsonValue(body)
    }

    private func legacy(_ req: FakeRequest, _ s: State, malformed: Bool) -> FakeResponse {
        let deprecation = [("deprecation", "true"), ("sunset", "Fri, 01 May 2026 00:00:00 GMT"), ("warning", "299 - \"use /markets/keyset\"")]
        let offset = Int(req.first("offset") ?? "0") ?? 0
        if offset > 2000 {
            return .json(#"{"type":"validation error","error":"offset too large, use /markets/keyset for deeper pagination"}"#, status: 422, headers: deprecation)
        }
        let list: [MarketState]
        switch filtered(req, s) {
        case .markets(let l): list = l
        case .refused(let r): return r
        }
        let limit = min(max(Int(req.first("limit") ?? "20") ?? 20, 1), 100)
        let page = Array(list.dropFirst(offset).prefix(limit))
        return .jsonValue(page.enumerated().map { i, m in marketObject(m, malformed: malformed && i == 0) }, headers: deprecation)
    }

    /// True when market id `a` comes before `b` in the listing's order (numeric ids by value).
    static func idOrder(_ a: String, _ b: String) -> Bool {
        if let x = Int(a), let y = Int(b) { return x < y }
        return a < b
    }

    /// A JSON number no Double holds; JSONSerialization cannot write one, so a marker string is replaced in the text.
    static let hugeNumberMarker = "__WARDEN_FAKE_1E400__"

    static func withHugeNumbers(_ r: FakeResponse) -> FakeResponse {
        var out = r
        out.body = Data(String(decoding: r.body, as: UTF8.self).replacingOccurrences(of: "\"\(hugeNumberMarker)\"", with: "1e400").utf8)
        return out
    }

    // MARK: - Admin

    private func admin(_ req: FakeRequest) -> FakeAction {
        let body = (try? JSONSerialization.jsonObject(with: req.body) as? [String: Any]) ?? [:]
        switch req.path {
        case "/admin/fault":
            guard let mode = body["mode"] as? String else { return .respond(.json(#"{"error":"mode required"}"#, status: 400)) }
            let ok: Bool = box.withLock { b in
                var f = b.state.faults
                switch mode {
                case "clear": f = Faults()
                case "down": f.down = true
                case "slow": f.slowMS = (body["ms"] as? Int) ?? 5000
                case "rate_limit": f.rateLimitRetryAfter = (body["retry_after"] as? Int) ?? 5
                case "error": f.serverError = true
                case "reset": f.reset = true
                case "malformed": f.malformed = true
                case "hostile": f.hostile = true
                case "frozen": f.frozenTokens.formUnion((body["tokens"] as? [String]) ?? [])
                case "no_book": f.noBookTokens.formUnion((body["tokens"] as? [String]) ?? [])
                case "ws_drop": f.wsDrop = true
                case "ws_refuse": f.wsRefuse = true
                case "ws_freeze": f.wsFreeze = true
                case "ws_malformed": f.wsMalformed = true
                case "ws_drift": f.wsDrift = true
                case "ws_legacy": f.wsLegacy = true
                default: return false
                }
                b.state.faults = f
                return true
            }
            if ok { dropSocketsIfFaulted() }
            return .respond(ok ? .json(#"{"ok":true}"#) : .json(#"{"error":"unknown mode"}"#, status: 400))
        case "/admin/resolve":
            guard let id = body["market"] as? String else { return .respond(.json(#"{"error":"market required"}"#, status: 400)) }
            let done: Bool = box.withLock { b in
                guard let i = b.state.markets.firstIndex(where: { $0.spec.id == id }) else { return false }
                let m = b.state.markets[i]
                let w = body["winner"] as? String ?? "yes"
                b.state.markets[i].closed = true
                b.state.markets[i].winner = w == "no" || w == m.spec.noToken ? m.spec.noToken : m.spec.yesToken
                return true
            }
            return .respond(done ? .json(#"{"ok":true}"#) : .json(#"{"error":"no such market"}"#, status: 404))
        case "/admin/tick":
            // A tick size change, as upstream does when a price nears the edges.
            guard let id = body["market"] as? String, let tick = body["tick"] as? String, ["0.1", "0.01", "0.001", "0.0001"].contains(tick) else {
                return .respond(.json(#"{"error":"market and tick (0.1, 0.01, 0.001 or 0.0001) required"}"#, status: 400))
            }
            let done: Bool = box.withLock { b in
                guard let i = b.state.markets.firstIndex(where: { $0.spec.id == id }) else { return false }
                b.state.markets[i].spec.tick = tick
                return true
            }
            return .respond(done ? .json(#"{"ok":true}"#) : .json(#"{"error":"no such market"}"#, status: 404))
        case "/admin/price":
            guard let id = body["market"] as? String, let p = body["price"] as? Double, p > 0, p < 1 else {
                return .respond(.json(#"{"error":"market and price (0..1) required"}"#, status: 400))
            }
            box.withLock { b in
                if let i = b.state.markets.firstIndex(where: { $0.spec.id == id }) { b.state.markets[i].override = p }
            }
            return .respond(.json(#"{"ok":true}"#))
        case "/admin/state":
            let state = box.withLock { b -> [String: Any] in
                ["faults": ["down": b.state.faults.down, "slow_ms": b.state.faults.slowMS, "malformed": b.state.faults.malformed,
                            "frozen": Array(b.state.faults.frozenTokens), "ws_drop": b.state.faults.wsDrop, "ws_freeze": b.state.faults.wsFreeze,
                            "ws_drift": b.state.faults.wsDrift],
                 "ws": ["open": b.state.subscribers.count, "connections_total": b.state.wsConnections,
                        "assets": b.state.subscribers.values.reduce(0) { $0 + $1.assets.count }],
                 "requests": b.state.requests,
                 "markets": b.state.markets.map { ["id": $0.spec.id, "yes": $0.override ?? $0.yes, "closed": $0.closed, "winner": $0.winner ?? ""] }]
            }
            return .respond(.jsonValue(state))
        default:
            return .respond(.json(#"{"error":"unknown admin endpoint"}"#, status: 404))
        }
    }
}

// MARK: - The market channel (wss …/ws/market)

extension PolymarketFake {
    public struct WebSocketStats: Sendable, Equatable {
        public var open: Int
        public var connectionsTotal: Int
    }

    public var webSocketStats: WebSocketStats {
        box.withLock { WebSocketStats(open: $0.state.subscribers.count, connectionsTotal: $0.state.wsConnections) }
    }

    fileprivate func acceptsWebSocket() -> Bool {
        box.withLock { b in
            b.state.requests["/ws/market", default: 0] += 1
            let f = b.state.faults
            return !(f.down || f.reset || f.wsRefuse)
        }
    }

    fileprivate func connected(_ peer: FakeWebSocket) {
        let id = ObjectIdentifier(peer)
        let drop = box.withLock { b -> Bool in
            b.state.wsConnections += 1
            b.state.subscribers[id] = Subscriber(peer: peer)
            return b.state.faults.wsDrop
        }
        peer.onClose { [weak self] in self?.box.withLock { _ = $0.state.subscribers.removeValue(forKey: id) } }
        peer.onText { [weak self] text in self?.received(text, from: id) }
        if drop { peer.drop() }
    }

    func dropSocketsIfFaulted() {
        let peers = box.withLock { b -> [FakeWebSocket] in
            let f = b.state.faults
            guard f.down || f.reset || f.wsDrop || f.wsRefuse else { return [] }
            return b.state.subscribers.values.map(\.peer)
        }
        for p in peers { p.drop() }
    }

    private func received(_ text: String, from id: ObjectIdentifier) {
        if text == "PING" {
            // Answered even while frozen: the failure this fake reproduces keeps the socket looking alive.
            box.withLock { $0.state.subscribers[id]?.peer }?.send("PONG")
            return
        }
        guard let o = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any],
              let assets = o["assets_ids"] as? [String] else {
            box.withLock { $0.state.subscribers[id]?.peer }?.send(#"{"error":"invalid subscription"}"#)
            return
        }
        let custom = o["custom_feature_enabled"] as? Bool ?? false
        let (peer, frames) = box.withLock { b -> (FakeWebSocket?, [String]) in
            advance(&b.state)
            guard var sub = b.state.subscribers[id] else { return (nil, []) }
            sub.assets = assets
            sub.custom = custom
            var snapshots: [[String: Any]] = []
            for token in assets {
                guard let m = b.state.markets.first(where: { $0.spec.yesToken == token || $0.spec.noToken == token }), !m.closed else { continue }
                var book = self.book(m, token: token, malformed: false)
                sub.sent[token] = Self.sent(book)
                book["event_type"] = "book"
                // As upstream: the channel's book carries no tick size, minimum size or neg_risk.
                for k in ["tick_size", "min_order_size", "neg_risk", "last_trade_price"] { book[k] = nil }
                snapshots.append(book)
            }
            b.state.subscribers[id] = sub
            // Past 500 assets the server sends no snapshots (EXTERNAL-APIS.md); deltas still come.
            if assets.count > 500 || b.state.faults.wsFreeze || snapshots.isEmpty { return (sub.peer, []) }
            return (sub.peer, [Self.encode(snapshots)])
        }
        for f in frames { peer?.send(f) }
    }

    private static func sent(_ book: [String: Any]) -> SentBook {
        func levels(_ k: String) -> [String: String] {
            var out: [String: String] = [:]
            for l in (book[k] as? [[String: String]]) ?? [] { out[l["price"] ?? ""] = l["size"] ?? "" }
            return out
        }
        return SentBook(bids: levels("bids"), asks: levels("asks"), hash: book["hash"] as? String ?? "", tick: book["tick_size"] as? String ?? "")
    }

    private static func encode(_ v: Any) -> String {
        String(decoding: (try? JSONSerialization.data(withJSONObject: v, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    /// Every 50 ms: each subscriber gets what changed in its books since it was last sent (price changes, tick size
    /// changes, resolutions), computed from the same model the REST answers come from.
    fileprivate func publishLoop() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: .milliseconds(50))
            let out = box.withLock { b -> [(FakeWebSocket, [String])] in
                guard !b.state.subscribers.isEmpty else { return [] }
                advance(&b.state)
                let f = b.state.faults
                var out: [(FakeWebSocket, [String])] = []
                var newlyResolved: [MarketState] = []
                for m in b.state.markets where m.closed && !b.state.announcedResolved.contains(m.spec.id) {
                    newlyResolved.append(m)
                    b.state.announcedResolved.insert(m.spec.id)
                }
                for (id, var sub) in b.state.subscribers {
                    var frames: [String] = []
                    var changes: [[String: Any]] = []
                    for token in sub.assets {
                        guard let m = b.state.markets.first(where: { $0.spec.yesToken == token || $0.spec.noToken == token }) else { continue }
                        // A frozen book does not move here either; a token without a book has nothing to send.
                        if m.closed || f.frozenTokens.contains(token) || f.noBookTokens.contains(token) { continue }
                        let book = self.book(m, token: token, malformed: false)
                        let now = Self.sent(book)
                        guard let before = sub.sent[token] else { sub.sent[token] = now; continue }
                        if before.hash == now.hash && before.tick == now.tick { continue }
                        sub.sent[token] = now
                        if before.tick != now.tick {
                            frames.append(Self.encode(["event_type": "tick_size_change", "asset_id": token, "market": m.spec.id,
                                                       "old_tick_size": before.tick, "new_tick_size": now.tick,
                                                       "timestamp": String(Int64(clock().timeIntervalSince1970 * 1000))]))
                            continue
                        }
                        for (side, old, new) in [("BUY", before.bids, now.bids), ("SELL", before.asks, now.asks)] {
                            for (price, size) in new where old[price] != size {
                                let shown = f.wsDrift ? String(format: "%.2f", (Double(size) ?? 1) * 2 + 1) : size
                                changes.append(["asset_id": token, "price": price, "size": shown, "side": side, "hash": now.hash])
                            }
                            for price in old.keys where new[price] == nil {
                                changes.append(["asset_id": token, "price": price, "size": "0", "side": side, "hash": now.hash])
                            }
                        }
                    }
                    if !changes.isEmpty {
                        if f.wsLegacy {
                            for c in changes {
                                var one = c
                                one["event_type"] = "price_change"
                                one["market"] = "0x" + String(repeating: "ab", count: 32)
                                frames.append(Self.encode(one))
                            }
                        } else {
                            frames.append(Self.encode(["event_type": "price_change", "market": "0x" + String(repeating: "ab", count: 32),
                                                       "price_changes": changes,
                                                       "timestamp": String(Int64(clock().timeIntervalSince1970 * 1000))]))
                        }
                    }
                    if sub.custom {
                        for m in newlyResolved where sub.assets.contains(m.spec.yesToken) || sub.assets.contains(m.spec.noToken) {
                            frames.append(Self.encode(["event_type": "market_resolved", "market": "0x" + String(repeating: "cd", count: 32),
                                                       "assets_ids": [m.spec.yesToken, m.spec.noToken], "winning_asset_id": m.winner ?? "",
                                                       "id": m.spec.id, "timestamp": String(Int64(clock().timeIntervalSince1970 * 1000))]))
                        }
                    }
                    if f.wsMalformed && !frames.isEmpty { frames.append(#"{"event_type":"price_change","price_changes":[{"price":"#) }
                    b.state.subscribers[id] = sub
                    if f.wsFreeze { continue }  // the model moves on; nothing is sent
                    if !frames.isEmpty { out.append((sub.peer, frames)) }
                }
                return out
            }
            for (peer, frames) in out { for f in frames { peer.send(f) } }
        }
    }
}

/// Lets the server's handler reach the fake created after the server started.
private final class HandlerHolder: Sendable {
    let fake = Mutex<PolymarketFake?>(nil)
    func handle(_ req: FakeRequest) async -> FakeAction {
        guard let f = fake.withLock({ $0 }) else { return .respond(.json(#"{"error":"starting"}"#, status: 503)) }
        return await f.handle(req)
    }
}
