// The CLOB market channel (wss …/ws/market), parsed: full books, level changes in both wire forms, tick size
// changes, last trades and resolutions. Pure: text in, events and rejections out.
public import Foundation
public import WardenCore

/// One level of one book changed: `size` 0 removes the level.
public struct LevelChange: Sendable, Equatable, Codable {
    public var tokenID: String
    public var side: BookSide
    public var price: Micros
    public var size: Micros
    /// The book's hash after this change, when the server sent one.
    public var hash: String?
    /// The server's time of the change (the message's `timestamp`), when it sent one: a snapshot built before it does
    /// not hold it.
    public var serverTime: Date?
    public init(tokenID: String, side: BookSide, price: Micros, size: Micros, hash: String? = nil, serverTime: Date? = nil) {
        self.tokenID = tokenID; self.side = side; self.price = price; self.size = size; self.hash = hash; self.serverTime = serverTime
    }
}

public enum MarketChannelEvent: Sendable, Equatable {
    /// A full snapshot of one book (sent on subscribe and after trades).
    case book(OrderBook)
    /// Level changes of one `price_change` message (newer form: many books; older form: one level).
    case levels([LevelChange])
    /// The tick size of a book changed: the book must be dropped and taken again.
    case tickSize(tokenID: String, tick: Micros)
    case lastTrade(tokenID: String, price: Micros)
    /// A market resolved (custom features): its condition id, its tokens and the winning one when told.
    case resolved(condition: String, tokens: [String], winner: String?)
}

public enum MarketChannelParser {
    /// What one text frame holds. `PONG` (the answer to our `PING`) is `pong`, nothing else. A frame may be one
    /// event object or an array of them; an unknown `event_type` is ignored (new kinds appear upstream), an event
    /// of a known kind that does not parse is rejected with the reason, the rest of the frame kept.
    public static func parse(_ text: String, observedAt: Date) -> (events: [MarketChannelEvent], rejected: [Rejection], pong: Bool) {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed == "PONG" { return ([], [], true) }
        guard !trimmed.isEmpty else { return ([], [], false) }
        let parsed: Any
        do { parsed = try TolerantJSON.parse(Data(trimmed.utf8)) } catch {
            return ([], [Rejection(item: "ws frame", reason: "not JSON: \(WireLimits.clip(trimmed, 80))")], false)
        }
        let items: [Any] = (parsed as? [Any]) ?? [parsed]
        var events: [MarketChannelEvent] = []
        var rejected: [Rejection] = []
        events.reserveCapacity(items.count)
        for item in items {
            switch event(item, observedAt: observedAt) {
            case .success(let e?): events.append(e)
            case .success(nil): continue
            case .failure(let r): rejected.append(r)
            }
        }
        return (events, rejected, false)
    }

    static func event(_ item: Any, observedAt: Date) -> Result<MarketChannelEvent?, Rejection> {
        guard let o = item as? [String: Any] else { return .failure(Rejection(item: "ws event", reason: "not an object")) }
        guard let kind = o["event_type"] as? String else {
            // Subscription acknowledgements and errors come without an event type.
            if let e = o["error"] as? String { return .failure(Rejection(item: "ws", reason: "server error: \(WireLimits.clip(e, WireLimits.label))")) }
            return .success(nil)
        }
        switch kind {
        case "book":
            return ClobParser.book(o, observedAt: observedAt, requireTick: false).map { .book($0) }
        case "price_change":
            // The message's server time goes with each of its changes (unknown when absent or unreadable).
            let at = double(o["timestamp"]).flatMap { $0 > 1e11 && $0 < 1e14 ? Date(timeIntervalSince1970: $0 / 1000) : nil }
            return priceChange(o).map { changes in .levels(at == nil ? changes : changes.map { var c = $0; c.serverTime = at; return c }) }
        case "tick_size_change":
            guard let token = token(o["asset_id"]) else { return .failure(Rejection(item: "tick_size_change", reason: "missing asset_id")) }
            guard let tick = micros(o["new_tick_size"] as Any), acceptableTick(tick) else {
                return .failure(Rejection(item: "tick_size_change \(token)", reason: "new_tick_size missing or not a power of ten from 0.1 to 0.000001"))
            }
            return .success(.tickSize(tokenID: token, tick: tick))
        case "last_trade_price":
            guard let token = token(o["asset_id"]), let p = micros(o["price"] as Any), p > 0, p < Fixed.one else {
                return .failure(Rejection(item: "last_trade_price", reason: "missing asset_id or a price outside (0, 1)"))
            }
            return .success(.lastTrade(tokenID: token, price: p))
        case "market_resolved":
            guard let condition = token(o["market"]) else { return .failure(Rejection(item: "market_resolved", reason: "missing market")) }
            let tokens = ((o["assets_ids"] as? [Any]) ?? []).compactMap { token($0) }
            return .success(.resolved(condition: condition, tokens: tokens, winner: token(o["winning_asset_id"])))
        default:
            return .success(nil)  // best_bid_ask, new_market and kinds added later: not needed for books
        }
    }

    /// Newer form: `price_changes: [{asset_id, price, size, side, hash, best_bid, best_ask}]`. Older forms: one
    /// level at the top (`asset_id`, `price`, `size`, `side`, `hash`) or `changes: [{price, size, side}]` under a
    /// top-level `asset_id`.
    static func priceChange(_ o: [String: Any]) -> Result<[LevelChange], Rejection> {
        var out: [LevelChange] = []
        if let list = o["price_changes"] as? [Any] {
            out.reserveCapacity(list.count)
            for c in list {
                guard let d = c as? [String: Any], let t = token(d["asset_id"]) else {
                    return .failure(Rejection(item: "price_change", reason: "a change without asset_id"))
                }
                switch level(d, token: t, hash: d["hash"] as? String) {
                case .success(let l): out.append(l)
                case .failure(let r): return .failure(r)
                }
            }
            return .success(out)
        }
        guard let t = token(o["asset_id"]) else { return .failure(Rejection(item: "price_change", reason: "missing asset_id")) }
        if let list = o["changes"] as? [Any] {
            for c in list {
                guard let d = c as? [String: Any] else { return .failure(Rejection(item: "price_change \(t)", reason: "a change that is not an object")) }
                switch level(d, token: t, hash: o["hash"] as? String) {
                case .success(let l): out.append(l)
                case .failure(let r): return .failure(r)
                }
            }
            return .success(out)
        }
        return level(o, token: t, hash: o["hash"] as? String).map { [$0] }
    }

    static func level(_ d: [String: Any], token: String, hash: String?) -> Result<LevelChange, Rejection> {
        func fail(_ why: String) -> Result<LevelChange, Rejection> { .failure(Rejection(item: "price_change \(token)", reason: why)) }
        guard let p = micros(d["price"] as Any), p > 0, p < Fixed.one else { return fail("price missing or outside (0, 1)") }
        guard let s = micros(d["size"] as Any), s >= 0, s <= maxLevelShares else { return fail("size missing, negative or beyond \(Fixed.text(maxLevelShares)) shares") }
        let side: BookSide
        switch (d["side"] as? String)?.uppercased() {
        case "BUY": side = .bid
        case "SELL": side = .ask
        default: return fail("side is neither BUY nor SELL")
        }
        return .success(LevelChange(tokenID: token, side: side, price: p, size: s, hash: hash.map { WireLimits.clip($0, WireLimits.identifier) }))
    }

    static func token(_ v: Any?) -> String? {
        guard let s = v as? String, !s.isEmpty, s.utf8.count <= WireLimits.identifier else { return nil }
        return s
    }

    /// The subscription message for `assets` (custom features bring `market_resolved`).
    public static func subscription(_ assets: [String], customFeatures: Bool) -> String {
        let obj: [String: Any] = ["assets_ids": assets, "type": "market", "custom_feature_enabled": customFeatures]
        let data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
