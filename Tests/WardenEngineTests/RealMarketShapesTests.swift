// Issue 17's real-data quirks in the parsers: protocol-V2 markets, fees by category, tick sizes beyond the
// documented four, and the empty page after a full last page.
import Foundation
import WardenPolymarket
import Testing
import WardenCore
import WardenFakes
import WardenHTTP
@testable import WardenEngine

private func market(_ extra: String) -> String {
    #"{"id":"7","question":"Q?","outcomes":"[\"Yes\",\"No\"]","active":true,"closed":false\#(extra)}"#
}

@Suite("Real market shapes")
struct RealMarketShapesTests {
    @Test("a v2 market with clobTokenIds null is read from positionIds; without either it is named")
    func v2Markets() throws {
        let page = "[\(market(#","version":"v2","clobTokenIds":null,"positionIds":"[\"p1\",\"p2\"]""#)),"
            + "\(market(#","version":"v2","clobTokenIds":null"#)),"
            + "\(market(#","version":"v1","clobTokenIds":"[\"a\",\"b\"]","positionIds":"[\"p3\",\"p4\"]""#))]"
        let (markets, rejected, _) = try GammaParser.page(Data(page.utf8))
        #expect(markets.map { $0.tokens.map(\.tokenID) } == [["p1", "p2"], ["a", "b"]])
        #expect(rejected.count == 1 && rejected[0].reason.contains("v2 market without `positionIds`"), "\(rejected)")
    }

    @Test("fees enabled without a schedule: the category's published rate, a configured one, or named as unknown")
    func categoryFees() throws {
        let page = "[\(market(#","clobTokenIds":"[\"a\",\"b\"]","feesEnabled":true,"feeType":"crypto_fees""#)),"
            + "\(market(#","clobTokenIds":"[\"c\",\"d\"]","feesEnabled":true,"feeType":"esports_fees""#)),"
            + "\(market(#","clobTokenIds":"[\"e\",\"f\"]","feesEnabled":true"#))]"
        let (markets, rejected, _) = try GammaParser.page(Data(page.utf8))
        #expect(markets.count == 1 && markets.first?.fees.rate == 0.072)
        #expect(rejected.map(\.reason).contains { $0.contains("feeType `esports_fees`") && $0.contains("unknown") })
        #expect(rejected.map(\.reason).contains { $0.contains("without a feeSchedule or a feeType") })
        let configured = try GammaParser.page(Data(page.utf8), fees: CategoryFeeRates(["esports": 0.02, "crypto": 0.05]))
        #expect(configured.markets.map(\.fees.rate) == [0.05, 0.02])
    }

    @Test("a finer power-of-ten tick the book states, beyond the documented four, is taken; 0.005 or 0.5 is not")
    func ticks() throws {
        func book(_ tick: String) -> String {
            #"{"asset_id":"t\#(tick)","bids":[{"price":"0.4","size":"10"}],"asks":[{"price":"0.6","size":"10"}],"tick_size":"\#(tick)"}"#
        }
        let (books, rejected) = try ClobParser.books(Data("[\(book("0.005")),\(book("0.00001")),\(book("0.000001")),\(book("0.5"))]".utf8), observedAt: Date())
        #expect(books.map(\.tickSize) == [10, 1])
        #expect(rejected.count == 2)
    }

    @Test("discovery ends at the empty page after a full last page (the fake carries a cursor on a full page, as upstream)")
    func fullLastPage() async throws {
        try await withPolymarket(timeout: .seconds(30)) { _, client in
            // The demo scenario resolves markets as it plays: what was listed both before and after the paged
            // run must be in it once, and it holds nothing that neither listing had.
            var all = MarketFilters()
            all.pageSize = 100
            let before = Set(try await client.discover(all).markets.map(\.id))
            var filters = MarketFilters()
            filters.pageSize = 1
            let found = try await client.discover(filters).markets.map(\.id)
            let after = Set(try await client.discover(all).markets.map(\.id))
            #expect(Set(found).count == found.count, "no market twice: \(found)")
            #expect(before.intersection(after).isSubset(of: Set(found)), "every market listed throughout was paged to: \(found)")
            #expect(Set(found).isSubset(of: before.union(after)), "\(found)")
            #expect(!found.isEmpty)
        }
    }
}
