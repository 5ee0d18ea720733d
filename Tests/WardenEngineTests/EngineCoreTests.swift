// The engine core driven directly: hand-made books and strategies, a fixed clock, no process, no journal. What it
// returns is what the engine does; a failed journal write told back puts the order's state back.
import Foundation
import Testing
import WardenCore
import WardenEngine
import WardenHTTP
import WardenTestKit

/// Buys `shares` of `yes` at `price` whenever it holds none and has no open order (resting when `rest`).
private struct Buyer: Strategy {
    var name = "buyer"
    var price: Micros = 500_000
    var shares: Micros = 10 * Fixed.one
    var rest = false
    /// A GTD order good for this long after the cycle that places it (nil: GTC or IOC by `rest`).
    var goodFor: TimeInterval?
    func decide(_ c: StrategyContext) throws -> [StrategyDecision] {
        guard c.positions.isEmpty, c.openOrders.isEmpty else { return [] }
        let tif: TimeInForce = goodFor != nil ? .goodTillDate : rest ? .resting : .immediate
        return [.place(OrderIntent(strategy: name, marketID: c.snapshot.market.id, tokenID: "yes", side: .buy, kind: .entry, limitPrice: price,
                                   shares: shares, reason: "test", timeInForce: tif, expiresAt: goodFor.map { c.snapshot.now.addingTimeInterval($0) }))]
    }
}

private struct Thrower: Strategy {
    var name = "thrower"
    struct Broken: Error {}
    func decide(_ c: StrategyContext) throws -> [StrategyDecision] { throw Broken() }
}

@Suite("Engine core")
struct EngineCoreTests {
    static func core(_ strategies: [any Strategy], errorsMax: Int = 3) throws -> EngineCore {
        var s = EngineSettings()
        s.staleMarketAfter = .seconds(60)
        var c = EngineCore(settings: EngineCore.Settings(staleMarketAfter: 60, strategyErrorsMax: errorsMax, strategyErrorsWindow: 600,
                                                         bankroll: 1_000 * Fixed.one),
                           strategies: strategies, limits: try TradingLimits(s), journalUsable: true, intentIDs: IntentIDs(run: "t"))
        for st in strategies {
            c.accounts[st.name] = Account(strategy: st.name, bankroll: 1_000 * Fixed.one)
            c.health[st.name] = StrategyHealth()
        }
        c.marketBook.discovered([market()]) { _ in false }
        return c
    }

    /// Books of m1 observed at `at`: yes asked at `ask`, no at 0.52.
    static func feed(_ c: inout EngineCore, ask: Double = 0.48, at: Date) {
        c.marketBook.ingest([book("yes", bids: [(ask - 0.02, 100)], asks: [(ask, 100)], at: at), book("no", bids: [(0.50, 100)], asks: [(0.52, 100)], at: at)],
                            requested: ["yes", "no"], observedNoLaterThan: nil)
    }

    static func writes(_ actions: [EngineAction]) -> [JournalWrite] { actions.compactMap { if case .journal(let w) = $0 { w } else { nil } } }

    @Test("an order is its intent's write, the venue request, then the fill with its account, in that order; the account moves")
    func orderActions() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        let actions = c.handle(.tick(.init()), at: t0)
        let w = Self.writes(actions)
        guard case .intent(let i)? = w.first, case .fill(let f, let account, let status, _)? = w.dropFirst().first else {
            Issue.record("expected intent then fill, got \(actions)")
            return
        }
        #expect(i.id == "t-1" && f.intentID == i.id && status == "filled")
        #expect(actions.firstIndex(of: .venue(.submit(i)))! == actions.firstIndex(of: .journal(.intent(i)))! + 1)
        #expect(account.positions["yes"]?.shares == 10 * Fixed.one && c.accounts["buyer"] == account)
        #expect(actions.contains { if case .notice(let n) = $0 { n.kind == .fill } else { false } })
        #expect(Self.writes(c.handle(.tick(.init()), at: t0 + 1)).isEmpty, "holding: nothing more to buy")
    }

    @Test("a failed intent write: the state before the order comes back, storage degrades, nothing is sent until it works")
    func failedIntentWrite() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        let before = c.accounts
        let actions = c.handle(.tick(.init()), at: t0)
        let i = try #require(actions.firstIndex { if case .journal(.intent) = $0 { true } else { false } })
        let after = c.handle(.journalFailed(index: i, error: "disk full"), at: t0)
        #expect(c.accounts == before && c.venue.openOrders.isEmpty && c.liveIntents.isEmpty, "the order never happened")
        #expect(c.storageProblem?.contains("not written ahead") == true && c.control.has(.storageDegraded))
        #expect(after.contains { if case .notice(let n) = $0 { n.key == "storage_degraded" && n.severity == .critical } else { false } })
        let next = c.handle(.tick(.init()), at: t0 + 1)
        #expect(Self.writes(next).isEmpty && !next.contains { if case .venue = $0 { true } else { false } }, "nothing written ahead, nothing sent")
        _ = c.handle(.storageRecovered, at: t0 + 2)
        let resumed = Self.writes(c.handle(.tick(.init()), at: t0 + 3))
        #expect(resumed.contains { if case .intent(let i) = $0 { i.id == "t-2" } else { false } }, "ids are never reused: t-1 may be in the journal")
    }

    @Test("storage failing while the driver performs the list (an alert not persisted) does not lose the undo of a write failing after it")
    func failureWhilePerforming() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        let before = c.accounts
        let actions = c.handle(.tick(.init()), at: t0)
        let i = try #require(actions.firstIndex { if case .journal(.intent) = $0 { true } else { false } })
        let first = c.handle(.storageFailed("alert not persisted: database is locked"), at: t0)
        let undone = c.handle(.journalFailed(index: i, error: "database is locked"), at: t0)
        #expect(c.accounts == before && c.liveIntents.isEmpty, "the order is undone all the same")
        #expect(Self.said(first, "storage_degraded", .paused) != nil && Self.said(undone, "storage_degraded", .paused) == nil,
                "storage degraded said once")
        #expect(c.control.has(.storageDegraded) && c.storageProblem?.contains("not written ahead") == true)
    }

    @Test("a failed fill write voids the paper fill: the account is as before the order")
    func failedFillWrite() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        let before = c.accounts["buyer"]
        let actions = c.handle(.tick(.init()), at: t0)
        let f = try #require(actions.firstIndex { if case .journal(.fill) = $0 { true } else { false } })
        _ = c.handle(.journalFailed(index: f, error: "disk full"), at: t0)
        #expect(c.accounts["buyer"] == before && c.storageProblem?.contains("void") == true)
    }

    @Test("a resting order rests (its write), then fills as a maker when a fresh book crosses it, in its own undoable group")
    func restingThenFilled() throws {
        var c = try Self.core([Buyer(price: 400_000, rest: true)])
        Self.feed(&c, ask: 0.48, at: t0)
        let placed = Self.writes(c.handle(.tick(.init()), at: t0))
        #expect(placed.count == 2 && placed.last == .resting(intentID: "t-1") && c.venue.openOrders.count == 1)
        Self.feed(&c, ask: 0.40, at: t0 + 5)
        let before = c.accounts["buyer"]
        let actions = c.handle(.tick(.init()), at: t0 + 5)
        let fill = try #require(actions.firstIndex { if case .journal(.fill(let f, _, "filled", _)) = $0 { f.intentID == "t-1" } else { false } })
        #expect(c.venue.openOrders.isEmpty && c.accounts["buyer"]?.positions["yes"]?.shares == 10 * Fixed.one)
        _ = c.handle(.journalFailed(index: fill, error: "locked"), at: t0 + 5)
        #expect(c.accounts["buyer"] == before && c.venue.openOrders.count == 1, "unrecorded, the fill is undone and the order rests again")
    }

    @Test("a GTD order rests with its expiry and is taken off the book once it passes, its end written and said")
    func goodTillDateExpires() throws {
        var c = try Self.core([Buyer(price: 400_000, goodFor: 70)])
        // Books that keep moving (an unchanging one pauses the market, which would cancel the order for another reason).
        func feed(_ k: Double, at: Date) {
            c.marketBook.ingest([book("yes", bids: [(0.46 - k, 100)], asks: [(0.48 - k, 100)], at: at), book("no", bids: [(0.50 - k, 100)], asks: [(0.52 - k, 100)], at: at)],
                                requested: ["yes", "no"], observedNoLaterThan: nil)
        }
        feed(0, at: t0)
        let placed = Self.writes(c.handle(.tick(.init()), at: t0))
        guard case .intent(let i)? = placed.first else { Issue.record("\(placed)"); return }
        #expect(i.timeInForce == .goodTillDate && i.expiresAt == t0 + 70 && c.venue.openOrders.count == 1)
        feed(0.01, at: t0 + 30)
        _ = c.handle(.tick(.init()), at: t0 + 30)
        #expect(c.venue.openOrders.count == 1, "not yet expired")
        feed(0.02, at: t0 + 71)
        let actions = c.handle(.tick(.init()), at: t0 + 71)
        let ended = Self.writes(actions).contains { if case .finish("t-1", "cancelled", let note) = $0 { note.hasPrefix("expired") } else { false } }
        #expect(ended && !c.venue.openOrders.contains { $0.intent.id == "t-1" }, "\(actions)")
    }

    @Test("a strategy that keeps throwing is disabled, said once as critical; the others go on trading")
    func disablement() throws {
        var c = try Self.core([Thrower(), Buyer()], errorsMax: 2)
        Self.feed(&c, at: t0)
        let first = c.handle(.tick(.init()), at: t0)
        #expect(Self.writes(first).contains { if case .intent = $0 { true } else { false } }, "the buyer trades")
        let second = c.handle(.tick(.init()), at: t0 + 1)
        #expect(c.health["thrower"]?.isDisabled == true)
        #expect(second.contains { if case .notice(let n) = $0 { n.key == "strategy_disabled:thrower" && n.severity == .critical } else { false } })
        let third = c.handle(.tick(.init()), at: t0 + 2)
        #expect(!third.contains { if case .notice(let n) = $0 { n.key.hasSuffix("thrower") } else { false } }, "disabled: not run again")
    }

    @Test("the kill switch and operator pauses: resting orders cancelled with their ends written; no entries while paused")
    func cancelAllAndPause() throws {
        var c = try Self.core([Buyer(price: 400_000, rest: true)])
        Self.feed(&c, at: t0)
        _ = c.handle(.tick(.init()), at: t0)
        let cancelled = Self.writes(c.handle(.cancelAll(reason: "kill switch by test"), at: t0 + 1))
        #expect(cancelled == [.finish(intentID: "t-1", status: "cancelled", note: "kill switch by test")] && c.venue.openOrders.isEmpty)
        let on = c.handle(.operatorSwitch(.killSwitch, on: true, author: "test", what: "kill switch"), at: t0 + 1)
        #expect(on.contains(.reply("kill switch on")) && Self.writes(on).contains { if case .reasons(let r) = $0 { r.has(.killSwitch) } else { false } },
                "the switch is stored (it outlives a restart)")
        #expect(Self.writes(c.handle(.tick(.init()), at: t0 + 2)).filter { if case .intent = $0 { true } else { false } }.isEmpty,
                "no entries while the kill switch is on")
        #expect(c.handle(.operatorSwitch(.killSwitch, on: false, author: "test", what: "kill switch"), at: t0 + 3).contains(.reply("kill switch off")))
        // A pause for 60 s: entries stop, and it ends by itself, said with its duration.
        let paused = c.handle(.pause(reason: "news at noon", author: "ops", expiresIn: 60), at: t0 + 10)
        #expect(paused.contains(.reply("paused by ops")) && c.control.effective == .PAUSED)
        #expect(c.handle(.resume(author: "ops"), at: t0 + 11).contains(.reply("resumed by ops")))
        #expect(c.handle(.resume(author: "ops"), at: t0 + 12).contains(.reply("not paused by an operator")))
        _ = c.handle(.pause(reason: "lunch", author: "ops", expiresIn: 60), at: t0 + 20)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 81), "operator_pause", .resumed)?.duration == 61, "expired, said with how long it lasted")
    }

    @Test("books not trusted by the feed, or observed before a stall, are not traded on")
    func observations() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        #expect(Self.writes(c.handle(.tick(.init(awaitingSnapshot: ["yes": t0])), at: t0)).isEmpty)
        #expect(Self.writes(c.handle(.tick(.init(booksValidFrom: t0 + 1)), at: t0 + 1)).isEmpty)
        #expect(Self.writes(c.handle(.tick(.init()), at: t0 + 61)).isEmpty, "older than stale_market_after")
        #expect(!Self.writes(c.handle(.tick(.init()), at: t0 + 2)).isEmpty)
    }

    @Test("determinism: the same inputs at the same times give the same actions, twice over")
    func determinism() throws {
        func run() throws -> [EngineAction] {
            var c = try Self.core([Buyer(price: 400_000, rest: true), Buyer(name: "taker", price: 500_000, shares: 7 * Fixed.one)])
            var all: [EngineAction] = []
            for (n, ask) in [0.48, 0.45, 0.41, 0.39, 0.44].enumerated() {
                let at = t0 + Double(n * 5)
                Self.feed(&c, ask: ask, at: at)
                all += c.handle(.tick(.init()), at: at)
            }
            all += c.handle(.flatten(marketID: nil, author: "test", .init()), at: t0 + 30)
            return all
        }
        let (a, b) = (try run(), try run())
        #expect(a.count > 6 && a == b)
    }

    static func said(_ actions: [EngineAction], _ key: String, _ kind: EventKind) -> EngineNotice? {
        for case .notice(let n) in actions where n.key == key && n.kind == kind { return n }
        return nil
    }

    @Test("degradation rows: data age, disk, a market's unchanging book, API health, the market WebSocket; each raised once, cleared with its duration")
    func degradation() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        // Data older than stale_data_after (30 s): paused everywhere, no entry; fresh again: resumed with the duration.
        var stale = c.handle(.tick(.init(dataGoodSince: t0 - 31, dataProblem: "timeout")), at: t0)
        #expect(Self.said(stale, "data_stale", .paused)?.severity == .critical && c.control.effective == .PAUSED)
        #expect(Self.writes(stale).isEmpty, "no entries while the data is stale")
        stale = c.handle(.tick(.init(dataGoodSince: t0 - 32)), at: t0 + 1)
        #expect(Self.said(stale, "data_stale", .paused) == nil, "said once")
        let fresh = c.handle(.tick(.init(dataGoodSince: t0 + 1)), at: t0 + 2)
        #expect(Self.said(fresh, "data_stale", .resumed)?.duration == 33 && !c.control.has(.dataStale))
        // The disk below min_free_percent, then back.
        #expect(Self.said(c.handle(.tick(.init(diskFreePercent: 2, diskPlace: "/var/lib/warden")), at: t0 + 3), "disk_low", .paused) != nil)
        #expect(c.control.reasons.first { $0.code == .diskLow }?.message.contains("/var/lib/warden") == true)
        #expect(Self.said(c.handle(.tick(.init(diskFreePercent: 40)), at: t0 + 4), "disk_low", .resumed) != nil)
        // m1's books unchanged past stale_market_after (60 s): m1 alone paused; a change resumes it.
        let frozen = c.handle(.tick(.init()), at: t0 + 61)
        #expect(Self.said(frozen, "market_stale:m1", .paused) != nil && c.control.has(.marketStale, marketID: "m1"))
        Self.feed(&c, ask: 0.47, at: t0 + 62)
        #expect(c.control.has(.marketStale, marketID: "m1"), "one outcome's book moved, the other's has not: still paused")
        c.marketBook.ingest([book("no", bids: [(0.51, 100)], asks: [(0.53, 100)], at: t0 + 62)], requested: ["no"], observedNoLaterThan: nil)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 62), "market_stale:m1", .resumed) != nil)
        // The API health guard: half the recent requests failed; paused for the cooldown, which then expires.
        var h = HostStats(host: "clob.example")
        h.recentRequests = 20
        h.recentErrorRate = 0.5
        let tripped = c.handle(.tick(.init(hosts: [h])), at: t0 + 63)
        #expect(Self.said(tripped, "api_health", .paused) != nil)
        #expect(c.control.reasons.first { $0.code == .apiHealth }?.expiresAt == t0 + 63 + 300)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 364), "api_health", .resumed) != nil, "the cooldown ends by itself")
        // The market WebSocket past its attempts: entries paused everywhere while it retries; connected again, resumed.
        let down = c.handle(.feedGaveUp(connection: 2, attempts: 10, reason: "connection refused"), at: t0 + 400)
        #expect(Self.said(down, "market_ws_down", .paused)?.severity == .critical && c.control.effective == .PAUSED)
        #expect(Self.said(c.handle(.feedUp, at: t0 + 430), "market_ws_down", .resumed)?.duration == 30)
    }

    @Test("a held market the snapshot gives no book for is said once, and said again when its book is back")
    func heldWithoutBook() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        _ = c.handle(.tick(.init()), at: t0)
        #expect(c.holds(marketID: "m1"))
        c.marketBook.ingest([book("no", bids: [(0.5, 100)], asks: [(0.52, 100)], at: t0 + 1)], requested: ["yes", "no"], observedNoLaterThan: nil)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 1), "no_book:m1", .data)?.severity == .warning)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 2), "no_book:m1", .data) == nil, "once")
        Self.feed(&c, at: t0 + 3)
        #expect(Self.said(c.handle(.tick(.init()), at: t0 + 3), "no_book:m1", .resumed) != nil)
    }

    @Test("settlement: a resolved market pays its holders once, each payout a barrier write; a failed write is undone and paid later")
    func settlement() throws {
        var c = try Self.core([Buyer()])
        Self.feed(&c, at: t0)
        _ = c.handle(.tick(.init()), at: t0)
        let cash = try #require(c.accounts["buyer"]?.cash)
        var m = market()
        m.closed = true
        m.winningTokenID = "yes"
        c.marketBook.update(m)
        let first = c.handle(.settle, at: t0 + 10)
        let paid = Self.writes(first)
        guard case .settlement("buyer", "m1", "yes", let payout, let account)? = paid.first, paid.count == 1 else {
            Issue.record("expected one settlement write, got \(first)")
            return
        }
        #expect(payout == 10 * Fixed.one && account.positions.isEmpty && c.accounts["buyer"]?.cash == cash + payout)
        _ = c.handle(.journalFailed(index: first.firstIndex { if case .journal(.settlement) = $0 { true } else { false } }!, error: "disk full"), at: t0 + 10)
        #expect(c.accounts["buyer"]?.cash == cash && c.accounts["buyer"]?.positions["yes"] != nil, "undone: the holding is still there")
        #expect(Self.writes(c.handle(.settle, at: t0 + 11)).isEmpty, "nothing paid while storage fails")
        _ = c.handle(.storageRecovered, at: t0 + 12)
        #expect(Self.writes(c.handle(.settle, at: t0 + 13)).count == 1)
        #expect(Self.writes(c.handle(.settle, at: t0 + 14)).isEmpty, "never twice")
    }
}
