// Issue 16 #2: the paper venue — takers walk the book as before; resting orders wait at their limit and fill as
// makers when the book crosses them, in time priority, never past the size the book shows; cancels say what
// was never traded.
import Foundation
import Testing
import WardenTestKit
@testable import WardenCore

func resting(_ token: String = "yes", _ side: Side = .buy, limit: Double, shares: Double, id: String, strategy: String = "mm") -> OrderIntent {
    OrderIntent(id: id, strategy: strategy, marketID: "m1", tokenID: token, side: side, kind: side == .buy ? .entry : .exit,
                limitPrice: Fixed.from(limit)!, shares: Fixed.from(shares)!, reason: "quote", timeInForce: .resting)
}

@Suite("Paper venue")
struct PaperVenueTests {
    let spread = book("yes", bids: [(0.40, 100)], asks: [(0.50, 100)])

    @Test("an immediate order fills what crosses and cancels the rest, saying how much never traded")
    func immediate() throws {
        var v = PaperVenue()
        let r = v.handle(.submit(buy(limit: 0.50, shares: 150)), market: market(), book: spread, at: t0)
        guard case .filled(let f, let open) = try #require(r.first) else { Issue.record("\(r)"); return }
        #expect(f.shares == 100 * Fixed.one && open == 0)
        #expect(r.last == .cancelled(intentID: f.intentID, unfilled: 50 * Fixed.one, reason: "no more liquidity within the limit (immediate or cancel)"))
        #expect(v.openOrders.isEmpty)
        let none = v.handle(.submit(buy(limit: 0.45, shares: 10)), market: market(), book: spread, at: t0)
        guard case .rejected(_, let why) = try #require(none.first) else { Issue.record("\(none)"); return }
        #expect(why.contains("no liquidity"))
    }

    @Test("a resting order inside the spread rests; it fills at its own limit when the book crosses it, in parts, then is done")
    func restsThenFills() throws {
        var v = PaperVenue()
        let o = resting(limit: 0.45, shares: 30, id: "q1")
        #expect(v.handle(.submit(o), market: market(), book: spread, at: t0) == [.resting(intentID: "q1", open: 30 * Fixed.one)])
        #expect(v.bookChanged(spread, market: market(), at: t0.addingTimeInterval(1)).isEmpty, "not crossed: nothing")
        // The ask comes down through our bid with 20 shares at or under it: 20 fill at our price, 10 stay.
        let moved = book("yes", bids: [(0.40, 100)], asks: [(0.44, 15), (0.45, 5), (0.46, 100)], at: t0.addingTimeInterval(2))
        let first = v.bookChanged(moved, market: market(), at: t0.addingTimeInterval(2))
        guard case .filled(let f, let open) = try #require(first.first) else { Issue.record("\(first)"); return }
        #expect(f.shares == 20 * Fixed.one && open == 10 * Fixed.one && f.averagePrice == Fixed.from(0.45)! && f.fee == 0, "a maker: its own price, no taker fee")
        #expect(v.openOrders.map(\.open) == [10 * Fixed.one])
        let rest = v.bookChanged(moved, market: market(), at: t0.addingTimeInterval(3))
        guard case .filled(let g, 0) = try #require(rest.first) else { Issue.record("\(rest)"); return }
        #expect(g.shares == 10 * Fixed.one && v.openOrders.isEmpty)
    }

    @Test("a resting order that crosses when sent takes what it can at once and rests the rest")
    func crossingOnArrival() throws {
        var v = PaperVenue()
        let r = v.handle(.submit(resting(limit: 0.50, shares: 130, id: "q2")), market: market(), book: spread, at: t0)
        guard case .filled(let f, let open) = try #require(r.first) else { Issue.record("\(r)"); return }
        #expect(f.shares == 100 * Fixed.one && open == 30 * Fixed.one)
        #expect(r.last == .resting(intentID: "q2", open: 30 * Fixed.one))
    }

    @Test("orders of ours crossed at once share the book's size in time priority")
    func timePriority() throws {
        var v = PaperVenue()
        _ = v.handle(.submit(resting(limit: 0.45, shares: 10, id: "a")), market: market(), book: spread, at: t0)
        _ = v.handle(.submit(resting(limit: 0.45, shares: 10, id: "b")), market: market(), book: spread, at: t0.addingTimeInterval(1))
        let r = v.bookChanged(book("yes", asks: [(0.45, 15)]), market: market(), at: t0.addingTimeInterval(2))
        #expect(r.compactMap { if case .filled(let f, _) = $0 { return "\(f.intentID) \(Fixed.text(f.shares))" } else { return nil } } == ["a 10.00", "b 5.00"])
    }

    @Test("cancel and cancel-all take orders off and say what never traded; a closed market cancels its orders")
    func cancels() throws {
        var v = PaperVenue()
        for (i, side) in [(1, Side.buy), (2, .sell), (3, .buy)] {
            _ = v.handle(.submit(resting(side == .buy ? "yes" : "no", side, limit: side == .buy ? 0.45 : 0.60, shares: 10, id: "o\(i)", strategy: i == 3 ? "other" : "mm")),
                         market: market(), book: side == .buy ? spread : book("no", bids: [(0.50, 10)], asks: [(0.70, 10)]), at: t0)
        }
        #expect(v.openOrders.count == 3)
        #expect(v.handle(.cancel(intentID: "o1", reason: "requote"), market: nil, book: nil, at: t0) == [.cancelled(intentID: "o1", unfilled: 10 * Fixed.one, reason: "requote")])
        #expect(v.handle(.cancel(intentID: "o1", reason: "again"), market: nil, book: nil, at: t0).isEmpty, "a second cancel finds nothing")
        #expect(v.handle(.cancelAll(strategy: "mm", reason: "kill switch"), market: nil, book: nil, at: t0).map(\.intentID) == ["o2"])
        var closed = market()
        closed.closed = true
        #expect(v.bookChanged(spread, market: closed, at: t0) == [.cancelled(intentID: "o3", unfilled: 10 * Fixed.one, reason: "market m1 closed")])
        #expect(v.openOrders.isEmpty)
    }

    @Test("a resting order off the tick or under the minimum is refused as the exchange would")
    func restingChecks() {
        var v = PaperVenue()
        #expect(v.handle(.submit(resting(limit: 0.455, shares: 10, id: "t")), market: market(), book: spread, at: t0).first?.intentID == "t")
        if case .rejected(_, let why) = v.handle(.submit(resting(limit: 0.455, shares: 10, id: "t2")), market: market(), book: spread, at: t0).first {
            #expect(why.contains("not a valid price"))
        } else { Issue.record("accepted off tick") }
        if case .rejected(_, let why) = v.handle(.submit(resting(limit: 0.45, shares: 1, id: "t3")), market: market(), book: spread, at: t0).first {
            #expect(why.contains("below the market minimum"))
        } else { Issue.record("accepted under the minimum") }
        #expect(v.openOrders.isEmpty)
    }

    @Test("the same inputs give the same reports (no clock, no randomness inside)")
    func deterministic() {
        func run() -> [VenueReport] {
            var v = PaperVenue()
            var out = v.handle(.submit(resting(limit: 0.45, shares: 30, id: "d")), market: market(), book: spread, at: t0)
            out += v.bookChanged(book("yes", asks: [(0.44, 12)]), market: market(), at: t0.addingTimeInterval(1))
            out += v.handle(.cancelAll(strategy: nil, reason: "end"), market: nil, book: nil, at: t0.addingTimeInterval(2))
            return out
        }
        #expect(run() == run())
    }

    @Test("fill or kill: the whole size within the limit, or nothing at all (no partial fill, nothing rests)")
    func fillOrKill() throws {
        var v = PaperVenue()
        var o = buy(limit: 0.50, shares: 150)
        o.timeInForce = .fillOrKill
        let r = v.handle(.submit(o), market: market(), book: spread, at: t0)
        guard case .rejected(_, let why) = try #require(r.first), r.count == 1 else { Issue.record("\(r)"); return }
        #expect(why.contains("fill or kill") && why.contains("nothing traded"))
        var whole = buy(limit: 0.50, shares: 100)
        whole.timeInForce = .fillOrKill
        let done = v.handle(.submit(whole), market: market(), book: spread, at: t0)
        guard case .filled(let f, 0) = try #require(done.first), done.count == 1 else { Issue.record("\(done)"); return }
        #expect(f.shares == 100 * Fixed.one && v.openOrders.isEmpty)
    }

    @Test("post-only: refused when it would trade at once, rests when it would not; only with a resting order")
    func postOnly() throws {
        var v = PaperVenue()
        var crossing = resting(limit: 0.50, shares: 10, id: "p1")
        crossing.postOnly = true
        let r = v.handle(.submit(crossing), market: market(), book: spread, at: t0)
        guard case .rejected(_, let why) = try #require(r.first) else { Issue.record("\(r)"); return }
        #expect(why.contains("post-only") && why.contains("0.5000") && v.openOrders.isEmpty)
        var inside = resting(limit: 0.45, shares: 10, id: "p2")
        inside.postOnly = true
        #expect(v.handle(.submit(inside), market: market(), book: spread, at: t0) == [.resting(intentID: "p2", open: 10 * Fixed.one)])
        var taker = buy(limit: 0.50, shares: 10)
        taker.postOnly = true
        guard case .rejected(_, let no) = try #require(v.handle(.submit(taker), market: market(), book: spread, at: t0).first) else { return }
        #expect(no.contains("post-only needs a resting order"))
    }

    @Test("good till date: rests with its expiry; an expiry under a minute ahead (the CLOB's rule) or missing is refused")
    func goodTillDate() throws {
        var v = PaperVenue()
        var soon = resting(limit: 0.45, shares: 10, id: "g1")
        soon.timeInForce = .goodTillDate
        soon.expiresAt = t0.addingTimeInterval(30)
        guard case .rejected(_, let why) = try #require(v.handle(.submit(soon), market: market(), book: spread, at: t0).first) else { return }
        #expect(why.contains("at least 60 s"))
        var none = soon
        none.expiresAt = nil
        guard case .rejected(_, let missing) = try #require(v.handle(.submit(none), market: market(), book: spread, at: t0).first) else { return }
        #expect(missing.contains("needs an expiry"))
        for never in [t0.addingTimeInterval(400 * 86_400), Date(timeIntervalSince1970: .infinity)] {
            var far = soon
            far.expiresAt = never
            guard case .rejected(_, let why) = try #require(v.handle(.submit(far), market: market(), book: spread, at: t0).first) else { return }
            #expect(why.contains("more than a year"), "\(why)")
        }
        var later = soon
        later.expiresAt = t0.addingTimeInterval(120)
        #expect(v.handle(.submit(later), market: market(), book: spread, at: t0) == [.resting(intentID: "g1", open: 10 * Fixed.one)])
        #expect(v.openOrders.first?.intent.expiresAt == t0.addingTimeInterval(120))
    }
}
