// The market WebSocket as the engine sees it: deltas applied to the books between REST snapshots, trusted only
// after a snapshot taken since the connection came up; frozen connections found by data age against REST;
// drift between deltas and snapshots counted; a feed that cannot connect pauses entries until it does.
public import Foundation
import WardenPolymarket
import WardenCore
public import WardenIPC
import WardenKit

/// What the engine keeps of the feed.
struct FeedState {
    struct Shard {
        var tokens: [String]
        var connectedAt: Date?
        var lastDataAt: Date?
        var gaveUp = false
        var frozenAt: Date?
    }
    var shards: [Int: Shard] = [:]
    var shardOf: [String: Int] = [:]
    /// Tokens whose connection (re)started at this time: their deltas are dropped and their books not traded
    /// until a REST snapshot fetched after it.
    var awaitingSnapshot: [String: Date] = [:]
    /// Tokens whose book a delta moved during the REST fetch in flight (their snapshot may be older than the deltas).
    var movedDuringFetch: Set<String> = []
    var fetchInFlight = false
    /// Level changes received while a snapshot was being fetched (trusted or not), with when: those newer than the
    /// snapshot go back on its books once it has replaced them.
    var changesDuringFetch: [(change: LevelChange, at: Date)] = []
    static let changesDuringFetchLimit = 200_000
    /// Changes put back on a book after a snapshot older than them replaced it.
    var replayedAfterSnapshot = 0
    /// Tokens whose book a delta moved since the last snapshot (drift is judged on these).
    var deltaApplied: Set<String> = []
    var deltas = 0
    var books = 0
    var droppedUntrusted = 0
    var rejected = 0
    var reconnects = 0
    var frozen = 0
    var drift = 0
    var driftByMarket: [String: Int] = [:]
    var lastDrift: String?
    /// Market ids a `market_resolved` event named: looked up at the next settlement check.
    var resolvedHints: Set<String> = []
    /// `market_resolved` events received.
    var resolvedSeen = 0
    var lastDriftAlert: ContinuousClock.Instant?
}

extension TradingEngine {
    /// Follows the open markets' tokens (new markets get connections, gone ones lose them).
    func followFeed() {
        guard let stream else { return }
        let tokens = Set(markets.values.filter { !$0.closed }.flatMap { $0.tokens.map(\.tokenID) })
        stream.follow(tokens)
        // A token no longer followed waits for nothing (its count would say so forever).
        for t in feed.awaitingSnapshot.keys where !tokens.contains(t) { feed.awaitingSnapshot[t] = nil }
    }

    /// One notice of the stream, applied as it comes (between cycles, so a delta reaches the book at once).
    public func apply(_ notice: StreamNotice) {
        switch notice {
        case .events(let shard, let events, let rejected, let at):
            feed.shards[shard, default: FeedState.Shard(tokens: [])].lastDataAt = at
            if !rejected.isEmpty {
                feed.rejected += rejected.count
                countRejected(rejected, from: .books)
            }
            for e in events { applyEvent(e, at: at) }
        case .connected(let shard, let assets, let at, let recovered):
            var s = feed.shards[shard] ?? FeedState.Shard(tokens: assets)
            let wasDown = s.gaveUp
            s.tokens = assets
            s.connectedAt = at
            s.lastDataAt = nil
            s.gaveUp = false
            s.frozenAt = nil
            feed.shards[shard] = s
            for t in assets {
                feed.shardOf[t] = shard
                feed.awaitingSnapshot[t] = at
            }
            // Nothing missed while disconnected is replayed: a REST snapshot at the next cycle, before any delta counts.
            lastBookRefresh = nil
            if recovered || wasDown {
                emit(key: "market_ws:\(shard)", kind: .resumed, severity: .info,
                     message: "market WebSocket \(shard) connected again (\(assets.count) assets); books re-snapshotted before deltas are trusted")
            }
            clearFeedPauseIfUp(at)
        case .disconnected(let shard, let reason, let attempt, let retryIn):
            feed.reconnects += 1
            if var s = feed.shards[shard] {
                s.connectedAt = nil
                feed.shards[shard] = s
                // Until it is back, these books follow the REST snapshots alone (as with `ws.enabled: false`).
                for t in s.tokens { feed.awaitingSnapshot[t] = nil }
            }
            emit(key: "market_ws_drop:\(shard)", kind: .data, severity: .info,
                 message: "market WebSocket \(shard) disconnected (\(reason)); attempt \(attempt) in \(String(format: "%.2f", retryIn.seconds))s", alert: false)
        case .gaveUp(let shard, let attempts, let reason):
            feed.shards[shard, default: FeedState.Shard(tokens: [])].gaveUp = true
            perform(core.handle(.feedGaveUp(connection: shard, attempts: attempts, reason: reason), at: clock()), now: clock())
        }
    }

    func clearFeedPauseIfUp(_ now: Date) {
        guard !feed.shards.values.contains(where: \.gaveUp) else { return }
        perform(core.handle(.feedUp, at: now), now: now)
    }

    func applyEvent(_ event: MarketChannelEvent, at: Date) {
        switch event {
        case .book(let b):
            guard trusted(b.tokenID), core.marketBook.replace(with: b, at: at) else { feed.droppedUntrusted += 1; return }
            feed.books += 1
            noteMoved(b.tokenID)
        case .levels(let changes):
            if feed.fetchInFlight, feed.changesDuringFetch.count + changes.count <= FeedState.changesDuringFetchLimit {
                feed.changesDuringFetch += changes.map { ($0, at) }
            }
            for c in changes {
                guard trusted(c.tokenID), core.marketBook.apply(c.side, token: c.tokenID, price: c.price, size: c.size, hash: c.hash, at: at) else {
                    feed.droppedUntrusted += 1
                    continue
                }
                feed.deltas += 1
                noteMoved(c.tokenID)
            }
        case .tickSize(let token, let tick):
            // The book's prices are on the old tick: dropped, and snapshot again before trading on it.
            core.marketBook.drop(token: token)
            feed.awaitingSnapshot[token] = at
            lastBookRefresh = nil
            let market = marketID(of: token) ?? "?"
            emit(key: "tick_size:\(token)", kind: .data, severity: .info,
                 message: "tick size of \(token) (market \(market)) changed to \(Fixed.text(tick, decimals: 6)); book dropped until the next snapshot", alert: false)
        case .lastTrade:
            break  // not needed for books; freeze is judged against the REST snapshots
        case .resolved(_, let tokens, let winner):
            feed.resolvedSeen += 1
            var named: Set<String> = []
            for t in tokens + [winner].compactMap({ $0 }) {
                if let id = marketID(of: t) { named.insert(id) }
            }
            feed.resolvedHints.formUnion(named)
            for id in named.sorted() {
                emit(key: "market_resolved:\(id)", kind: .data, severity: .info,
                     message: "market \(id) resolved per the market channel\(winner.map { " (winner \($0))" } ?? ""); its resolution is checked now", alert: false)
            }
        }
    }

    func noteMoved(_ token: String) {
        feed.deltaApplied.insert(token)
        if feed.fetchInFlight { feed.movedDuringFetch.insert(token) }
    }

    /// Deltas count only for tokens snapshotted since their connection came up.
    func trusted(_ token: String) -> Bool { feed.awaitingSnapshot[token] == nil }

    func marketID(of token: String) -> String? { core.marketBook.marketID(of: token) }

    /// Called with each REST snapshot of a book before it replaces ours: drift is a book the deltas built whose
    /// snapshot has the same hash (the same version upstream) but other levels, or, without hashes, other levels
    /// while no delta moved it during the fetch. The snapshot wins either way.
    func checkDrift(old: OrderBook, snapshot: OrderBook, fetchStarted: Date, now: Date) {
        let token = snapshot.tokenID
        guard stream != nil, feed.deltaApplied.contains(token), feed.awaitingSnapshot[token] == nil else { return }
        let sameVersion: Bool
        if let h = old.hash, let s = snapshot.hash { sameVersion = h == s } else { sameVersion = !feed.movedDuringFetch.contains(token) }
        guard sameVersion, !old.sameLevels(as: snapshot) else { return }
        feed.drift += 1
        let market = marketID(of: token) ?? "?"
        feed.driftByMarket[market, default: 0] += 1
        let what = "book of \(token) (market \(market)) built from WebSocket deltas disagreed with the REST snapshot of the same version"
            + " (best bid \(old.bestBid.map { Fixed.text($0, decimals: 4) } ?? "-") vs \(snapshot.bestBid.map { Fixed.text($0, decimals: 4) } ?? "-"),"
            + " best ask \(old.bestAsk.map { Fixed.text($0, decimals: 4) } ?? "-") vs \(snapshot.bestAsk.map { Fixed.text($0, decimals: 4) } ?? "-")); the snapshot replaced it"
        feed.lastDrift = what
        let clock = ContinuousClock.now
        let alert = feed.lastDriftAlert.map { clock - $0 >= .seconds(600) } ?? true
        if alert { feed.lastDriftAlert = clock }
        emit(key: "book_drift:\(market)", kind: .data, severity: .warning,
             message: alert ? "book drift (\(feed.drift) since start): \(what)" : "book drift: \(what)", alert: alert)
    }

    /// The snapshot just ingested was built by the server before some of the changes that came while it was fetched:
    /// those (by the server's times) go back on its books, or the books would lack them until the next snapshot (and
    /// that snapshot would find them "drifted"). Without both times nothing says which came first: the snapshot stands.
    func replayChangesDuringFetch(_ snapshot: [OrderBook]) {
        defer { feed.changesDuringFetch = [] }
        guard !feed.changesDuringFetch.isEmpty else { return }
        var built: [String: (time: Date, observed: Date)] = [:]
        for b in snapshot { if let t = b.bookTime { built[b.tokenID] = (t, b.observedAt) } }
        for (c, _) in feed.changesDuringFetch {
            guard let snap = built[c.tokenID], let changed = c.serverTime, changed >= snap.time, trusted(c.tokenID) else { continue }
            if core.marketBook.apply(c.side, token: c.tokenID, price: c.price, size: c.size, hash: c.hash, at: snap.observed) {
                feed.replayedAfterSnapshot += 1
                noteMoved(c.tokenID)
            }
        }
    }

    /// Snapshot taken: tokens whose connection came up before the fetch began are trusted from now.
    func snapshotTaken(_ books: [OrderBook], fetchStarted: Date) {
        // Most refreshes have nothing to clear (no stream, or no deltas since the last one): no lookup per book then.
        if !feed.awaitingSnapshot.isEmpty || !feed.deltaApplied.isEmpty {
            for b in books {
                if let since = feed.awaitingSnapshot[b.tokenID], since <= fetchStarted { feed.awaitingSnapshot[b.tokenID] = nil }
                feed.deltaApplied.remove(b.tokenID)
            }
        }
        feed.movedDuringFetch = []
        feed.fetchInFlight = false
    }

    /// A connection up and silent past `silent_after` while REST shows its books moving is frozen: closed (so it
    /// reconnects), counted, alerted. Liveness comes from data age, never from the socket being open.
    func checkFeedFrozen(_ now: Date) {
        guard let stream else { return }
        let bound = settings.ws.silentAfter.seconds
        for (id, s) in feed.shards {
            guard let up = s.connectedAt, s.frozenAt == nil else { continue }
            let quietSince = max(up, s.lastDataAt ?? up)
            guard now.timeIntervalSince(quietSince) > bound else { continue }
            // "While its markets trade": a book of this connection moved in REST snapshots since the feed went quiet.
            let moving = s.tokens.contains { t in core.marketBook.book(t).flatMap { $0.changedAt }.map { $0 > quietSince } ?? false }
            guard moving else { continue }
            feed.shards[id]?.frozenAt = now
            feed.frozen += 1
            for t in s.tokens { feed.awaitingSnapshot[t] = .distantFuture }
            let silent = Int(now.timeIntervalSince(quietSince))
            emit(key: "market_ws_frozen:\(id)", kind: .data, severity: .warning,
                 message: "market WebSocket \(id) frozen: open but no data for \(silent)s while REST shows its books moving (\(s.tokens.count) assets); reconnecting (frozen \(feed.frozen) times since start)")
            stream.recycle(shard: id, reason: "frozen: no data for \(silent)s while its markets moved")
        }
        // Shards the stream no longer has (their markets left) are forgotten.
        let live = Set(stream.snapshot().map(\.id))
        for id in feed.shards.keys where !live.contains(id) { feed.shards[id] = nil }
    }

    func feedInfo(_ now: Date) -> FeedInfo? {
        guard let stream else { return nil }
        let shards = stream.snapshot()
        var info = FeedInfo(url: stream.url, connections: shards.count, connected: shards.filter { $0.state == .connected }.count,
                            assets: shards.reduce(0) { $0 + $1.assets }, reconnects_total: feed.reconnects, frozen_total: feed.frozen,
                            drift_total: feed.drift, deltas_total: feed.deltas, books_total: feed.books,
                            dropped_untrusted_total: feed.droppedUntrusted,
                            awaiting_snapshot: feed.awaitingSnapshot.count)
        let ages = shards.compactMap { s in s.lastDataAt.map { now.timeIntervalSince($0) } }
        info.data_age_s = ages.max()
        info.last_drift = feed.lastDrift
        info.shards = shards.prefix(50).map { s in
            FeedShardInfo(id: s.id, state: s.gaveUp && s.state != .connected ? "down" : s.state.rawValue, assets: s.assets,
                          data_age_s: s.lastDataAt.map { now.timeIntervalSince($0) },
                          connected_for_s: s.connectedAt.map { now.timeIntervalSince($0) },
                          reconnects: s.reconnects, attempts: s.attempts, last_error: s.lastError)
        }
        return info
    }
}

extension TradingEngine {
    /// Every followed market with the age of its books, the oldest data first (at most `limit`).
    public func marketRows(limit: Int, now: Date = Date()) -> MarketsResponse {
        let noBook = Set(noBookMarkets)
        let fresh = settings.staleMarketAfter.seconds
        var rows: [MarketRow] = []
        for m in markets.values {
            var age: Double?, unchanged: Double?
            var awaiting = false
            for t in m.tokens {
                if feed.awaitingSnapshot[t.tokenID] != nil { awaiting = true }
                guard let b = core.marketBook.book(t.tokenID) else { continue }
                age = max(age ?? 0, now.timeIntervalSince(b.observedAt))
                unchanged = max(unchanged ?? 0, now.timeIntervalSince(b.changedAt ?? b.observedAt))
            }
            let state: String
            if m.closed { state = "closed" }
            else if noBook.contains(m.id) || m.tokens.contains(where: { core.marketBook.book($0.tokenID) == nil }) { state = "no book" }
            else if awaiting { state = "awaiting snapshot" }
            else if core.control.has(.marketStale, marketID: m.id) || (age ?? .infinity) > fresh { state = "stale" }
            else if !m.acceptingOrders { state = "not accepting orders" }
            else { state = "ok" }
            let shard = m.tokens.first.flatMap { feed.shardOf[$0.tokenID] }
            let via = stream == nil ? "rest" : shard.map { id in feed.shards[id]?.connectedAt != nil ? "ws#\(id)+rest" : "rest (ws#\(id) down)" } ?? "rest"
            rows.append(MarketRow(id: m.id, question: WireLimits.clip(m.question, 80), state: state, book_age_s: age, unchanged_s: unchanged,
                                  feed: via, drift: feed.driftByMarket[m.id] ?? 0, held: holds(marketID: m.id)))
        }
        let rank = ["no book": 0, "stale": 1, "awaiting snapshot": 2, "not accepting orders": 3, "ok": 4, "closed": 5]
        rows.sort { (rank[$0.state] ?? 9, $1.unchanged_s ?? 0, $0.id) < (rank[$1.state] ?? 9, $0.unchanged_s ?? 0, $1.id) }
        return MarketsResponse(markets: Array(rows.prefix(max(1, min(limit, 5000)))), total: rows.count, at: isoString(now))
    }
}
