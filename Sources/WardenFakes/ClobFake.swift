// A loopback Polymarket CLOB V2 trading endpoint: API credentials from an L1 ClobAuth signature, L2 auth on every
// trading call (a wrong HMAC, key or passphrase, or a timestamp more than 30 s off → 401), orders checked as the
// exchange checks them (the signer recovered from the EIP-712 signature against the exchange of the order's market:
// the wrong exchange is 400 "invalid signature"; a price off the tick, a GTD expiry under a minute ahead, post-only on
// FAK/FOK, a buy past the collateral balance or allowance, the same order twice: all refused), matched on the fake's
// own books (takers walk others' liquidity; FAK, FOK, post-only; what rests is matched as a maker when liquidity
// arrives later, and a GTD order leaves the book at its expiry), trades with settlement statuses, open orders and
// trades listed with cursors, cancels, heartbeats chained (when they stop, every open order of the account is
// cancelled), the user WebSocket, /version and /balance-allowance. Facts: ../shared/EXTERNAL-APIS.md "Polymarket
// trading". Faults as seen in the wild: 500 with and without the order placed, 429 with Retry-After and the budget
// headers, 503 cancel-only, invalid signature, settlement FAILED, reads failing, the user channel dropped or frozen,
// balance too low, order version mismatch.
public import Foundation
import Synchronization
public import WardenCore
public import WardenPolymarket

public final class ClobFake: Sendable {
    /// A market the fake trades: its tokens, tick, and which exchange settles it.
    public struct Market: Sendable {
        public var tokens: [String]
        public var tickSize: Micros
        public var negRisk: Bool
        /// 2, or 3 for protocol-V2 markets (the third exchange).
        public var protocolVersion: Int
        public init(tokens: [String], tickSize: Micros = 10_000, negRisk: Bool = false, protocolVersion: Int = 2) {
            self.tokens = tokens; self.tickSize = tickSize; self.negRisk = negRisk; self.protocolVersion = protocolVersion
        }
    }

    /// An order resting on the fake's book, as /data/orders lists it.
    public struct OpenOrder: Sendable {
        public var id: String
        public var owner: String
        public var maker: String
        public var tokenID: String
        public var side: ClobSide
        public var price: Micros
        public var size: Micros
        public var orderType: String
        public var metadata: String
        public var createdAt: Int
        /// What of it traded so far.
        public var matched: Micros = 0
        /// A GTD order's expiry (seconds since 1970); 0 for the others.
        public var expiration: Int = 0
    }

    /// A fill of one of our orders against others' liquidity.
    public struct Trade: Sendable {
        public var id: String
        public var orderID: String
        public var owner: String
        public var tokenID: String
        public var side: ClobSide
        public var price: Micros
        public var size: Micros
        /// MATCHED → MINED → CONFIRMED, or RETRYING → FAILED.
        public var status: String
        public var matchTime: Int
        /// Whether our order was the maker (resting, hit by liquidity that came later) or the taker.
        public var maker = false
        /// The taker's order when ours was the maker (someone else's).
        public var takerOrderID: String { maker ? "0x" + Hex.string(Keccak256.hash(Array(("taker" + id).utf8))) : orderID }
    }

    struct Account {
        var address: EthAddress
        var credentials: ClobCredentials
    }

    /// What the next submissions meet (set by a test; real-world failures of POST /order).
    public enum SubmitFault: Sendable, Equatable {
        case none
        /// 500 "could not run the execution", the order placed anyway.
        case failedButPlaced
        /// 500 "could not run the execution", nothing placed.
        case failedNotPlaced
        /// 429 with Retry-After, past the per-signer budget.
        case rateLimited(retryAfter: Int)
        /// 503 cancel-only: new orders refused, cancels allowed.
        case cancelOnly
        /// The order placed, the answer held back this long (past a client's timeout).
        case slowAnswer(Duration)
        /// 400 "invalid signature" (as for an order signed for another exchange, or by a key the venue does not take).
        case invalidSignature
    }

    struct State {
        var fault = SubmitFault.none
        /// DELETE /order answers "not cancelled" for every order (a test's stuck cancel).
        var cancelsRefused = false
        /// GET /data/orders and /data/trades answer 500 (reads failing).
        var readsFailing = false
        /// POST /v1/heartbeats answers 500 (the venue stops acknowledging heartbeats).
        var heartbeatsRefused = false
        /// User-channel connections and the account each subscribed as (nil until it did).
        var userPeers: [ObjectIdentifier: (peer: FakeWebSocket, apiKey: String?)] = [:]
        /// The user channel sends nothing, PONG included (frozen).
        var userFrozen = false
        /// Per API key: the heartbeat id to chain next and when the last heartbeat came.
        var heartbeats: [String: (id: String, at: Date)] = [:]
        var heartbeatCount = 0
        /// Submissions per API key, ever (a test proves an order was never re-sent).
        var spent: [String: Int] = [:]
        /// Times of the submissions per API key inside the per-signer window (the budget the headers report).
        var window: [String: [Double]] = [:]
        var accounts: [String: Account] = [:]  // by API key
        var liquidity: [String: (bids: [BookLevel], asks: [BookLevel])] = [:]
        var trades: [Trade] = []
        var tradeCount = 0
        var orders: [String: OpenOrder] = [:]  // live ones, by id
        var seen: Set<String> = []  // every order id ever accepted
        var order: [String] = []  // ids in arrival order
        /// Collateral (pUSD micros) by account address (lowercased): balance and allowance to every exchange.
        var balances: [String: (balance: Micros, allowance: Micros)] = [:]
        /// The order version the venue takes (/version); orders are refused "order_version_mismatch" when not 2.
        var version = 2
        /// What an account not yet seen starts with.
        var defaultBalance = ClobFake.startingBalance
    }

    /// The collateral every account starts with (pUSD micros), approved for every exchange.
    public static let startingBalance: Micros = 1_000_000 * Fixed.one

    let server: LoopbackHTTPServer
    let markets: [String: Market]
    let clock: @Sendable () -> Date
    /// Cancel-on-disconnect: an account that sent heartbeats and then stops for this long has every open order
    /// cancelled (the real timeout is not published; clients send every 5 s).
    let heartbeatTimeout: TimeInterval
    let state = Mutex(State())
    public var baseURL: String { server.baseURL }

    /// Open orders per page of /data/orders.
    let orderPage: Int
    /// When set, matched trades settle by themselves as on chain: MINED this long after the match, CONFIRMED twice
    /// as long after (nil: they stay MATCHED until a test moves them).
    let settleAfter: TimeInterval?

    init(server: LoopbackHTTPServer, markets: [String: Market], clock: @escaping @Sendable () -> Date, heartbeatTimeout: TimeInterval, orderPage: Int,
         settleAfter: TimeInterval?, signerBudget: Int) {
        self.server = server; self.markets = markets; self.clock = clock; self.heartbeatTimeout = heartbeatTimeout; self.orderPage = orderPage
        self.settleAfter = settleAfter; self.signerBudget = signerBudget
    }

    public static func start(markets: [Market], port: Int = 0, heartbeatTimeout: TimeInterval = 10, orderPage: Int = 100,
                             settleAfter: TimeInterval? = nil, signerBudget: Int = 3_500,
                             clock: @escaping @Sendable () -> Date = { Date() }) async throws -> ClobFake {
        var byToken: [String: Market] = [:]
        for m in markets { for t in m.tokens { byToken[t] = m } }
        let handlerBox = Mutex<ClobFake?>(nil)
        // The user channel: order and trade events of the subscribed account (see `userConnected`).
        let userRoute = FakeWebSocketRoute(path: "/ws/user", accept: { handlerBox.withLock { $0 } != nil },
                                           connected: { peer in handlerBox.withLock { $0 }?.userConnected(peer) })
        let server = try await LoopbackHTTPServer.start(port: port, webSocket: userRoute) { request in
            guard let fake = handlerBox.withLock({ $0 }) else { return .respond(.text("starting", status: 503)) }
            return fake.action(request)
        }
        let fake = ClobFake(server: server, markets: byToken, clock: clock, heartbeatTimeout: heartbeatTimeout, orderPage: max(1, orderPage),
                            settleAfter: settleAfter, signerBudget: max(1, signerBudget))
        handlerBox.withLock { $0 = fake }
        return fake
    }

    public func stop() async { await server.stop() }

    public func setSubmitFault(_ fault: SubmitFault) { state.withLock { $0.fault = fault } }

    /// The per-signer budget: submissions per 10 s window (the real one depends on the account's tier).
    let signerBudget: Int
    static let budgetWindow = 10.0

    /// POST /admin/fault `{"submit": "none" | "failed_but_placed" | "failed_not_placed" | "cancel_only" | "rate_limited"}`:
    /// the chaos suite's and the demo's way to set what the next submissions meet.
    func adminFault(_ r: FakeRequest) -> FakeResponse {
        guard let top = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let name = top["submit"] as? String else {
            return Self.error(400, "expected {\"submit\": …}")
        }
        switch name {
        case "trades_failed":
            setTradeStatus("FAILED")
            return .jsonValue(["submit": name])
        case "balance_too_low":
            state.withLock { s in for k in s.balances.keys { s.balances[k]?.balance = 0 }; s.defaultBalance = 0 }
            return .jsonValue(["submit": name])
        case "version_mismatch":
            setOrderVersion(1)
            return .jsonValue(["submit": name])
        default: break
        }
        let fault: SubmitFault
        switch name {
        case "none": fault = .none
        case "failed_but_placed": fault = .failedButPlaced
        case "failed_not_placed": fault = .failedNotPlaced
        case "cancel_only": fault = .cancelOnly
        case "rate_limited": fault = .rateLimited(retryAfter: (top["retry_after"] as? Int) ?? 10)
        case "invalid_signature": fault = .invalidSignature
        default: return Self.error(400, "unknown submit fault `\(name)`")
        }
        setSubmitFault(fault)
        return .jsonValue(["submit": name])
    }

    /// An account's collateral (pUSD micros): its balance and the allowance it gave every exchange.
    public func setCollateral(_ address: EthAddress, balance: Micros, allowance: Micros) {
        state.withLock { $0.balances[address.checksummed.lowercased()] = (balance, allowance) }
    }

    /// The order version the venue takes (2: the orders signed today; 1 makes every order "order_version_mismatch").
    public func setOrderVersion(_ v: Int) { state.withLock { $0.version = v } }

    /// GET /balance-allowance?asset_type=COLLATERAL: the account's balance and its allowance per exchange.
    func collateral(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        guard r.first("asset_type") == "COLLATERAL" else { return Self.error(400, "only asset_type=COLLATERAL is modelled") }
        let c = state.withLock { s in Self.funds(&s, account.address) }
        var allowances: [String: String] = [:]
        for d in ExchangeDomain.all { allowances[d.verifyingContract.checksummed] = String(c.allowance) }
        return .jsonValue(["balance": String(c.balance), "allowances": allowances])
    }

    static func funds(_ s: inout State, _ address: EthAddress) -> (balance: Micros, allowance: Micros) {
        let k = address.checksummed.lowercased()
        if let c = s.balances[k] { return c }
        s.balances[k] = (s.defaultBalance, ClobFake.startingBalance)
        return s.balances[k]!
    }

    /// Moves a trade's settlement status (MINED, CONFIRMED, RETRYING, FAILED) — every trade of `orderID`, or every
    /// trade when nil — as the chain would: a FAILED trade never happened, though it was matched.
    public func setTradeStatus(orderID: String? = nil, _ status: String) {
        let changed: [Trade] = state.withLock { s in
            var out: [Trade] = []
            for i in s.trades.indices where orderID == nil || s.trades[i].orderID == orderID {
                s.trades[i].status = status
                out.append(s.trades[i])
            }
            return out
        }
        for t in changed { pushUser(t.owner, Self.tradeEvent(t)) }
    }

    // MARK: - User channel

    /// A connection to /ws/user: PING answered PONG; a subscription `{"auth":{apiKey,secret,passphrase},"type":"user"}`
    /// with an account's credentials gets that account's order and trade events; wrong credentials are answered and
    /// dropped. Nothing is replayed for a connection made later.
    func userConnected(_ peer: FakeWebSocket) {
        let id = ObjectIdentifier(peer)
        state.withLock { $0.userPeers[id] = (peer, nil) }
        peer.onClose { [weak self] in _ = self?.state.withLock { $0.userPeers.removeValue(forKey: id) } }
        peer.onText { [weak self] text in
            guard let self else { return }
            if self.state.withLock({ $0.userFrozen }) { return }
            if text == "PING" { return peer.send("PONG") }
            guard let j = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], let auth = j["auth"] as? [String: Any],
                  let key = auth["apiKey"] as? String else { return peer.send(#"{"error":"invalid subscription"}"#) }
            let ok = self.state.withLock { s -> Bool in
                guard let account = s.accounts[key], account.credentials.secret == auth["secret"] as? String,
                      account.credentials.passphrase == auth["passphrase"] as? String else { return false }
                s.userPeers[id] = (peer, key)
                return true
            }
            if !ok {
                peer.send(#"{"error":"invalid auth"}"#)
                peer.drop()
            }
        }
    }

    func pushUser(_ apiKey: String, _ event: String) {
        let peers: [FakeWebSocket] = state.withLock { s in s.userFrozen ? [] : s.userPeers.values.filter { $0.apiKey == apiKey }.map(\.peer) }
        for p in peers { p.send(event) }
    }

    static func tradeEvent(_ t: Trade) -> String {
        var e = tradeRow(t)
        e["event_type"] = "trade"
        e["matchtime"] = String(t.matchTime)
        return String(decoding: (try? JSONSerialization.data(withJSONObject: e, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
    }

    static func orderEvent(_ id: String, type: String) -> String { #"{"event_type":"order","id":""# + id + #"","type":""# + type + #""}"# }

    /// Closes every user-channel connection (the client must reconnect and re-read).
    public func dropUserChannel() {
        let peers = state.withLock { s in s.userPeers.values.map(\.peer) }
        for p in peers { p.drop() }
    }

    /// While on, the user channel sends nothing at all (no events, no PONG).
    public func setUserChannelFrozen(_ on: Bool) { state.withLock { $0.userFrozen = on } }

    /// Open user-channel connections subscribed to an account.
    public var userSubscribers: Int { state.withLock { s in s.userPeers.values.filter { $0.apiKey != nil }.count } }

    /// While on, heartbeats are answered 500 (not acknowledged).
    public func setHeartbeatsRefused(_ on: Bool) { state.withLock { $0.heartbeatsRefused = on } }

    /// While on, the order and trade listings answer 500.
    public func setReadsFailing(_ on: Bool) { state.withLock { $0.readsFailing = on } }

    /// While on, cancels are answered "not cancelled" (the order stays on the book).
    public func setCancelsRefused(_ on: Bool) { state.withLock { $0.cancelsRefused = on } }

    /// POST /order calls received, whatever came of them (a test proves an order was never re-sent).
    public var submissions: Int { state.withLock { $0.spent.values.reduce(0, +) } }

    /// The live orders, oldest first (for tests).
    public var openOrders: [OpenOrder] { state.withLock { s in s.order.compactMap { s.orders[$0] } } }

    static func error(_ status: Int, _ message: String) -> FakeResponse { .jsonValue(["error": message], status: status) }

    func action(_ r: FakeRequest) -> FakeAction {
        if r.method == "POST", r.path == "/order", case .slowAnswer(let d) = state.withLock({ $0.fault }) { return .delayed(d, handle(r)) }
        return .respond(handle(r))
    }

    func handle(_ r: FakeRequest) -> FakeResponse {
        expireHeartbeats()
        switch (r.method, r.path) {
        case ("POST", "/v1/heartbeats") where state.withLock({ $0.heartbeatsRefused }): return Self.error(500, "internal error")
        case ("POST", "/v1/heartbeats"): return authenticated(r) { self.heartbeat($0, r) }
        case ("GET", "/time"): return .text(String(Int(clock().timeIntervalSince1970)))
        case ("GET", "/version"): return .jsonValue(["version": state.withLock { $0.version }])
        case ("GET", "/balance-allowance"): return authenticated(r) { self.collateral($0, r) }
        case ("POST", "/auth/api-key"), ("GET", "/auth/derive-api-key"): return credentials(r)
        case ("POST", "/order"): return authenticated(r) { self.submit($0, r) }
        case ("GET", let path) where (path == "/data/orders" || path == "/data/trades") && state.withLock({ $0.readsFailing }):
            return Self.error(500, "internal error")
        case ("GET", "/data/orders"): return authenticated(r) { self.list($0, r) }
        case ("GET", "/data/trades"): return authenticated(r) { self.listTrades($0, r) }
        case ("DELETE", "/order"): return authenticated(r) { self.cancel($0, r) }
        case ("POST", "/admin/fault"): return adminFault(r)
        default: return Self.error(404, "not found")
        }
    }

    func header(_ r: FakeRequest, _ name: String) -> String? { r.headers.first { $0.0.lowercased() == name.lowercased() }?.1 }

    /// L1: the ClobAuth signature must recover to POLY_ADDRESS; the same address and nonce always get the same credentials.
    func credentials(_ r: FakeRequest) -> FakeResponse {
        guard let addressText = header(r, "POLY_ADDRESS"), let address = try? EthAddress(addressText),
              let sigText = header(r, "POLY_SIGNATURE"), let signature = Hex.bytes(sigText),
              let tsText = header(r, "POLY_TIMESTAMP"), let ts = Int(tsText), let nonce = UInt64(header(r, "POLY_NONCE") ?? "0"),
              SigningKey.signer(of: ClobAuth.l1Digest(address: address, timestamp: ts, nonce: nonce), signature: signature) == address
        else { return Self.error(401, "Invalid L1 Request headers") }
        let seed = Keccak256.hash(address.bytes + ABIWord.uint(nonce))
        let key = Self.uuid(seed)
        let creds = ClobCredentials(apiKey: key, secret: Data(Keccak256.hash(seed)).base64EncodedString()
                                        .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_"),
                                    passphrase: Hex.string(Keccak256.hash(seed + seed)))
        state.withLock { $0.accounts[key] = Account(address: address, credentials: creds) }
        return .jsonValue(["apiKey": creds.apiKey, "secret": creds.secret, "passphrase": creds.passphrase])
    }

    static func uuid(_ b: [UInt8]) -> String {
        let h = Hex.string(b.prefix(16))
        let c = Array(h)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-" + String(c[12..<16]) + "-" + String(c[16..<20]) + "-" + String(c[20..<32])
    }

    /// L2: a known key, its passphrase and address, a timestamp within 30 s, and the HMAC over exactly what was sent.
    func authenticated(_ r: FakeRequest, _ body: (Account) -> FakeResponse) -> FakeResponse {
        guard let key = header(r, "POLY_API_KEY"), let account = state.withLock({ $0.accounts[key] }) else {
            return Self.error(401, "Unauthorized/Invalid api key")
        }
        guard header(r, "POLY_PASSPHRASE") == account.credentials.passphrase,
              header(r, "POLY_ADDRESS").flatMap({ try? EthAddress($0) }) == account.address else {
            return Self.error(401, "Unauthorized/Invalid api key")
        }
        guard let ts = header(r, "POLY_TIMESTAMP").flatMap({ Int($0) }), abs(Double(ts) - clock().timeIntervalSince1970) <= 30 else {
            return Self.error(401, "Unauthorized/Invalid timestamp")
        }
        let sent = String(decoding: r.body, as: UTF8.self)
        guard let expected = try? ClobAuth.l2Signature(secret: account.credentials.secret, timestamp: ts, method: r.method, path: r.path, body: sent),
              header(r, "POLY_SIGNATURE") == expected else {
            return Self.error(401, "Unauthorized/Invalid api key")
        }
        return body(account)
    }

    /// POST /order with the budget headers, and the fault set, if any.
    func submit(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        // The per-signer token bucket: submissions of the last 10 s; past the budget, 429 until the oldest leaves it.
        let now = clock().timeIntervalSince1970
        let key = account.credentials.apiKey
        let (fault, used, reset, over) = state.withLock { s -> (SubmitFault, Int, Double, Bool) in
            s.spent[key, default: 0] += 1
            var w = s.window[key, default: []].filter { now - $0 < Self.budgetWindow }
            let over = w.count >= signerBudget
            if !over { w.append(now) }
            s.window[key] = w
            return (s.fault, w.count, Self.budgetWindow - (now - (w.first ?? now)), over)
        }
        let resetText = String(Int(reset.rounded(.up)))
        let limits = [("Poly-RateLimit-Tier", "standard"), ("Poly-RateLimit-Remaining", String(max(0, signerBudget - used))),
                      ("Poly-RateLimit-Reset", resetText)]
        var answer: FakeResponse
        if over {
            answer = Self.error(429, "Too Many Requests: per-signer order budget spent")
            answer.headers += [("Retry-After", resetText)] + limits
            return answer
        }
        switch fault {
        case .none, .slowAnswer: answer = post(account, r)
        case .failedButPlaced:
            _ = post(account, r)
            answer = Self.error(500, "could not run the execution")
        case .failedNotPlaced: answer = Self.error(500, "could not run the execution")
        case .rateLimited(let after):
            answer = Self.error(429, "Too Many Requests")
            answer.headers.append(("Retry-After", String(after)))
        case .cancelOnly: answer = Self.error(503, "Trading is currently cancel-only")
        case .invalidSignature: answer = Self.error(400, "invalid signature")
        }
        answer.headers += limits
        return answer
    }

    /// POST /order: the order as signed, checked as the exchange checks it.
    func post(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        guard let top = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let o = top["order"] as? [String: Any] else {
            return Self.error(400, "Invalid order payload")
        }
        guard (top["owner"] as? String) == account.credentials.apiKey else { return Self.error(400, "the order owner has to be the owner of the API KEY") }
        guard let tokenID = o["tokenId"] as? String, let market = markets[tokenID] else { return Self.error(400, "Invalid token id") }
        let salt = (o["salt"] as? NSNumber)?.stringValue ?? (o["salt"] as? String) ?? ""
        guard let maker = (o["maker"] as? String).flatMap({ try? EthAddress($0) }),
              let signer = (o["signer"] as? String).flatMap({ try? EthAddress($0) }),
              let makerAmount = (o["makerAmount"] as? String).flatMap({ UInt64($0) }),
              let takerAmount = (o["takerAmount"] as? String).flatMap({ UInt64($0) }), takerAmount > 0, makerAmount > 0,
              let side = (o["side"] as? String).flatMap({ ClobSide(rawValue: $0) }),
              let sigType = (o["signatureType"] as? Int).flatMap({ SignatureType(rawValue: $0) }),
              let timestamp = (o["timestamp"] as? String).flatMap({ UInt64($0) }),
              let metadata = (o["metadata"] as? String).flatMap({ try? ABIWord.bytes32(hex: $0) }),
              let builder = (o["builder"] as? String).flatMap({ try? ABIWord.bytes32(hex: $0) }),
              let expiration = (o["expiration"] as? String).flatMap({ UInt64($0) }),
              let signature = (o["signature"] as? String).flatMap({ Hex.bytes($0) }),
              let orderType = top["orderType"] as? String, ["GTC", "GTD", "FOK", "FAK"].contains(orderType)
        else { return Self.error(400, "Invalid order payload") }
        let order = ClobOrder(salt: salt, maker: maker, signer: signer, tokenID: tokenID, makerAmount: makerAmount, takerAmount: takerAmount,
                              side: side, signatureType: sigType, timestamp: timestamp, metadata: metadata, builder: builder, expiration: expiration)
        // The exchange of this market; a signature over another one recovers some other address.
        guard let domain = try? ExchangeDomain.forMarket(negRisk: market.negRisk, protocolVersion: market.protocolVersion),
              let digest = try? order.digest(domain), SigningKey.signer(of: digest, signature: signature) == signer else {
            return Self.error(400, "invalid signature")
        }
        guard signer == account.address else { return Self.error(400, "the order signer address has to be the address of the API KEY") }
        if sigType == .eoa, maker != signer { return Self.error(400, "invalid signature") }
        // Price = pUSD / shares, on the tick.
        let (usd, shares) = side == .buy ? (makerAmount, takerAmount) : (takerAmount, makerAmount)
        // Amounts as the exchange bounds them (a share count past 10^12 micros is no order), so nothing below can overflow.
        guard shares <= 1_000_000_000_000, usd <= 1_000_000_000_000 else { return Self.error(400, "invalid order amounts") }
        let priceNumerator = usd * UInt64(Fixed.one)
        guard priceNumerator % shares == 0, Int64(priceNumerator / shares) % market.tickSize == 0 else {
            return Self.error(400, "order \(Hex.string(digest)) is invalid. Price breaks minimum tick size rule: \(Fixed.text(market.tickSize, decimals: 4))")
        }
        let id = "0x" + Hex.string(digest)
        let price = Int64(priceNumerator / shares)
        let postOnly = top["postOnly"] as? Bool ?? false
        let now = clock()
        if state.withLock({ $0.version }) != 2 { return Self.error(400, "order_version_mismatch") }
        if postOnly, orderType == "FAK" || orderType == "FOK" { return Self.error(400, "invalid post-only order: post-only is only for GTC and GTD orders") }
        if orderType == "GTD" {
            // An expiry no clock reaches (past 5138, the year) is no order: refused, never stored as a wrapped number.
            guard expiration < 100_000_000_000 else { return Self.error(400, "invalid expiration value: \(expiration)") }
            guard expiration >= UInt64(now.timeIntervalSince1970) + 60 else {
                return Self.error(400, "invalid expiration value: a GTD order expires at least 60 seconds from now")
            }
        } else if expiration != 0 {
            return Self.error(400, "invalid expiration value: only GTD orders expire")
        }
        // Matched against the liquidity of others on the fake's book (a buy takes asks at or under its price, best
        // first, each at the level's price); what is left rests (GTC, GTD), is cancelled (FAK), or refuses the whole
        // order (FOK, nothing traded). A post-only order that would trade is refused.
        let outcome: Matched = state.withLock { s in
            guard !s.seen.contains(id) else { return .failure(Self.error(400, "order \(id) is invalid. Duplicated.")) }
            // A buy needs the collateral behind it, beside what the account's open buys already hold, within both the
            // balance and the allowance it gave this market's exchange.
            if side == .buy {
                let funds = Self.funds(&s, maker)
                let held = s.orders.values.filter { $0.owner == account.credentials.apiKey && $0.side == .buy }
                    .reduce(Micros(0)) { $0 + Fixed.costUp($1.price, $1.size) }
                if Int64(usd) + held > min(funds.balance, funds.allowance) {
                    return .failure(Self.error(400, "not enough balance / allowance: the order needs \(Fixed.text(Int64(usd))) pUSD, \(Fixed.text(max(0, min(funds.balance, funds.allowance) - held))) available"))
                }
            }
            var levels = s.liquidity[tokenID].map { side == .buy ? $0.asks : $0.bids } ?? []
            var left = Int64(shares)
            var fills: [(price: Micros, size: Micros)] = []
            var k = 0
            while left > 0, k < levels.count, side == .buy ? levels[k].price <= price : levels[k].price >= price {
                let take = min(left, levels[k].size)
                fills.append((levels[k].price, take))
                levels[k].size -= take
                left -= take
                if levels[k].size == 0 { levels.remove(at: k) } else { k += 1 }
            }
            if postOnly, !fills.isEmpty { return .failure(Self.error(400, "invalid post-only order: order crosses book")) }
            if orderType == "FOK", left > 0 {
                return .failure(Self.error(400, "order couldn't be fully filled. FOK orders are fully filled or killed."))
            }
            if orderType == "FAK", fills.isEmpty { return .failure(Self.error(400, "no orders found to match with FAK order. FAK orders are partially filled or killed if no match is found.")) }
            s.seen.insert(id)
            if side == .buy { s.liquidity[tokenID]?.asks = levels } else { s.liquidity[tokenID]?.bids = levels }
            var tradeIDs: [String] = []
            for f in fills {
                s.tradeCount += 1
                let tid = Self.uuid(Keccak256.hash(Array((id + String(s.tradeCount)).utf8)))
                tradeIDs.append(tid)
                s.trades.append(Trade(id: tid, orderID: id, owner: account.credentials.apiKey, tokenID: tokenID, side: side, price: f.price,
                                      size: f.size, status: "MATCHED", matchTime: Int(now.timeIntervalSince1970)))
                Self.settleCash(&s, maker, side: side, price: f.price, size: f.size)
            }
            let rests = left > 0 && (orderType == "GTC" || orderType == "GTD")
            if rests {
                s.order.append(id)
                s.orders[id] = OpenOrder(id: id, owner: account.credentials.apiKey, maker: maker.checksummed, tokenID: tokenID, side: side,
                                         price: price, size: left, orderType: orderType, metadata: "0x" + Hex.string(metadata),
                                         createdAt: Int(now.timeIntervalSince1970), matched: Int64(shares) - left,
                                         expiration: orderType == "GTD" ? Int(expiration) : 0)
            }
            return .success((fills.isEmpty ? "live" : (rests ? "live" : "matched"), tradeIDs))
        }
        switch outcome {
        case .failure(let answer): return answer
        case .success(let r):
            let events: [String] = state.withLock { s in
                s.trades.filter { r.trades.contains($0.id) }.map(Self.tradeEvent) + (s.orders[id] != nil ? [Self.orderEvent(id, type: "PLACEMENT")] : [])
            }
            for e in events { pushUser(account.credentials.apiKey, e) }
            return .jsonValue(["success": true, "errorMsg": "", "orderID": id, "status": r.status, "transactionsHashes": [String](), "tradeIDs": r.trades])
        }
    }

    /// What a submission came to: refused with this answer, or accepted with its status and trades.
    enum Matched { case failure(FakeResponse), success((status: String, trades: [String])) }

    /// A trade's cash on the account's balance: a buy pays, a sale is paid.
    static func settleCash(_ s: inout State, _ maker: EthAddress, side: ClobSide, price: Micros, size: Micros) {
        let k = maker.checksummed.lowercased()
        _ = funds(&s, maker)
        if side == .buy { s.balances[k]!.balance -= Fixed.costUp(price, size) } else { s.balances[k]!.balance += Fixed.proceedsDown(price, size) }
    }

    /// Others' liquidity on a token (best first each side), which marketable orders take. Liquidity that arrives
    /// crossing a resting order trades with it first, the resting order the maker at its own price (oldest first).
    public func setBook(token: String, bids: [BookLevel], asks: [BookLevel]) {
        let now = clock()
        let events: [(String, String)] = state.withLock { s in
            var bids = bids.sorted { $0.price > $1.price }, asks = asks.sorted { $0.price < $1.price }
            var out: [(String, String)] = []
            for id in s.order {
                guard var o = s.orders[id], o.tokenID == token else { continue }
                var levels = o.side == .buy ? asks : bids
                var k = 0
                var traded = false
                while o.size > 0, k < levels.count, o.side == .buy ? levels[k].price <= o.price : levels[k].price >= o.price {
                    let take = min(o.size, levels[k].size)
                    levels[k].size -= take
                    if levels[k].size == 0 { levels.remove(at: k) } else { k += 1 }
                    o.size -= take
                    o.matched += take
                    s.tradeCount += 1
                    let t = Trade(id: Self.uuid(Keccak256.hash(Array((id + String(s.tradeCount)).utf8))), orderID: id, owner: o.owner, tokenID: token,
                                  side: o.side, price: o.price, size: take, status: "MATCHED", matchTime: Int(now.timeIntervalSince1970), maker: true)
                    s.trades.append(t)
                    if let maker = try? EthAddress(o.maker) { Self.settleCash(&s, maker, side: o.side, price: o.price, size: take) }
                    out.append((o.owner, Self.tradeEvent(t)))
                    traded = true
                }
                if o.side == .buy { asks = levels } else { bids = levels }
                if traded { out.append((o.owner, Self.orderEvent(id, type: "UPDATE"))) }
                s.orders[id] = o.size > 0 ? o : nil
            }
            s.order.removeAll { s.orders[$0] == nil }
            s.liquidity[token] = (bids, asks)
            return out
        }
        for (owner, e) in events { pushUser(owner, e) }
    }

    /// Every trade, oldest first (for tests).
    public var trades: [Trade] { state.withLock { $0.trades } }

    /// GET /data/trades: the account's trades, a page of `limit` from the cursor (the offset, base64), "LTE=" at the end.
    func listTrades(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        // As the venue: `asset_id` and `after` (match time, seconds) narrow the listing.
        let asset = r.first("asset_id"), after = r.first("after").flatMap { Int($0) }
        let mine = trades.filter { t in
            t.owner == account.credentials.apiKey && asset.map { t.tokenID == $0 } != false && after.map { t.matchTime >= $0 } != false
        }
        let start = r.first("next_cursor").flatMap { Data(base64Encoded: $0) }.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
        let page = Array(mine.dropFirst(start).prefix(Self.tradePage))
        let next = start + page.count < mine.count ? Data(String(start + page.count).utf8).base64EncodedString() : "LTE="
        let rows: [[String: Any]] = page.map(Self.tradeRow)
        return .jsonValue(["data": rows, "next_cursor": next, "limit": Self.tradePage, "count": rows.count])
    }

    /// A trade as the venue lists it for one account: as the taker, its own order and side; as a maker, the taker's
    /// order (someone else's) and the taker's side at the top, its own order in `maker_orders`.
    static func tradeRow(_ t: Trade) -> [String: Any] {
        let price = Fixed.text(t.price, decimals: 4), size = Fixed.text(t.size, decimals: 6)
        var row: [String: Any] = ["id": t.id, "taker_order_id": t.takerOrderID, "asset_id": t.tokenID, "price": price, "size": size, "status": t.status,
                                  "match_time": String(t.matchTime), "trader_side": t.maker ? "MAKER" : "TAKER"]
        if t.maker {
            row["side"] = (t.side == .buy ? ClobSide.sell : .buy).rawValue
            row["owner"] = "00000000-0000-0000-0000-00000000face"
            row["maker_orders"] = [["order_id": t.orderID, "owner": t.owner, "asset_id": t.tokenID, "side": t.side.rawValue, "price": price,
                                    "matched_amount": size]]
        } else {
            row["side"] = t.side.rawValue
            row["owner"] = t.owner
            row["maker_orders"] = [[String: Any]]()
        }
        return row
    }

    /// Trades per page of /data/trades (small, so paging is exercised).
    static let tradePage = 3

    /// POST /v1/heartbeats {"heartbeat_id": previous or ""}: a new id to chain into the next one. A first heartbeat
    /// (empty id) starts the chain; an id that is not the last one given is refused (400), as a broken chain.
    func heartbeat(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        guard let j = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let previous = j["heartbeat_id"] as? String else {
            return Self.error(400, "Invalid payload")
        }
        let key = account.credentials.apiKey
        let now = clock()
        let next: String? = state.withLock { s in
            // A stale id is refused; an empty one starts a chain again (a restarted client has no previous id).
            if let chain = s.heartbeats[key], !previous.isEmpty, previous != chain.id { return nil }
            if s.heartbeats[key] == nil, !previous.isEmpty { return nil }
            s.heartbeatCount += 1
            let id = Self.uuid(Keccak256.hash(Array((key + String(s.heartbeatCount)).utf8)))
            s.heartbeats[key] = (id, now)
            return id
        }
        guard let next else { return Self.error(400, "Invalid heartbeat id") }
        return .jsonValue(["heartbeat_id": next])
    }

    /// Accounts whose heartbeats stopped: every open order cancelled, the chain ended (a new one starts empty). GTD
    /// orders past their expiry leave the book.
    func expireHeartbeats() {
        let now = clock()
        let gone: [(String, String)] = state.withLock { s in
            var out: [(String, String)] = []
            for (key, beat) in s.heartbeats where now.timeIntervalSince(beat.at) > heartbeatTimeout {
                s.heartbeats[key] = nil
                for (id, o) in s.orders where o.owner == key { s.orders[id] = nil; out.append((key, id)) }
            }
            for (id, o) in s.orders where o.expiration > 0 && Double(o.expiration) <= now.timeIntervalSince1970 {
                s.orders[id] = nil
                out.append((o.owner, id))
            }
            s.order.removeAll { s.orders[$0] == nil }
            return out
        }
        for (owner, id) in gone { pushUser(owner, Self.orderEvent(id, type: "CANCELLATION")) }
        guard let settleAfter else { return }
        // Settlement on chain: MATCHED → MINED → CONFIRMED as time passes (a trade a test moved elsewhere stays there).
        let settled: [Trade] = state.withLock { s in
            var out: [Trade] = []
            let t = now.timeIntervalSince1970
            for i in s.trades.indices {
                let age = t - Double(s.trades[i].matchTime)
                let next = s.trades[i].status == "MATCHED" && age >= settleAfter ? "MINED"
                    : s.trades[i].status == "MINED" && age >= 2 * settleAfter ? "CONFIRMED" : nil
                if let next { s.trades[i].status = next; out.append(s.trades[i]) }
            }
            return out
        }
        for t in settled { pushUser(t.owner, Self.tradeEvent(t)) }
    }

    /// Runs the heartbeat expiry now (the fake otherwise checks on each request).
    public func checkHeartbeats() { expireHeartbeats() }

    /// GET /data/orders: the account's live orders, a page of `orderPage` from the cursor (the offset, base64), "LTE="
    /// at the end.
    func list(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        let all = openOrders.filter { $0.owner == account.credentials.apiKey }
        let start = r.first("next_cursor").flatMap { Data(base64Encoded: $0) }.flatMap { Int(String(decoding: $0, as: UTF8.self)) } ?? 0
        let mine = Array(all.dropFirst(start).prefix(orderPage))
        let next = start + mine.count < all.count ? Data(String(start + mine.count).utf8).base64EncodedString() : "LTE="
        let rows: [[String: Any]] = mine.map { o in
            ["id": o.id, "status": "LIVE", "owner": o.owner, "maker_address": o.maker, "asset_id": o.tokenID, "side": o.side.rawValue,
             "original_size": Fixed.text(o.size + o.matched, decimals: 6), "size_matched": Fixed.text(o.matched, decimals: 6), "price": Fixed.text(o.price, decimals: 4),
             "order_type": o.orderType, "created_at": o.createdAt, "associate_trades": [String](), "metadata": o.metadata,
             "expiration": String(o.expiration)]
        }
        return .jsonValue(["data": rows, "next_cursor": next, "limit": orderPage, "count": rows.count])
    }

    /// DELETE /order {"orderID": …}: a live order of the account's is cancelled; anything else is said not cancelled.
    func cancel(_ account: Account, _ r: FakeRequest) -> FakeResponse {
        guard let top = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any], let id = top["orderID"] as? String else {
            return Self.error(400, "Invalid payload")
        }
        if state.withLock({ $0.cancelsRefused }) {
            return .jsonValue(["canceled": [String](), "not_canceled": [id: "the order could not be cancelled at this time"]])
        }
        let done: Bool = state.withLock { s in
            guard s.orders[id]?.owner == account.credentials.apiKey else { return false }
            s.orders[id] = nil
            return true
        }
        if done { pushUser(account.credentials.apiKey, Self.orderEvent(id, type: "CANCELLATION")) }
        return .jsonValue(["canceled": done ? [id] : [String](), "not_canceled": done ? [String: String]() : [id: "order not found or already canceled"]])
    }
}
