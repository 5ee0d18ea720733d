// F58: one bad item in a market-data answer is rejected with its reason; the rest of the answer is used.
import Foundation
import WardenPolymarket
import Testing
@testable import WardenEngine
import WardenCore

private func book(_ token: String, price: String) -> String {
    #"{"asset_id":"\#(token)","bids":[{"price":"\#(price)","size":"10"}],"asks":[{"price":"0.6","size":"10"}],"tick_size":"0.01","min_order_size":"5"}"#
}

@Suite("Hostile market data")
struct HostileMarketDataTests {
    @Test("1e400 in one book rejects that book only, naming it; the others are kept")
    func outOfRangeNumber() throws {
        let bad = #"{"asset_id":"t2","bids":[{"price":0.5,"size":1e400}],"asks":[],"tick_size":"0.01"}"#
        let data = Data("[\(book("t1", price: "0.5")),\(bad),\(book("t3", price: "0.4"))]".utf8)
        let (books, rejected) = try ClobParser.books(data, observedAt: Date())
        #expect(books.map(\.tokenID) == ["t1", "t3"])
        #expect(rejected.count == 1 && rejected[0].item == "book t2")
        #expect(rejected.first?.reason.contains("out of range") == true)
    }

    @Test("a combining mark inside a price rejects the book (it used to crash the engine)")
    func combiningMark() throws {
        let data = Data("[\(book("t1", price: "0.0\u{301}5")),\(book("t2", price: "0.5"))]".utf8)
        let (books, rejected) = try ClobParser.books(data, observedAt: Date())
        #expect(books.map(\.tokenID) == ["t2"])
        #expect(rejected.map(\.item) == ["book t1"])
    }

    @Test("an absurd size, an overlong asset id and text that is not JSON are named")
    func bounds() throws {
        let huge = #"{"asset_id":"t1","bids":[{"price":"0.5","size":"999999999999"}],"asks":[],"tick_size":"0.01"}"#
        let long = book(String(repeating: "9", count: 5000), price: "0.5")
        let (books, rejected) = try ClobParser.books(Data("[\(huge),\(long)]".utf8), observedAt: Date())
        #expect(books.isEmpty)
        #expect(rejected.count == 2)
        #expect(rejected.allSatisfy { $0.description.count < 300 }, "reasons stay short: \(rejected)")
        #expect(throws: ParseError.self) { try ClobParser.books(Data("[{\"asset_id\":".utf8), observedAt: Date()) }
    }

    @Test("market strings are bounded where they enter: a huge question is cut, a huge id or endDate rejects the market")
    func marketStrings() throws {
        func market(id: String = "1", question: String = "Q?", end: String = "2030-01-01T00:00:00Z") -> String {
            #"{"id":"\#(id)","question":"\#(question)","endDate":"\#(end)","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"a\",\"b\"]"}"#
        }
        let page = "[\(market(question: String(repeating: "x", count: 2_000_000))),\(market(id: String(repeating: "7", count: 1000))),\(market(id: "3", end: String(repeating: "2", count: 1_000_000)))]"
        let (markets, rejected, _) = try GammaParser.page(Data(page.utf8))
        #expect(markets.count == 1)
        #expect((markets.first?.question.count ?? 0) <= WireLimits.text)
        #expect(rejected.count == 2)
        #expect(rejected.allSatisfy { $0.description.count < 300 }, "reasons stay short")
    }
}
