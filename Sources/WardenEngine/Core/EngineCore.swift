// The engine's trading state and its decisions as one value (DESIGN §4.1): markets and books, accounts, open
// orders, the risk book, the trading-state reasons, strategy health and order ids. `handle` takes an input and the
// time and returns what to do, in order: journal writes, venue requests, notices. No clock, no I/O, no randomness:
// the same inputs give the same actions. The paper venue is part of the core (its answer is computed here, after the
// intent's journal write in the same list); a driver that fails a barrier write performs nothing after it and says
// so with `.journalFailed`, and the core puts the trading state back as it was before that order.
public import Foundation
public import WardenCore
public import WardenHTTP
import WardenIPC
import WardenKit

public struct EngineCore: Sendable {
    public struct Settings: Sendable, Equatable {
        /// A book older than this is not traded on.
        public var staleMarketAfter: TimeInterval
        /// Errors within the window that disable a strategy.
        public var strategyErrorsMax: Int
        public var strategyErrorsWindow: TimeInterval
        /// Starting cash of each strategy's paper sub-account.
        public var bankroll: Micros
        /// No successful refresh this long pauses entries everywhere.
        public var staleDataAfter: TimeInterval = 30
        /// Free space of the state directory (percent) below which entries pause.
        public var minFreePercent = 5.0
        /// The API health guard: error rate or rate-limit usage at which entries pause, and for how long.
        public var healthErrorRate = 0.2
        public var healthRateLimitUsage = 0.9
        public var healthCooldown: TimeInterval = 300

        public init(staleMarketAfter: TimeInterval, strategyErrorsMax: Int, strategyErrorsWindow: TimeInterval, bankroll: Micros) {
            self.staleMarketAfter = staleMarketAfter; self.strategyErrorsMax = strategyErrorsMax
            self.strategyErrorsWindow = strategyErrorsWindow; self.bankroll = bankroll
        }

        /// The core's part of the engine's settings.
        public init(_ e: EngineSettings, bankroll: Micros) {
            self.init(staleMarketAfter: e.staleMarketAfter.seconds, strategyErrorsMax: e.strategyErrorsMax,
                      strategyErrorsWindow: e.strategyErrorsWindow.seconds, bankroll: bankroll)
            staleDataAfter = e.staleDataAfter.seconds
            minFreePercent = e.minFreePercent
            healthErrorRate = e.healthErrorRate
            healthRateLimitUsage = e.healthRateLimitUsage
            healthCooldown = e.healthCooldown.seconds
        }
    }

    /// What the driver observed that the core does not hold itself: the feed's trust, stalls, the market data's
    /// age, the disk, the API hosts. Nil or empty facts are not judged (a backtest has no disk to watch).
    public struct Observations: Sendable {
        /// Tokens whose feed connection (re)started at that time: not traded until a snapshot after it.
        public var awaitingSnapshot: [String: Date]
        /// After a stall or suspend, only books observed from this time on are traded on.
        public var booksValidFrom: Date?
        /// Since when the market data is good: the last successful refresh (or the start, before any); nil: not judged.
        public var dataGoodSince: Date?
        /// Why the last refresh failed, when it did.
        public var dataProblem: String?
        /// Free space of the state directory in percent, and that directory; nil: not judged.
        public var diskFreePercent: Double?
        public var diskPlace: String
        /// The market API hosts, for the health guard.
        public var hosts: [HostStats]

        public init(awaitingSnapshot: [String: Date] = [:], booksValidFrom: Date? = nil, dataGoodSince: Date? = nil, dataProblem: String? = nil,
                    diskFreePercent: Double? = nil, diskPlace: String = "", hosts: [HostStats] = []) {
            self.awaitingSnapshot = awaitingSnapshot; self.booksValidFrom = booksValidFrom; self.dataGoodSince = dataGoodSince
            self.dataProblem = dataProblem; self.diskFreePercent = diskFreePercent; self.diskPlace = diskPlace; self.hosts = hosts
        }
    }

    /// The state an order's failed journal write puts back.
    struct Checkpoint: Sendable {
        var index: Int
        var accounts: [String: Account]
        var health: [String: StrategyHealth]
        var venue: PaperVenue
        var live: LiveBook
        var liveIntents: [String: OrderIntent]
        var risk: RiskBook
        var control: TradingControl
    }

    public let settings: Settings
    public let strategies: [any Strategy]
    public var marketBook: MarketBook
    public var accounts: [String: Account] = [:]
    public var health: [String: StrategyHealth] = [:]
    /// Where orders go: takers walk the book, resting orders wait at their limit.
    public var venue: PaperVenue
    /// Orders on the live venue (strategies configured for it), their caps and whether new ones may go.
    public var live: LiveBook
    /// Shadow mode: paper strategies whose orders are also signed for the live venue and journaled (never sent).
    public var shadow: Set<String> = []
    /// Orders sent and not yet done (immediate ones while they execute, resting ones until filled or cancelled).
    public var liveIntents: [String: OrderIntent] = [:]
    /// Marks, day starts, cool-downs, the drawdown halt and the entry checks.
    public var risk: RiskBook
    public var control = TradingControl()
    /// Why storage is failing (nothing is executed until it works: nothing could be written ahead).
    public private(set) var storageProblem: String?
    /// Whether there is a journal at all (without one nothing is executed).
    public let journalUsable: Bool
    public var intentIDs: IntentIDs
    /// Held markets whose missing book was alerted (a recovery is said when it is back).
    public internal(set) var noBookAlerted: Set<String> = []
    /// The actions of the input being handled.
    var out: [EngineAction] = []
    /// Where each order of those actions began, with the state before it.
    private var checkpoints: [Checkpoint] = []
    /// The actions of the last input that could move orders (a failed write names its place in them).
    private var lastActions: [EngineAction] = []

    public init(settings: Settings, strategies: [any Strategy], limits: TradingLimits, journalUsable: Bool, intentIDs: IntentIDs,
                live: LiveBook = LiveBook()) {
        self.live = live
        self.settings = settings
        self.strategies = strategies
        self.marketBook = MarketBook(historyLength: strategies.map(\.historyLength).max() ?? 0)
        self.venue = PaperVenue(broker: PaperBroker(slippageBound: limits.slippage))
        self.risk = RiskBook(limits: limits.risk)
        self.journalUsable = journalUsable
        self.intentIDs = intentIDs
    }

    // MARK: - Inputs

    public enum Input: Sendable {
        /// The cycle's trading pass: marks and risk, resting orders, then every strategy on the tradable markets.
        case tick(Observations)
        /// The operator's kill switch: every open order off the book at once.
        case cancelAll(reason: String)
        /// The operator pauses entries (until resumed, or for `expiresIn` seconds).
        case pause(reason: String, author: String, expiresIn: Double?)
        case resume(author: String)
        /// An operator switch (the kill switch, reduce-only) turned on or off; `what` names it in texts.
        case operatorSwitch(ReasonCode, on: Bool, author: String, what: String)
        /// The operator's flatten: open orders of the market (or all) cancelled, positions sold at the book.
        case flatten(marketID: String?, author: String, Observations)
        /// The operator cleared a drawdown halt: peaks re-based on the current equity.
        case haltReset(author: String)
        /// Markets were looked up for their resolution: held positions of resolved ones are paid, exactly once.
        case settle
        /// Storage failed (a write, the writable check): nothing is executed until it works again.
        case storageFailed(String)
        /// Storage works again.
        case storageRecovered
        /// A market WebSocket connection failed `attempts` times in a row (`reason`): entries pause while it retries.
        case feedGaveUp(connection: Int, attempts: Int, reason: String)
        /// Every market WebSocket connection is up again: entries resume.
        case feedUp
        /// The barrier write at `index` of the last actions failed; nothing after it was performed.
        case journalFailed(index: Int, error: String)
        /// What the live venue said about orders (answers to requests, reconciliation, the user channel).
        case venueReports([VenueReport])
        /// The live venue's health: why no new order may go (nil: healthy again).
        case venueHealth(problem: String?)
        /// A condition of the live venue (reads failing, cancel-only) observed bad or good again.
        case venueCondition(ReasonCode, bad: Bool, detail: String, count: Int)
        /// Reconciliation found what it cannot settle `count` times in a row (`detail`; nil: it agrees again).
        case reconcileDrift(detail: String?, count: Int)
        /// A booked live fill whose trade FAILED at settlement: taken back from its account.
        case voidFill(Fill, reason: String)

        /// Whether its actions may move orders, fills or payouts (and so hold checkpoints a failed write goes back to).
        var canSendOrders: Bool {
            switch self {
            case .tick, .cancelAll, .flatten, .haltReset, .settle, .venueReports, .voidFill: return true
            case .pause, .resume, .operatorSwitch, .storageFailed, .storageRecovered, .journalFailed, .feedGaveUp, .feedUp, .venueHealth, .reconcileDrift, .venueCondition: return false
            }
        }
    }

    /// Storage is still failing (a probe failed): the problem is updated, nothing said again.
    public mutating func storageStillFailing(_ message: String) { storageProblem = message }

    public mutating func handle(_ input: Input, at now: Date) -> [EngineAction] {
        out = []
        // Only an input that can send orders starts a new list to undo in: the others (storage failed while the
        // driver was still performing that list, say) leave its checkpoints for a `.journalFailed` that follows.
        let startsList = input.canSendOrders
        if startsList { checkpoints = [] }
        switch input {
        case .tick(let seen):
            assess(now, seen)
            matchResting(now, seen)
            markAndRisk(now)
            trade(now, seen)
        case .cancelAll(let reason):
            apply(venue.handle(.cancelAll(strategy: nil, reason: reason), market: nil, book: nil, at: now), now: now)
            // Live: every order of the account off the venue, verified by re-reading (the driver reports each).
            if !live.isEmpty { out.append(.venue(.cancelAll(strategy: nil, reason: reason))) }
        case .venueReports(let reports):
            checkpoint()
            apply(reports, now: now)
        case .venueHealth(let problem):
            venueHealth(problem, now: now)
        case .voidFill(let fill, let reason):
            voidFill(fill, reason: reason, now: now)
        case .venueCondition(let code, let bad, let detail, let count):
            notice(DegradationMatrix.assess(code, bad: bad, DegradationFact(since: now, detail: detail, bound: "\(count)"), now: now, control: &control))
        case .reconcileDrift(let detail, let count):
            notice(DegradationMatrix.assess(.reconcileDrift, bad: detail != nil, DegradationFact(since: now, detail: detail ?? "", bound: "\(count)"),
                                            now: now, control: &control))
        case .pause(let reason, let author, let expiresIn):
            control.raise(TradingReason(code: .operatorPause, since: now, expiresAt: expiresIn.map { now.addingTimeInterval($0) },
                                        message: reason, author: author))
            persistReasons()
            notice(key: "operator_pause", kind: .paused, severity: .warning, message: "paused by \(author): \(reason)")
            out.append(.reply("paused by \(author)"))
        case .resume(let author):
            guard let gone = control.clear(.operatorPause) else { out.append(.reply("not paused by an operator")); break }
            persistReasons()
            notice(key: "operator_pause", kind: .resumed, severity: .info, message: "resumed by \(author)", duration: now.timeIntervalSince(gone.since))
            out.append(.reply("resumed by \(author)"))
        case .operatorSwitch(let code, let on, let author, let what):
            operatorSwitch(code, on: on, author: author, what: what, now: now)
        case .flatten(let marketID, let author, let seen):
            flatten(marketID: marketID, author: author, now: now, seen)
        case .haltReset(let author):
            haltReset(author: author, now: now)
        case .settle:
            settle(now)
        case .storageFailed(let message):
            storageFailed(message, now)
        case .storageRecovered:
            storageProblem = nil
            persistReasons()  // an operator or risk reason raised meanwhile is stored now
            notice(DegradationMatrix.assess(.storageDegraded, bad: false, DegradationFact(since: now), now: now, control: &control))
        case .journalFailed(let index, let error):
            journalFailed(index: index, error: error, now: now)
        case .feedGaveUp(let connection, let attempts, let reason):
            notice(DegradationMatrix.assess(.marketWSDown, bad: true, DegradationFact(since: now, detail: reason, place: "\(connection)", bound: "\(attempts)"),
                                            now: now, control: &control))
        case .feedUp:
            notice(DegradationMatrix.assess(.marketWSDown, bad: false, DegradationFact(since: now), now: now, control: &control))
        }
        if startsList { lastActions = out }
        return out
    }

    // MARK: - Saying and recording

    mutating func notice(_ n: EngineNotice?) { if let n { out.append(.notice(n)) } }

    mutating func notice(key: String, kind: EventKind, severity: Severity, message: String, duration: Double? = nil, alert: Bool = true) {
        out.append(.notice(EngineNotice(key: key, kind: kind, severity: severity, message: message, duration: duration, alert: alert)))
    }

    /// The reasons that outlive a restart (operator and risk; degradation is observed again).
    public var durableReasons: TradingControl {
        var durable = TradingControl()
        for r in control.reasons where r.source != .degradation { durable.raise(r) }
        return durable
    }

    mutating func persistReasons() { out.append(.journal(.reasons(durableReasons))) }

    mutating func storageFailed(_ message: String, _ now: Date) {
        storageProblem = message
        out.append(.log(.critical, "storage: \(message)"))
        notice(DegradationMatrix.assess(.storageDegraded, bad: true, DegradationFact(since: now, detail: message), now: now, control: &control))
    }

    /// The order whose write failed, and every order after it, never happened: the state before it comes back.
    mutating func journalFailed(index: Int, error: String, now: Date) {
        let failed: JournalWrite? = { if case .journal(let w) = lastActions[safe: index] { return w } else { return nil } }()
        if let cp = checkpoints.last(where: { $0.index <= index }) {
            // Storage failing meanwhile stays failing (said once): the rest comes back as it was before the order.
            let degraded = control.reasons.first { $0.code == .storageDegraded }
            accounts = cp.accounts; health = cp.health; venue = cp.venue; live = cp.live; liveIntents = cp.liveIntents; risk = cp.risk; control = cp.control
            if let degraded { control.raise(degraded) }
        }
        checkpoints = []
        switch failed {
        case .intent(let i)?, .liveIntent(let i)?: storageFailed("intent \(i.id) not written ahead, so not executed: \(error)", now)
        case .fill(let f, _, _, _)?: storageFailed("fill of \(f.intentID) not recorded (the paper order is void): \(error)", now)
        case .voidFill(let f, _, _)?: storageFailed("void of the failed trade \(f.venueTradeID ?? "?") not recorded (retried at the next reconciliation): \(error)", now)
        case .settlement(let strategy, let marketID, _, _, _)?: storageFailed("settlement of \(marketID) for \(strategy) not recorded: \(error)", now)
        default: storageFailed("journal write failed: \(error)", now)
        }
    }

    // MARK: - Marks and risk

    /// Best bid of every token a position is held in (the only marks equity reads).
    public func marks() -> [String: Micros] { marketBook.marks(accounts.values) }

    mutating func markAndRisk(_ now: Date) {
        for fact in risk.assess(&accounts, marks: marks(), now: now, halted: control.has(.drawdown)) {
            switch fact {
            case .cooldownStarted(let name, let losses, let until):
                out.append(.journal(.cooldown(strategy: name, until: until)))
                notice(key: "loss_streak:\(name)", kind: .risk, severity: .warning,
                       message: "\(name): \(losses) losses in a row; entries cool down until \(isoString(until))")
            case .cooldownEnded(let name):
                out.append(.journal(.cooldown(strategy: name, until: nil)))
            case .drawdownBreached(let fraction, let total, let peak):
                let dd = fraction * 100
                control.raise(TradingReason(code: .drawdown, since: now,
                                            message: String(format: "drawdown %.1f%% from peak reached the limit %.0f%%; exits only until an operator resets", dd, risk.limits.maxDrawdownFraction * 100)))
                persistReasons()
                notice(key: "drawdown", kind: .halted, severity: .critical,
                       message: String(format: "HALTED: drawdown %.1f%% (equity %@ from peak %@); exits only until `wardenctl halt-reset`", dd, Fixed.text(total), Fixed.text(peak)))
            }
        }
    }

    // MARK: - Trading

    /// Fresh enough to trade on: observed within the bound, after any stall or suspend, and trusted by the feed.
    static func isTradable(_ book: OrderBook, now: Date, freshFor: TimeInterval, _ seen: Observations) -> Bool {
        now.timeIntervalSince(book.observedAt) <= freshFor && seen.booksValidFrom.map { book.observedAt >= $0 } != false
            && (seen.awaitingSnapshot.isEmpty || seen.awaitingSnapshot[book.tokenID] == nil)
    }

    mutating func trade(_ now: Date, _ seen: Observations) {
        let fresh = settings.staleMarketAfter
        // What every strategy looks at is the same this cycle: the tradable markets with their books, built once.
        var contexts = marketBook.tradable(at: now) { Self.isTradable($0, now: now, freshFor: fresh, seen) }
            .map { StrategyContext(snapshot: $0, positions: [], cash: 0) }
        // Open orders by strategy and market, read once: what each strategy is shown of its own.
        var open: [String: [String: [RestingOrder]]] = [:]
        // Resting buys hold their cash, as an exchange holds the balance behind an open order.
        var reserved: [String: Micros] = [:]
        for o in openOrders {
            open[o.intent.strategy, default: [:]][o.intent.marketID, default: []].append(o)
            if o.intent.side == .buy { reserved[o.intent.strategy, default: 0] += Fixed.costUp(o.intent.limitPrice, o.open) }
        }
        for strategy in strategies {
            guard var h = health[strategy.name], !h.isDisabled, let account = accounts[strategy.name] else { continue }
            // Each market is evaluated once per strategy, after which only its own positions change: grouped once.
            let positions = Dictionary(grouping: account.positions.values, by: \.marketID)
            let mine = open[strategy.name] ?? [:]
            var cash = max(0, account.cash - (reserved[strategy.name] ?? 0))
            for k in contexts.indices {
                if h.isDisabled { break }  // disabled by an error on an earlier market: not asked again this cycle
                // The context of each market is built once per cycle; only what is this strategy's own is set here
                // (copying a snapshot per strategy and market cost more than the strategies' own work), looked up
                // by market only when the strategy has any.
                contexts[k].positions = positions.isEmpty ? [] : positions[contexts[k].snapshot.market.id] ?? []
                contexts[k].openOrders = mine.isEmpty ? [] : mine[contexts[k].snapshot.market.id] ?? []
                contexts[k].cash = cash
                let decisions: [StrategyDecision]
                do {
                    decisions = try strategy.decide(contexts[k])
                } catch {
                    strategyError(strategy.name, "threw on market \(contexts[k].snapshot.market.id): \(error)", &h, now)
                    continue
                }
                guard !decisions.isEmpty else { continue }
                let m = contexts[k].snapshot.market
                for decision in decisions {
                    switch decision {
                    case .cancel(let id, let reason):
                        if let o = live.orders[id], o.intent.strategy == strategy.name {
                            cancelLive(o, reason: reason, now: now)
                            continue
                        }
                        guard venue.openOrder(id)?.intent.strategy == strategy.name else {
                            h.rejectedIntents += 1
                            strategyError(strategy.name, "asked to cancel order \(id), which is not an open order of its own", &h, now)
                            continue
                        }
                        apply(venue.handle(.cancel(intentID: id, reason: reason), market: nil, book: nil, at: now), now: now)
                    case .place(let intent):
                        if let problem = IntentValidator.problem(intent, strategy: strategy.name, market: m) {
                            h.rejectedIntents += 1
                            strategyError(strategy.name, "invalid intent on market \(m.id): \(problem)", &h, now)
                            continue
                        }
                        // The health kept so far goes with the order's checkpoint.
                        health[strategy.name] = h
                        execute(intent, market: m, now: now)
                    }
                }
                let held = openOrders.filter { $0.intent.strategy == strategy.name && $0.intent.side == .buy }
                    .reduce(Micros(0)) { $0 + Fixed.costUp($1.intent.limitPrice, $1.open) }
                cash = max(0, (accounts[strategy.name]?.cash ?? cash) - held)
            }
            health[strategy.name] = h
        }
    }

    mutating func strategyError(_ name: String, _ message: String, _ h: inout StrategyHealth, _ now: Date) {
        out.append(.log(.warning, "strategy \(name) \(message)"))
        if h.record(error: message, at: now, maxErrors: settings.strategyErrorsMax, window: settings.strategyErrorsWindow) {
            notice(key: "strategy_disabled:\(name)", kind: .strategy, severity: .critical,
                   message: "strategy \(name) disabled: \(h.disabledReason ?? message); the others go on")
        } else {
            notice(key: "strategy_error:\(name)", kind: .strategy, severity: .warning, message: "strategy \(name) \(message)", alert: false)
        }
    }

    /// What became of one intent.
    public enum Execution: Equatable, Sendable {
        case filled
        /// On the venue's book at its limit (nothing traded yet).
        case resting
        /// Not sent to the book: blocked by the trading state or risk, or nothing could be written ahead.
        case notSent(String)
        /// Handed to the live venue (its answer comes back as reports).
        case sent
        case rejected(String)
    }

    /// Trading state, risk, the write-ahead intent, the venue, the fill with its account; in that order.
    @discardableResult
    mutating func execute(_ proposed: OrderIntent, market: Market, now: Date, operatorAction: Bool = false) -> Execution {
        var intent = proposed
        if !operatorAction, let blocked = control.blocking(intent.kind, marketID: intent.marketID) {
            return .notSent("\(blocked.effect.rawValue): \(blocked.code)")
        }
        guard journalUsable else { return .notSent("journal unusable") }
        // Nothing can be written ahead while storage fails, so nothing is executed (exits included).
        if let storageProblem { return .notSent("storage degraded: \(storageProblem)") }
        guard let account = accounts[intent.strategy] else { return .notSent("no account for \(intent.strategy)") }
        if !operatorAction, case .reject(let why) = risk.check(intent, account: account, marks: marks(), now: now) {
            notice(key: "risk_rejected:\(intent.strategy)", kind: .risk, severity: .info, message: "\(intent.strategy): \(why)", alert: false)
            return .notSent(why)
        }
        guard let book = marketBook.book(intent.tokenID) else { return .notSent("no order book for token \(intent.tokenID)") }
        if live.trades(intent.strategy) { return sendLive(intent, now: now) }
        intent.id = intentIDs.next()
        checkpoint()
        out += OrderFlow.send(intent)
        if shadow.contains(intent.strategy) { out.append(.shadow(intent)) }
        liveIntents[intent.id] = intent
        return apply(venue.handle(.submit(intent), market: market, book: book, at: now), now: now)
    }

    /// The state before the order whose actions begin here (put back if its barrier write fails).
    mutating func checkpoint() {
        checkpoints.append(Checkpoint(index: out.count, accounts: accounts, health: health, venue: venue, live: live, liveIntents: liveIntents,
                                      risk: risk, control: control))
    }

    /// Applies what the venue said, in order; the outcome of the order the reports are about.
    @discardableResult
    mutating func apply(_ reports: [VenueReport], now: Date) -> Execution {
        var outcome = Execution.notSent("no answer from the venue")
        // An immediate order's unfilled rest is cancelled in the same answer: its fill is then recorded as partial.
        let cutShort = Set(reports.compactMap { r -> String? in if case .cancelled(let id, _, _) = r { return id } else { return nil } })
        for report in reports {
            if live.orders[report.intentID] != nil {
                if !liveReport(report, now: now) { continue }
            } else if case .filled(let f, _) = report, let trade = f.venueTradeID {
                // A trade of a live order no longer held (it ended while a read was under way): booked once all the same.
                if live.booked.contains(trade) { continue }
                live.booked.insert(trade)
            }
            switch report {
            case .placed, .unknown:
                break
            case .filled(let fill, let open):
                let done = open == 0
                let status = !done ? "resting" : cutShort.contains(fill.intentID) ? "partial" : "filled"
                if record(fill, status: status, now: now) {
                    outcome = .filled
                } else {
                    if !done { apply(venue.handle(.cancel(intentID: fill.intentID, reason: "its fill could not be taken"), market: nil, book: nil, at: now), now: now) }
                    if case .filled = outcome {} else { outcome = .rejected("fill not taken") }
                }
                if done && !cutShort.contains(fill.intentID) { liveIntents[fill.intentID] = nil }
            case .resting(let id, let open):
                out.append(.journal(.resting(intentID: id)))
                if live.orders[id] != nil { outcome = .sent; continue }
                if let i = liveIntents[id] {
                    notice(key: "order_resting:\(i.strategy)", kind: .order, severity: .info,
                           message: "\(i.strategy) \(i.side.rawValue) \(Fixed.text(open)) of \(i.tokenID) resting at \(Fixed.text(i.limitPrice, decimals: 4)): \(i.reason)", alert: false)
                }
                if case .filled = outcome {} else { outcome = .resting }
            case .cancelled(let id, let unfilled, let reason):
                let intent = liveIntents.removeValue(forKey: id)
                let traded = intent.map { unfilled < $0.shares } ?? false
                out.append(.journal(.finish(intentID: id, status: traded ? "partial" : "cancelled", note: reason)))
                if let intent, intent.timeInForce.rests {
                    notice(key: "order_cancelled:\(intent.strategy)", kind: .order, severity: .info,
                           message: "\(intent.strategy): order \(id) cancelled with \(Fixed.text(unfilled)) unfilled: \(reason)", alert: false)
                }
            case .rejected(let id, let reason):
                let intent = liveIntents.removeValue(forKey: id)
                out.append(.journal(.finish(intentID: id, status: "rejected", note: reason)))
                let who = intent?.strategy ?? "?"
                notice(key: "order_rejected:\(who)", kind: .order, severity: .info, message: "\(who): order rejected: \(reason)", alert: false)
                outcome = .rejected(reason)
            }
        }
        return outcome
    }

    /// A fill on its account, with its journal write (one transaction); false when the account cannot take it (the
    /// order is then rejected). A fill whose write fails is undone with its order (`.journalFailed`).
    mutating func record(_ fill: Fill, status: String, now: Date) -> Bool {
        guard journalUsable, var account = accounts[fill.strategy] else { return false }
        do {
            try account.apply(fill)
        } catch {
            out.append(.journal(.finish(intentID: fill.intentID, status: "rejected", note: "\(error)")))
            notice(key: "order_rejected:\(fill.strategy)", kind: .order, severity: .info, message: "\(fill.strategy): fill refused by the account: \(error)", alert: false)
            return false
        }
        let trade = TradeInfo(id: 0, intent_id: fill.intentID, strategy: fill.strategy, market_id: fill.marketID, token_id: fill.tokenID,
                              side: fill.side.rawValue, shares: Fixed.text(fill.shares, decimals: 6),
                              price: Fixed.text(fill.averagePrice, decimals: 6), notional: Fixed.text(fill.notional, decimals: 6),
                              fee: Fixed.text(fill.fee, decimals: 6), at: now.timeIntervalSince1970)
        out.append(.journal(.fill(fill, account: account, status: status, trade: trade)))
        accounts[fill.strategy] = account
        let why = liveIntents[fill.intentID]?.reason ?? "resting order"
        notice(key: "fill:\(fill.intentID)", kind: .fill, severity: .info,
               message: "\(fill.strategy) \(fill.side.rawValue) \(Fixed.text(fill.shares)) of \(fill.tokenID) (market \(fill.marketID)) at \(Fixed.text(fill.averagePrice, decimals: 4)): \(why)")
        return true
    }

    /// Resting orders: those the trading state no longer allows, or whose market closed, are taken off the book;
    /// the others fill when a fresh book crosses them. Nothing fills while storage fails (it could not be recorded).
    mutating func matchResting(_ now: Date, _ seen: Observations) {
        // Live orders the trading state no longer allows are cancelled on the venue (asked once; the venue's answer
        // or reconciliation ends them).
        for o in live.orders.values.sorted(by: { $0.intent.id < $1.intent.id }) where o.state == .live && !o.cancelAsked {
            if let blocked = control.blocking(o.intent.kind, marketID: o.intent.marketID) {
                cancelLive(o, reason: "\(blocked.effect.rawValue): \(blocked.code)", now: now)
            } else if health[o.intent.strategy]?.isDisabled == true {
                cancelLive(o, reason: "strategy \(o.intent.strategy) disabled", now: now)
            }
        }
        let resting = venue.openOrders
        guard !resting.isEmpty else { return }
        for r in resting {
            let i = r.intent
            var why: String?
            if let blocked = control.blocking(i.kind, marketID: i.marketID) { why = "\(blocked.effect.rawValue): \(blocked.code)" }
            else if let m = marketBook.markets[i.marketID], m.closed || !m.acceptingOrders { why = "market \(i.marketID) closed" }
            else if let e = i.expiresAt, e <= now { why = "expired (good till \(isoString(e)))" }
            else if health[i.strategy]?.isDisabled == true { why = "strategy \(i.strategy) disabled" }
            if let why { apply(venue.handle(.cancel(intentID: i.id, reason: why), market: nil, book: nil, at: now), now: now) }
        }
        guard storageProblem == nil else { return }
        let fresh = settings.staleMarketAfter
        // Each token's market, from the orders left after the cancels above (read once: the list is built per read).
        var marketOf: [String: String] = [:]
        for r in venue.openOrders where marketOf[r.intent.tokenID] == nil { marketOf[r.intent.tokenID] = r.intent.marketID }
        for token in marketOf.keys.sorted() {
            guard let b = marketBook.book(token), Self.isTradable(b, now: now, freshFor: fresh, seen),
                  let id = marketOf[token], let m = marketBook.markets[id], venue.affected(by: b, market: m) else { continue }
            // The fills a book change brings are undone together if one of their writes fails.
            checkpoint()
            apply(venue.bookChanged(b, market: m, at: now), now: now)
        }
    }

    // MARK: - Settlement

    /// Pays every holder of a resolved market 1 per winning share and 0 per losing one, each payout with its journal
    /// write (undone with it if that fails, and paid again next time). Nothing is paid while storage fails.
    mutating func settle(_ now: Date) {
        guard storageProblem == nil else { return }
        for id in Settlement.heldMarkets(accounts).sorted() {
            guard let m = marketBook.markets[id] else { continue }
            for p in Settlement.payouts(accounts, market: m) {
                let winner = m.winningTokenID ?? "?"
                checkpoint()
                out.append(.journal(.settlement(strategy: p.strategy, marketID: id, winner: winner, payout: p.amount, account: p.account)))
                accounts[p.strategy] = p.account
                notice(key: "settled:\(id):\(p.strategy)", kind: .settlement, severity: .info,
                       message: "\(p.strategy): market \(id) resolved for \(winner); paid \(Fixed.text(p.amount))", alert: false)
            }
        }
    }

    // MARK: - Operator commands

    mutating func flatten(marketID: String?, author: String, now: Date, _ seen: Observations) {
        for r in venue.openOrders where marketID == nil || r.intent.marketID == marketID {
            apply(venue.handle(.cancel(intentID: r.intent.id, reason: "flatten by \(author)"), market: nil, book: nil, at: now), now: now)
        }
        for o in live.orders.values.sorted(by: { $0.intent.id < $1.intent.id }) where marketID == nil || o.intent.marketID == marketID {
            cancelLive(o, reason: "flatten by \(author)", now: now)
        }
        var sent = 0
        var sold = 0
        var notSold: [String] = []
        for a in accounts.values.sorted(by: { $0.strategy < $1.strategy }) {
            for p in a.positions.values.sorted(by: { $0.tokenID < $1.tokenID }) where p.shares > 0 && (marketID == nil || p.marketID == marketID) {
                guard let market = marketBook.markets[p.marketID], let bid = marketBook.book(p.tokenID)?.bestBid else {
                    notSold.append("\(a.strategy) \(p.tokenID): no bid in the book")
                    continue
                }
                let intent = OrderIntent(strategy: a.strategy, marketID: p.marketID, tokenID: p.tokenID, side: .sell, kind: .exit,
                                         limitPrice: flattenLimit(bid: bid, market: market, live: live.trades(a.strategy)), shares: p.shares,
                                         reason: "flatten by \(author)")
                switch execute(intent, market: market, now: now, operatorAction: true) {
                case .filled: sold += 1
                case .sent: sent += 1
                case .resting: notSold.append("\(a.strategy) \(p.tokenID): resting, not filled")
                case .notSent(let why), .rejected(let why): notSold.append("\(a.strategy) \(p.tokenID): \(why)")
                }
            }
        }
        let summary = "\(sold) positions sold" + (sent > 0 ? "; \(sent) sell orders sent to the live venue (FAK)" : "") + (notSold.isEmpty ? "" : "; \(notSold.count) not sold (\(notSold.joined(separator: "; ")))")
        notice(key: "flatten", kind: .operator, severity: .warning,
               message: "flatten\(marketID.map { " of market \($0)" } ?? "") by \(author): \(summary)")
        out.append(.reply(summary))
    }

    mutating func operatorSwitch(_ code: ReasonCode, on: Bool, author: String, what: String, now: Date) {
        if on {
            control.raise(TradingReason(code: code, since: now, message: "\(what) on", author: author))
            persistReasons()
            notice(key: code.rawValue, kind: .paused, severity: .warning, message: "\(what) turned on by \(author)")
            return out.append(.reply("\(what) on"))
        }
        guard let gone = control.clear(code) else { return out.append(.reply("\(what) was not on")) }
        persistReasons()
        notice(key: code.rawValue, kind: .resumed, severity: .info, message: "\(what) turned off by \(author)", duration: now.timeIntervalSince(gone.since))
        out.append(.reply("\(what) off"))
    }

    /// Clears a drawdown halt and starts measuring drawdown from the current equity.
    mutating func haltReset(author: String, now: Date) {
        guard let gone = control.clear(.drawdown) else { return out.append(.reply("not halted")) }
        let m = marks()
        for name in accounts.keys.sorted() {
            guard var a = accounts[name] else { continue }
            a.peakEquity = a.equity(marks: m)
            accounts[name] = a
            out.append(.journal(.account(a)))
        }
        persistReasons()
        notice(key: "drawdown", kind: .resumed, severity: .warning, message: "halt reset by \(author); peak equity re-based",
               duration: now.timeIntervalSince(gone.since))
        out.append(.reply("halt reset by \(author)"))
    }
}

extension Array {
    subscript(safe i: Int) -> Element? { indices.contains(i) ? self[i] : nil }
}
