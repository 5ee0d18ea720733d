// Polymarket parsing and the client, against the loopback fake through libcurl.
import Foundation
import WardenPolymarket
import Testing
import WardenCore
import WardenFakes
import WardenHTTP
@testable import WardenEngine

extension FakeScenario {
    /// The demo without its favourite resolving three seconds in: these tests count markets and books, and on a
    /// loaded machine a test can take longer than that (a book count once came back one market short).
    static var steadyDemo: FakeScenario {
        var s = FakeScenario.demo()
        for i in s.markets.indices { s.markets[i].resolvesAfterHours = nil }
        return s
    }
}

/// `timeout` bounds each call. None of these tests is about speed, so the bound is generous: a loaded machine
/// (the full suite starts dozens of servers at once) once took over 2 s for a call to the loopback fake.
func withPolymarket<T>(_ scenario: FakeScenario = .steadyDemo, timeout: Duration = .seconds(30),
                       _ body: (PolymarketFake, PolymarketClient) async throws -> T) async throws -> T {
    let fake = try await PolymarketFake.start(scenario)
    var retry = RetryPolicy()
    retry.maxAttempts = 1
    let client = PolymarketClient(http: HTTPClient(retry: retry), gammaURL: fake.baseURL, clobURL: fake.baseURL, timeout: timeout)
    do {
        let r = try await body(fake, client)
        await fake.stop()
        return r
    } catch {
        await fake.stop()
        throw error
    }
}

@Suite("Polymarket wire format")
struct PolymarketParsingTests {
    @Test("a market with JSON-encoded strings, string numbers and a fee schedule parses")
    func market() throws {
        let json = #"""
        {"id":"12","question":"Q?","conditionId":"0xab","outcomes":"[\"Yes\", \"No\"]","outcomePrices":"[\"0.4\", \"0.6\"]",
         "clobTokenIds":"[\"111\", \"222\"]","liquidity":"1000.5","volumeNum":20,"orderPriceMinTickSize":0.001,"orderMinSize":5,
         "endDate":"2025-06-17T23:10:00Z","feesEnabled":true,"feeSchedule":{"exponent":1,"rate":0.02,"takerOnly":true}}
        """#
        guard case .success(let m) = GammaParser.market(try JSONSerialization.jsonObject(with: Data(json.utf8))) else {
            Issue.record("rejected"); return
        }
        #expect(m.tokens.map(\.tokenID) == ["111", "222"] && m.tokens[0].outcome == "Yes")
        #expect(m.tickSize == 1_000 && m.liquidity == 1_000_500_000 && m.fees.rate == 0.02)
        #expect(m.endDate == Date(timeIntervalSince1970: 1_750_201_800))
    }

    @Test("F18: wrong types, missing fields, unknown fees are rejected with reasons, never guessed")
    func badMarkets() throws {
        let cases: [(String, String)] = [
            (#"{"outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\",\"2\"]"}"#, "missing id"),
            (#"{"id":"1","outcomes":5,"clobTokenIds":"[\"1\",\"2\"]"}"#, "`outcomes`"),
            (#"{"id":"1","outcomes":"[\"Yes\"]","clobTokenIds":"[\"1\",\"2\"]"}"#, "1 outcomes but 2 token ids"),
            (#"{"id":"1","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\",\"2\"]","feesEnabled":true}"#, "fee is unknown"),
            (#"{"id":"1","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\",\"2\"]","orderPriceMinTickSize":0.05}"#, "tick size"),
            (#"{"id":"1","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\",\"2\"]","endDate":"tomorrow"}"#, "endDate"),
        ]
        for (json, why) in cases {
            guard case .failure(let r) = GammaParser.market(try JSONSerialization.jsonObject(with: Data(json.utf8))) else {
                Issue.record("accepted: \(json)"); continue
            }
            #expect(r.reason.contains(why), "\(r)")
        }
    }

    @Test("a book arrives best-last and is used best-first; its timestamp is Unix ms or ISO-8601")
    func book() throws {
        let json = #"{"asset_id":"111","bids":[{"price":"0.10","size":"5"},{"price":"0.15","size":"100"}],"asks":[{"price":"0.30","size":"7"},{"price":"0.20","size":"9"}],"tick_size":"0.01","min_order_size":"5","timestamp":"1782753357257","last_trade_price":""}"#
        guard case .success(let b) = ClobParser.book(try JSONSerialization.jsonObject(with: Data(json.utf8)), observedAt: Date()) else {
            Issue.record("rejected"); return
        }
        #expect(b.bestBid == 150_000 && b.bestAsk == 200_000)
        #expect(b.bookTime == Date(timeIntervalSince1970: 1_782_753_357.257))
        let iso = #"{"asset_id":"1","bids":[],"asks":[],"tick_size":"0.01","timestamp":"2026-01-01T00:00:00Z"}"#
        guard case .success(let b2) = ClobParser.book(try JSONSerialization.jsonObject(with: Data(iso.utf8)), observedAt: Date()) else {
            Issue.record("ISO timestamp rejected"); return
        }
        #expect(b2.bookTime != nil)
    }

    @Test("F18: prices outside (0,1), NaN, unexpected order and crossed books are rejected")
    func badBooks() throws {
        let base = #""tick_size":"0.01","min_order_size":"5""#
        let cases: [(String, String)] = [
            (#"{"asset_id":"1","bids":[{"price":"1.5","size":"1"}],"asks":[],"# + base + "}", "outside (0, 1)"),
            (#"{"asset_id":"1","bids":[{"price":"NaN","size":"1"}],"asks":[],"# + base + "}", "non-numeric"),
            (#"{"asset_id":"1","bids":[{"price":"0.5","size":"1"},{"price":"0.4","size":"1"}],"asks":[],"# + base + "}", "ascending"),
            (#"{"asset_id":"1","bids":[{"price":"0.6","size":"1"}],"asks":[{"price":"0.5","size":"1"}],"# + base + "}", "crossed"),
            (#"{"asset_id":"1","bids":[],"asks":[],"tick_size":"0.02"}"#, "tick_size"),
            (#"{"error":"Invalid token id"}"#, "Invalid token id"),
        ]
        for (json, why) in cases {
            guard case .failure(let r) = ClobParser.book(try JSONSerialization.jsonObject(with: Data(json.utf8)), observedAt: Date()) else {
                Issue.record("accepted: \(json)"); continue
            }
            #expect(r.reason.contains(why), "\(r)")
        }
    }
}

@Suite("Polymarket client against the fake")
struct PolymarketClientTests {
    @Test("discovery pages with after_cursor and keeps the filters on every page")
    func discovery() async throws {
        try await withPolymarket { fake, client in
            var f = MarketFilters()
            f.pageSize = 3
            let all = try await client.discover(f)
            #expect(all.markets.count == 10 && all.rejected.isEmpty)
            #expect(fake.requestCount("/markets/keyset") == 4, "10 markets in pages of 3")
            f.liquidityMin = 60_000
            #expect(try await client.discover(f).markets.isEmpty, "the filter held on every page")
        }
    }

    @Test("books come back for every token, best first, stamped with our observation time")
    func books() async throws {
        try await withPolymarket { _, client in
            let markets = try await client.discover(MarketFilters()).markets
            let tokens = markets.flatMap { $0.tokens.map(\.tokenID) }
            let before = Date()
            let result = try await client.books(tokens)
            #expect(result.books.count == tokens.count && result.rejected.isEmpty)
            for b in result.books {
                #expect(b.observedAt >= before)
                #expect(zip(b.asks, b.asks.dropFirst()).allSatisfy { $0.price < $1.price })
                #expect((b.bestBid ?? 0) < (b.bestAsk ?? 1))
            }
        }
    }

    @Test("F18: malformed items from the server are rejected and counted; the rest is used")
    func malformedServer() async throws {
        try await withPolymarket { fake, client in
            var faults = PolymarketFake.Faults()
            faults.malformed = true
            fake.setFaults(faults)
            let d = try await client.discover(MarketFilters())
            #expect(d.rejected.count == 1 && d.markets.count == 9)
            let tokens = d.markets.flatMap { $0.tokens.map(\.tokenID) }
            let b = try await client.books(tokens)
            #expect(b.books.isEmpty && b.rejected.count == tokens.count, "the fake corrupts every book's best ask")
            #expect(b.rejected.allSatisfy { $0.reason.contains("outside (0, 1)") })
        }
    }

    @Test("a resolved market reports its winner")
    func resolution() async throws {
        try await withPolymarket { fake, client in
            _ = try await client.http.send(HTTPRequest(method: "POST", url: fake.baseURL + "/admin/resolve",
                                                       body: Data(#"{"market":"502","winner":"no"}"#.utf8)))
            let m = try await client.market(id: "502")
            #expect(m.closed && m.winningTokenID == "9004")
        }
    }

    @Test("an invalid `order` field is a 422 with the server's message")
    func invalidOrder() async throws {
        try await withPolymarket { fake, client in
            do {
                _ = try await client.http.send(HTTPRequest(url: fake.baseURL + "/markets/keyset?order=bogus"))
                Issue.record("accepted")
            } catch let e as HTTPError {
                #expect(e.status == 422 && e.message.contains("order fields are not valid"))
            }
            let legacy = try await client.http.send(HTTPRequest(url: fake.baseURL + "/markets?limit=500"))
            #expect(legacy.headers["deprecation"] == "true" && legacy.headers["warning"]?.contains("keyset") == true)
        }
    }

    @Test("the server's Date header is read for the clock-skew check")
    func serverDate() async throws {
        try await withPolymarket { _, client in
            let d = try #require(try await client.serverDate())
            #expect(abs(d.timeIntervalSinceNow) < 5)
        }
    }
}
