// The live venue's driver (DESIGN §4.4, §4.5): performs the core's requests on Polymarket's CLOB and says what came
// of them as venue reports. An order is signed with its intent id in the signed metadata, its venue id (the order's
// EIP-712 hash) is written to the journal before it is posted, and an answer that is lost (a 500, a timeout) makes it
// `unknown`, never re-sent: reconciliation (open orders and trades read back) finds it or rules it out. The heartbeat
// keeps the venue's cancel-on-disconnect armed; when it fails, no new order goes (fail closed).
public import Foundation
public import WardenCore
public import WardenPolymarket
import WardenHTTP

/// How the engine reaches the live venue (`engine.live`), secrets already read from their credentials.
public struct LiveVenueConfig: Sendable {
    public var clobURL: String
    public var key: SigningKey
    public var credentials: ClobCredentials
    public var signatureType: SignatureType
    public var funder: EthAddress?
    public var timeout: Duration
    /// After a 503 cancel-only, new orders wait this long before trying again.
    public var refusedRetry: TimeInterval = 30
    public init(clobURL: String, key: SigningKey, credentials: ClobCredentials, signatureType: SignatureType = .eoa, funder: EthAddress? = nil,
                timeout: Duration = .seconds(10)) {
        self.clobURL = clobURL; self.key = key; self.credentials = credentials; self.signatureType = signatureType; self.funder = funder
        self.timeout = timeout
    }
}

/// What one reconciliation found.
public struct Reconciliation: Sendable {
    public var reports: [VenueReport] = []
    /// Open orders on the wallet that are none of ours (reported, never adopted).
    public var foreign: [ClobOpenOrder] = []
    /// Our open orders whose matched size on the venue is more than the trades read back give (trades missing).
    public var mismatches: [String] = []
    /// Booked trades the venue now says FAILED at settlement.
    public var failedTrades: [ClobTrade] = []
    /// Every other trade of ours read back with its settlement status (MATCHED, MINED, CONFIRMED, RETRYING).
    public var settlement: [(tradeID: String, status: String)] = []
    public var openOnVenue = 0
}

public actor LiveVenue {
    public let config: LiveVenueConfig
    let client: ClobClient
    let signer: IntentSigner
    let clock: @Sendable () -> Date
    /// Records a live order's venue id before it is posted (the journal's write; throws when it cannot).
    let recordOrderID: @Sendable (String, String) throws -> Void
    var heartbeatID = ""
    public private(set) var lastHeartbeatOK: Date?
    public private(set) var heartbeatError: String?
    public private(set) var lastReconciled: Date?
    public private(set) var reconcileError: String?
    /// The venue said it takes no new orders (503 cancel-only, 429) until then.
    var refusingUntil: (until: Date, why: String)?
    /// Test hook (F47): called once the venue answered a post, before the answer is handed back.
    var afterPost: (@Sendable () -> Void)?
    public func setAfterPost(_ hook: (@Sendable () -> Void)?) { afterPost = hook }

    /// The venue refused our signature or credentials: no order goes until a restart (no retry storm).
    public private(set) var halted: String?
    /// Until when the venue said it is cancel-only, and its words.
    var cancelOnlyUntil: (until: Date, why: String)?

    public init(config: LiveVenueConfig, clock: @escaping @Sendable () -> Date = { Date() },
                recordOrderID: @escaping @Sendable (String, String) throws -> Void) {
        self.config = config
        self.clock = clock
        self.recordOrderID = recordOrderID
        signer = IntentSigner(key: config.key, funder: config.funder, signatureType: config.signatureType)
        client = ClobClient(baseURL: config.clobURL, key: config.key, credentials: config.credentials, timeout: config.timeout, clock: clock)
    }

    public var rateLimit: ClobRateLimit? { client.rateLimit }
    /// Per-IP calls left per endpoint class (the tightest window).
    public func ipBudgetRemaining() -> [String: Int] { client.ipBudget.remaining(now: clock().timeIntervalSince1970) }

    /// The venue's cancel-only words while they hold (`refusedRetry` after the last 503; a new one extends it).
    public func cancelOnly() -> String? {
        guard let c = cancelOnlyUntil, clock() < c.until else { return nil }
        return c.why
    }

    /// Why no new order may go now, from what this driver saw (the heartbeat, the venue's refusals); nil: healthy.
    public func problem(heartbeatBound: TimeInterval) -> String? {
        let now = clock()
        if let h = halted { return "HALTED for this venue: \(h) (fix the key or credentials, then restart)" }
        if let e = heartbeatError { return "heartbeat failing: \(e)" }
        guard let ok = lastHeartbeatOK else { return "no heartbeat accepted yet" }
        if now.timeIntervalSince(ok) > heartbeatBound { return String(format: "no heartbeat accepted for %.0f s", now.timeIntervalSince(ok)) }
        if let r = refusingUntil, now < r.until { return r.why }
        return nil
    }

    /// One heartbeat, chained to the last; a failure is kept until one is accepted again.
    public func heartbeat() async {
        do {
            heartbeatID = try await client.heartbeat(previous: heartbeatID)
            lastHeartbeatOK = clock()
            heartbeatError = nil
        } catch {
            heartbeatError = "\(error)"
            // A broken chain starts again from empty (the venue refuses a stale id).
            heartbeatID = ""
        }
    }

    // MARK: - Requests

    public func perform(_ request: VenueRequest, market: Market?, orders: [String: LiveOrder]) async -> [VenueReport] {
        switch request {
        case .submit(let intent):
            guard let market else { return [.rejected(intentID: intent.id, reason: "market \(intent.marketID) is unknown")] }
            return await submit(intent, market: market)
        case .cancel(let id, let reason):
            guard let orderID = orders[id]?.orderID else { return [] }
            return await cancel([(id, orderID, orders[id]?.open ?? 0)], reason: reason)
        case .cancelAll(let strategy, let reason):
            return await cancelAll(orders.values.filter { o in strategy.map { o.intent.strategy == $0 } ?? true }, reason: reason)
        }
    }

    /// Signs and posts one order. The venue id is written ahead of the post; an answer lost makes it unknown.
    func submit(_ intent: OrderIntent, market: Market) async -> [VenueReport] {
        let id = intent.id
        if let problem = PaperVenue.orderTypeProblem(intent, at: clock()) { return [.rejected(intentID: id, reason: problem)] }
        let signed: SignedClobOrder
        let orderID: String
        let type: ClobOrderType
        do {
            (signed, orderID, type) = try signer.order(intent, market: market, now: clock())
        } catch {
            return [.rejected(intentID: id, reason: "not signed: \(error)")]
        }
        do {
            try recordOrderID(id, orderID)
        } catch {
            return [.rejected(intentID: id, reason: "not sent: its venue id could not be written ahead: \(error)")]
        }
        let sent = clock()
        do {
            let answer = try await client.post(signed, type: type, postOnly: intent.postOnly)
            afterPost?()
            var out: [VenueReport] = [.placed(intentID: id, orderID: answer.orderID)]
            // What traded at once is read back now (booked once by trade id, the same path reconciliation takes). The
            // order exists: when its trades cannot be read, what it came to is unknown until reconciliation reads them
            // (never "nothing matched", which would lose its fills).
            let fills: (reports: [VenueReport], total: Micros)
            do {
                fills = try self.fills(try await tradesOf(answer.orderID, token: intent.tokenID, since: sent), of: intent, market: market, alreadyFilled: 0)
            } catch {
                return out + [.unknown(intentID: id, reason: "placed (\(answer.status ?? "no status")), its trades not read back: \(error)")]
            }
            out += fills.reports
            let open = intent.shares - fills.total
            if intent.timeInForce.rests {
                if open > 0 { out.append(.resting(intentID: id, open: open)) }
            } else if open > 0 {
                let kind = type.rawValue
                out.append(.cancelled(intentID: id, unfilled: open, reason: fills.reports.isEmpty ? "nothing matched (\(kind))" : "rest not matched (\(kind))"))
            }
            return out
        } catch let e as ClobError {
            switch e.kind {
            case .unknownOutcome, .malformed:
                return [.placed(intentID: id, orderID: orderID), .unknown(intentID: id, reason: e.message)]
            case .unavailable:
                refusingUntil = (clock().addingTimeInterval(config.refusedRetry), "the venue refuses new orders: \(e.message)")
                cancelOnlyUntil = (clock().addingTimeInterval(config.refusedRetry), e.message)
            case .invalidSignature, .unauthorized:
                halted = "\(e.kind.rawValue): \(e.message)"
            case .rejected where e.message.contains("order_version_mismatch"):
                // The venue moved to another order version: every order would be refused the same way.
                halted = "the venue refuses this order version (order_version_mismatch): upgrade Warden"
            case .rateLimited:
                refusingUntil = (clock().addingTimeInterval(e.retryAfter ?? 10), "rate limited by the venue (Retry-After \(Int(e.retryAfter ?? 10)) s)")
            default: break
            }
            return [.rejected(intentID: id, reason: "\(e.kind.rawValue): \(e.message)")]
        } catch {
            return [.placed(intentID: id, orderID: orderID), .unknown(intentID: id, reason: "\(error)")]
        }
    }

    /// The trades of one order just answered: its token's, matched since shortly before it was sent.
    func tradesOf(_ orderID: String, token: String, since: Date) async throws -> [ClobTrade] {
        try await client.trades(assetID: token, after: Int(since.timeIntervalSince1970) - 60).filter { $0.orderID == orderID }
    }

    /// Fills for the trades of one order not yet booked, in the venue's order; FAILED trades are never booked.
    func fills(_ trades: [ClobTrade], of intent: OrderIntent, market: Market?, alreadyFilled: Micros,
               booked: Set<String> = []) throws -> (reports: [VenueReport], total: Micros) {
        var total = alreadyFilled
        var out: [VenueReport] = []
        for t in trades where !booked.contains(t.id) && t.status.uppercased() != "FAILED" {
            // A trade of ours whose price or size cannot be read is never skipped (that would lose a fill): the read fails.
            guard let price = Fixed.parse(t.price), let size = Fixed.parse(t.size), price > 0, price < Fixed.one, size > 0 else {
                throw ClobError(.malformed, "trade \(t.id) of order \(t.orderID): price `\(t.price.prefix(40))` or size `\(t.size.prefix(40))` unreadable")
            }
            let take = min(size, intent.shares - total)
            guard take > 0 else { continue }
            total += take
            let notional = intent.side == .buy ? Fixed.costUp(price, take) : Fixed.proceedsDown(price, take)
            let fee = market.map { $0.fees.takerFee(price: price, shares: take) } ?? 0
            let fill = Fill(intentID: intent.id, strategy: intent.strategy, marketID: intent.marketID, tokenID: intent.tokenID, side: intent.side,
                            shares: take, notional: notional, fee: fee, levels: 1, at: clock(), venueTradeID: t.id)
            out.append(.filled(fill, open: intent.shares - total))
        }
        return (out, total - alreadyFilled)
    }

    func cancel(_ list: [(intentID: String, orderID: String, open: Micros)], reason: String) async -> [VenueReport] {
        var out: [VenueReport] = []
        for o in list {
            do {
                let r = try await client.cancel(orderID: o.orderID)
                if r.canceled.contains(o.orderID) { out.append(.cancelled(intentID: o.intentID, unfilled: o.open, reason: reason)) }
            } catch {
                // Not known to be cancelled: reconciliation re-reads it.
            }
        }
        return out
    }

    /// Cancels every listed order with a venue id, then re-reads the open orders: any still there is said.
    func cancelAll(_ orders: [LiveOrder], reason: String) async -> [VenueReport] {
        let list = orders.compactMap { o in o.orderID.map { (o.intent.id, $0, o.open) } }
        return await cancel(list, reason: reason)
    }

    /// Cancels venue orders by id (drift: orders the journal has as ended): the ids cancelled, and why each other was
    /// not (the venue's words, or the call's failure).
    public func cancel(orderIDs: [String]) async -> (done: [String], failed: [String: String]) {
        var done: [String] = []
        var failed: [String: String] = [:]
        for id in orderIDs {
            do {
                let r = try await client.cancel(orderID: id)
                if r.canceled.contains(id) { done.append(id) } else { failed[id] = r.notCanceled[id] ?? "not in the venue's cancelled list" }
            } catch {
                failed[id] = "\(error)"
            }
        }
        return (done, failed)
    }

    /// Open orders still on the venue after a cancel-all (nil when they could not be read).
    public func openOrderIDs() async -> Set<String>? {
        (try? await client.openOrders()).map { Set($0.map(\.id)) }
    }

    // MARK: - Reconciliation

    /// Reads open orders and trades back and compares them with the orders the engine holds open: missed fills are
    /// booked once, an unknown order is found (adopted by its id or its tag) or ruled out, an order gone from the book
    /// ends. Pending orders (a post in flight) are left to their answer.
    public func reconcile(orders: [String: LiveOrder], booked: Set<String>, markets: [String: Market]) async throws -> Reconciliation {
        let open = try await client.openOrders()
        // Trades since the oldest order held open, and at least the last day (a booked trade can still fail settlement).
        let oldest = orders.values.map(\.since).min() ?? clock()
        let trades = try await client.trades(after: Int(min(oldest, clock().addingTimeInterval(-86_400)).timeIntervalSince1970) - 60)
        lastReconciled = clock()
        var r = Reconciliation()
        r.openOnVenue = open.count
        var openByID: [String: ClobOpenOrder] = [:]
        var openByTag: [String: ClobOpenOrder] = [:]
        for o in open {
            openByID[o.id] = o
            if let tag = Self.tag(o.metadata) { openByTag[tag] = o }
        }
        let tradesByOrder = Dictionary(grouping: trades, by: \.orderID)
        var ours = Set<String>()
        for o in orders.values.sorted(by: { $0.intent.id < $1.intent.id }) where o.state != .pending {
            let id = o.intent.id
            let onBook = o.orderID.flatMap { openByID[$0] } ?? openByTag[id]
            guard let orderID = onBook?.id ?? o.orderID else { continue }
            ours.insert(orderID)
            if o.orderID != orderID || o.state == .unknown { r.reports.append(.placed(intentID: id, orderID: orderID)) }
            let f = try fills(tradesByOrder[orderID] ?? [], of: o.intent, market: markets[o.intent.marketID], alreadyFilled: o.filled, booked: booked)
            r.reports += f.reports
            let filled = o.filled + f.total
            if let onBook, let matched = Fixed.parse(onBook.sizeMatched), matched > filled {
                r.mismatches.append("order \(id) matched \(onBook.sizeMatched) on the venue, \(Fixed.text(filled)) in trades read back")
            }
            if let onBook {
                let left = max(0, (Fixed.parse(onBook.originalSize) ?? 0) - (Fixed.parse(onBook.sizeMatched) ?? 0))
                if o.state != .live { r.reports.append(.resting(intentID: id, open: min(left, o.intent.shares - filled))) }
            } else if filled < o.intent.shares {
                let why = o.state == .unknown && filled == 0 ? "not on the venue: never placed" : "no longer on the venue's book (cancelled or expired)"
                r.reports.append(.cancelled(intentID: id, unfilled: o.intent.shares - filled, reason: why))
            }
        }
        for t in trades {
            let status = t.status.uppercased()
            if status == "FAILED" {
                if booked.contains(t.id) { r.failedTrades.append(t) }
            } else {
                r.settlement.append((t.id, status))
            }
        }
        r.foreign = open.filter { !ours.contains($0.id) && !(Self.tag($0.metadata).map { orders[$0] != nil } ?? false) }
        return r
    }

    /// The intent id a signed metadata word carries (left-aligned ASCII), or nil.
    static func tag(_ metadata: String?) -> String? {
        guard let m = metadata, let bytes = Hex.bytes(m), bytes.count == 32 else { return nil }
        let text = bytes.prefix { $0 != 0 }
        guard !text.isEmpty, text.allSatisfy({ $0 >= 0x20 && $0 < 0x7f }) else { return nil }
        return String(decoding: text, as: UTF8.self)
    }
}
