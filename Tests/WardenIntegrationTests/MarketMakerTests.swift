// Issue 16 #2/#4: the market maker in a real engine process on the Polymarket fake: quotes rest on the paper
// venue's book, fill as the book crosses them, show on the leaderboard with their open orders, and the kill
// switch takes them off the book at once; the journal audits clean (several fills per resting order allowed).
import Foundation
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit

@Suite("Market maker on the fake", .serialized)
struct MarketMakerTests {
    @Test("quotes rest inside the spread and fill as the book crosses them; leaderboard shows them; the kill switch cancels every open order")
    func quotesFillAndCancel() async throws {
        let fake = try await PolymarketFake.start(.demo(wideMarket: true))
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake, extraEngine: """
          strategies:
            complement_arb: {enabled: false}
            near_resolution: {enabled: false}
            mean_reversion: {enabled: false}
            market_maker: {enabled: true, stop_before_end_hours: 0}
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let resting = try await eventually("a quote resting on the book", within: .seconds(60)) {
            (try await engineStatus(tree))?.accounts?.first { $0.strategy == "market_maker" }.flatMap { ($0.open_orders ?? 0) > 0 ? $0 : nil }
        }
        #expect(resting.enabled)
        let filled = try await eventually("a quote filled as the book crossed it", within: .seconds(120)) {
            (try await engineStatus(tree))?.accounts?.first { $0.strategy == "market_maker" }.flatMap { $0.fills > 0 ? $0 : nil }
        }
        #expect(filled.fills > 0)
        let board = try await wardenctl(tree, "strategies")
        #expect(board.out.contains("ORDERS") && board.out.contains("market_maker"), "\(board.out)")
        let trades = try await wardenctl(tree, "trades", "--csv")
        #expect(trades.out.contains("market_maker"), "\(trades.out)")
        #expect(try await wardenctl(tree, "kill-switch", "on").code == 0)
        let after = try #require(try await engineStatus(tree)?.accounts?.first { $0.strategy == "market_maker" })
        #expect(after.open_orders == 0, "the kill switch takes every open order off the book at once")
        let logs = try await wardenctl(tree, "logs", "engine", "-n", "2000")
        #expect(logs.out.contains("cancelled") && logs.out.contains("kill switch"), "\(logs.out.suffix(2000))")
        await w.stop()
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "\(audit.out)\(audit.err)")
    }
}
