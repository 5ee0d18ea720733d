// The market book as a pure component: snapshots replace books (a token left out has none), content decides
// what changed, the book's tick wins over the listing's, deltas move held books only, held markets stay followed.
import Foundation
import Testing
import WardenCore
import WardenEngine
import WardenTestKit

@Suite("Market book")
struct MarketBookTests {
    static func binary(_ id: String, closed: Bool = false) -> Market {
        Market(id: id, tokens: [OutcomeToken(tokenID: id + "y", outcome: "Yes"), OutcomeToken(tokenID: id + "n", outcome: "No")], closed: closed)
    }

    static func book(_ token: String, bid: Micros, ask: Micros, at: Date, tick: Micros = 10_000, hash: String? = nil) -> OrderBook {
        OrderBook(tokenID: token, bids: [BookLevel(price: bid, size: 100 * Fixed.one)], asks: [BookLevel(price: ask, size: 100 * Fixed.one)],
                  tickSize: tick, minOrderSize: 5 * Fixed.one, bookTime: nil, observedAt: at, hash: hash ?? "\(bid)-\(ask)")
    }

    @Test("a snapshot replaces the books it holds; a token it leaves out has no book, and its market is 'no book'")
    func snapshot() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1"), Self.binary("m2"), Self.binary("m3", closed: true)]) { _ in false }
        let open = mb.openTokens()
        #expect(Set(open) == ["m1y", "m1n", "m2y", "m2n"], "closed markets are not asked for")
        mb.ingest([Self.book("m1y", bid: 400_000, ask: 420_000, at: t0), Self.book("m1n", bid: 580_000, ask: 600_000, at: t0),
                   Self.book("m2y", bid: 100_000, ask: 120_000, at: t0), Self.book("m2n", bid: 100_000, ask: 120_000, at: t0)],
                  requested: open, observedNoLaterThan: nil)
        #expect(mb.books.count == 4 && mb.noBookMarkets.isEmpty)
        mb.ingest([Self.book("m1y", bid: 400_000, ask: 420_000, at: t0 + 1), Self.book("m1n", bid: 580_000, ask: 600_000, at: t0 + 1),
                   Self.book("m2y", bid: 100_000, ask: 120_000, at: t0 + 1)], requested: open, observedNoLaterThan: nil)
        #expect(mb.books["m2n"] == nil, "never the old book of a token the snapshot left out")
        #expect(mb.noBookMarkets == ["m2"] && mb.snapshotTokens == ["m1y", "m1n", "m2y"])
        let tradable = mb.tradable(at: t0) { _ in true }.map(\.market.id)
        #expect(tradable == ["m1"], "a market is tradable only with a book for every outcome")
    }

    @Test("books answered out of the order asked, or with one left out, land on their own tokens; the snapshots strategies get are values")
    func outOfOrder() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1"), Self.binary("m2"), Self.binary("m3")]) { _ in false }
        let open = mb.openTokens()
        let answer = [Self.book("m1y", bid: 100_000, ask: 120_000, at: t0), Self.book("m2y", bid: 200_000, ask: 220_000, at: t0),
                      Self.book("m1n", bid: 300_000, ask: 320_000, at: t0), Self.book("m3n", bid: 400_000, ask: 420_000, at: t0),
                      Self.book("m3y", bid: 500_000, ask: 520_000, at: t0)]
        mb.ingest(answer, requested: open, observedNoLaterThan: nil)
        for b in answer { #expect(mb.books[b.tokenID]?.bestBid == b.bestBid, "\(b.tokenID)") }
        #expect(mb.books["m2n"] == nil && mb.noBookMarkets == ["m2"])
        let shown = mb.tradable(at: t0) { _ in true }
        #expect(shown.map(\.market.id) == ["m1", "m3"])
        #expect(shown[1].books.best("m3y")?.bid == 500_000 && shown[1].books["m3n"]?.bestAsk == 420_000 && shown[1].books.keys == ["m3y", "m3n"])
        // What a strategy was shown does not move when the book does, nor the book when a copy is changed.
        var kept = shown[0]
        mb.ingest([Self.book("m1y", bid: 150_000, ask: 160_000, at: t0 + 1)], requested: ["m1y"], observedNoLaterThan: nil)
        #expect(kept.books["m1y"]?.bestBid == 100_000 && mb.books["m1y"]?.bestBid == 150_000)
        kept.books["m1y"]?.apply(.bid, price: 110_000, size: Fixed.one)
        #expect(kept.books["m1y"]?.bestBid == 110_000 && kept.books.best("m1y")?.bid == 110_000 && shown[0].books["m1y"]?.bestBid == 100_000)
        kept.market.question = "changed"
        #expect(shown[0].market.question == "" && kept.market.id == "m1")
    }

    @Test("an unchanged book keeps the time its content last changed; a changed one takes its observation time")
    func changedAt() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1")]) { _ in false }
        let tokens = mb.openTokens()
        mb.ingest([Self.book("m1y", bid: 400_000, ask: 420_000, at: t0)], requested: tokens, observedNoLaterThan: nil)
        mb.ingest([Self.book("m1y", bid: 400_000, ask: 420_000, at: t0 + 30)], requested: tokens, observedNoLaterThan: nil)
        #expect(mb.books["m1y"]?.changedAt == t0 && mb.books["m1y"]?.observedAt == t0 + 30)
        #expect(mb.oldestChange(of: Self.binary("m1")) == t0)
        mb.ingest([Self.book("m1y", bid: 410_000, ask: 420_000, at: t0 + 60)], requested: tokens, observedNoLaterThan: nil)
        #expect(mb.books["m1y"]?.changedAt == t0 + 60)
        // A fetch begun before a stall is as old as its start.
        mb.ingest([Self.book("m1y", bid: 420_000, ask: 430_000, at: t0 + 90)], requested: tokens, observedNoLaterThan: t0 + 70)
        #expect(mb.books["m1y"]?.observedAt == t0 + 70)
    }

    @Test("the book's tick size and minimum win over the listing's; mids are kept up to the history length")
    func ticksAndMids() {
        var mb = MarketBook(historyLength: 10)
        mb.discovered([Self.binary("m1")]) { _ in false }
        for i in 0..<12 {
            mb.ingest([Self.book("m1y", bid: 400_000 + Micros(i) * 1_000, ask: 420_000 + Micros(i) * 1_000, at: t0 + Double(i), tick: 1_000)],
                      requested: ["m1y"], observedNoLaterThan: nil)
        }
        #expect(mb.markets["m1"]?.tickSize == 1_000)
        #expect(mb.midHistory["m1y"]?.count == 10 && mb.midHistory["m1y"]?.last == 421_000, "the newest ten mids")
    }

    @Test("deltas move only books held; a tick-size change drops the book; tokens name their market")
    func deltas() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1")]) { _ in false }
        mb.ingest([Self.book("m1y", bid: 400_000, ask: 420_000, at: t0)], requested: ["m1y"], observedNoLaterThan: nil)
        let moved = mb.apply(.bid, token: "m1y", price: 410_000, size: 5 * Fixed.one, hash: "h2", at: t0 + 2)
        #expect(moved)
        #expect(mb.books["m1y"]?.bestBid == 410_000 && mb.books["m1y"]?.changedAt == t0 + 2 && mb.books["m1y"]?.hash == "h2")
        let unheld = mb.apply(.bid, token: "m1n", price: 410_000, size: 5 * Fixed.one, hash: nil, at: t0 + 2)
        #expect(!unheld, "no book to move")
        #expect(mb.marketID(of: "m1n") == "m1" && mb.marketID(of: "zz") == nil)
        mb.drop(token: "m1y")
        #expect(mb.books["m1y"] == nil)
    }

    @Test("a market a discovery no longer lists stays followed while it is held, and is forgotten otherwise")
    func heldStay() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1"), Self.binary("m2")]) { _ in false }
        mb.discovered([Self.binary("m3")]) { $0 == "m1" }
        #expect(mb.markets.keys.sorted() == ["m1", "m3"] && mb.marketID(of: "m1y") == "m1" && mb.marketID(of: "m2y") == nil)
        var a = Account(strategy: "s", bankroll: 100 * Fixed.one)
        a.positions["m1y"] = Position(marketID: "m1", tokenID: "m1y", shares: Fixed.one, costBasis: 400_000, openedAt: t0)
        mb.ingest([Self.book("m1y", bid: 450_000, ask: 460_000, at: t0)], requested: ["m1y"], observedNoLaterThan: nil)
        #expect(mb.marks([a]) == ["m1y": 450_000], "held tokens are marked at their best bid")
    }

    @Test("an answer in another order than asked: missing tokens are still found; a market no longer followed takes its book and mids with it")
    func outOfOrderAndForgotten() {
        var mb = MarketBook(historyLength: 3)
        mb.discovered([Self.binary("m1"), Self.binary("m2")]) { _ in false }
        let open = mb.openTokens()
        mb.ingest([Self.book("m2n", bid: 100_000, ask: 120_000, at: t0), Self.book("m1n", bid: 580_000, ask: 600_000, at: t0),
                   Self.book("m1y", bid: 400_000, ask: 420_000, at: t0)], requested: open, observedNoLaterThan: nil)
        #expect(mb.noBookMarkets == ["m2"] && mb.book("m2y") == nil && mb.book("m2n")?.bestBid == 100_000)
        #expect(mb.answered("m1y") && !mb.answered("m2y"))
        let shown = mb.tradable(at: t0) { _ in true }
        #expect(shown.map(\.market.id) == ["m1"])
        #expect(shown.first?.books["m1n"]?.bestAsk == 600_000 && shown.first?.midHistory["m1y"] == [410_000],
                "a strategy reads its market's books and mids by token")
        mb.discovered([Self.binary("m2")]) { _ in false }
        #expect(mb.book("m1y") == nil && mb.mids("m1y").isEmpty && mb.book("m2n")?.bestBid == 100_000,
                "m1 forgotten with its book; m2 keeps its own")
    }
}
