// The engine's side of the live venue: requests handed to the driver once their intent is on disk, its answers fed
// back to the core, the heartbeat watched (fail closed), reconciliation at start, after the heartbeat recovers and on
// a timer, and what every surface says about it (status, `wardenctl orders`, alerts).
public import Foundation
public import ServiceLifecycle
import WardenCore
public import WardenIPC
import Logging
import WardenKit
public import WardenPolymarket

/// How often the live venue is heartbeaten and reconciled.
public struct LiveTimes: Sendable {
    public var heartbeatEvery: Duration = .seconds(5)
    /// No heartbeat accepted this long: unhealthy.
    public var heartbeatBound: TimeInterval = 15
    public var reconcileEvery: Duration = .seconds(30)
    /// Reconciliations failing in a row before the venue counts as unhealthy (its reads failing).
    public var reconcileFailuresMax = 3
    /// Reconciliations in a row with drift before reduce-only (seed 004: 3 detections).
    public var driftMax = 3
    public init() {}
}

/// What has been said about the venue already (each foreign order, each failed trade once).
struct LiveWatch {
    var foreignReported: Set<String> = []
    var foreignNow = 0
    /// Live trades booked and not confirmed yet, and of them RETRYING, as of the last reconciliation.
    var settling = 0
    var retrying = 0
    /// Per-IP calls left per endpoint class (the tightest window), as of the last health check.
    var ipRemaining: [String: Int]?
    var reconciling = false
    var reconcileAgain = false
    /// Since when the user channel is down (nil: up, or never connected).
    var userDownSince: Date?
    /// Reconciliations in a row that found what they cannot settle.
    var driftCount = 0
    var reconcileFailures = 0
    var reconcileError: String?
    var heartbeatOK: Date?
    var reconciled: Date?
    var remaining: Int?
    /// How long the last submission took, request to answer.
    var lastSubmit: Duration?
}

extension TradingEngine {
    /// Makes `strategies` trade on `venue` with `caps`; before `recover()`, which loads the live orders left open.
    public func attachLive(_ venue: LiveVenue, strategies: Set<String>, caps: LiveCaps, times: LiveTimes = LiveTimes(), userChannel: UserChannel? = nil) {
        liveVenue = venue
        self.userChannel = userChannel
        liveTimes = times
        core.live = LiveBook(strategies: strategies, caps: caps)
        // Nothing goes until the first heartbeat is accepted (fail closed from the start).
        core.live.problem = LiveBook.startProblem
    }

    /// Live orders left open by the last run: one never posted (no venue id written) is abandoned; one that may have
    /// been posted is unknown until reconciliation finds it or rules it out. Trades already booked are not again.
    func recoverLive(_ now: Date) async throws {
        guard let journal else { return }
        core.live.booked = try journal.bookedTrades()
        var unknown = 0
        for o in try journal.liveOrders() {
            guard let orderID = o.orderID else {
                try journal.finishIntent(o.intent.id, status: "abandoned", note: "engine restarted before the order was signed and sent; never on the venue", at: now)
                continue
            }
            let state: VenueOrderState = o.state == .pending ? .unknown : o.state
            if state == .unknown { unknown += 1 }
            core.live.orders[o.intent.id] = LiveOrder(intent: o.intent, orderID: orderID, state: state, filled: o.filled, since: o.since,
                                                       note: state == .unknown ? "outcome unknown after a restart" : "")
            core.liveIntents[o.intent.id] = o.intent
        }
        if hooks.crashAfterPost, unknown == 0, let live = liveVenue {
            // Test hook (F47): die right after the venue answers the first post, before the answer is recorded.
            let log = logger
            await live.setAfterPost {
                log.critical("test hook crash_after_post: killing the engine after the venue answered an order")
                kill(getpid(), SIGKILL)
            }
        }
        if unknown > 0 {
            emit(key: "orders_unknown_at_start", kind: .recovery, severity: .critical,
                 message: "\(unknown) live orders may have been sent just before the last stop: UNKNOWN until reconciliation finds them or rules them out; never re-sent")
        }
    }

    /// Hands the live requests of a performed list to the driver (paper ones were answered in the core).
    func dispatchLive(_ requests: [VenueRequest]) {
        guard let live = liveVenue else { return }
        let orders = core.live.orders
        for request in requests {
            var market: Market? = nil
            switch request {
            case .submit(let i):
                guard orders[i.id] != nil else { continue }
                market = markets[i.marketID]
            case .cancel(let id, _):
                guard orders[id] != nil else { continue }
            case .cancelAll: break
            }
            let started = ContinuousClock.now
            let forMarket = market
            Task {
                let reports = await live.perform(request, market: forMarket, orders: orders)
                await self.venueAnswered(reports, to: request, took: ContinuousClock.now - started)
            }
        }
    }

    func venueAnswered(_ reports: [VenueReport], to request: VenueRequest, took: Duration) async {
        let now = clock()
        if !reports.isEmpty { perform(core.handle(.venueReports(reports), at: now), now: now) }
        if case .submit = request {
            liveWatch.lastSubmit = took
            await checkVenueHealth()
        }
        guard case .cancelAll(_, let reason) = request, let live = liveVenue else { return }
        // The kill switch is verified by reading the venue's open orders back.
        guard let left = await live.openOrderIDs() else {
            return emit(key: "cancel_all_verify", kind: .venue, severity: .critical,
                        message: "cancel-all (\(reason)): the venue's open orders could not be read back; reconciliation retries")
        }
        let ours = Set(core.live.orders.values.compactMap(\.orderID))
        let still = left.intersection(ours)
        if still.isEmpty {
            emit(key: "cancel_all_verify", kind: .venue, severity: .info,
                 message: "cancel-all (\(reason)) verified: none of Warden's orders is open on the venue", alert: false)
        } else {
            emit(key: "cancel_all_verify", kind: .venue, severity: .critical,
                 message: "cancel-all (\(reason)): \(still.count) of Warden's orders still open on the venue after cancelling")
        }
        await reconcileLive()
    }

    /// One heartbeat; the venue's health goes to the core (new orders stop while it is unhealthy). When it recovers,
    /// the open orders are re-read (the venue may have cancelled them all meanwhile).
    public func heartbeatLive() async {
        guard let live = liveVenue else { return }
        await live.heartbeat()
        liveWatch.heartbeatOK = await live.lastHeartbeatOK
        await checkVenueHealth()
    }

    /// What the driver saw, to the core: whether new live orders may go, and the venue-wide conditions (cancel-only).
    func checkVenueHealth() async {
        guard let live = liveVenue else { return }
        liveWatch.remaining = await live.rateLimit?.remaining
        liveWatch.ipRemaining = await live.ipBudgetRemaining()
        let cancelOnly = await live.cancelOnly()
        if (cancelOnly != nil) != core.control.has(.venueCancelOnly) {
            let at = clock()
            perform(core.handle(.venueCondition(.venueCancelOnly, bad: cancelOnly != nil, detail: cancelOnly ?? "", count: 1), at: at), now: at)
        }
        var problem = await live.problem(heartbeatBound: liveTimes.heartbeatBound)
        if problem == nil, liveWatch.reconcileFailures >= liveTimes.reconcileFailuresMax, let e = liveWatch.reconcileError {
            problem = "venue reads failing (\(liveWatch.reconcileFailures) reconciliations in a row): \(e)"
        }
        let wasUnhealthy = core.live.problem != nil
        let now = clock()
        perform(core.handle(.venueHealth(problem: problem), at: now), now: now)
        if wasUnhealthy, problem == nil { await reconcileLive() }
    }

    /// Open orders and trades read back and compared with the journal's (booked once, found or ruled out). One at a
    /// time: asked while one runs (a channel event, the timer), it runs once more after it.
    public func reconcileLive() async {
        guard liveVenue != nil else { return }
        if liveWatch.reconciling { liveWatch.reconcileAgain = true; return }
        liveWatch.reconciling = true
        defer { liveWatch.reconciling = false }
        repeat {
            liveWatch.reconcileAgain = false
            await reconcileOnce()
        } while liveWatch.reconcileAgain
    }

    func reconcileOnce() async {
        guard let live = liveVenue else { return }
        do {
            let r = try await live.reconcile(orders: core.live.orders, booked: core.live.booked, markets: markets)
            if core.control.has(.venueReads) {
                let at = clock()
                perform(core.handle(.venueCondition(.venueReads, bad: false, detail: "", count: 0), at: at), now: at)
            }
            liveWatch.reconcileFailures = 0
            liveWatch.reconcileError = nil
            let now = clock()
            liveWatch.reconciled = now
            if !r.reports.isEmpty { perform(core.handle(.venueReports(r.reports), at: now), now: now) }
            // An open order tagged with an intent the journal has as ended is ours and should not be there: drift
            // (cancelled now); one whose tag the journal does not know is not Warden's: reported, never touched.
            var drift = r.mismatches
            var foreign: [ClobOpenOrder] = []
            var strays: [String] = []
            for o in r.foreign {
                if let tag = LiveVenue.tag(o.metadata), let status = try journal?.intentStatus(tag) {
                    drift.append("order \(o.id) of intent \(tag) is open on the venue, the journal has it \(status)")
                    strays.append(o.id)
                } else {
                    foreign.append(o)
                }
            }
            if !strays.isEmpty {
                let cancelled = await live.cancel(orderIDs: strays)
                // Not cancelled: the drift stays (counted, escalated); why is said with it.
                for (id, why) in cancelled.failed.sorted(by: { $0.key < $1.key }) { drift.append("cancel of \(id) failed: \(why)") }
            }
            liveWatch.driftCount = drift.isEmpty ? 0 : liveWatch.driftCount + 1
            if drift.isEmpty || liveWatch.driftCount >= liveTimes.driftMax {
                let at = clock()
                perform(core.handle(.reconcileDrift(detail: drift.isEmpty ? nil : drift.prefix(3).joined(separator: "; "), count: liveWatch.driftCount), at: at), now: at)
            }
            liveWatch.foreignNow = foreign.count
            for o in foreign where !liveWatch.foreignReported.contains(o.id) {
                liveWatch.foreignReported.insert(o.id)
                emit(key: "foreign_order:\(o.id)", kind: .venue, severity: .warning,
                     message: "order \(o.id) on the wallet is not Warden's (\(o.side) \(o.originalSize) of \(o.tokenID) at \(o.price)): reported, never adopted or cancelled")
            }
            do {
                try journal?.setSettlements(r.settlement)
                let counts = try journal?.settlingCounts() ?? (settling: 0, retrying: 0)
                liveWatch.settling = counts.settling
                liveWatch.retrying = counts.retrying
            } catch {
                emit(key: "settlement_write", kind: .venue, severity: .warning,
                     message: "settlement statuses of live trades not written to the journal: \(error) (shown as last written until it works)")
            }
            for t in r.failedTrades {
                guard let journal, let booked = try journal.fill(venueTradeID: t.id), !booked.voided else { continue }
                let at = clock()
                perform(core.handle(.voidFill(booked.fill, reason: "the venue reports trade \(t.id) \(t.status)"), at: at), now: at)
            }
        } catch {
            liveWatch.reconcileFailures += 1
            liveWatch.reconcileError = "\(error)"
            if liveWatch.reconcileFailures >= liveTimes.reconcileFailuresMax {
                let at = clock()
                perform(core.handle(.venueCondition(.venueReads, bad: true, detail: "\(error)", count: liveWatch.reconcileFailures), at: at), now: at)
            }
            emit(key: "reconcile_failed", kind: .venue, severity: liveWatch.reconcileFailures >= liveTimes.reconcileFailuresMax ? .critical : .warning,
                 message: "reconciliation with the venue failed (\(liveWatch.reconcileFailures) in a row): \(error)",
                 alert: liveWatch.reconcileFailures == liveTimes.reconcileFailuresMax)
        }
    }

    /// Shadow mode for `strategies` (paper strategies whose orders are also signed and journaled, never sent).
    public func setShadow(_ signer: IntentSigner, strategies: Set<String>) {
        shadowSigner = signer
        core.shadow = strategies
    }

    /// Shadow mode: the live order of a paper intent built, signed and journaled (never sent); a failure is said.
    func shadowSign(_ intent: OrderIntent, now: Date) {
        guard let signer = shadowSigner else { return }
        do {
            guard let market = markets[intent.marketID] else { throw LiveSetupError("market \(intent.marketID) is unknown") }
            let (orderID, body) = try signer.sign(intent, market: market, now: now)
            try journal?.recordShadow(intentID: intent.id, orderID: orderID, body: body, at: now)
            shadowSigned += 1
            logger.info("shadow order \(intent.id) of \(intent.strategy) (not sent): \(orderID) \(body)")
        } catch {
            emit(key: "shadow_failed:\(intent.strategy)", kind: .venue, severity: .warning,
                 message: "\(intent.strategy): shadow order of \(intent.id) not signed or not journaled: \(error)")
        }
    }

    /// Every open order: live ones (unknown first) with the venue's health, and paper ones resting on the simulated book.
    public func orders(_ now: Date = Date()) -> OrdersResponse {
        var venue = venueInfo(now)
        venue?.orders.sort { ($0.state == "unknown" ? 0 : 1, $0.since) < ($1.state == "unknown" ? 0 : 1, $1.since) }
        let paper = core.venue.openOrders.map { r in
            var row = LiveOrderInfo(intent_id: r.intent.id, order_id: nil, strategy: r.intent.strategy, market_id: r.intent.marketID, token_id: r.intent.tokenID,
                                    side: r.intent.side.rawValue, price: Fixed.double(r.intent.limitPrice), shares: Fixed.double(r.intent.shares),
                                    filled: Fixed.double(r.intent.shares - r.open), state: "resting", since: isoString(r.since), note: "paper")
            row.kind = Self.kind(r.intent)
            return row
        }
        var r = OrdersResponse(venue: venue, paper: paper, at: isoString(now))
        var unread: [String] = []
        if venue != nil {
            do {
                r.settling = try (journal?.settlingTrades() ?? []).map { t in
                    SettlingTradeInfo(trade_id: t.tradeID, intent_id: t.fill.intentID, strategy: t.fill.strategy, side: t.fill.side.rawValue,
                                      shares: Fixed.double(t.fill.shares), price: Fixed.double(t.fill.averagePrice), status: t.status,
                                      booked_at: isoString(t.fill.at))
                }
            } catch {
                unread.append("settling trades not read from the journal: \(error)")
            }
        }
        if !core.shadow.isEmpty {
            var newest: [ShadowOrderInfo] = []
            do {
                newest = try (journal?.shadowOrders(limit: 10) ?? []).map {
                    ShadowOrderInfo(intent_id: $0.intentID, order_id: $0.orderID, body: $0.body, at: isoString($0.at))
                }
            } catch {
                unread.append("shadow orders not read from the journal: \(error)")
            }
            r.shadow = ShadowInfo(strategies: core.shadow.sorted(), signed_total: shadowSigned, newest: newest)
        }
        r.read_error = unread.isEmpty ? nil : unread.joined(separator: "; ")
        return r
    }

    /// What the user channel said: a (re)connect is followed by a reconciliation (nothing is replayed after a
    /// disconnect), an event of our orders or trades makes one at once, a drop is said once per outage.
    public func userChannel(_ notice: UserChannel.Notice) async {
        switch notice {
        case .connected(let reconnect):
            if let down = liveWatch.userDownSince {
                liveWatch.userDownSince = nil
                emit(key: "user_channel", kind: .resumed, severity: .info,
                     message: "user channel connected again; orders and trades re-read over REST", duration: clock().timeIntervalSince(down))
            }
            if reconnect { await reconcileLive() }
        case .event:
            await reconcileLive()
        case .dropped(let reason):
            guard liveWatch.userDownSince == nil else { return }
            liveWatch.userDownSince = clock()
            emit(key: "user_channel", kind: .venue, severity: .warning,
                 message: "user channel dropped (\(reason)); reconnecting with backoff; fills are read over REST meanwhile (every reconciliation)")
        }
    }

    /// An order's kind in the venue's words: FAK, FOK, GTC, or GTD with its expiry; post-only said.
    static func kind(_ i: OrderIntent) -> String {
        let type = IntentSigner.orderType(i.timeInForce).rawValue
        return type + (i.expiresAt.map { " until " + isoString($0) } ?? "") + (i.postOnly ? " post-only" : "")
    }

    /// The live venue for the status snapshot (nil when none is configured).
    func venueInfo(_ now: Date) -> VenueInfo? {
        guard !core.live.isEmpty || !core.live.orders.isEmpty else { return nil }
        let orders = core.live.orders.values.sorted { ($0.since, $0.intent.id) < ($1.since, $1.intent.id) }.map { o in
            var row = LiveOrderInfo(intent_id: o.intent.id, order_id: o.orderID, strategy: o.intent.strategy, market_id: o.intent.marketID,
                                    token_id: o.intent.tokenID, side: o.intent.side.rawValue, price: Fixed.double(o.intent.limitPrice),
                                    shares: Fixed.double(o.intent.shares), filled: Fixed.double(o.filled), state: o.state.rawValue,
                                    since: isoString(o.since), note: o.note)
            row.kind = Self.kind(o.intent)
            return row
        }
        let s = liveWatch
        let host = liveVenue.flatMap { URLComponents(string: $0.config.clobURL)?.host } ?? "?"
        var info = VenueInfo(name: "polymarket-clob at \(host)", status: core.live.problem == nil ? "healthy" : "unhealthy", problem: core.live.problem,
                         strategies: core.live.strategies.sorted(), heartbeat_age_s: s.heartbeatOK.map { now.timeIntervalSince($0) },
                         reconciled_age_s: s.reconciled.map { now.timeIntervalSince($0) }, reconcile_error: liveWatch.reconcileError,
                         unknown_orders: orders.filter { $0.state == "unknown" }.count, open_orders: orders.count,
                         foreign_orders: liveWatch.foreignNow, rate_limit_remaining: s.remaining, orders: orders)
        info.caps_refused_total = core.live.capsRefused
        if let u = userChannel?.status {
            info.user_channel = u.connected ? "connected" : "down" + (u.lastError.map { ": \($0)" } ?? "")
            info.user_channel_age_s = u.lastFrameAt.map { now.timeIntervalSince($0) }
        }
        info.fills_voided_total = core.live.voided
        info.trades_settling = s.settling
        info.trades_retrying = s.retrying
        info.ip_budget_remaining = s.ipRemaining
        return info
    }
}

/// Runs the user channel and hands each of its notices to the engine.
public struct LiveUserChannelService: Service {
    let engine: TradingEngine
    let channel: UserChannel
    public init(engine: TradingEngine, channel: UserChannel) { self.engine = engine; self.channel = channel }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await channel.run() }
                group.addTask { for await n in channel.notices { await engine.userChannel(n) } }
                await group.next()
                group.cancelAll()
            }
        }
    }
}

/// Heartbeats the live venue every few seconds and reconciles at start and on a timer.
public struct LiveVenueService: Service {
    let engine: TradingEngine
    let times: LiveTimes
    public init(engine: TradingEngine, times: LiveTimes) { self.engine = engine; self.times = times }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    while !Task.isCancelled {
                        await engine.heartbeatLive()
                        guard (try? await Task.sleep(for: times.heartbeatEvery)) != nil else { return }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        await engine.reconcileLive()
                        guard (try? await Task.sleep(for: times.reconcileEvery)) != nil else { return }
                    }
                }
                await group.waitForAll()
            }
        }
    }
}
