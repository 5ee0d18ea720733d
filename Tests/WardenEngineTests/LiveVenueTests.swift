// Issue 14: the engine trading live on the loopback CLOB fake over HTTP — an order written ahead with its venue id,
// signed, matched on the fake's book and its trade booked exactly once; a submit answered 500 is UNKNOWN on every
// surface, never re-sent, and reconciliation finds it (placed anyway) or rules it out (never placed); no heartbeat
// means no new orders (fail closed); caps refuse before signing; a crash between send and record leaves an order that
// the next start treats as unknown and adopts once by its venue id.
import Foundation
import GRDB
import Logging
import Synchronization
import Testing
import WardenCore
@testable import WardenEngine
import WardenFakes
import WardenHTTP
import WardenIPC
import WardenKit
import WardenPolymarket
import WardenTestKit

/// One market whose books the test sets; every book is stamped as observed now.
final class LiveTestSource: MarketDataSource {
    let market: Market
    let asks = Mutex<[BookLevel]>([])
    init(_ market: Market) { self.market = market }
    var name: String { "scripted" }
    func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) { ([market], []) }
    func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        let now = Date()
        let asks = self.asks.withLock { $0 }
        return (tokenIDs.map { t in
            OrderBook(tokenID: t, bids: [BookLevel(price: 400_000, size: 100 * Fixed.one)], asks: asks, tickSize: 10_000,
                      minOrderSize: 5 * Fixed.one, bookTime: now, observedAt: now, hash: nil)
        }, [])
    }
    func market(id: String) async throws -> Market { market }
    func hostStats() -> [HostStats] { [] }
}

/// Buys `shares` of the market's first token at `price` whenever it holds nothing there and has no open order.
struct LiveBuyer: Strategy {
    let name: String
    let price: Micros
    let shares: Micros
    let timeInForce: TimeInForce
    var postOnly = false
    /// A GTD order's life from the cycle that places it.
    var goodFor: TimeInterval?
    func decide(_ c: StrategyContext) throws -> [StrategyDecision] {
        guard c.positions.isEmpty, c.openOrders.isEmpty, let token = c.snapshot.market.tokens.first else { return [] }
        return [.place(OrderIntent(strategy: name, marketID: c.snapshot.market.id, tokenID: token.tokenID, side: .buy, kind: .entry,
                                   limitPrice: price, shares: shares, reason: "test", timeInForce: timeInForce, postOnly: postOnly,
                                   expiresAt: goodFor.map { c.snapshot.now.addingTimeInterval($0) }))]
    }
}

@Suite("Live venue (engine on the CLOB fake)")
struct LiveVenueTests {
    static let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    static let other = "52114319501245915516055106046884209969926127482827954674443846427813813222426"
    static let keyHex = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
    static let market = Market(id: "m1", conditionID: "0xc1", tokens: [OutcomeToken(tokenID: token, outcome: "Yes"), OutcomeToken(tokenID: other, outcome: "No")],
                               tickSize: 10_000, minOrderSize: 5 * Fixed.one)

    struct Rig {
        let fake: ClobFake
        let engine: TradingEngine
        let journal: Journal
        let source: LiveTestSource
        let dir: String
        var channel: UserChannel? = nil
    }

    static func rig(price: Micros = 550_000, tif: TimeInForce = .immediate, postOnly: Bool = false, goodFor: TimeInterval? = nil,
                    caps: LiveCaps = LiveCaps(perOrder: 100 * Fixed.one),
                    dir: String = tempDir(), fake existing: ClobFake? = nil, userChannel: Bool = false) async throws -> Rig {
        let fake: ClobFake
        if let existing { fake = existing } else { fake = try await ClobFake.start(markets: [.init(tokens: [token, other])]) }
        let key = try SigningKey(hex: keyHex)
        let creds = try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key)
        let (journal, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        let source = LiveTestSource(market)
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.minFreePercent = 0
        let engine = try TradingEngine(settings: s, journal: journal, journalProblem: nil, source: source, publisher: EventPublisher(),
                                       stateDir: dir, logger: Logger(label: "test"),
                                       strategies: [LiveBuyer(name: "live-buyer", price: price, shares: 10 * Fixed.one, timeInForce: tif, postOnly: postOnly,
                                                                goodFor: goodFor)])
        let venue = LiveVenue(config: LiveVenueConfig(clobURL: fake.baseURL, key: key, credentials: creds, timeout: .seconds(5)),
                              recordOrderID: { id, orderID in try journal.setVenueOrder(id, orderID: orderID, state: .pending, note: "") })
        let channel = userChannel ? UserChannel(url: fake.baseURL.replacingOccurrences(of: "http://", with: "ws://") + "/ws/user", credentials: creds,
                                                ping: .seconds(1), logger: Logger(label: "test")) : nil
        await engine.attachLive(venue, strategies: ["live-buyer"], caps: caps, userChannel: channel)
        try await engine.recover()
        return Rig(fake: fake, engine: engine, journal: journal, source: source, dir: dir, channel: channel)
    }

    /// Waits for `condition` (the venue answers on a task of its own), with a generous bound.
    static func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting for: \(what)")
        throw CancellationError()
    }

    static func row(_ j: Journal, _ sql: String) throws -> Row? { try j.read { try Row.fetchOne($0, sql: sql) } }

    @Test("a live order: written ahead with its venue id, signed, matched on the fake, its trade booked once (reconciliation does not book it again)")
    func matched() async throws {
        let r = try await Self.rig()
        defer { Task { await r.fake.stop() } }
        r.fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 6 * Fixed.one), BookLevel(price: 520_000, size: 50 * Fixed.one)])
        r.source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 6 * Fixed.one), BookLevel(price: 520_000, size: 50 * Fixed.one)] }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("both trades booked") { try r.journal.fillCount() == 2 }
        let position = await r.engine.core.accounts["live-buyer"]?.positions[Self.token]
        #expect(position?.shares == 10 * Fixed.one)
        let cost = try #require(position?.costBasis)
        #expect(cost == 5_080_000, "6 at 0.50 and 4 at 0.52, the fake's levels")
        let intent = try #require(try Self.row(r.journal, "SELECT * FROM intents"))
        #expect(intent["venue"] as String == "clob" && intent["status"] as String == "filled")
        let orderID: String = intent["venue_order_id"]
        #expect(orderID.hasPrefix("0x") && orderID.count == 66, "the order's hash, written before it was posted")
        #expect(try r.journal.read { try Int.fetchOne($0, sql: "SELECT COUNT(DISTINCT venue_trade_id) FROM fills") } == 2)
        await r.engine.reconcileLive()
        await r.engine.reconcileLive()
        #expect(try r.journal.fillCount() == 2, "trades are booked once, however often they are read back")
        // A trade reported again for an order that has ended meanwhile (two reads crossing) is not booked again either.
        let booked = try #require(try Self.row(r.journal, "SELECT * FROM fills ORDER BY id LIMIT 1"))
        let again = Fill(intentID: booked["intent_id"], strategy: "live-buyer", marketID: "m1", tokenID: Self.token, side: .buy, shares: booked["shares"],
                         notional: booked["notional"], fee: 0, levels: 1, at: Date(), venueTradeID: booked["venue_trade_id"])
        await r.engine.venueAnswered([.filled(again, open: 0)], to: .cancel(intentID: "none", reason: "test"), took: .zero)
        let storage = await r.engine.snapshot().storage
        #expect(try r.journal.fillCount() == 2 && storage == "ok")
        #expect(r.fake.submissions == 1)
        let venue = try #require(await r.engine.snapshot().venue)
        #expect(venue.status == "healthy" && venue.open_orders == 0 && venue.unknown_orders == 0 && venue.heartbeat_age_s != nil)
    }

    @Test("F50: a booked trade that FAILS at settlement is void: position and cash back as before, the fill marked void, an alert")
    func settlementFailed() async throws {
        let r = try await Self.rig()
        defer { Task { await r.fake.stop() } }
        r.fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 50 * Fixed.one)])
        r.source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 50 * Fixed.one)] }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("the trade booked") { try r.journal.fillCount() == 1 }
        #expect(await r.engine.core.accounts["live-buyer"]?.cash == 1000 * Fixed.one - 5 * Fixed.one)
        r.fake.setTradeStatus("FAILED")
        await r.engine.reconcileLive()
        let account = try #require(await r.engine.core.accounts["live-buyer"])
        #expect(account.cash == 1000 * Fixed.one && account.positions.isEmpty && account.invariantHolds, "as if it never traded")
        #expect(try Self.row(r.journal, "SELECT voided_at, void_note FROM fills")?["void_note"] as String? == "the venue reports trade \(try #require(try Self.row(r.journal, "SELECT venue_trade_id FROM fills")?["venue_trade_id"] as String?)) FAILED")
        let stored = try #require(try r.journal.loadAccounts()["live-buyer"])
        #expect(stored.cash == 1000 * Fixed.one, "the correction is in the journal with the void")
        #expect(try r.journal.verify().problems.isEmpty, "the audit agrees: a void fill no longer counts")
        await r.engine.reconcileLive()
        #expect(await r.engine.core.accounts["live-buyer"]?.cash == 1000 * Fixed.one, "voided once")
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.contains { $0.contains("FAILED at settlement") && $0.contains("position and cash corrected") })
    }

    @Test("F45: an order of ours open on the venue that the journal has as ended is drift: cancels attempted; after 3 reconciliations in a row, reduce-only with an alert; clean again, cleared")
    func reconciliationDrift() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        // The journal has intent stray-1 as cancelled; the venue still holds an order tagged with it.
        let intent = OrderIntent(id: "stray-1", strategy: "live-buyer", marketID: "m1", tokenID: Self.token, side: .buy, kind: .entry,
                                 limitPrice: 300_000, shares: 10 * Fixed.one, reason: "test", timeInForce: .resting)
        try r.journal.recordIntent(intent, at: Date(), venue: "clob")
        try r.journal.finishIntent("stray-1", status: "cancelled", note: "test", at: Date())
        let key = try SigningKey(hex: Self.keyHex)
        let client = ClobClient(baseURL: r.fake.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: r.fake.baseURL, key: key))
        let order = try ClobOrder.limit(key: key, tokenID: Self.token, side: .buy, price: 300_000, size: 10 * Fixed.one, tick: 10_000,
                                        salt: "5", timestamp: 1_790_000_000_000, tag: "stray-1")
        _ = try await client.post(try SignedClobOrder(order: order, domain: .ctfV2, key: key), type: .gtc)
        r.fake.setCancelsRefused(true)
        for k in 1...2 {
            await r.engine.reconcileLive()
            #expect(await r.engine.core.control.has(.reconcileDrift) == false, "not after \(k) detections")
        }
        await r.engine.reconcileLive()
        let reason = await r.engine.core.control.reasons.first { $0.code == .reconcileDrift }
        #expect(reason?.effect == .REDUCING && reason?.message.contains("stray-1") == true)
        #expect(await r.engine.snapshot().trading_state == "REDUCING")
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.contains { $0.contains("order reconciliation drift") })
        #expect(await r.engine.snapshot().venue?.foreign_orders == 0, "ours by its tag: drift, not a foreign order")
        r.fake.setCancelsRefused(false)
        await r.engine.reconcileLive()  // the stray is cancelled
        await r.engine.reconcileLive()  // and the venue agrees
        #expect(r.fake.openOrders.isEmpty)
        #expect(await r.engine.core.control.has(.reconcileDrift) == false)
    }

    @Test("an open order on the wallet that is not Warden's is reported once, never adopted or cancelled")
    func foreignOrder() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        let key = try SigningKey(hex: Self.keyHex)
        let client = ClobClient(baseURL: r.fake.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: r.fake.baseURL, key: key))
        let order = try ClobOrder.limit(key: key, tokenID: Self.token, side: .buy, price: 200_000, size: 10 * Fixed.one, tick: 10_000,
                                        salt: "6", timestamp: 1_790_000_000_000, tag: nil)
        _ = try await client.post(try SignedClobOrder(order: order, domain: .ctfV2, key: key), type: .gtc)
        await r.engine.reconcileLive()
        await r.engine.reconcileLive()
        #expect(await r.engine.snapshot().venue?.foreign_orders == 1 && r.fake.openOrders.count == 1)
        #expect(await r.engine.snapshot().venue?.orders.isEmpty == true, "not adopted")
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.filter { $0.contains("is not Warden's") }.count == 1)
    }

    @Test("the kill switch cancels every live order on the venue and verifies by reading the open orders back")
    func killSwitch() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("the order rests on the venue") { await r.engine.snapshot().venue?.orders.first?.state == "live" }
        #expect(r.fake.openOrders.count == 1)
        _ = await r.engine.killSwitch(on: true, author: "test")
        try await Self.eventually("cancelled on the venue and in the engine") {
            let v = await r.engine.snapshot().venue
            return r.fake.openOrders.isEmpty && v?.open_orders == 0
        }
        try await Self.eventually("the cancel-all verified") {
            r.engine.publisher.retained(EngineTopic.activity).contains { String(decoding: $0.payload, as: UTF8.self).contains("verified: none of Warden's orders is open") }
        }
        #expect(try Self.row(r.journal, "SELECT status FROM intents")?["status"] as String? == "cancelled")
    }

    @Test("flatten sells a live position with a FAK order at the book (within the slippage bound)")
    func flatten() async throws {
        let r = try await Self.rig()
        defer { Task { await r.fake.stop() } }
        // The venue's bids: 4 shares at the best bid 0.40 the engine sees, the rest at 0.39 (within the 0.02 bound).
        r.fake.setBook(token: Self.token, bids: [BookLevel(price: 400_000, size: 4 * Fixed.one), BookLevel(price: 390_000, size: 100 * Fixed.one)],
                       asks: [BookLevel(price: 500_000, size: 50 * Fixed.one)])
        r.source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 50 * Fixed.one)] }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("bought") { await r.engine.core.accounts["live-buyer"]?.positions[Self.token]?.shares == 10 * Fixed.one }
        _ = await r.engine.killSwitch(on: true, author: "test")  // no new entries meanwhile
        let reply = await r.engine.flatten(marketID: nil, author: "test")
        #expect(reply.message.contains("sent to the live venue (FAK)"), "\(reply.message)")
        try await Self.eventually("sold on the venue") { await r.engine.core.accounts["live-buyer"]?.positions.isEmpty == true }
        let sell = try #require(try Self.row(r.journal, "SELECT * FROM intents WHERE side = 'sell'"))
        #expect(sell["venue"] as String == "clob" && sell["status"] as String == "filled" && sell["kind"] as String == "exit")
        #expect(sell["limit_price"] as Int64 == 380_000, "the best bid 0.40 less the 0.02 slippage bound, on the tick")
        #expect(try r.journal.read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM fills WHERE side = 'sell'") } == 2, "both bid levels taken")
    }

    @Test("F51: the venue in cancel-only mode: the order rejected with its words, venue_cancel_only (exits only) raised with an alert, no new live order")
    func cancelOnly() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        r.fake.setSubmitFault(.cancelOnly)
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("cancel-only raised") { await r.engine.core.control.has(.venueCancelOnly) }
        #expect(await r.engine.snapshot().trading_state == "REDUCING")
        #expect(try Self.row(r.journal, "SELECT note FROM intents")?["note"] as String? == "unavailable: Trading is currently cancel-only")
        #expect(await r.engine.snapshot().venue?.problem?.contains("cancel-only") == true)
        for _ in 0..<3 { await r.engine.cycle(now: Date()) }
        #expect(r.fake.submissions == 1, "nothing more is sent while the venue refuses")
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.contains { $0.contains("cancel-only mode") })
    }

    @Test("F53: a signature the venue refuses HALTs live orders for this venue with its words until a restart — no retry storm")
    func invalidSignature() async throws {
        // The fake settles this market on the neg-risk exchange; the engine's market says otherwise, so it signs for
        // the wrong exchange.
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token, Self.other], negRisk: true)])
        let r = try await Self.rig(price: 450_000, tif: .resting, fake: fake)
        defer { Task { await r.fake.stop() } }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("halted") { await r.engine.snapshot().venue?.problem?.contains("HALTED") == true }
        #expect(await r.engine.snapshot().venue?.problem?.contains("invalid signature") == true)
        for _ in 0..<3 {
            await r.engine.heartbeatLive()
            await r.engine.cycle(now: Date())
        }
        #expect(r.fake.submissions == 1, "one refusal, no retries")
    }

    @Test("F52: a 429 is honoured: no live order until its Retry-After; the budget headers reach the status")
    func rateLimited() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        r.fake.setSubmitFault(.rateLimited(retryAfter: 60))
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("rate limited") { await r.engine.snapshot().venue?.problem?.contains("Retry-After 60") == true }
        r.fake.setSubmitFault(.none)
        for _ in 0..<3 { await r.engine.cycle(now: Date()) }
        #expect(r.fake.submissions == 1, "Retry-After honoured")
        #expect(await r.engine.snapshot().venue?.rate_limit_remaining == 3_499)
    }

    @Test("F44: the venue's reads failing 3 times in a row: venue_reads (exits only) with an alert, no new live order; reads back: cleared")
    func readsFailing() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        await r.engine.heartbeatLive()
        r.fake.setReadsFailing(true)
        for _ in 0..<3 { await r.engine.reconcileLive() }
        #expect(await r.engine.core.control.has(.venueReads))
        #expect(await r.engine.snapshot().trading_state == "REDUCING")
        await r.engine.heartbeatLive()
        #expect(await r.engine.snapshot().venue?.problem?.contains("reads failing") == true)
        #expect(await r.engine.snapshot().venue?.reconcile_error?.contains("500") == true)
        await r.engine.cycle(now: Date())
        #expect(r.fake.submissions == 0)
        r.fake.setReadsFailing(false)
        await r.engine.reconcileLive()
        await r.engine.heartbeatLive()
        #expect(await r.engine.core.control.has(.venueReads) == false)
        #expect(await r.engine.snapshot().venue?.status == "healthy")
        await r.engine.cycle(now: Date())
        try await Self.eventually("orders go again") { r.fake.openOrders.count == 1 }
    }

    @Test("shadow mode: a paper strategy's order fills on paper and is also signed for the live venue and journaled, never sent; the signature recovers the key")
    func shadow() async throws {
        let dir = tempDir()
        let (journal, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
        let source = LiveTestSource(Self.market)
        source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 50 * Fixed.one)] }
        var s = EngineSettings()
        s.bookRefresh = .zero
        s.minFreePercent = 0
        let engine = try TradingEngine(settings: s, journal: journal, journalProblem: nil, source: source, publisher: EventPublisher(),
                                       stateDir: dir, logger: Logger(label: "test"),
                                       strategies: [LiveBuyer(name: "shadowed", price: 550_000, shares: 10 * Fixed.one, timeInForce: .immediate)])
        let key = try SigningKey(hex: Self.keyHex)
        await engine.setShadow(IntentSigner(key: key, funder: nil, signatureType: .eoa), strategies: ["shadowed"])
        try await engine.recover()
        await engine.cycle(now: Date())
        #expect(try journal.fillCount() == 1, "filled on paper")
        let rows = try journal.shadowOrders(limit: 5)
        let row = try #require(rows.first)
        #expect(rows.count == 1)
        let top = try #require(try JSONSerialization.jsonObject(with: Data(row.body.utf8)) as? [String: Any])
        let o = try #require(top["order"] as? [String: Any])
        #expect(top["owner"] as? String == "<api key>" && top["orderType"] as? String == "FAK")
        func text(_ k: String) -> String { (o[k] as? String) ?? "" }
        let order = ClobOrder(salt: (o["salt"] as? NSNumber)?.stringValue ?? "", maker: try EthAddress(text("maker")), signer: try EthAddress(text("signer")),
                              tokenID: text("tokenId"), makerAmount: UInt64(text("makerAmount")) ?? 0, takerAmount: UInt64(text("takerAmount")) ?? 0,
                              side: .buy, signatureType: .eoa, timestamp: UInt64(text("timestamp")) ?? 0,
                              metadata: try ABIWord.bytes32(hex: text("metadata")), builder: try ABIWord.bytes32(hex: text("builder")), expiration: 0)
        let digest = try order.digest(.ctfV2)
        #expect("0x" + Hex.string(digest) == row.orderID)
        #expect(SigningKey.signer(of: digest, signature: Hex.bytes(text("signature")) ?? []) == key.address)
        #expect(order.makerAmount == 5_500_000 && order.takerAmount == 10_000_000, "10 shares at the limit 0.55, by the tick")
        #expect(LiveVenue.tag("0x" + Hex.string(order.metadata)) == row.intentID, "the intent id in the signed metadata")
        #expect(await engine.orders().shadow?.signed_total == 1)
    }

    @Test("F49: the user channel — a trade event makes the engine reconcile at once (a FAILED trade voided without waiting for the timer); dropped or frozen: said, reconnected with backoff, orders and trades re-read")
    func userChannel() async throws {
        let r = try await Self.rig(userChannel: true)
        defer { Task { await r.fake.stop() } }
        let channel = try #require(r.channel)
        let run = Task { await channel.run() }
        let feed = Task { for await n in channel.notices { await r.engine.userChannel(n) } }
        defer { run.cancel(); feed.cancel() }
        try await Self.eventually("subscribed") { r.fake.userSubscribers == 1 }
        r.fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 50 * Fixed.one)])
        r.source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 50 * Fixed.one)] }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("the trade booked") { try r.journal.fillCount() == 1 }
        r.fake.setTradeStatus("FAILED")
        try await Self.eventually("voided on the channel's event, with no reconciliation asked") {
            await r.engine.core.accounts["live-buyer"]?.cash == 1000 * Fixed.one
        }
        r.fake.dropUserChannel()
        try await Self.eventually("reconnected, and said") {
            r.fake.userSubscribers == 1 && r.engine.publisher.retained(EngineTopic.activity).contains {
                String(decoding: $0.payload, as: UTF8.self).contains("user channel connected again; orders and trades re-read")
            }
        }
        r.fake.setUserChannelFrozen(true)
        try await Self.eventually("frozen: closed and said on the status") {
            await r.engine.snapshot().venue?.user_channel?.contains("frozen") == true
        }
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.contains { $0.contains("user channel dropped") })
        r.fake.setUserChannelFrozen(false)
        try await Self.eventually("connected again") { await r.engine.snapshot().venue?.user_channel == "connected" }
    }

    @Test("an order matched but whose trades cannot be read back is UNKNOWN, not 'nothing matched': reconciliation books its fill once reads work")
    func tradesUnreadAfterPost() async throws {
        let r = try await Self.rig()
        defer { Task { await r.fake.stop() } }
        r.fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 50 * Fixed.one)])
        r.source.asks.withLock { $0 = [BookLevel(price: 500_000, size: 50 * Fixed.one)] }
        await r.engine.heartbeatLive()
        r.fake.setReadsFailing(true)
        await r.engine.cycle(now: Date())
        try await Self.eventually("unknown") { await r.engine.snapshot().venue?.unknown_orders == 1 }
        #expect(try r.journal.fillCount() == 0)
        r.fake.setReadsFailing(false)
        await r.engine.reconcileLive()
        #expect(try r.journal.fillCount() == 1 && r.fake.submissions == 1, "its fill booked once, nothing re-sent")
        #expect(await r.engine.core.accounts["live-buyer"]?.positions[Self.token]?.shares == 10 * Fixed.one)
    }

    @Test("500 with the order placed: UNKNOWN in status and the status line, never re-sent, found on the venue and adopted once")
    func unknownPlaced() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        r.fake.setSubmitFault(.failedButPlaced)
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("the order is unknown") { await r.engine.snapshot().venue?.unknown_orders == 1 }
        let venue = try #require(await r.engine.snapshot().venue)
        #expect(venue.orders.first?.state == "unknown" && venue.orders.first?.note.contains("could not run the execution") == true)
        #expect(await r.engine.statusLine().contains("1 orders UNKNOWN"))
        for _ in 0..<3 { await r.engine.cycle(now: Date()) }
        #expect(r.fake.submissions == 1, "an unknown order is never re-sent")
        r.fake.setSubmitFault(.none)
        await r.engine.reconcileLive()
        let after = try #require(await r.engine.snapshot().venue)
        #expect(after.unknown_orders == 0 && after.orders.map(\.state) == ["live"], "found on the venue's book")
        #expect(after.orders.first?.order_id == r.fake.openOrders.first?.id)
        #expect(try Self.row(r.journal, "SELECT venue_state FROM intents")?["venue_state"] as String? == "live")
        for _ in 0..<2 { await r.engine.cycle(now: Date()) }
        #expect(r.fake.submissions == 1 && r.fake.openOrders.count == 1, "the adopted order stands for the strategy's order: nothing sent again")
    }

    @Test("500 with nothing placed: unknown until reconciliation rules it out; the strategy may then place again")
    func unknownNotPlaced() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        r.fake.setSubmitFault(.failedNotPlaced)
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        try await Self.eventually("the order is unknown") { await r.engine.snapshot().venue?.unknown_orders == 1 }
        r.fake.setSubmitFault(.none)
        await r.engine.reconcileLive()
        #expect(await r.engine.snapshot().venue?.orders.isEmpty == true)
        let intent = try #require(try Self.row(r.journal, "SELECT status, venue_state, note FROM intents"))
        #expect(intent["status"] as String == "cancelled" && intent["venue_state"] as String == "cancelled")
        #expect((intent["note"] as String).contains("never placed"))
        await r.engine.cycle(now: Date())
        try await Self.eventually("the strategy's next order rests") { r.fake.openOrders.count == 1 }
        #expect(r.fake.submissions == 2)
    }

    @Test("no heartbeat accepted: no live order goes (fail closed); once one is, orders go")
    func failClosed() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting)
        defer { Task { await r.fake.stop() } }
        await r.engine.cycle(now: Date())
        #expect(r.fake.submissions == 0 && r.journal.openIntentsCount == 0)
        let venue = try #require(await r.engine.snapshot().venue)
        #expect(venue.status == "unhealthy" && venue.problem?.contains("heartbeat") == true)
        await r.engine.heartbeatLive()
        #expect(await r.engine.snapshot().venue?.status == "healthy")
        await r.engine.cycle(now: Date())
        try await Self.eventually("the order rests on the fake") { r.fake.openOrders.count == 1 }
    }

    @Test("an entry over the per-order cap is refused before signing, with an alert; nothing reaches the venue")
    func caps() async throws {
        let r = try await Self.rig(price: 450_000, tif: .resting, caps: LiveCaps(perOrder: 4 * Fixed.one))
        defer { Task { await r.fake.stop() } }
        await r.engine.heartbeatLive()
        await r.engine.cycle(now: Date())
        #expect(r.fake.submissions == 0 && r.journal.openIntentsCount == 0)
        let alerts = r.engine.publisher.retained(EngineTopic.alerts).map { String(decoding: $0.payload, as: UTF8.self) }
        #expect(alerts.contains { $0.contains("live order refused before signing") && $0.contains("cap per order 4") })
        #expect(await r.engine.snapshot().venue?.caps_refused_total == 1, "counted")
    }

    @Test("a crash between send and record: the next start holds the order as UNKNOWN and adopts it once by its venue id; one never sent is abandoned")
    func crashBetweenSendAndRecord() async throws {
        let dir = tempDir()
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token, Self.other])])
        defer { Task { await fake.stop() } }
        // What a run that died after posting leaves: the intent and the order's venue id on disk, the order on the venue.
        do {
            let key = try SigningKey(hex: Self.keyHex)
            let client = ClobClient(baseURL: fake.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key))
            let order = try ClobOrder.limit(key: key, tokenID: Self.token, side: .buy, price: 450_000, size: 10 * Fixed.one, tick: 10_000,
                                            salt: "77", timestamp: 1_790_000_000_000, tag: "old-1")
            let posted = try await client.post(try SignedClobOrder(order: order, domain: .ctfV2, key: key), type: .gtc)
            let (j, _) = try Journal.open(path: dir + "/engine.db", backupsDir: dir + "/backups")
            let intent = OrderIntent(id: "old-1", strategy: "live-buyer", marketID: "m1", tokenID: Self.token, side: .buy, kind: .entry,
                                     limitPrice: 450_000, shares: 10 * Fixed.one, reason: "test", timeInForce: .resting)
            try j.recordIntent(intent, at: Date(), venue: "clob")
            try j.setVenueOrder("old-1", orderID: posted.orderID, state: .pending, note: "")
            var never = intent
            never.id = "old-2"
            try j.recordIntent(never, at: Date(), venue: "clob")
        }
        let r = try await Self.rig(price: 450_000, tif: .resting, dir: dir, fake: fake)
        let venue = try #require(await r.engine.snapshot().venue)
        #expect(venue.unknown_orders == 1 && venue.orders.map(\.intent_id) == ["old-1"])
        #expect(try Self.row(r.journal, "SELECT status FROM intents WHERE id = 'old-2'")?["status"] as String? == "abandoned")
        await r.engine.heartbeatLive()
        await r.engine.reconcileLive()
        let after = try #require(await r.engine.snapshot().venue)
        #expect(after.unknown_orders == 0 && after.orders.map(\.state) == ["live"])
        await r.engine.cycle(now: Date())
        #expect(fake.submissions == 1, "the strategy sees its adopted order: nothing new is sent")
    }
}

extension Journal {
    /// Intents of any status (a test's count of what was written ahead).
    var openIntentsCount: Int { (try? read { try Int.fetchOne($0, sql: "SELECT COUNT(*) FROM intents") ?? 0 }) ?? -1 }
}
