// Polymarket's wire shapes (EXTERNAL-APIS.md), quirks included, into WardenCore types. Bad items are
// rejected with a reason and counted, never guessed at and never a crash.
public import Foundation
public import WardenCore

/// One item that could not be used, and why.
public struct Rejection: Error, Sendable, Equatable, CustomStringConvertible {
    public var item: String
    public var reason: String
    public var description: String { "\(item): \(reason)" }
    public init(item: String, reason: String) { self.item = item; self.reason = reason }
}

/// Taker fee rates per category, for markets with `feesEnabled` and no `feeSchedule` (their `feeType`, such as
/// `"crypto_fees"`, names the category). The defaults are Polymarket's published rates (EXTERNAL-APIS.md, Fees);
/// `engine.fee_rates` overrides them.
public struct CategoryFeeRates: Sendable, Equatable {
    public var rates: [String: Double]

    public static let published: [String: Double] = [
        "crypto": 0.072, "sports": 0.03, "politics": 0.04, "finance": 0.04, "tech": 0.04, "mentions": 0.04,
        "economics": 0.05, "culture": 0.05, "weather": 0.05, "other": 0.05, "geopolitics": 0,
    ]

    public init(_ overrides: [String: Double] = [:]) {
        rates = Self.published.merging(overrides) { $1 }
    }

    /// The rate of a `feeType` (`crypto_fees` or `crypto`), nil when the category is not known.
    public func rate(feeType: String) -> Double? {
        let key = feeType.lowercased()
        return rates[key.hasSuffix("_fees") ? String(key.dropLast(5)) : key]
    }
}

/// Tick sizes: the documented four (0.1 … 0.0001) and the finer powers of ten a market or book may state
/// (0.00001, 0.000001): the book's word wins over our list; a tick like 0.05 is no Polymarket tick.
func acceptableTick(_ v: Micros) -> Bool { [1, 10, 100, 1_000, 10_000, 100_000].contains(v) }

public enum GammaParser {
    /// A page of `/markets/keyset` (`{"markets":[…],"next_cursor":…}`) or of legacy `/markets` (a bare array).
    public static func page(_ data: Data, fees: CategoryFeeRates = CategoryFeeRates()) throws -> (markets: [Market], rejected: [Rejection], nextCursor: String?) {
        let json: Any
        do { json = try TolerantJSON.parse(data) } catch {
            throw ParseError("market list is not JSON: \(String(decoding: data.prefix(120), as: UTF8.self))")
        }
        let items: [Any]
        var cursor: String?
        if let obj = json as? [String: Any] {
            guard let list = obj["markets"] as? [Any] else { throw ParseError("market list has no `markets` array") }
            items = list
            cursor = obj["next_cursor"] as? String
            if cursor?.isEmpty == true { cursor = nil }
        } else if let list = json as? [Any] {
            items = list
        } else {
            throw ParseError("market list is neither an object nor an array")
        }
        var markets: [Market] = []
        var rejected: [Rejection] = []
        for item in items {
            switch market(item, fees: fees) {
            case .success(let m): markets.append(m)
            case .failure(let r): rejected.append(r)
            }
        }
        return (markets, rejected, cursor)
    }

    /// One market object.
    public static func market(_ item: Any, fees feeRates: CategoryFeeRates = CategoryFeeRates()) -> Result<Market, Rejection> {
        guard let o = item as? [String: Any] else { return .failure(Rejection(item: "?", reason: "not an object")) }
        let id = (o["id"] as? String) ?? (o["id"] as? NSNumber).map { $0.stringValue }
        guard let id, !id.isEmpty else { return .failure(Rejection(item: "?", reason: "missing id")) }
        guard id.utf8.count <= WireLimits.identifier else {
            return .failure(Rejection(item: "market \(WireLimits.clip(id, 40))", reason: "id longer than \(WireLimits.identifier) bytes"))
        }
        func fail(_ why: String) -> Result<Market, Rejection> { .failure(Rejection(item: "market \(id)", reason: why)) }
        guard let outcomes = stringList(o["outcomes"]) else { return fail("`outcomes` is missing or not a list") }
        // A protocol-V2 market (`version: "v2"`) has `clobTokenIds: null`; its outcome ids are `positionIds`.
        let isV2 = (o["version"] as? String)?.lowercased() == "v2"
        let ids = stringList(o["clobTokenIds"]) ?? (isV2 || o["clobTokenIds"] is NSNull || o["clobTokenIds"] == nil ? stringList(o["positionIds"]) : nil)
        guard let tokenIDs = ids else {
            return fail(isV2 ? "a v2 market without `positionIds`" : "`clobTokenIds` (or, for a v2 market, `positionIds`) is missing or not a list")
        }
        guard outcomes.count == tokenIDs.count, outcomes.count >= 2 else {
            return fail("\(outcomes.count) outcomes but \(tokenIDs.count) token ids")
        }
        guard Set(tokenIDs).count == tokenIDs.count, !tokenIDs.contains("") else { return fail("token ids are empty or repeated") }
        guard tokenIDs.allSatisfy({ $0.utf8.count <= WireLimits.identifier }) else {
            return fail("a token id is longer than \(WireLimits.identifier) bytes")
        }
        guard outcomes.count <= 64 else { return fail("\(outcomes.count) outcomes (at most 64 are accepted)") }
        var tick: Micros = 10_000
        if let t = o["orderPriceMinTickSize"] {
            guard let v = micros(t), acceptableTick(v) else { return fail("tick size \(WireLimits.clip("\(t)", 40)) is not a power of ten from 0.1 to 0.000001") }
            tick = v
        }
        var minSize: Micros = 5 * Fixed.one
        if let m = o["orderMinSize"] {
            guard let v = micros(m), v > 0 else { return fail("orderMinSize \(WireLimits.clip("\(m)", 40)) is not a positive number") }
            minSize = v
        }
        var fees = FeeSchedule.none
        let feesEnabled = (o["feesEnabled"] as? Bool) ?? false
        if let schedule = o["feeSchedule"] as? [String: Any] {
            guard let rate = double(schedule["rate"]), rate >= 0, rate < 1 else { return fail("feeSchedule.rate is missing or out of range") }
            let exponent = double(schedule["exponent"]) ?? 1
            guard exponent.isFinite, exponent > 0 else { return fail("feeSchedule.exponent is not positive") }
            fees = FeeSchedule(rate: rate, exponent: exponent, takerOnly: (schedule["takerOnly"] as? Bool) ?? true)
        } else if feesEnabled {
            // The category's published rate applies; a category we do not know leaves the fee unknown, and
            // a market that cannot be priced is named, not traded on a guess.
            guard let type = o["feeType"] as? String, !type.isEmpty else {
                return fail("feesEnabled without a feeSchedule or a feeType: the fee is unknown")
            }
            guard let rate = feeRates.rate(feeType: type) else {
                return fail("feesEnabled with feeType `\(WireLimits.clip(type, 40))`, a category without a known rate (engine.fee_rates): the fee is unknown")
            }
            fees = FeeSchedule(rate: rate, exponent: 1, takerOnly: true)
        }
        if !feesEnabled && o["feeSchedule"] != nil { fees = .none }
        var end: Date?
        if let e = o["endDate"] as? String {
            guard e.utf8.count <= 64, let d = isoDate(e) else { return fail("endDate `\(WireLimits.clip(e, 40))` is not ISO-8601") }
            end = d
        }
        let closed = (o["closed"] as? Bool) ?? false
        var winner: String?
        if closed, let prices = stringList(o["outcomePrices"]), prices.count == tokenIDs.count {
            let values = prices.map { Fixed.parse($0) }
            if let i = values.firstIndex(of: Fixed.one), values.enumerated().allSatisfy({ $0.offset == i || $0.element == 0 }) {
                winner = tokenIDs[i]
            }
        }
        let tokens = zip(tokenIDs, outcomes).map { OutcomeToken(tokenID: $0, outcome: WireLimits.clip($1, WireLimits.label)) }
        return .success(Market(
            id: id, conditionID: WireLimits.clip((o["conditionId"] as? String) ?? "", WireLimits.identifier),
            question: WireLimits.clip((o["question"] as? String) ?? "", WireLimits.text),
            slug: WireLimits.clip((o["slug"] as? String) ?? "", WireLimits.label), endDate: end, tokens: tokens, tickSize: tick, minOrderSize: minSize,
            fees: fees, active: (o["active"] as? Bool) ?? true, closed: closed,
            acceptingOrders: (o["acceptingOrders"] as? Bool) ?? !closed,
            liquidity: micros(o["liquidityNum"] ?? o["liquidity"] as Any), volume: micros(o["volumeNum"] ?? o["volume"] as Any),
            winningTokenID: winner, negRisk: (o["negRisk"] as? Bool) ?? false,
            // Protocol-V2 markets (`version: "v2"`) settle on the third exchange (domain version 3).
            protocolVersion: isV2 ? 3 : 2))
    }

    /// A list given as a JSON array, or as a JSON-encoded string of one (`"[\"Yes\", \"No\"]"`).
    static func stringList(_ v: Any?) -> [String]? {
        if let a = v as? [Any] {
            let strings = a.compactMap { ($0 as? String) ?? ($0 as? NSNumber)?.stringValue }
            return strings.count == a.count ? strings : nil
        }
        guard let s = v as? String, let data = s.data(using: .utf8),
              let inner = try? JSONSerialization.jsonObject(with: data) as? [Any] else { return nil }
        return stringList(inner)
    }
}

public enum ClobParser {
    /// `POST /books` answer: an array of books.
    public static func books(_ data: Data, observedAt: Date) throws -> (books: [OrderBook], rejected: [Rejection]) {
        let parsed: Any
        do { parsed = try TolerantJSON.parse(data) } catch {
            throw ParseError("books answer is not JSON: \(String(decoding: data.prefix(120), as: UTF8.self))")
        }
        guard let list = parsed as? [Any] else {
            throw ParseError("books answer is not a JSON array: \(String(decoding: data.prefix(120), as: UTF8.self))")
        }
        var books: [OrderBook] = []
        var rejected: [Rejection] = []
        for item in list {
            switch book(item, observedAt: observedAt) {
            case .success(let b): books.append(b)
            case .failure(let r): rejected.append(r)
            }
        }
        return (books, rejected)
    }

    /// One book (`GET /book` or an element of `/books`). Wire order: bids ascending, asks descending (best last).
    /// `requireTick: false` (the market channel's `book` events, which carry no `tick_size` upstream): a missing
    /// tick is 0, meaning "the book's tick as known", filled in by the engine from the book it replaces.
    public static func book(_ item: Any, observedAt: Date, requireTick: Bool = true) -> Result<OrderBook, Rejection> {
        guard let o = item as? [String: Any] else { return .failure(Rejection(item: "book", reason: "not an object")) }
        guard let token = (o["asset_id"] as? String), !token.isEmpty else {
            return .failure(Rejection(item: "book", reason: WireLimits.clip((o["error"] as? String) ?? "missing asset_id", WireLimits.label)))
        }
        guard token.utf8.count <= WireLimits.identifier else {
            return .failure(Rejection(item: "book \(WireLimits.clip(token, 40))", reason: "asset_id longer than \(WireLimits.identifier) bytes"))
        }
        func fail(_ why: String) -> Result<OrderBook, Rejection> { .failure(Rejection(item: "book \(token)", reason: why)) }
        func levels(_ key: String) -> [BookLevel]? {
            guard let arr = o[key] as? [Any] else { return nil }
            var out: [BookLevel] = []
            for l in arr {
                guard let d = l as? [String: Any], let p = micros(d["price"] as Any), let s = micros(d["size"] as Any) else { return nil }
                out.append(BookLevel(price: p, size: s))
            }
            return out
        }
        guard let bids = levels("bids") else { return fail("`bids` missing or with a non-numeric level (or a number out of range)") }
        guard let asks = levels("asks") else { return fail("`asks` missing or with a non-numeric level (or a number out of range)") }
        for l in bids + asks {
            if l.price <= 0 || l.price >= Fixed.one { return fail("price \(Fixed.text(l.price, decimals: 4)) outside (0, 1)") }
            if l.size < 0 { return fail("negative size") }
            if l.size > maxLevelShares { return fail("size \(Fixed.text(l.size)) beyond \(Fixed.text(maxLevelShares)) shares") }
        }
        if !zip(bids, bids.dropFirst()).allSatisfy({ $0.price < $1.price }) { return fail("bids not in ascending order (best last)") }
        if !zip(asks, asks.dropFirst()).allSatisfy({ $0.price > $1.price }) { return fail("asks not in descending order (best last)") }
        if let bb = bids.last?.price, let ba = asks.last?.price, bb >= ba { return fail("crossed book: bid \(Fixed.text(bb, decimals: 4)) ≥ ask \(Fixed.text(ba, decimals: 4))") }
        let tick: Micros
        if let t = micros(o["tick_size"] as Any), acceptableTick(t) { tick = t }
        else if !requireTick && o["tick_size"] == nil { tick = 0 }
        else { return fail("tick_size missing, or not a power of ten from 0.1 to 0.000001") }
        let minSize = micros(o["min_order_size"] as Any) ?? 0
        var bookTime: Date?
        if let ts = o["timestamp"] {
            if let ms = double(ts), ms > 1e11 { bookTime = Date(timeIntervalSince1970: ms / 1000) }
            else if let s = ts as? String, let d = isoDate(s) { bookTime = d }
            else { return fail("timestamp \(WireLimits.clip("\(ts)", 40)) is neither Unix milliseconds nor ISO-8601") }
        }
        let hash = (o["hash"] as? String).map { WireLimits.clip($0, WireLimits.identifier) }
        return .success(OrderBook(tokenID: token, bids: bids, asks: asks, tickSize: tick, minOrderSize: minSize,
                                  bookTime: bookTime, observedAt: observedAt, hash: hash))
    }
}

/// How long the strings taken from market data may be. Identifiers past the bound reject their item; display
/// text is cut (with "…"). Every event, status answer and dashboard row built from them stays small.
public enum WireLimits {
    public static let identifier = 100
    public static let label = 200
    public static let text = 500

    /// `s` cut to at most `max` characters (and 4 × max bytes), marked with "…" when cut.
    public static func clip(_ s: String, _ max: Int) -> String {
        guard s.count > max || s.utf8.count > 4 * max else { return s }
        var out = String(s.prefix(max - 1))
        while out.utf8.count > 4 * max - 3 { out.removeLast() }
        return out + "…"
    }
}

/// The largest size one book level may have (10¹⁰ shares): sums over a book's levels stay far inside Int64.
let maxLevelShares: Micros = 10_000_000_000 * Fixed.one

public struct ParseError: Error, Sendable, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// A number given as a JSON number or a numeric string ("0.15"); nil for anything else, NaN included.
func micros(_ v: Any) -> Micros? {
    if let s = v as? String { return Fixed.parse(s) }
    // JSON booleans arrive as NSNumber too (objCType "c"); `true` is not a price.
    if let n = v as? NSNumber, String(cString: n.objCType) != "c" { return Fixed.from(n.doubleValue) }
    return nil
}

func double(_ v: Any?) -> Double? {
    if let s = v as? String, let d = Double(s), d.isFinite { return d }
    if let n = v as? NSNumber { let d = n.doubleValue; return d.isFinite ? d : nil }
    return nil
}

func isoDate(_ s: String) -> Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    if let d = f.date(from: s) { return d }
    f.formatOptions = [.withInternetDateTime]
    if let d = f.date(from: s) { return d }
    f.formatOptions = [.withFullDate]
    return f.date(from: s)
}
