// Issue 14, the fake CLOB as far as it is built: it checks what the real exchange checks, over loopback HTTP, with
// orders and headers made by Warden's own signing (itself compared with the official client in ClobSigningTests).
import Foundation
import Testing
import WardenCore
import WardenFakes
import WardenHTTP
import WardenPolymarket

@Suite("The fake CLOB")
struct ClobFakeTests {
    static let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563"
    static let negRiskToken = "1234567890"

    /// A client of the fake as the live venue will be: L1 to get credentials, L2 on every call.
    struct Client {
        let base: String
        let key: SigningKey
        var creds = ClobCredentials(apiKey: "", secret: "", passphrase: "")

        init(base: String, key: SigningKey) { self.base = base; self.key = key }

        mutating func login(nonce: UInt64 = 0) async throws -> HTTPResponse {
            let ts = Int(Date().timeIntervalSince1970)
            let sig = try key.sign(digest: ClobAuth.l1Digest(address: key.address, timestamp: ts, nonce: nonce))
            let r = try await CurlEngine.shared.perform(HTTPRequest(url: base + "/auth/derive-api-key", headers: [
                ("POLY_ADDRESS", key.address.checksummed), ("POLY_SIGNATURE", "0x" + Hex.string(sig)),
                ("POLY_TIMESTAMP", String(ts)), ("POLY_NONCE", String(nonce))]))
            if r.status == 200, let j = try JSONSerialization.jsonObject(with: r.body) as? [String: String] {
                creds = ClobCredentials(apiKey: j["apiKey"] ?? "", secret: j["secret"] ?? "", passphrase: j["passphrase"] ?? "")
            }
            return r
        }

        func call(_ method: String, _ path: String, body: String = "", timestamp: Int? = nil, tamper: Bool = false) async throws -> HTTPResponse {
            let ts = timestamp ?? Int(Date().timeIntervalSince1970)
            var headers = try ClobAuth.l2Headers(creds, address: key.address, timestamp: ts, method: method, path: path, body: body)
            if tamper { headers = headers.map { $0.0 == "POLY_SIGNATURE" ? ($0.0, "x" + $0.1.dropFirst()) : $0 } }
            return try await CurlEngine.shared.perform(HTTPRequest(method: method, url: base + path, headers: headers + [("Content-Type", "application/json")],
                                                                   body: body.isEmpty ? nil : Data(body.utf8)))
        }

        func order(token: String, price: Micros, size: Micros = 10 * Fixed.one, side: ClobSide = .buy, domain: ExchangeDomain = .ctfV2,
                   salt: UInt64 = 1, tag: String? = nil, tick: Micros = 10_000) throws -> String {
            let o = try ClobOrder.limit(key: key, tokenID: token, side: side, price: price, size: size, tick: tick, salt: String(salt),
                                        timestamp: 1_790_000_000_000 + salt, tag: tag)
            return try SignedClobOrder(order: o, domain: domain, key: key).body(owner: creds.apiKey, orderType: .gtc)
        }
    }

    static func text(_ r: HTTPResponse) -> String { String(decoding: r.body, as: UTF8.self) }

    @Test("credentials come from an L1 signature of the wallet (another's is 401); a signed order rests, is listed with its tag, is refused twice, and is cancelled")
    func ordersAndCredentials() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token, Self.token + "0"]), .init(tokens: [Self.negRiskToken], negRisk: true)])
        defer { Task { await fake.stop() } }
        let key = try SigningKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318")
        var client = Client(base: fake.baseURL, key: key)
        #expect(try await client.login().status == 200)
        #expect(!client.creds.apiKey.isEmpty && !client.creds.secret.isEmpty)
        // The same L1 headers with another wallet's signature.
        var impostor = Client(base: fake.baseURL, key: try SigningKey(hex: "8da4ef21b864d2cc526dbdb2a120bd2874c36c9d0a1fb7f8c63d7f7a8b41de8f"))
        let ts = Int(Date().timeIntervalSince1970)
        let forged = try impostor.key.sign(digest: ClobAuth.l1Digest(address: key.address, timestamp: ts, nonce: 0))
        let r0 = try await CurlEngine.shared.perform(HTTPRequest(url: fake.baseURL + "/auth/derive-api-key", headers: [
            ("POLY_ADDRESS", key.address.checksummed), ("POLY_SIGNATURE", "0x" + Hex.string(forged)), ("POLY_TIMESTAMP", String(ts)), ("POLY_NONCE", "0")]))
        #expect(r0.status == 401 && Self.text(r0).contains("Invalid L1 Request headers"))
        _ = try await impostor.login()

        let body = try client.order(token: Self.token, price: 550_000, tag: "warden-1-7")
        let r1 = try await client.call("POST", "/order", body: body)
        #expect(r1.status == 200 && Self.text(r1).contains(#""status":"live""#), "\(Self.text(r1))")
        let again = try await client.call("POST", "/order", body: body)
        #expect(again.status == 400 && Self.text(again).contains("Duplicated"), "never the same order twice: \(Self.text(again))")
        let listed = try await client.call("GET", "/data/orders")
        let rows = try #require((try JSONSerialization.jsonObject(with: listed.body) as? [String: Any])?["data"] as? [[String: Any]])
        #expect(rows.count == 1 && rows[0]["price"] as? String == "0.5500" && (rows[0]["metadata"] as? String)?.hasPrefix("0x" + Hex.string(Array("warden-1-7".utf8))) == true)
        // Another account sees none of it and cannot cancel it.
        let theirs = try await impostor.call("GET", "/data/orders")
        #expect(Self.text(theirs).contains(#""count":0"#))
        let id = try #require(rows[0]["id"] as? String)
        let notTheirs = try await impostor.call("DELETE", "/order", body: #"{"orderID":"\#(id)"}"#)
        #expect(Self.text(notTheirs).contains(#""canceled":[]"#))
        let cancelled = try await client.call("DELETE", "/order", body: #"{"orderID":"\#(id)"}"#)
        #expect(Self.text(cancelled).contains(#""canceled":["\#(id)"]"#) && fake.openOrders.isEmpty)
    }

    @Test("refused as the exchange refuses: a wrong HMAC or a stale timestamp (401), an order signed for the other exchange (400 invalid signature), a price off the tick")
    func refusals() async throws {
        let fake = try await ClobFake.start(markets: [.init(tokens: [Self.token]), .init(tokens: [Self.negRiskToken], negRisk: true)])
        defer { Task { await fake.stop() } }
        var client = Client(base: fake.baseURL, key: try SigningKey(hex: "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"))
        _ = try await client.login()
        let body = try client.order(token: Self.token, price: 550_000)
        let badMac = try await client.call("POST", "/order", body: body, tamper: true)
        #expect(badMac.status == 401, "\(Self.text(badMac))")
        let stale = try await client.call("POST", "/order", body: body, timestamp: Int(Date().timeIntervalSince1970) - 120)
        #expect(stale.status == 401 && Self.text(stale).contains("timestamp"), "\(Self.text(stale))")
        // A neg-risk market's order signed against the plain exchange: the classic "invalid signature".
        let wrongExchange = try await client.call("POST", "/order", body: try client.order(token: Self.negRiskToken, price: 400_000, domain: .ctfV2))
        #expect(wrongExchange.status == 400 && Self.text(wrongExchange).contains("invalid signature"), "\(Self.text(wrongExchange))")
        let right = try await client.call("POST", "/order", body: try client.order(token: Self.negRiskToken, price: 400_000, domain: .negRiskV2, salt: 2))
        #expect(right.status == 200, "\(Self.text(right))")
        // A body altered after signing (a bigger size) no longer recovers to the signer.
        let altered = body.replacingOccurrences(of: #""takerAmount":"10000000""#, with: #""takerAmount":"20000000""#)
        #expect(altered != body)
        let r = try await client.call("POST", "/order", body: altered)
        #expect(r.status == 400 && Self.text(r).contains("invalid signature"), "\(Self.text(r))")
        // 0.555 on a market whose tick is 0.01 (signed as if the tick were 0.001).
        let offTick = try await client.call("POST", "/order", body: try client.order(token: Self.token, price: 555_000, salt: 3, tick: 1_000))
        #expect(offTick.status == 400 && Self.text(offTick).contains("minimum tick size"), "\(Self.text(offTick))")
        #expect(fake.openOrders.count == 1)
    }
}
