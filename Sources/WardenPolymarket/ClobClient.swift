// The CLOB's trading calls as the live venue makes them: API credentials by L1, then every call signed by L2; the
// answers mapped to what the venue must do with them. A submit answered 500 or not answered in time is "unknown"
// (the order may exist: reconciliation finds it or rules it out; it is never sent again blindly), which is why a
// submit is never retried here. The per-signer rate budget is read from the Poly-RateLimit-* headers of each answer.
public import Foundation
import Synchronization
public import WardenHTTP
public import WardenCore

/// What went wrong with a CLOB call, by what the venue must do about it.
public struct ClobError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        /// 401: the API key, passphrase, HMAC or timestamp was refused.
        case unauthorized
        /// 400 "invalid signature": signed for another exchange, or by another key.
        case invalidSignature = "invalid_signature"
        /// 400 anything else: the order is refused (balance, tick, duplicate…); nothing rests.
        case rejected
        /// 429: over the per-signer or per-IP budget; `retryAfter` when the venue said.
        case rateLimited = "rate_limited"
        /// 503: trading disabled or cancel-only.
        case unavailable
        /// A submit answered 500 or not at all: the order may or may not exist.
        case unknownOutcome = "unknown_outcome"
        /// No answer to a call that changes nothing (safe to ask again).
        case transport
        /// An answer that is not what the API sends.
        case malformed
    }
    public var kind: Kind
    public var message: String
    public var retryAfter: Double?
    public var description: String { "\(kind.rawValue): \(message)" }
    public init(_ kind: Kind, _ message: String, retryAfter: Double? = nil) { self.kind = kind; self.message = message; self.retryAfter = retryAfter }
}

/// The per-signer budget as the last answer stated it.
public struct ClobRateLimit: Sendable, Equatable {
    public var tier: String?
    public var remaining: Int?
    /// Seconds until the budget refills.
    public var reset: Double?
    public var warning: String?

    static func from(_ headers: [String: String]) -> ClobRateLimit? {
        let r = ClobRateLimit(tier: headers["poly-ratelimit-tier"], remaining: headers["poly-ratelimit-remaining"].flatMap { Int($0) },
                              reset: headers["poly-ratelimit-reset"].flatMap { Double($0) }, warning: headers["poly-ratelimit-warning"])
        return r == ClobRateLimit() ? nil : r
    }
    public init(tier: String? = nil, remaining: Int? = nil, reset: Double? = nil, warning: String? = nil) {
        self.tier = tier; self.remaining = remaining; self.reset = reset; self.warning = warning
    }
}

/// The account's collateral as /balance-allowance states it, in micros (an allowance past what micros hold, as the
/// "unlimited" 2^256−1 approvals are, reads as `Int64.max`).
public struct ClobCollateral: Sendable, Equatable {
    public var balance: Micros
    /// By exchange contract address, lowercased.
    public var allowances: [String: Micros]
    public init(balance: Micros, allowances: [String: Micros]) { self.balance = balance; self.allowances = allowances }

    /// The allowance given to one exchange (0 when none is stated).
    public func allowance(for domain: ExchangeDomain) -> Micros { allowances[domain.verifyingContract.checksummed.lowercased()] ?? 0 }
}

/// An open order as /data/orders lists it.
public struct ClobOpenOrder: Sendable, Equatable {
    public var id: String
    public var tokenID: String
    public var side: String
    public var price: String
    public var originalSize: String
    public var sizeMatched: String
    /// The signed metadata (Warden's intent tag), when the venue returns it.
    public var metadata: String?
}

/// A trade as /data/trades lists it (our side of it).
public struct ClobTrade: Sendable, Equatable {
    public var id: String
    public var orderID: String
    public var tokenID: String
    public var side: String
    public var price: String
    public var size: String
    /// MATCHED, MINED, CONFIRMED, RETRYING or FAILED.
    public var status: String
}

public final class ClobClient: Sendable {
    public let baseURL: String
    let engine: CurlEngine
    let key: SigningKey
    public let credentials: ClobCredentials
    let clock: @Sendable () -> Date
    let timeout: Duration
    private let rate = Mutex<ClobRateLimit?>(nil)
    /// The per-IP limits, spent by every trading call before it is sent.
    public let ipBudget: ClobIPBudget

    public init(baseURL: String, key: SigningKey, credentials: ClobCredentials, engine: CurlEngine = .shared,
                timeout: Duration = .seconds(10), clock: @escaping @Sendable () -> Date = { Date() }, ipBudget: ClobIPBudget = ClobIPBudget()) {
        self.baseURL = baseURL; self.key = key; self.credentials = credentials; self.engine = engine; self.timeout = timeout; self.clock = clock
        self.ipBudget = ipBudget
    }

    /// The per-signer budget the last answer stated (nil before any, or when the venue sent none).
    public var rateLimit: ClobRateLimit? { rate.withLock { $0 } }

    /// L1: the wallet's credentials for `nonce` (derived: the same every time for the same key and nonce).
    public static func deriveCredentials(baseURL: String, key: SigningKey, nonce: UInt64 = 0, engine: CurlEngine = .shared,
                                         now: Date = Date()) async throws -> ClobCredentials {
        let ts = Int(now.timeIntervalSince1970)
        let sig = try key.sign(digest: ClobAuth.l1Digest(address: key.address, timestamp: ts, nonce: nonce))
        let r = try await perform(engine, HTTPRequest(url: baseURL + "/auth/derive-api-key", headers: [
            ("POLY_ADDRESS", key.address.checksummed), ("POLY_SIGNATURE", "0x" + Hex.string(sig)),
            ("POLY_TIMESTAMP", String(ts)), ("POLY_NONCE", String(nonce))]), changes: false)
        try check(r, submit: false)
        return try ClobAnswers.credentials(r.body)
    }

    /// The venue's clock, seconds since 1970 (preflight compares it with ours).
    public func serverTime() async throws -> Int {
        let r = try await Self.perform(engine, HTTPRequest(url: baseURL + "/time", timeout: timeout), changes: false)
        try Self.check(r, submit: false)
        return try ClobAnswers.serverTime(r.body)
    }

    /// GET /version: the order version the venue takes (2: the orders Warden signs; the official client assumes 2 when
    /// the venue does not say, and so does this).
    public func orderVersion() async throws -> Int {
        let r = try await Self.perform(engine, HTTPRequest(url: baseURL + "/version", timeout: timeout), changes: false)
        try Self.check(r, submit: false)
        return try ClobAnswers.version(r.body)
    }

    /// GET /balance-allowance for the collateral (pUSD) of the account the signature type trades: the balance and the
    /// allowance given to each exchange, in micros.
    public func collateral(signatureType: SignatureType) async throws -> ClobCollateral {
        let query = "?asset_type=COLLATERAL&signature_type=\(signatureType.rawValue)"
        let r = try await call("GET", "/balance-allowance", body: "", query: query, submit: false)
        return try ClobAnswers.collateral(r.body)
    }

    /// POST /order. Returns the venue's order id and status (nil when it said none); throws `unknownOutcome` for a
    /// 500, no answer, or an answer that says neither success nor an id.
    public func post(_ order: SignedClobOrder, type: ClobOrderType, postOnly: Bool = false) async throws -> (orderID: String, status: String?) {
        let body = order.body(owner: credentials.apiKey, orderType: type, postOnly: postOnly)
        let r = try await call("POST", "/order", body: body, submit: true)
        return try ClobAnswers.posted(r.body)
    }

    /// DELETE /order: which ids were cancelled and why the others were not.
    public func cancel(orderID: String) async throws -> (canceled: [String], notCanceled: [String: String]) {
        let r = try await call("DELETE", "/order", body: #"{"orderID":"# + JSONText.quote(orderID) + "}", submit: false)
        return try ClobAnswers.cancelled(r.body)
    }

    /// POST /v1/heartbeats: chains `previous` ("" to start) and returns the id for the next one. While they come every
    /// few seconds the venue keeps the account's orders; when they stop it cancels them all.
    public func heartbeat(previous: String) async throws -> String {
        let r = try await call("POST", "/v1/heartbeats", body: #"{"heartbeat_id":"# + JSONText.quote(previous) + "}", submit: false)
        return try ClobAnswers.heartbeat(r.body)
    }

    /// GET /data/orders, every page (the cursor followed until the end marker).
    public func openOrders() async throws -> [ClobOpenOrder] { try await pages("/data/orders").map(ClobAnswers.openOrder) }

    /// GET /data/trades, every page; `assetID` and `after` (seconds since 1970) narrow it as the venue does.
    public func trades(assetID: String? = nil, after: Int? = nil) async throws -> [ClobTrade] {
        var params: [(String, String)] = []
        if let assetID { params.append(("asset_id", assetID)) }
        if let after { params.append(("after", String(after))) }
        return try await pages("/data/trades", params: params).flatMap { try ClobAnswers.trades($0, owner: credentials.apiKey) }
    }

    /// The rows of every page of a listing, its `next_cursor` followed until "LTE=".
    func pages(_ path: String, params: [(String, String)] = []) async throws -> [[String: Any]] {
        var out: [[String: Any]] = []
        var cursor = ""
        for _ in 0..<1000 {
            let items = params + (cursor.isEmpty ? [] : [("next_cursor", cursor)])
            let query = items.isEmpty ? "" : "?" + items.map { $0.0 + "=" + ($0.1.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? $0.1) }.joined(separator: "&")
            let r = try await call("GET", path, body: "", query: query, submit: false)
            let page = try ClobAnswers.page(r.body, path: path)
            out += page.rows
            guard let next = page.next else { return out }
            cursor = next
        }
        throw ClobError(.malformed, "\(path) did not end after 1000 pages")
    }

    /// One L2-signed call; the signature covers the path without its query and exactly the body sent.
    func call(_ method: String, _ path: String, body: String, query: String = "", submit: Bool) async throws -> HTTPResponse {
        // Past the per-IP budget the call is not sent at all (nothing went out: a submit refused here is not unknown).
        if let wait = ipBudget.spend(.of(method: method, path: path), now: clock().timeIntervalSince1970) {
            throw ClobError(.rateLimited, "per-IP budget of \(ClobEndpointClass.of(method: method, path: path).rawValue) spent: not sent (room in \(Int(wait.rounded(.up))) s)",
                            retryAfter: wait.rounded(.up))
        }
        let ts = Int(clock().timeIntervalSince1970)
        let headers = try ClobAuth.l2Headers(credentials, address: key.address, timestamp: ts, method: method, path: path, body: body)
        let request = HTTPRequest(method: method, url: baseURL + path + query, headers: headers + [("Content-Type", "application/json")],
                                  body: body.isEmpty ? nil : Data(body.utf8), timeout: timeout, idempotent: false)
        let r = try await Self.perform(engine, request, changes: method != "GET")
        if let limit = ClobRateLimit.from(r.headers) { rate.withLock { $0 = limit } }
        try Self.check(r, submit: submit)
        return r
    }

    /// Sends once. No answer to a call that changes something (a submit, a cancel) is `unknownOutcome` once the request
    /// may have gone out; a connection never made (refused, no such host) sent nothing.
    static func perform(_ engine: CurlEngine, _ request: HTTPRequest, changes: Bool) async throws -> HTTPResponse {
        do {
            return try await engine.perform(request)
        } catch let e as TransportError {
            let neverSent = [6, 7].contains(e.curlCode)  // CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT
            throw ClobError(changes && !neverSent ? .unknownOutcome : .transport, "\(request.method) \(request.url): no answer (\(e))")
        }
    }

    static func check(_ r: HTTPResponse, submit: Bool) throws {
        guard !(200..<300).contains(r.status) else { return }
        let text = excerpt(r)
        switch r.status {
        case 401: throw ClobError(.unauthorized, text)
        case 429: throw ClobError(.rateLimited, text, retryAfter: r.headers["retry-after"].flatMap { Double($0) })
        case 503: throw ClobError(.unavailable, text)
        case 400 where text.lowercased().contains("invalid signature"): throw ClobError(.invalidSignature, text)
        case 400..<500: throw ClobError(.rejected, text)
        default: throw ClobError(submit ? .unknownOutcome : .transport, "HTTP \(r.status): \(text)")
        }
    }

    static func excerpt(_ r: HTTPResponse) -> String {
        let text = String(decoding: r.body.prefix(400), as: UTF8.self)
        if let j = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let e = j["error"] as? String { return e }
        return text
    }
}

/// The CLOB's answers read from their bytes (what the venue sends is outside input: a missing or mistyped member is
/// `malformed`, never a default standing in for it). Pure, so the fuzz harness `clob` feeds them anything.
public enum ClobAnswers {
    static func object(_ body: Data, _ what: String) throws -> [String: Any] {
        guard let j = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw ClobError(.malformed, "\(what) answered something other than a JSON object: \(String(decoding: body.prefix(120), as: UTF8.self))")
        }
        return j
    }

    static func string(_ j: [String: Any], _ key: String, _ what: String) throws -> String {
        guard let v = j[key] as? String else { throw ClobError(.malformed, "\(what) without `\(key)`") }
        return v
    }

    public static func credentials(_ body: Data) throws -> ClobCredentials {
        let j = try object(body, "derive-api-key")
        return ClobCredentials(apiKey: try string(j, "apiKey", "derive-api-key"), secret: try string(j, "secret", "derive-api-key"),
                               passphrase: try string(j, "passphrase", "derive-api-key"))
    }

    /// /time: whole seconds as a number or text; anything else (a fraction, a value no clock has) is malformed.
    public static func serverTime(_ body: Data) throws -> Int {
        let text = String(decoding: body.prefix(64), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let t = Int(text), t > 0 { return t }
        if let d = Double(text), d.isFinite, d > 0, d < 1e12, let t = Int(exactly: d.rounded(.down)) { return t }
        throw ClobError(.malformed, "/time answered \(text.prefix(40).debugDescription)")
    }

    /// POST /order's 2xx answer: refused when it says `success: false`; else its order id (an answer without one leaves
    /// the outcome unknown) and status.
    public static func posted(_ body: Data) throws -> (orderID: String, status: String?) {
        guard let j = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else {
            throw ClobError(.unknownOutcome, "POST /order answered without a JSON object: \(String(decoding: body.prefix(120), as: UTF8.self))")
        }
        if j["success"] as? Bool == false { throw ClobError(.rejected, (j["errorMsg"] as? String) ?? "refused without a message") }
        guard let id = j["orderID"] as? String, !id.isEmpty else { throw ClobError(.unknownOutcome, "POST /order answered without an order id") }
        return (id, j["status"] as? String)
    }

    /// /version: `{"version": N}`.
    public static func version(_ body: Data) throws -> Int {
        let j = try object(body, "/version")
        guard let v = j["version"] as? Int else { throw ClobError(.malformed, "/version without a whole `version`") }
        return v
    }

    /// /balance-allowance: `balance` and `allowances` (by exchange address; an older answer's single `allowance` is
    /// taken as given to every exchange), whole micros as text.
    public static func collateral(_ body: Data) throws -> ClobCollateral {
        let j = try object(body, "/balance-allowance")
        func amount(_ v: Any?, _ what: String) throws -> Micros {
            guard let text = (v as? String) ?? (v as? Int).map(String.init), !text.isEmpty, text.allSatisfy({ ("0"..."9").contains($0) }) else {
                throw ClobError(.malformed, "/balance-allowance: \(what) is not a whole amount")
            }
            return Micros(text) ?? Micros.max  // more digits than micros hold: as good as unlimited
        }
        let balance = try amount(j["balance"], "`balance`")
        var allowances: [String: Micros] = [:]
        if let map = j["allowances"] as? [String: Any] {
            for (address, v) in map { allowances[address.lowercased()] = try amount(v, "the allowance of \(address.prefix(42))") }
        } else if let single = j["allowance"] {
            let a = try amount(single, "`allowance`")
            for d in ExchangeDomain.all { allowances[d.verifyingContract.checksummed.lowercased()] = a }
        } else {
            throw ClobError(.malformed, "/balance-allowance without `allowances`")
        }
        return ClobCollateral(balance: balance, allowances: allowances)
    }

    public static func cancelled(_ body: Data) throws -> (canceled: [String], notCanceled: [String: String]) {
        let j = try object(body, "DELETE /order")
        guard let done = j["canceled"] as? [String] else { throw ClobError(.malformed, "DELETE /order without `canceled`") }
        return (done, (j["not_canceled"] as? [String: String]) ?? [:])
    }

    public static func heartbeat(_ body: Data) throws -> String {
        let id = try string(try object(body, "/v1/heartbeats"), "heartbeat_id", "/v1/heartbeats")
        guard !id.isEmpty else { throw ClobError(.malformed, "/v1/heartbeats answered an empty heartbeat_id") }
        return id
    }

    /// One page of a listing: its rows and the cursor of the next page (nil at the end, "LTE=").
    public static func page(_ body: Data, path: String) throws -> (rows: [[String: Any]], next: String?) {
        let j = try object(body, path)
        guard let rows = j["data"] as? [[String: Any]] else { throw ClobError(.malformed, "\(path) without `data`") }
        let next = j["next_cursor"] as? String
        return (rows, next == nil || next == "LTE=" || next == "" || rows.isEmpty ? nil : next)
    }

    public static func openOrder(_ o: [String: Any]) throws -> ClobOpenOrder {
        let w = "an open order"
        return ClobOpenOrder(id: try string(o, "id", w), tokenID: try string(o, "asset_id", w), side: try string(o, "side", w),
                             price: try string(o, "price", w), originalSize: try string(o, "original_size", w),
                             sizeMatched: try string(o, "size_matched", w), metadata: o["metadata"] as? String)
    }

    /// Our side of one trade row: as the taker, the row itself; as a maker (`trader_side` MAKER), each of our orders
    /// among its `maker_orders` (those of `owner`), at the maker order's price and matched amount, its id the trade's
    /// and the order's (one trade can fill several resting orders, each booked once).
    public static func trades(_ t: [String: Any], owner: String) throws -> [ClobTrade] {
        let w = "a trade"
        let id = try string(t, "id", w), status = try string(t, "status", w), token = try string(t, "asset_id", w)
        guard (t["trader_side"] as? String)?.uppercased() == "MAKER" else {
            return [ClobTrade(id: id, orderID: try string(t, "taker_order_id", w), tokenID: token, side: try string(t, "side", w),
                              price: try string(t, "price", w), size: try string(t, "size", w), status: status)]
        }
        guard let makers = t["maker_orders"] as? [[String: Any]] else { throw ClobError(.malformed, "maker trade \(id.prefix(80)) without `maker_orders`") }
        let w2 = "a maker order of trade \(id.prefix(80))"
        return try makers.filter { ($0["owner"] as? String) == owner }.map { m in
            let order = try string(m, "order_id", w2)
            return ClobTrade(id: id + ":" + order, orderID: order, tokenID: (m["asset_id"] as? String) ?? token, side: try string(m, "side", w2),
                             price: try string(m, "price", w2), size: try string(m, "matched_amount", w2), status: status)
        }
    }
}
