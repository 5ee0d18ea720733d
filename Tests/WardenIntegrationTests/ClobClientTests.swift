// Issue 14: the CLOB client the live venue will use, against the fake over loopback HTTP: credentials by L1, calls
// by L2, and every answer mapped to what the venue must do — above all, a submit answered 500 is "unknown" (the
// order may exist, and reading the open orders finds it or rules it out), never "failed".
import Foundation
import Testing
import WardenCore
import WardenFakes
import WardenHTTP
import WardenPolymarket
import WardenTestKit

@Suite("CLOB client")
struct ClobClientTests {
    static let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    static let negRiskToken = "1234567890"
    static let key = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

    static func order(_ key: SigningKey, token: String = token, price: Micros, salt: UInt64, tag: String, domain: ExchangeDomain = .ctfV2) throws -> SignedClobOrder {
        let o = try ClobOrder.limit(key: key, tokenID: token, side: .buy, price: price, size: 10 * Fixed.one, tick: 10_000, salt: String(salt),
                                    timestamp: 1_790_000_000_000 + salt, tag: tag)
        return try SignedClobOrder(order: o, domain: domain, key: key)
    }

    /// A client of the fake with the key's derived credentials.
    static func client(_ fake: ClobFake, _ key: SigningKey) async throws -> ClobClient {
        ClobClient(baseURL: fake.baseURL, key: key, credentials: try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key))
    }

    static func failure(_ body: () async throws -> Void) async -> ClobError? {
        do { try await body(); return nil } catch let e as ClobError { return e } catch { return ClobError(.malformed, "\(error)") }
    }

    @Test("credentials by L1; a submit rests and is read back with its tag; the budget headers are read; cancel; server time")
    func roundTrip() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token]), .init(tokens: [Self.negRiskToken], negRisk: true)])
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: Self.key)
        let creds = try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key)
        #expect(try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key).apiKey == creds.apiKey, "derived: the same every time")
        let client = ClobClient(baseURL: fake.baseURL, key: key, credentials: creds)
        #expect(abs(try await client.serverTime() - Int(Date().timeIntervalSince1970)) <= 2)
        let placed = try await client.post(try Self.order(key, price: 550_000, salt: 1, tag: "w-1"), type: .gtc)
        #expect(placed.status == "live" && placed.orderID.hasPrefix("0x"))
        #expect(client.rateLimit == ClobRateLimit(tier: "standard", remaining: 3_499, reset: 10))
        let open = try await client.openOrders()
        #expect(open.map(\.id) == [placed.orderID] && open[0].metadata?.hasPrefix("0x" + Hex.string(Array("w-1".utf8))) == true)
        let cancelled = try await client.cancel(orderID: placed.orderID)
        #expect(cancelled.canceled == [placed.orderID] && cancelled.notCanceled.isEmpty)
        let again = try await client.cancel(orderID: placed.orderID)
        #expect(again.canceled.isEmpty && again.notCanceled[placed.orderID] != nil)
        #expect(try await client.openOrders().isEmpty)
    }

    @Test("open orders are read across pages (the fake's cursor followed to its end marker), every one once")
    func ordersPaged() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token])], orderPage: 2)
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: Self.key)
        let client = try await Self.client(fake, key)
        var ids: [String] = []
        for k in 1...5 { ids.append(try await client.post(try Self.order(key, price: Int64(100_000 + k * 10_000), salt: UInt64(k), tag: "p-\(k)"), type: .gtc).orderID) }
        #expect(try await client.openOrders().map(\.id) == ids)
    }

    @Test("the per-signer budget: past it the fake answers 429 with Retry-After and Remaining 0 (nothing placed), as the venue's token bucket does")
    func signerBudget() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token])], signerBudget: 2)
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: Self.key)
        let client = try await Self.client(fake, key)
        _ = try await client.post(try Self.order(key, price: 300_000, salt: 21, tag: "b-1"), type: .gtc)
        _ = try await client.post(try Self.order(key, price: 310_000, salt: 22, tag: "b-2"), type: .gtc)
        #expect(client.rateLimit?.remaining == 0)
        let refused = await Self.failure { _ = try await client.post(try Self.order(key, price: 320_000, salt: 23, tag: "b-3"), type: .gtc) }
        #expect(refused?.kind == .rateLimited && (refused?.retryAfter ?? 0) > 0 && (refused?.retryAfter ?? 99) <= 10)
        #expect(fake.openOrders.count == 2, "the refused order was not placed")
    }

    @Test("with settlement on (the demo's fake), a matched trade becomes MINED and then CONFIRMED by itself, as on chain")
    func settlesByItself() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token])], settleAfter: 1)
        defer { Task { await fake.stop() } }
        fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 50 * Fixed.one)])
        let key = try SigningKey(hex: Self.key)
        let client = try await Self.client(fake, key)
        _ = try await client.post(try Self.order(key, price: 550_000, salt: 9, tag: "s-1"), type: .gtc)
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let status = try await client.trades().first?.status ?? "none"
            if seen.last != status { seen.append(status) }
            if status == "CONFIRMED" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        // In that order (a slow first read may find it MINED already), through MINED to CONFIRMED.
        let full = ["MATCHED", "MINED", "CONFIRMED"]
        #expect(seen.count >= 2 && Array(full.suffix(seen.count)) == seen, "MATCHED → MINED → CONFIRMED: \(seen)")
    }

    @Test("answers mapped: 500 is an unknown outcome whether or not the order was placed (open orders tell which), 429 with its Retry-After, 503 cancel-only, invalid signature, a refusal, bad credentials")
    func failures() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token]), .init(tokens: [Self.negRiskToken], negRisk: true)])
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: Self.key)
        let client = try await Self.client(fake, key)

        fake.setSubmitFault(.failedButPlaced)
        let placedAnyway = try Self.order(key, price: 500_000, salt: 2, tag: "w-2")
        #expect(await Self.failure { _ = try await client.post(placedAnyway, type: .gtc) }?.kind == .unknownOutcome)
        fake.setSubmitFault(.failedNotPlaced)
        #expect(await Self.failure { _ = try await client.post(try Self.order(key, price: 500_000, salt: 3, tag: "w-3"), type: .gtc) }?.kind == .unknownOutcome)
        // Reading back settles both: the first exists (found by its tag), the second does not.
        let tags = try await client.openOrders().compactMap(\.metadata)
        #expect(tags.count == 1 && tags[0].hasPrefix("0x" + Hex.string(Array("w-2".utf8))))

        fake.setSubmitFault(.rateLimited(retryAfter: 7))
        let limited = await Self.failure { _ = try await client.post(try Self.order(key, price: 500_000, salt: 4, tag: "w-4"), type: .gtc) }
        #expect(limited?.kind == .rateLimited && limited?.retryAfter == 7)
        fake.setSubmitFault(.cancelOnly)
        #expect(await Self.failure { _ = try await client.post(try Self.order(key, price: 500_000, salt: 5, tag: "w-5"), type: .gtc) }?.kind == .unavailable)
        fake.setSubmitFault(.none)
        let wrongExchange = await Self.failure { _ = try await client.post(try Self.order(key, token: Self.negRiskToken, price: 500_000, salt: 6, tag: "w-6"), type: .gtc) }
        #expect(wrongExchange?.kind == .invalidSignature, "\(String(describing: wrongExchange))")
        let duplicate = await Self.failure { _ = try await client.post(placedAnyway, type: .gtc) }
        #expect(duplicate?.kind == .rejected && duplicate?.message.contains("Duplicated") == true, "\(String(describing: duplicate))")
        let stranger = ClobClient(baseURL: fake.baseURL, key: key, credentials: ClobCredentials(apiKey: "nobody", secret: "c2VjcmV0", passphrase: "x"))
        #expect(await Self.failure { _ = try await stranger.openOrders() }?.kind == .unauthorized)
        // No answer in time to a submit that went out: unknown too (and the fake placed it).
        fake.setSubmitFault(.slowAnswer(.seconds(5)))
        let impatient = ClobClient(baseURL: fake.baseURL, key: key, credentials: client.credentials, timeout: .seconds(1))
        #expect(await Self.failure { _ = try await impatient.post(try Self.order(key, price: 500_000, salt: 7, tag: "w-7"), type: .gtc) }?.kind == .unknownOutcome)
        // A connection never made sent nothing: a plain transport failure, for a submit as for a read.
        let nowhere = ClobClient(baseURL: "http://127.0.0.1:1", key: key, credentials: client.credentials)
        #expect(await Self.failure { _ = try await nowhere.post(try Self.order(key, price: 500_000, salt: 8, tag: "w-8"), type: .gtc) }?.kind == .transport)
        #expect(await Self.failure { _ = try await nowhere.openOrders() }?.kind == .transport)
    }

    @Test("marketable orders take others' liquidity best first: GTC fills and rests the rest, FOK all or nothing, FAK what it can, post-only never crosses; trades read back across pages")
    func matching() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token])])
        defer { Task { await fake.stop() } }
        fake.setBook(token: Self.token, bids: [], asks: [BookLevel(price: 500_000, size: 5 * Fixed.one), BookLevel(price: 520_000, size: 10 * Fixed.one),
                                                         BookLevel(price: 600_000, size: 100 * Fixed.one)])
        let key = try SigningKey(hex: Self.key)
        let client = try await Self.client(fake, key)
        func buy(_ price: Micros, _ size: Micros, _ type: ClobOrderType, salt: UInt64, postOnly: Bool = false) async throws -> (orderID: String, status: String?) {
            let o = try ClobOrder.limit(key: key, tokenID: Self.token, side: .buy, price: price, size: size, tick: 10_000, salt: String(salt),
                                        timestamp: 1_790_000_000_000 + salt, expiration: type == .gtd ? 1_790_003_600 : 0)
            return try await client.post(try SignedClobOrder(order: o, domain: .ctfV2, key: key), type: type, postOnly: postOnly)
        }
        // 10 at up to 0.52: 5 at 0.50 and 5 at 0.52.
        #expect(try await buy(520_000, 10 * Fixed.one, .gtc, salt: 1).status == "matched")
        #expect(fake.trades.map(\.price) == [500_000, 520_000] && fake.trades.map(\.size) == [5 * Fixed.one, 5 * Fixed.one])
        // 10 more at 0.52: only 5 left there, so a FOK trades nothing.
        #expect(await Self.failure { _ = try await buy(520_000, 10 * Fixed.one, .fok, salt: 2) }?.kind == .rejected)
        #expect(await Self.failure { _ = try await buy(550_000, 5 * Fixed.one, .gtc, salt: 3, postOnly: true) }?.message.contains("post-only") == true)
        #expect(fake.trades.count == 2)
        // FAK 8 at 0.55: the 5 left at 0.52, the rest cancelled (never rests).
        #expect(try await buy(550_000, 8 * Fixed.one, .fak, salt: 4).status == "matched")
        // GTC 10 at 0.58: nothing at or under it, so it rests; 2 at 0.60 trade at once.
        let resting = try await buy(580_000, 10 * Fixed.one, .gtc, salt: 5)
        #expect(resting.status == "live")
        #expect(try await buy(600_000, 2 * Fixed.one, .gtc, salt: 6).status == "matched")
        #expect(try await client.openOrders().map(\.id) == [resting.orderID])
        let trades = try await client.trades()
        #expect(trades.map(\.price) == ["0.5000", "0.5200", "0.5200", "0.6000"] && trades.allSatisfy { $0.status == "MATCHED" },
                "four trades over two pages of three: \(trades)")
    }

    @Test("heartbeats chain (a stale id is refused); while they come orders stay; when they stop past the timeout every open order is cancelled")
    func heartbeats() async throws {
        let clock = ManualClock(Date())
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token])], heartbeatTimeout: 10, clock: { clock.now })
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: Self.key)
        let creds = try await ClobClient.deriveCredentials(baseURL: fake.baseURL, key: key, now: clock.now)
        let client = ClobClient(baseURL: fake.baseURL, key: key, credentials: creds, clock: { clock.now })
        _ = try await client.post(try Self.order(key, price: 550_000, salt: 1, tag: "w-1"), type: .gtc)
        var id = try await client.heartbeat(previous: "")
        for _ in 0..<3 {
            clock.advance(.seconds(5))
            let next = try await client.heartbeat(previous: id)
            #expect(next != id)
            id = next
        }
        #expect(await Self.failure { _ = try await client.heartbeat(previous: "not-the-last-one") }?.kind == .rejected)
        #expect(fake.openOrders.count == 1, "heartbeats kept coming: the order stays")
        clock.advance(.seconds(11))
        fake.checkHeartbeats()
        #expect(fake.openOrders.isEmpty, "heartbeats stopped: the venue cancelled everything")
        #expect(try await client.openOrders().isEmpty)
    }
}
