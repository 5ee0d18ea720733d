// The engine's cycle: data, honesty checks, resolutions, risk, strategies, paper execution, journal, events.
public import Foundation
public import Logging
public import WardenCore
public import WardenPolymarket
import WardenHTTP
public import WardenIPC
import WardenKit

public actor TradingEngine {
    let settings: EngineSettings
    let journal: Journal?
    let source: any MarketDataSource
    /// The market WebSocket (nil: REST only).
    let stream: MarketStream?
    var feed = FeedState()
    public nonisolated let publisher: EventPublisher
    let logger: Logger
    /// The trading state and its decisions (a pure value: this actor feeds it and performs what it returns).
    var core: EngineCore
    var strategies: [any Strategy] { core.strategies }
    let stateDir: String

    var markets: [String: Market] { core.marketBook.markets }
    var books: [String: OrderBook] { core.marketBook.books }
    var lastRefreshOK: Date?
    var lastRefreshFailed: String?
    var lastBookRefresh: Date?
    var lastDiscovery: Date?
    var rejections = RejectionLedger()
    var rejectedItems: Int { rejections.total }
    var rejectedSinceAlert = 0
    var lastRejectedAlert: ContinuousClock.Instant?
    /// Open markets the last book refresh gave no book for one of their outcomes.
    var noBookMarkets: [String] { core.marketBook.noBookMarkets }
    var cycles = 0
    var lastCycleMS = 0.0
    var cycleHistogram = CycleHistogram()
    /// The last storage probe while degraded: one every `storageProbeInterval`, not one a cycle, since a failing
    /// write costs the whole lock bound and the cycle (and every status request behind it) would wait that long.
    var lastStorageProbe: ContinuousClock.Instant?
    static let storageProbeInterval: Duration = .seconds(3)
    /// While storage works, the write lock is taken this often even with nothing to write, so a journal locked by
    /// another process is noticed within seconds, not at the next fill.
    static let writableCheckInterval: TimeInterval = 5
    var lastWritableCheck: Date?
    var storageProblem: String? { core.storageProblem }
    let startedAt: Date
    /// The engine's wall clock: the real one, or a backtest's simulated one (nothing in the engine reads `Date()`).
    let clock: @Sendable () -> Date
    /// The seq the next alert gets; alerts are persisted under the seq subscribers saw.
    /// Alert seqs, and alerts held while storage fails (written under their seqs once it works).
    var alerts = AlertSequencer()
    /// Ends of orders (cancelled, rejected) the journal could not take while storage failed, written when it works
    /// again: until then a restart would put a cancelled resting order back on the book.
    var pendingFinishes: [(id: String, status: String, note: String, at: Date)] = []
    /// End of the previous cycle, to notice a stall or suspend between cycles.
    var lastCycleEnd: MonotonicInstant?
    /// When the suspension watch last reported a stop of the process.
    var lastSuspensionNoticed: MonotonicInstant?
    /// After a stall or suspend, only books observed from this time on are traded on.
    var booksValidFrom: Date?
    let hooks: EngineTestHooks
    /// Set at start when the crash-after-intent hook is to fire (once per journal).
    var crashAfterIntentArmed = false
    /// The live venue's driver and how it is watched (nil: every strategy trades on paper).
    var liveVenue: LiveVenue?
    var liveTimes = LiveTimes()
    var liveWatch = LiveWatch()
    /// The venue's user channel (events of our orders and trades; a hint to reconcile at once).
    public internal(set) var userChannel: UserChannel?
    /// Shadow mode's signer (nil: no shadow strategies) and how many orders it signed.
    var shadowSigner: IntentSigner?
    var shadowSigned = 0

    public init(settings: EngineSettings, journal: Journal?, journalProblem: String?, source: any MarketDataSource,
                publisher: EventPublisher, stateDir: String, logger: Logger, strategies: [any Strategy],
                hooks: EngineTestHooks = EngineTestHooks(), stream: MarketStream? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }, runID: String? = nil) throws {
        let money = try TradingLimits(settings)
        self.clock = clock
        let started = clock()
        self.startedAt = started
        self.settings = settings
        self.stream = stream
        self.hooks = hooks
        self.journal = journal
        self.source = source
        self.publisher = publisher
        self.stateDir = stateDir
        self.logger = logger
        var list = strategies
        if hooks.faultyStrategy { list.append(FaultyStrategy()) }
        self.core = EngineCore(settings: EngineCore.Settings(settings, bankroll: money.bankroll),
                               strategies: list, limits: money, journalUsable: journal != nil,
                               intentIDs: IntentIDs(run: runID ?? IntentIDs.runPrefix(startedAt: started)))
        if let journalProblem {
            core.control.raise(TradingReason(code: .journalUnusable, since: clock(),
                                        message: "trading refused: \(journalProblem)"))
        }
    }

    // MARK: - Start

    /// Loads accounts, persisted reasons and seqs; resolves every intent left open, exactly once.
    public func recover() async throws {
        let now = clock()
        if let journal {
            core.accounts = try journal.loadAccounts()
            for r in try journal.loadReasons() { core.control.raise(r) }
            core.risk = RiskBook(limits: core.risk.limits, cooldowns: try journal.cooldowns())
            for intent in try journal.openIntents() {
                try journal.resolveIntent(intent.id, status: "abandoned", note: "engine restarted before the fill was recorded; paper order never executed", at: now)
                emit(key: "intent_abandoned", kind: .recovery, severity: .warning,
                     message: "intent \(intent.id) of \(intent.strategy) left open by a crash: resolved as not executed", alert: false)
            }
            core.intentIDs = IntentIDs(run: core.intentIDs.run, issued: try journal.intentCount(idPrefix: core.intentIDs.run))
            try await recoverLive(now)
            let resting = try journal.restingIntents()
            for r in resting { restore(RestingOrder(intent: r.intent, open: r.open, since: r.since)) }
            if !resting.isEmpty {
                emit(key: "orders_restored", kind: .recovery, severity: .info,
                     message: "\(resting.count) resting paper orders put back on the book as they were before the restart", alert: false)
            }
            alerts = AlertSequencer(after: UInt64(try journal.lastEventSeq(topic: EngineTopic.alerts)))
            publisher.setNextSeq(EngineTopic.alerts, alerts.nextSeq)
            publisher.setNextSeq(EngineTopic.trades, UInt64(try journal.lastEventSeq(topic: EngineTopic.trades)) + 1)
            if hooks.crashAfterIntent { crashAfterIntentArmed = try journal.intentCount(status: "abandoned") == 0 }
        }
        for s in strategies where core.accounts[s.name] == nil {
            core.accounts[s.name] = Account(strategy: s.name, bankroll: core.settings.bankroll)
        }
        for s in strategies { core.health[s.name] = core.health[s.name] ?? StrategyHealth() }
    }

    /// Puts a resting order the journal holds back on the venue's book.
    func restore(_ order: RestingOrder) {
        core.venue.restore(order)
        core.liveIntents[order.intent.id] = order.intent
    }

    // MARK: - The cycle

    /// One iteration. Every network call inside is bounded by its timeout, so the cycle cannot stall.
    public func cycle(now: Date = Date()) async {
        let started = ContinuousClock.now
        cycles += 1
        noticeStall(now)
        probeStorage(now)
        checkWritable(now)
        await refreshData(now)
        checkFeedFrozen(now)
        await settleResolved(now)
        perform(core.handle(.tick(cycleObservations(now)), at: now), now: now)
        lastCycleMS = (ContinuousClock.now - started).seconds * 1000
        cycleHistogram.record(lastCycleMS / 1000)
        lastCycleEnd = MonotonicInstant.now()
        if publishes { publisher.publish(EngineTopic.state, snapshot(now)) }
    }

    /// Whether state, activity, alerts and trades are published to subscribers (off in a backtest: nobody subscribes,
    /// and encoding the state each cycle was a seventh of a replayed cycle). The journal gets them either way.
    var publishes = true
    public func setPublishes(_ on: Bool) { publishes = on }

    /// A gap this long between cycles, or between wake-ups of the suspension watch, means the process was stopped,
    /// suspended or starved.
    var stallBound: Duration { .seconds(max(5, 3 * settings.cycle.seconds)) }

    /// A gap between cycles far past the interval means the loop was stalled (or the process stopped between
    /// cycles): every book held is then treated as stale until a refresh after this moment, and one is forced now.
    /// A stop the suspension watch has already reported is not reported again.
    func noticeStall(_ now: Date) {
        defer { lastCycleEnd = MonotonicInstant.now() }
        guard let last = lastCycleEnd else { return }
        let gap = MonotonicInstant.now() - last
        guard gap > stallBound, lastSuspensionNoticed.map({ $0 < last }) ?? true else { return }
        treatBooksStale(after: gap, now: now)
    }

    /// The suspension watch saw the whole process stopped for `gap`, possibly in the middle of a cycle: books held,
    /// and any fetch begun before now, are stale until a refresh begun after now.
    public func noticeSuspension(_ gap: Duration) {
        lastSuspensionNoticed = MonotonicInstant.now()
        treatBooksStale(after: gap, now: clock())
    }

    func treatBooksStale(after gap: Duration, now: Date) {
        booksValidFrom = now
        lastBookRefresh = nil
        emit(key: "engine_stalled", kind: .data, severity: .warning,
             message: String(format: "engine loop was stalled or suspended for %.1fs; market data treated as stale until refreshed", gap.seconds))
    }

    func refreshData(_ now: Date) async {
        if lastDiscovery.map({ now.timeIntervalSince($0) >= settings.discoveryInterval.seconds }) ?? true {
            do {
                let d = try await source.discover(now: now)
                countRejected(d.rejected, from: .discovery)
                let held = Settlement.heldMarkets(core.accounts)
                core.marketBook.discovered(d.markets, keep: held.contains)  // what we hold stays followed
                lastDiscovery = now
                followFeed()
            } catch {
                dataFailed("market discovery failed: \(error)", now)
                return
            }
        }
        guard lastBookRefresh.map({ now.timeIntervalSince($0) >= settings.bookRefresh.seconds }) ?? true else { return }
        lastBookRefresh = now
        let tokens = core.marketBook.openTokens()
        guard !tokens.isEmpty else { lastRefreshOK = now; lastRefreshFailed = nil; return }
        let fetchStarted = clock()
        feed.fetchInFlight = true
        defer { feed.fetchInFlight = false }
        do {
            let r = try await source.books(tokens)
            countRejected(r.rejected, from: .books)
            let fetchPredatesStall = booksValidFrom.map { fetchStarted < $0 } ?? false
            // Drift is judged on the books the deltas moved, against their snapshot, after the ingest.
            var replaced: [(old: OrderBook, snapshot: OrderBook)] = []
            let watched = stream == nil ? [] : feed.deltaApplied
            core.marketBook.ingest(r.books, requested: tokens, observedNoLaterThan: fetchPredatesStall ? fetchStarted : nil,
                                   inspect: watched.isEmpty ? nil : { old, snapshot in
                if watched.contains(snapshot.tokenID) { replaced.append((old, snapshot)) }
            })
            for (old, snapshot) in replaced { checkDrift(old: old, snapshot: snapshot, fetchStarted: fetchStarted, now: now) }
            snapshotTaken(r.books, fetchStarted: fetchStarted)
            replayChangesDuringFetch(r.books)
            lastRefreshOK = now
            if lastRefreshFailed != nil { lastRefreshFailed = nil }
            // A fetch begun before a suspension was noticed does not count as the refresh after it.
            if booksValidFrom.map({ fetchStarted >= $0 }) ?? true { booksValidFrom = nil }
        } catch {
            feed.changesDuringFetch = []
            dataFailed("order book refresh failed: \(error)", now)
        }
    }

    func dataFailed(_ message: String, _ now: Date) {
        if lastRefreshFailed == nil { logger.warning("\(message)") }
        lastRefreshFailed = message
    }

    func countRejected(_ all: [Rejection], from source: RejectionLedger.Source) {
        // Each distinct (item, reason) counts once while it persists: the same bad market on every discovery
        // is one rejection, not one per discovery.
        let r = rejections.record(all, from: source)
        guard !r.isEmpty else { return }
        rejectedSinceAlert += r.count
        // Every new rejection is activity; an alert at most every 10 minutes, with every distinct reason and
        // its count, so a market API sending garbage is told without an alert per refresh.
        let now = ContinuousClock.now
        let alert = lastRejectedAlert.map { now - $0 >= .seconds(600) } ?? true
        let reasons = rejections.summary(limit: 5).map { "\($0.reason) ×\($0.count) (e.g. \($0.example))" }.joined(separator: "; ")
        emit(key: "data_rejected", kind: .data, severity: .warning,
             message: alert ? "market data malformed: \(rejectedSinceAlert) items rejected and counted; now rejected: \(reasons)"
                            : "\(r.count) more malformed items rejected: \(reasons)", alert: alert)
        if alert {
            lastRejectedAlert = now
            rejectedSinceAlert = 0
        }
    }

    func holds(marketID: String) -> Bool { core.holds(marketID: marketID) }

    /// Settles positions of resolved markets at 1/0, exactly once (account state and journal both refuse twice).
    func settleResolved(_ now: Date) async {
        guard storageProblem == nil else { return }  // settled once storage works: nothing is paid out unrecorded
        let held = Settlement.heldMarkets(core.accounts)
        feed.resolvedHints.formIntersection(held)  // only held markets settle; the other hints have nothing to do
        let due = Settlement.needingLookup(held: held, markets: markets, hasBook: core.marketBook.answered, refreshWorked: lastRefreshFailed == nil,
                                           hinted: feed.resolvedHints, now: now)
        for id in due {
            feed.resolvedHints.remove(id)  // the market channel said it resolved: looked up now
            do {
                core.marketBook.update(try await source.market(id: id))
            } catch {
                // Retried next cycle; a held market we cannot look up is said, not skipped silently.
                emit(key: "resolution_check:\(id)", kind: .data, severity: .warning,
                     message: "cannot check whether held market \(id) resolved: \(error)", alert: false)
            }
        }
        perform(core.handle(.settle, at: now), now: now)
    }

    func marks() -> [String: Micros] { core.marks() }

    /// What the cycle observed that the core does not hold itself.
    var observations: EngineCore.Observations {
        EngineCore.Observations(awaitingSnapshot: feed.awaitingSnapshot, booksValidFrom: booksValidFrom)
    }

    /// Everything the cycle's trading pass judges: the feed's trust, the data's age, the disk, the API hosts.
    func cycleObservations(_ now: Date) -> EngineCore.Observations {
        EngineCore.Observations(awaitingSnapshot: feed.awaitingSnapshot, booksValidFrom: booksValidFrom, dataGoodSince: lastRefreshOK ?? startedAt,
                                dataProblem: lastRefreshFailed, diskFreePercent: diskFreePercent(), diskPlace: stateDir, hosts: source.hostStats())
    }

    /// Fresh enough to trade on: observed within `freshFor`, after any stall or suspend, trusted by the feed.
    func isTradable(_ book: OrderBook, now: Date, freshFor: TimeInterval) -> Bool {
        EngineCore.isTradable(book, now: now, freshFor: freshFor, observations)
    }

    // MARK: - Performing the core's actions

    /// Performs the core's actions in order; a failed barrier write (an intent, a fill) stops the list and is told
    /// to the core, which undoes that order. Returns the reply to an operator command, when there is one.
    @discardableResult
    func perform(_ actions: [EngineAction], now: Date) -> String? {
        var reply: String?
        var requests: [VenueRequest] = []
        let outcome = ActionPerformer.perform(actions, journal: { try write($0, now: now) }, venue: { r in
            // Paper orders were answered inside the core; a live one goes to the live venue once the list is done.
            requests.append(r)
            return []
        }, other: { action in
            switch action {
            case .notice(let n): emit(n)
            case .log(let severity, let line): severity == .critical ? logger.error("\(line)") : logger.warning("\(line)")
            case .reply(let r): reply = r
            case .shadow(let intent): shadowSign(intent, now: now)
            case .journal, .venue: break
            }
        })
        for (write, error) in outcome.unrecorded { unrecorded(write, error, now) }
        dispatchLive(requests)
        if let failed = outcome.failed {
            perform(core.handle(.journalFailed(index: failed.index, error: failed.error), at: now), now: now)
            return "not recorded: \(failed.error)"
        }
        return reply
    }

    /// One journal write; what is written only while storage works is held or skipped while it fails.
    func write(_ w: JournalWrite, now: Date) throws {
        guard let journal else { return }
        switch w {
        case .intent(let i), .liveIntent(let i):
            if case .liveIntent = w { try journal.recordIntent(i, at: now, venue: "clob") } else { try journal.recordIntent(i, at: now) }
            if crashAfterIntentArmed {
                // Test hook (F38): die between the write-ahead intent and its fill, once per journal.
                logger.critical("test hook crash_after_intent: killing the engine after intent \(i.id)")
                kill(getpid(), SIGKILL)
            }
        case .fill(let fill, let account, let status, let trade):
            let seq = try journal.recordFill(fill, account: account, status: status, eventTopic: EngineTopic.trades, event: trade)
            publishEncoded(EngineTopic.trades, trade, seq: UInt64(seq))
        case .resting(let id):
            try journal.markResting(id)
        case .voidFill(let fill, let account, let note):
            try journal.voidFill(venueTradeID: fill.venueTradeID ?? "", account: account, note: note, at: now, eventTopic: EngineTopic.activity,
                                 event: EngineEvent(key: "settlement_failed:\(fill.venueTradeID ?? "")", kind: "venue", severity: "critical",
                                                    message: "\(fill.strategy): trade \(fill.venueTradeID ?? "?") FAILED at settlement; fill void: \(note)", at: isoString(now)))
        case .venueOrder(let id, let orderID, let state, let note):
            try journal.setVenueOrder(id, orderID: orderID, state: state, note: note)
        case .finish(let id, let status, let note):
            // Held while storage fails, and written when it works again: until then a restart would put a cancelled
            // resting order back on the book.
            guard storageProblem == nil else { return pendingFinishes.append((id, status, note, now)) }
            try journal.finishIntent(id, status: status, note: note, at: now)
        case .cooldown(let name, let until):
            guard storageProblem == nil else { return }
            try journal.saveCooldown(strategy: name, until: until)
        case .reasons(let durable):
            try journal.saveReasons(durable)
        case .account(let a):
            try journal.saveAccount(a, at: now)
        case .settlement(let strategy, let marketID, let winner, let payout, let account):
            try journal.recordSettlement(strategy: strategy, marketID: marketID, winner: winner, payout: payout, account: account, at: now,
                                         eventTopic: EngineTopic.activity,
                                         event: EngineEvent(key: "settled:\(marketID)", kind: "settlement", severity: "info",
                                                            message: "\(strategy): market \(marketID) resolved, paid \(Fixed.text(payout))", at: isoString(now)))
        }
    }

    /// A write that failed without stopping the list: storage degrades (an order's end is held until it works).
    func unrecorded(_ w: JournalWrite, _ error: String, _ now: Date) {
        switch w {
        case .finish(let id, let status, let note):
            pendingFinishes.append((id, status, note, now))
            storageFailed("end of order \(id) (\(status)) not recorded yet: \(error)", now)
        case .resting(let id): storageFailed("resting order \(id) not recorded: \(error)", now)
        case .venueOrder(let id, _, let state, _): storageFailed("live order \(id) state \(state.rawValue) not recorded: \(error)", now)
        case .cooldown(let name, _): storageFailed("cool-down of \(name) not saved: \(error)", now)
        case .reasons: storageFailed("operator and risk reasons not saved: \(error)", now)
        case .account(let a): storageFailed("re-based peak of \(a.strategy) not saved: \(error)", now)
        case .intent, .liveIntent, .fill, .settlement, .voidFill: storageFailed("journal write failed: \(error)", now)
        }
    }

    // MARK: - Storage and disk

    func storageFailed(_ message: String, _ now: Date) {
        perform(core.handle(.storageFailed(message), at: now), now: now)
    }

    /// While storage is degraded, one write every `storageProbeInterval`: the alerts held back (under their seqs),
    /// or a probe event.
    func probeStorage(_ now: Date) {
        guard core.control.has(.storageDegraded), let journal else { return }
        if let last = lastStorageProbe, ContinuousClock.now - last < Self.storageProbeInterval { return }
        lastStorageProbe = ContinuousClock.now
        do {
            for f in pendingFinishes { try journal.finishIntent(f.id, status: f.status, note: f.note, at: f.at) }
            if !pendingFinishes.isEmpty { logger.notice("storage back: \(pendingFinishes.count) order ends held in memory written to the journal") }
            pendingFinishes = []
            if alerts.held.isEmpty {
                try journal.appendEvent(topic: EngineTopic.activity, at: now,
                                        EngineEvent(key: "storage_probe", kind: "storage", severity: "info", message: "storage probe", at: isoString(now)))
            } else {
                try journal.appendEvents(topic: EngineTopic.alerts, alerts.held.map { ($0.seq, $0.at, $0.payload) })
                logger.notice("storage back: \(alerts.held.count) alerts held in memory written to the journal")
                alerts.written()
            }
            perform(core.handle(.storageRecovered, at: now), now: now)
        } catch {
            core.storageStillFailing("\(error)")
        }
    }

    func checkWritable(_ now: Date) {
        guard let journal, storageProblem == nil else { return }
        if let last = lastWritableCheck, now.timeIntervalSince(last) < Self.writableCheckInterval, now >= last { return }
        lastWritableCheck = now
        do { try journal.checkWritable() } catch { storageFailed("journal not writable: \(error)", now) }
    }

    /// Free space of the state directory in percent (blocks or inodes, whichever is scarcer); nil when unknown.
    func diskFreePercent() -> Double? {
        var s = statvfs()
        guard statvfs(stateDir, &s) == 0, s.f_blocks > 0 else { return nil }
        return min(Double(s.f_bavail) / Double(s.f_blocks), s.f_files > 0 ? Double(s.f_favail) / Double(s.f_files) : 1) * 100
    }

    // MARK: - Events

    /// Records and publishes an activity item; alerts are also persisted on the `alerts` topic with their seq.
    func emit(key: String, kind: EventKind, severity: Severity, message: String, duration: Double? = nil, alert: Bool = true) {
        emit(EngineNotice(key: key, kind: kind, severity: severity, message: message, duration: duration, alert: alert))
    }

    func emit(_ notice: EngineNotice?) {
        guard let notice else { return }
        let (key, severity, message) = (notice.key, notice.severity, notice.message)
        let now = clock()
        let event = EngineEvent(key: key, kind: notice.kind.rawValue, severity: severity.rawValue, message: message, at: isoString(now),
                                duration_s: notice.duration)
        if publishes { publisher.publish(EngineTopic.activity, event) }
        if notice.alert { raiseAlert(event, now: now) }
        switch severity {
        case .critical: logger.critical("\(message)", metadata: ["key": "\(key)"])
        case .warning: logger.warning("\(message)", metadata: ["key": "\(key)"])
        case .info: logger.info("\(message)", metadata: ["key": "\(key)"])
        }
    }

    /// Publishes an alert under the next seq and persists it under the same seq; while storage fails it is held
    /// in memory and written when storage works again (lost only if the engine dies before then, which the log says).
    func raiseAlert(_ event: EngineEvent, now: Date) {
        let seq = alerts.assign()
        let payload: String
        do { payload = try Journal.encode(event) } catch {
            logger.error("alert \(event.key) could not be encoded: \(error)")
            return
        }
        if publishes { publisher.publishRaw(EngineTopic.alerts, json: Data(payload.utf8), seq: seq) }
        guard let journal else { return }
        if storageProblem == nil {
            do {
                try journal.appendEvents(topic: EngineTopic.alerts, [(seq, now, payload)])
                return
            } catch {
                holdAlert(seq, now, payload)
                storageFailed("alert \(event.key) not persisted: \(error)", now)
                return
            }
        }
        holdAlert(seq, now, payload)
    }

    func holdAlert(_ seq: UInt64, _ at: Date, _ payload: String) {
        if let dropped = alerts.hold(AlertSequencer.Held(seq: seq, at: at, payload: payload)) {
            logger.error("storage degraded for long: alert seq \(dropped.seq) dropped from the in-memory hold (limit \(alerts.limit))")
        }
    }

    func publishEncoded<T: Encodable>(_ topic: String, _ value: T, seq: UInt64?) {
        guard publishes else { return }
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        guard let data = try? e.encode(value) else { return }
        publisher.publishRaw(topic, json: data, seq: seq)
    }
}
