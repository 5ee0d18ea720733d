// The engine's cycle: data, honesty checks, resolutions, risk, strategies, paper execution, journal, events.
public import Foundation
public import Logging
public import WardenCore
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
    /// Where orders go: the paper venue (takers walk the book, resting orders wait at their limit).
    var venue: PaperVenue
    /// Orders sent and not yet done (immediate ones while they execute, resting ones until filled or cancelled).
    var liveIntents: [String: OrderIntent] = [:]
    let strategies: [any Strategy]
    /// Marks, day starts, cool-downs, the drawdown halt and the entry checks (a pure component of its own).
    var risk: RiskBook
    /// Starting cash of each strategy's paper sub-account.
    let bankroll: Micros
    let stateDir: String

    /// Markets, books and mid histories (a pure component of its own).
    var marketBook: MarketBook { didSet { marksCache = nil } }
    var markets: [String: Market] { marketBook.markets }
    var books: [String: OrderBook] { marketBook.books }
    /// Best bid per held token, kept until a book or a position changes (risk checks read it once per intent).
    var marksCache: [String: Micros]?
    var accounts: [String: Account] = [:] { didSet { marksCache = nil } }
    var health: [String: StrategyHealth] = [:]
    var control = TradingControl()
    var lastRefreshOK: Date?
    var lastRefreshFailed: String?
    var lastBookRefresh: Date?
    var lastDiscovery: Date?
    var rejections = RejectionLedger()
    var rejectedItems: Int { rejections.total }
    var rejectedSinceAlert = 0
    var lastRejectedAlert: ContinuousClock.Instant?
    /// Open markets the last book refresh gave no book for one of their outcomes.
    var noBookMarkets: [String] { marketBook.noBookMarkets }
    /// Held markets whose missing book was alerted (a recovery is said when it is back).
    var noBookAlerted: Set<String> = []
    var cycles = 0
    var lastCycleMS = 0.0
    var cycleHistogram = CycleHistogram()
    var lastBackup: Date
    var lastEquity = Date.distantPast
    /// The last storage probe while degraded: one every `storageProbeInterval`, not one a cycle, since a failing
    /// write costs the whole lock bound and the cycle (and every status request behind it) would wait that long.
    var lastStorageProbe: ContinuousClock.Instant?
    static let storageProbeInterval: Duration = .seconds(3)
    /// While storage works, the write lock is taken this often even with nothing to write, so a journal locked by
    /// another process is noticed within seconds, not at the next fill.
    static let writableCheckInterval: TimeInterval = 5
    var lastWritableCheck: Date?
    var storageProblem: String?
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
    /// The id each order sent gets (deterministic: see IntentIDs).
    var intentIDs: IntentIDs
    /// Set at start when the crash-after-intent hook is to fire (once per journal).
    var crashAfterIntentArmed = false

    public init(settings: EngineSettings, journal: Journal?, journalProblem: String?, source: any MarketDataSource,
                publisher: EventPublisher, stateDir: String, logger: Logger, strategies: [any Strategy],
                hooks: EngineTestHooks = EngineTestHooks(), stream: MarketStream? = nil,
                clock: @escaping @Sendable () -> Date = { Date() }, runID: String? = nil) throws {
        let money = try TradingLimits(settings)
        self.clock = clock
        let started = clock()
        self.startedAt = started
        self.intentIDs = IntentIDs(run: runID ?? IntentIDs.runPrefix(startedAt: started))
        self.settings = settings
        self.stream = stream
        self.hooks = hooks
        self.journal = journal
        self.source = source
        self.publisher = publisher
        self.stateDir = stateDir
        self.logger = logger
        self.venue = PaperVenue(broker: PaperBroker(slippageBound: money.slippage))
        self.risk = RiskBook(limits: money.risk)
        self.bankroll = money.bankroll
        var list = strategies
        if hooks.faultyStrategy { list.append(FaultyStrategy()) }
        self.strategies = list
        self.marketBook = MarketBook(historyLength: list.map(\.historyLength).max() ?? 0)
        self.lastBackup = clock()
        if let journalProblem {
            control.raise(TradingReason(code: .journalUnusable, since: clock(),
                                        message: "trading refused: \(journalProblem)"))
        }
    }

    // MARK: - Start

    /// Loads accounts, persisted reasons and seqs; resolves every intent left open, exactly once.
    public func recover() throws {
        let now = clock()
        if let journal {
            accounts = try journal.loadAccounts()
            for r in try journal.loadReasons() { control.raise(r) }
            risk = RiskBook(limits: risk.limits, cooldowns: try journal.cooldowns())
            for intent in try journal.openIntents() {
                try journal.resolveIntent(intent.id, status: "abandoned", note: "engine restarted before the fill was recorded; paper order never executed", at: now)
                emit(key: "intent_abandoned", kind: .recovery, severity: .warning,
                     message: "intent \(intent.id) of \(intent.strategy) left open by a crash: resolved as not executed", alert: false)
            }
            intentIDs = IntentIDs(run: intentIDs.run, issued: try journal.intentCount(idPrefix: intentIDs.run))
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
        for s in strategies where accounts[s.name] == nil {
            accounts[s.name] = Account(strategy: s.name, bankroll: bankroll)
        }
        for s in strategies { health[s.name] = health[s.name] ?? StrategyHealth() }
    }

    /// Puts a resting order the journal holds back on the venue's book.
    func restore(_ order: RestingOrder) {
        venue.restore(order)
        liveIntents[order.intent.id] = order.intent
    }

    // MARK: - The cycle

    /// One iteration. Every network call inside is bounded by its timeout, so the cycle cannot stall.
    public func cycle(now: Date = Date()) async {
        let started = ContinuousClock.now
        cycles += 1
        noticeStall(now)
        let expired = DegradationMatrix.expire(now: now, control: &control)
        for notice in expired { emit(notice) }
        if !expired.isEmpty { persistReasons() }
        probeStorage(now)
        checkWritable(now)
        checkDisk(now)
        await refreshData(now)
        checkFeedFrozen(now)
        assessFreshness(now)
        assessAPIHealth(now)
        await settleResolved(now)
        matchResting(now)
        markAndRisk(now)
        trade(now)
        periodic(now)
        lastCycleMS = (ContinuousClock.now - started).seconds * 1000
        cycleHistogram.record(lastCycleMS / 1000)
        lastCycleEnd = MonotonicInstant.now()
        publisher.publish(EngineTopic.state, snapshot(now))
    }

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
                let held = Settlement.heldMarkets(accounts)
                marketBook.discovered(d.markets, keep: held.contains)  // what we hold stays followed
                lastDiscovery = now
                followFeed()
            } catch {
                dataFailed("market discovery failed: \(error)", now)
                return
            }
        }
        guard lastBookRefresh.map({ now.timeIntervalSince($0) >= settings.bookRefresh.seconds }) ?? true else { return }
        lastBookRefresh = now
        let tokens = marketBook.openTokens
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
            marketBook.ingest(r.books, requested: tokens, observedNoLaterThan: fetchPredatesStall ? fetchStarted : nil) { old, snapshot in
                if watched.contains(snapshot.tokenID) { replaced.append((old, snapshot)) }
            }
            for (old, snapshot) in replaced { checkDrift(old: old, snapshot: snapshot, fetchStarted: fetchStarted, now: now) }
            snapshotTaken(r.books.map(\.tokenID), fetchStarted: fetchStarted)
            lastRefreshOK = now
            if lastRefreshFailed != nil { lastRefreshFailed = nil }
            // A fetch begun before a suspension was noticed does not count as the refresh after it.
            if booksValidFrom.map({ fetchStarted >= $0 }) ?? true { booksValidFrom = nil }
        } catch {
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

    func holds(marketID: String) -> Bool {
        accounts.values.contains { $0.positions.values.contains { $0.marketID == marketID && $0.shares > 0 } }
    }

    /// Stale data as a whole pauses entries globally; a stale market pauses entries for it. Never a fallback.
    func assessFreshness(_ now: Date) {
        let bound = settings.staleDataAfter.seconds
        let age = lastRefreshOK.map { now.timeIntervalSince($0) } ?? now.timeIntervalSince(startedAt)
        let since = lastRefreshOK ?? startedAt
        emit(DegradationMatrix.assess(.dataStale, bad: age > bound, DegradationFact(since: since, detail: lastRefreshFailed ?? ""),
                                      now: now, control: &control))
        // A held market whose book is gone cannot be marked or exited at a known price: said, and said again
        // when it is back.
        let noBook = Set(noBookMarkets)
        for id in noBook where holds(marketID: id) && !noBookAlerted.contains(id) {
            noBookAlerted.insert(id)
            emit(key: "no_book:\(id)", kind: .data, severity: .warning,
                 message: "held market \(id) has no order book (the CLOB answered none for one of its outcomes); it is unmarked until one comes back")
        }
        for id in noBookAlerted where !noBook.contains(id) {
            noBookAlerted.remove(id)
            emit(key: "no_book:\(id)", kind: .resumed, severity: .info, message: "held market \(id) has an order book again")
        }
        let marketBound = settings.staleMarketAfter.seconds
        // While all data is stale every book is, by consequence: one data_stale reason and alert say it, not
        // one more per market (an outage gave 1 + N alerts and N recoveries).
        let allStale = control.has(.dataStale)
        for m in markets.values where !m.closed {
            let oldest = marketBook.oldestChange(of: m)
            let stale = oldest.map { now.timeIntervalSince($0) > marketBound } ?? false
            if stale && allStale { continue }
            emit(DegradationMatrix.assess(.marketStale, bad: stale, DegradationFact(since: oldest ?? now, marketID: m.id), now: now, control: &control))
        }
    }

    /// API health guard: error rate or rate-limit usage over the bounds pauses entries for the cooldown.
    func assessAPIHealth(_ now: Date) {
        for h in source.hostStats() where h.recentRequests >= 10 {
            let bad = h.recentErrorRate >= settings.healthErrorRate || h.rateLimitUsage >= settings.healthRateLimitUsage
            guard bad else { continue }
            let why = String(format: "%@: error rate %.0f%%, rate-limit usage %.0f%%", h.host, h.recentErrorRate * 100, h.rateLimitUsage * 100)
            emit(DegradationMatrix.assess(.apiHealth, bad: true, DegradationFact(since: now, detail: why, expiresAt: now.addingTimeInterval(settings.healthCooldown.seconds)),
                                          now: now, control: &control))
        }
    }

    /// Settles positions of resolved markets at 1/0, exactly once (account state and journal both refuse twice).
    func settleResolved(_ now: Date) async {
        guard storageProblem == nil else { return }  // settled once storage works: nothing is paid out unrecorded
        let held = Settlement.heldMarkets(accounts)
        feed.resolvedHints.formIntersection(held)  // only held markets settle; the other hints have nothing to do
        let due = Settlement.needingLookup(held: held, markets: markets, bookTokens: marketBook.snapshotTokens, refreshWorked: lastRefreshFailed == nil,
                                           hinted: feed.resolvedHints, now: now)
        for id in due {
            feed.resolvedHints.remove(id)  // the market channel said it resolved: looked up now
            do {
                marketBook.update(try await source.market(id: id))
            } catch {
                // Retried next cycle; a held market we cannot look up is said, not skipped silently.
                emit(key: "resolution_check:\(id)", kind: .data, severity: .warning,
                     message: "cannot check whether held market \(id) resolved: \(error)", alert: false)
            }
        }
        for id in held.sorted() {
            guard let m = markets[id] else { continue }
            for p in Settlement.payouts(accounts, market: m) {
                let winner = m.winningTokenID ?? "?"
                do {
                    try journal?.recordSettlement(strategy: p.strategy, marketID: id, winner: winner, payout: p.amount, account: p.account, at: now,
                                                  eventTopic: EngineTopic.activity,
                                                  event: EngineEvent(key: "settled:\(id)", kind: "settlement", severity: "info",
                                                                     message: "\(p.strategy): market \(id) resolved, paid \(Fixed.text(p.amount))", at: isoString(now)))
                    accounts[p.strategy] = p.account
                    emit(key: "settled:\(id):\(p.strategy)", kind: .settlement, severity: .info,
                         message: "\(p.strategy): market \(id) resolved for \(winner); paid \(Fixed.text(p.amount))", alert: false)
                } catch {
                    storageFailed("settlement of \(id) for \(p.strategy) not recorded: \(error)", now)
                }
            }
        }
    }

    /// Best bid of every token a position is held in (the only marks equity reads).
    func marks() -> [String: Micros] {
        if let marksCache { return marksCache }
        let out = marketBook.marks(accounts.values)
        marksCache = out
        return out
    }

    func markAndRisk(_ now: Date) {
        for fact in risk.assess(&accounts, marks: marks(), now: now, halted: control.has(.drawdown)) {
            switch fact {
            case .cooldownStarted(let name, let losses, let until):
                saveCooldown(name, now)
                emit(key: "loss_streak:\(name)", kind: .risk, severity: .warning,
                     message: "\(name): \(losses) losses in a row; entries cool down until \(isoString(until))")
            case .cooldownEnded(let name):
                saveCooldown(name, now)
            case .drawdownBreached(let fraction, let total, let peak):
                let dd = fraction * 100
                control.raise(TradingReason(code: .drawdown, since: now,
                                            message: String(format: "drawdown %.1f%% from peak reached the limit %.0f%%; exits only until an operator resets", dd, risk.limits.maxDrawdownFraction * 100)))
                persistReasons()
                emit(key: "drawdown", kind: .halted, severity: .critical,
                     message: String(format: "HALTED: drawdown %.1f%% (equity %@ from peak %@); exits only until `wardenctl halt-reset`", dd, Fixed.text(total), Fixed.text(peak)))
            }
        }
    }

    func trade(_ now: Date) {
        let fresh = settings.staleMarketAfter.seconds
        // What every strategy looks at is the same this cycle: the tradable markets with their books, built once.
        let tradable = marketBook.tradable { isTradable($0, now: now, freshFor: fresh) }
        // Open orders by strategy and market, read once: what each strategy is shown of its own.
        var open: [String: [String: [RestingOrder]]] = [:]
        // Resting buys hold their cash, as an exchange holds the balance behind an open order.
        var reserved: [String: Micros] = [:]
        for o in venue.openOrders {
            open[o.intent.strategy, default: [:]][o.intent.marketID, default: []].append(o)
            if o.intent.side == .buy { reserved[o.intent.strategy, default: 0] += Fixed.costUp(o.intent.limitPrice, o.open) }
        }
        for strategy in strategies {
            guard var h = health[strategy.name], !h.isDisabled, let account = accounts[strategy.name] else { continue }
            // Each market is evaluated once per strategy, after which only its own positions change: grouped once.
            let positions = Dictionary(grouping: account.positions.values, by: \.marketID)
            var cash = max(0, account.cash - (reserved[strategy.name] ?? 0))
            for (m, marketBooks) in tradable {
                let snapshot = MarketSnapshot(market: m, books: marketBooks, midHistory: marketBook.midHistory, now: now)
                let decisions: [StrategyDecision]
                do {
                    decisions = try strategy.decide(StrategyContext(snapshot: snapshot, positions: positions[m.id] ?? [],
                                                                    openOrders: open[strategy.name]?[m.id] ?? [], cash: cash))
                } catch {
                    strategyError(strategy.name, "threw on market \(m.id): \(error)", &h, now)
                    continue
                }
                for decision in decisions {
                    switch decision {
                    case .cancel(let id, let reason):
                        guard venue.openOrders.contains(where: { $0.intent.id == id && $0.intent.strategy == strategy.name }) else {
                            h.rejectedIntents += 1
                            strategyError(strategy.name, "asked to cancel order \(id), which is not an open order of its own", &h, now)
                            continue
                        }
                        perform(venue.handle(.cancel(intentID: id, reason: reason), market: nil, book: nil, at: now), now: now)
                    case .place(let intent):
                        if let problem = IntentValidator.problem(intent, strategy: strategy.name, market: m) {
                            h.rejectedIntents += 1
                            strategyError(strategy.name, "invalid intent on market \(m.id): \(problem)", &h, now)
                            continue
                        }
                        execute(intent, market: m, now: now)
                    }
                }
                if !decisions.isEmpty {
                    let held = venue.openOrders.filter { $0.intent.strategy == strategy.name && $0.intent.side == .buy }
                        .reduce(Micros(0)) { $0 + Fixed.costUp($1.intent.limitPrice, $1.open) }
                    cash = max(0, (accounts[strategy.name]?.cash ?? cash) - held)
                }
                if h.isDisabled { break }
            }
            health[strategy.name] = h
        }
    }

    /// Fresh enough to trade on: observed within `freshFor`, and after any stall or suspend.
    func isTradable(_ book: OrderBook, now: Date, freshFor: TimeInterval) -> Bool {
        now.timeIntervalSince(book.observedAt) <= freshFor && booksValidFrom.map { book.observedAt >= $0 } != false
            && feed.awaitingSnapshot[book.tokenID] == nil
    }

    func strategyError(_ name: String, _ message: String, _ h: inout StrategyHealth, _ now: Date) {
        logger.warning("strategy \(name) \(message)")
        if h.record(error: message, at: now, maxErrors: settings.strategyErrorsMax, window: settings.strategyErrorsWindow.seconds) {
            emit(key: "strategy_disabled:\(name)", kind: .strategy, severity: .critical,
                 message: "strategy \(name) disabled: \(h.disabledReason ?? message); the others go on")
        } else {
            emit(key: "strategy_error:\(name)", kind: .strategy, severity: .warning, message: "strategy \(name) \(message)", alert: false)
        }
    }

    /// What became of one intent.
    enum Execution: Equatable {
        case filled
        /// On the venue's book at its limit (nothing traded yet).
        case resting
        /// Not sent to the book: blocked by the trading state or risk, or nothing could be written ahead.
        case notSent(String)
        case rejected(String)
    }

    /// Trading state, risk, write-ahead intent, paper fill, one journal transaction; in that order.
    @discardableResult
    func execute(_ proposed: OrderIntent, market: Market, now: Date, operatorAction: Bool = false) -> Execution {
        var intent = proposed
        if !operatorAction, let blocked = control.blocking(intent.kind, marketID: intent.marketID) {
            return .notSent("\(blocked.effect.rawValue): \(blocked.code)")
        }
        guard let journal else { return .notSent("journal unusable") }
        // Nothing can be written ahead while storage fails, so nothing is executed (exits included).
        if let storageProblem { return .notSent("storage degraded: \(storageProblem)") }
        guard let account = accounts[intent.strategy] else { return .notSent("no account for \(intent.strategy)") }
        if !operatorAction {
            if case .reject(let why) = risk.check(intent, account: account, marks: marks(), now: now) {
                emit(key: "risk_rejected:\(intent.strategy)", kind: .risk, severity: .info, message: "\(intent.strategy): \(why)", alert: false)
                return .notSent(why)
            }
        }
        guard let book = books[intent.tokenID] else { return .notSent("no order book for token \(intent.tokenID)") }
        intent.id = intentIDs.next()
        let outcome = ActionPerformer.perform(OrderFlow.send(intent), journal: { write in
            switch write {
            case .intent(let i):
                try journal.recordIntent(i, at: now)
                liveIntents[i.id] = i
                if crashAfterIntentArmed {
                    // Test hook (F38): die between the write-ahead intent and its fill, once per journal.
                    logger.critical("test hook crash_after_intent: killing the engine after intent \(i.id)")
                    kill(getpid(), SIGKILL)
                }
            }
        }, venue: { request in venue.handle(request, market: market, book: book, at: now) })
        if let failed = outcome.failed {
            storageFailed("intent not written ahead, so not executed: \(failed.error)", now)
            return .notSent("intent not written ahead: \(failed.error)")
        }
        return perform(outcome.reports, now: now)
    }

    /// Applies what the venue said, in order; the outcome of the order the reports are about.
    @discardableResult
    func perform(_ reports: [VenueReport], now: Date) -> Execution {
        var outcome = Execution.notSent("no answer from the venue")
        // An immediate order's unfilled rest is cancelled in the same answer: its fill is then recorded as partial.
        let cutShort = Set(reports.compactMap { r -> String? in if case .cancelled(let id, _, _) = r { return id } else { return nil } })
        for report in reports {
            switch report {
            case .filled(let fill, let open):
                let done = open == 0
                let status = !done ? "resting" : cutShort.contains(fill.intentID) ? "partial" : "filled"
                if record(fill, status: status, now: now) {
                    outcome = .filled
                } else {
                    if !done { perform(venue.handle(.cancel(intentID: fill.intentID, reason: "its fill could not be taken"), market: nil, book: nil, at: now), now: now) }
                    if case .filled = outcome {} else { outcome = .rejected("fill not taken") }
                }
                if done && !cutShort.contains(fill.intentID) { liveIntents[fill.intentID] = nil }
            case .resting(let id, let open):
                do { try journal?.markResting(id) } catch { storageFailed("resting order \(id) not recorded: \(error)", now) }
                if let i = liveIntents[id] {
                    emit(key: "order_resting:\(i.strategy)", kind: .order, severity: .info,
                         message: "\(i.strategy) \(i.side.rawValue) \(Fixed.text(open)) of \(i.tokenID) resting at \(Fixed.text(i.limitPrice, decimals: 4)): \(i.reason)", alert: false)
                }
                if case .filled = outcome {} else { outcome = .resting }
            case .cancelled(let id, let unfilled, let reason):
                let intent = liveIntents.removeValue(forKey: id)
                let traded = intent.map { unfilled < $0.shares } ?? false
                finish(id, status: traded ? "partial" : "cancelled", note: reason, now: now)
                if let intent, intent.timeInForce == .resting {
                    emit(key: "order_cancelled:\(intent.strategy)", kind: .order, severity: .info,
                         message: "\(intent.strategy): order \(id) cancelled with \(Fixed.text(unfilled)) unfilled: \(reason)", alert: false)
                }
            case .rejected(let id, let reason):
                let intent = liveIntents.removeValue(forKey: id)
                finish(id, status: "rejected", note: reason, now: now)
                let who = intent?.strategy ?? "?"
                emit(key: "order_rejected:\(who)", kind: .order, severity: .info, message: "\(who): order rejected: \(reason)", alert: false)
                outcome = .rejected(reason)
            }
        }
        return outcome
    }

    /// Records how an order ended; while storage fails (or the write fails) it is held and written when storage
    /// works again, so a cancelled order is never resurrected by a restart that follows the recovery.
    func finish(_ id: String, status: String, note: String, now: Date) {
        guard let journal else { return }
        if storageProblem == nil {
            do { return try journal.finishIntent(id, status: status, note: note, at: now) } catch {
                storageFailed("end of order \(id) (\(status)) not recorded yet: \(error)", now)
            }
        }
        pendingFinishes.append((id, status, note, now))
    }

    /// A fill on the account and in the journal, in one transaction; false when it could not be taken (the account
    /// cannot pay, or storage failed: the paper fill is then void).
    func record(_ fill: Fill, status: String, now: Date) -> Bool {
        guard let journal, var account = accounts[fill.strategy] else { return false }
        do {
            try account.apply(fill)
        } catch {
            do { try journal.finishIntent(fill.intentID, status: "rejected", note: "\(error)", at: now) } catch {
                storageFailed("rejection not recorded: \(error)", now)
            }
            emit(key: "order_rejected:\(fill.strategy)", kind: .order, severity: .info, message: "\(fill.strategy): fill refused by the account: \(error)", alert: false)
            return false
        }
        let trade = TradeInfo(id: 0, intent_id: fill.intentID, strategy: fill.strategy, market_id: fill.marketID, token_id: fill.tokenID,
                              side: fill.side.rawValue, shares: Fixed.text(fill.shares, decimals: 6),
                              price: Fixed.text(fill.averagePrice, decimals: 6), notional: Fixed.text(fill.notional, decimals: 6),
                              fee: Fixed.text(fill.fee, decimals: 6), at: now.timeIntervalSince1970)
        do {
            let seq = try journal.recordFill(fill, account: account, status: status, eventTopic: EngineTopic.trades, event: trade)
            accounts[fill.strategy] = account
            publishEncoded(EngineTopic.trades, trade, seq: UInt64(seq))
            let why = liveIntents[fill.intentID]?.reason ?? "resting order"
            emit(key: "fill:\(fill.intentID)", kind: .fill, severity: .info,
                 message: "\(fill.strategy) \(fill.side.rawValue) \(Fixed.text(fill.shares)) of \(fill.tokenID) (market \(fill.marketID)) at \(Fixed.text(fill.averagePrice, decimals: 4)): \(why)")
            return true
        } catch {
            storageFailed("fill not recorded (the paper order is void): \(error)", now)
            return false
        }
    }

    /// Resting orders: those the trading state no longer allows, or whose market closed, are taken off the book;
    /// the others fill when a fresh book crosses them. Nothing fills while storage fails (it could not be recorded).
    func matchResting(_ now: Date) {
        guard !venue.openOrders.isEmpty else { return }
        for r in venue.openOrders {
            let i = r.intent
            var why: String?
            if let blocked = control.blocking(i.kind, marketID: i.marketID) { why = "\(blocked.effect.rawValue): \(blocked.code)" }
            else if let m = markets[i.marketID], m.closed || !m.acceptingOrders { why = "market \(i.marketID) closed" }
            else if health[i.strategy]?.isDisabled == true { why = "strategy \(i.strategy) disabled" }
            if let why { perform(venue.handle(.cancel(intentID: i.id, reason: why), market: nil, book: nil, at: now), now: now) }
        }
        guard storageProblem == nil else { return }
        let fresh = settings.staleMarketAfter.seconds
        for token in Set(venue.openOrders.map(\.intent.tokenID)).sorted() {
            guard let b = books[token], isTradable(b, now: now, freshFor: fresh),
                  let id = venue.openOrders.first(where: { $0.intent.tokenID == token })?.intent.marketID, let m = markets[id] else { continue }
            perform(venue.bookChanged(b, market: m, at: now), now: now)
        }
    }

    // MARK: - Storage and disk

    func storageFailed(_ message: String, _ now: Date) {
        logger.error("storage: \(message)")
        storageProblem = message
        emit(DegradationMatrix.assess(.storageDegraded, bad: true, DegradationFact(since: now, detail: message), now: now, control: &control))
    }

    /// While storage is degraded, one write every `storageProbeInterval`: the alerts held back (under their seqs),
    /// or a probe event.
    func probeStorage(_ now: Date) {
        guard control.has(.storageDegraded), let journal else { return }
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
            storageProblem = nil
            persistReasons()  // an operator or risk reason raised meanwhile is stored now
            emit(DegradationMatrix.assess(.storageDegraded, bad: false, DegradationFact(since: now), now: now, control: &control))
        } catch {
            storageProblem = "\(error)"
        }
    }

    func checkWritable(_ now: Date) {
        guard let journal, storageProblem == nil else { return }
        if let last = lastWritableCheck, now.timeIntervalSince(last) < Self.writableCheckInterval, now >= last { return }
        lastWritableCheck = now
        do { try journal.checkWritable() } catch { storageFailed("journal not writable: \(error)", now) }
    }

    func checkDisk(_ now: Date) {
        var s = statvfs()
        guard statvfs(stateDir, &s) == 0, s.f_blocks > 0 else { return }
        let free = min(Double(s.f_bavail) / Double(s.f_blocks), s.f_files > 0 ? Double(s.f_favail) / Double(s.f_files) : 1) * 100
        emit(DegradationMatrix.assess(.diskLow, bad: free < settings.minFreePercent,
                                      DegradationFact(since: now, detail: String(format: "%.1f%% free", free), place: stateDir,
                                                      bound: String(format: "%.0f%%", settings.minFreePercent)),
                                      now: now, control: &control))
    }

    func periodic(_ now: Date) {
        guard let journal, storageProblem == nil else { return }
        if now.timeIntervalSince(lastEquity) >= settings.equityInterval.seconds {
            lastEquity = now
            let m = marks()
            do {
                try journal.recordEquity(accounts.values.map { ($0.strategy, $0.equity(marks: m)) }, at: now)
            } catch {
                storageFailed("equity not recorded: \(error)", now)
            }
        }
        if now.timeIntervalSince(lastBackup) >= settings.backupInterval.seconds {
            lastBackup = now
            do {
                let path = try journal.backup(at: now, keep: settings.backupsKeep)
                emit(key: "backup", kind: .backup, severity: .info, message: "journal backed up to \(path)", alert: false)
            } catch {
                emit(key: "backup_failed", kind: .storage, severity: .warning, message: "journal backup failed: \(error)")
            }
        }
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
        publisher.publish(EngineTopic.activity, event)
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
        publisher.publishRaw(EngineTopic.alerts, json: Data(payload.utf8), seq: seq)
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
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        guard let data = try? e.encode(value) else { return }
        publisher.publishRaw(topic, json: data, seq: seq)
    }

    /// Keeps a strategy's cool-down across restarts (before, each restart began it anew and said so again).
    func saveCooldown(_ name: String, _ now: Date) {
        guard let journal, storageProblem == nil else { return }
        do { try journal.saveCooldown(strategy: name, until: risk.cooldownUntil[name]) } catch {
            storageFailed("cool-down of \(name) not saved: \(error)", now)
        }
    }

    func persistReasons() {
        guard let journal else { return }
        var durable = TradingControl()
        for r in control.reasons where r.source != .degradation { durable.raise(r) }
        do { try journal.saveReasons(durable) } catch { storageFailed("operator and risk reasons not saved: \(error)", clock()) }
    }
}
