// `warden-engine backtest`: a recording played through the same engine code as a live run, on a simulated
// clock and the paper venue, as fast as the CPU allows. Nothing in the engine reads the wall clock: its clock and
// the replay's are the simulated one, which advances by exactly one cycle per cycle.
public import Foundation
import Logging
import Synchronization
public import WardenCore
import WardenPolymarket
public import WardenIPC
import WardenKit

/// A clock a backtest moves by hand.
public final class SimulatedClock: Sendable {
    private let current: Mutex<Date>
    public init(_ start: Date) { current = Mutex(start) }
    public var now: Date { current.withLock { $0 } }
    public func set(_ d: Date) { current.withLock { $0 = d } }
}

public struct BacktestResult: Sendable {
    public var data: String
    public var start: Date
    public var end: Date
    public var cycles: Int
    public var settings: [(String, String)]
    /// Final accounts, by strategy name.
    public var accounts: [Account]
    /// Equity samples per strategy, in time order.
    public var equity: [String: [(at: Date, equity: Micros)]]
    /// Every fill, oldest first.
    public var fills: [TradeInfo]
    /// Settlements: strategy, market, time.
    public var settlements: [(strategy: String, market: String, at: Date)]
    /// What was wrong with the recording but did not stop the replay (a cut-short last line).
    public var warnings: [String]
    /// What the engine said at warning or above during the run: each distinct message with how often.
    public var engineSaid: [(level: String, message: String, count: Int)]
    public var wallSeconds: Double
}

public enum Backtest {
    /// A stretch of a recording without records longer than this is skipped rather than played cycle by cycle.
    public static let gapSkip: Duration = .seconds(3600)

    /// Plays `data` through an engine with `strategies`; the journal is written to `journalPath` (replaced).
    /// `progress` gets the fraction of the recording played, now and then.
    public static func run(data: String, settings base: EngineSettings, strategies: [any Strategy], journalPath: String,
                           progress: @Sendable (Double) -> Void = { _ in }) async throws -> BacktestResult {
        let started = ContinuousClock.now
        let clock = SimulatedClock(Date(timeIntervalSince1970: 0))
        // Anchored at its first request, which comes at the simulated start.
        let probe = try ReplayMarketData(path: data, speed: 1, clock: { clock.now }, stopAtBadLine: true)
        let first = Date(timeIntervalSince1970: probe.firstAt), last = Date(timeIntervalSince1970: probe.lastAt)
        clock.set(first)
        // The previous run's journal goes; one that cannot be removed stops the run (appending to it would mix runs).
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: journalPath + suffix) {
            try FileManager.default.removeItem(atPath: journalPath + suffix)
        }
        let dir = (journalPath as NSString).deletingLastPathComponent
        let (journal, _) = try Journal.open(path: journalPath, backupsDir: dir + "/backups", durable: false, batched: true)
        var s = base
        // Equity about 600 times over the run (the charts' points), on the simulated clock (the backtest is the timer);
        // no backups, no disk watch, no WebSocket.
        let span = max(last.timeIntervalSince(first), s.cycle.seconds)
        let equityEvery = max(s.cycle.seconds, span / 600)
        s.minFreePercent = 0
        // What the engine says at warning or above is kept for the report (a strategy error, storage failing), not lost.
        let said = EngineSaid()
        let logger = Logger(label: "backtest", factory: { _ in CollectingLogHandler(into: said) })
        let engine = try TradingEngine(settings: s, journal: journal, journalProblem: nil, source: probe, publisher: EventPublisher(retainPerTopic: 16),
                                   stateDir: dir, logger: logger, strategies: strategies, clock: { clock.now }, runID: "bt")
        try await engine.recover()
        await engine.setPublishes(false)
        let step = s.cycle.seconds
        var t = first
        var cycles = 0
        var told = -1
        var lastEquity = Date.distantPast
        var gaps: [String] = []
        while t <= last {
            // A malformed line ends the play once everything before it has been played.
            if probe.playedOut(before: t.timeIntervalSince1970) { break }
            // A long stretch without records (the recorder was down, or a damaged time far ahead) is skipped, not
            // cycled through: the engine then sees data as old as the gap, as a live one would after an outage.
            if let next = probe.nextRecordAt(), next - t.timeIntervalSince1970 > gapSkip.seconds {
                let to = first.addingTimeInterval(((next - first.timeIntervalSince1970) / step).rounded(.up) * step)
                gaps.append("no records from \(isoString(t)) to \(isoString(Date(timeIntervalSince1970: next))): the clock skipped the gap")
                t = to
            }
            clock.set(t)
            await engine.cycle(now: t)
            if t.timeIntervalSince(lastEquity) >= equityEvery {
                lastEquity = t
                await engine.recordEquity(now: t)
            }
            cycles += 1
            let done = Int(t.timeIntervalSince(first) / span * 100)
            if done != told { told = done; progress(Double(done) / 100) }
            t = t.addingTimeInterval(step)
        }
        progress(1)
        try journal.flush()
        let accounts = await engine.core.accounts.values.sorted { $0.strategy < $1.strategy }
        var equity: [String: [(Date, Micros)]] = [:]
        for a in accounts {
            equity[a.strategy] = try journal.equityHistory(strategy: a.strategy, limit: 1_000_000).map { (Date(timeIntervalSince1970: $0.at), $0.equity) }
        }
        let fills = try journal.trades(limit: 10_000_000).rows.reversed()
        let settlements = try journal.settlementRows()
        let shown: [(String, String)] = [("cycle", s.cycle.short), ("book_refresh", s.bookRefresh.short), ("discovery_interval", s.discoveryInterval.short),
                                         ("stale_data_after", s.staleDataAfter.short), ("stale_market_after", s.staleMarketAfter.short),
                                         ("paper.bankroll", String(format: "%g", s.bankroll)), ("paper.slippage", String(format: "%g", s.slippage))]
        let end = probe.playedOut(before: t.timeIntervalSince1970) ? Date(timeIntervalSince1970: probe.lastPlayedAt) : min(t, last)
        return BacktestResult(data: data, start: first, end: end, cycles: cycles, settings: shown, accounts: accounts, equity: equity,
                              fills: Array(fills), settlements: settlements, warnings: probe.warnings + gaps, engineSaid: said.summary(),
                              wallSeconds: (ContinuousClock.now - started).seconds)
    }
}

/// The engine's warnings and worse during a backtest, each distinct message counted (the first 50 kept).
final class EngineSaid: Sendable {
    private let state = Mutex<(order: [String], seen: [String: (level: String, count: Int)])>(([], [:]))
    func add(_ level: Logger.Level, _ message: String) {
        state.withLock { s in
            if let e = s.seen[message] { s.seen[message] = (e.level, e.count + 1); return }
            guard s.order.count < 50 else { return }
            s.order.append(message)
            s.seen[message] = ("\(level)", 1)
        }
    }
    func summary() -> [(level: String, message: String, count: Int)] {
        state.withLock { s in s.order.compactMap { m in s.seen[m].map { ($0.level, m, $0.count) } } }
    }
}

struct CollectingLogHandler: LogHandler {
    let said: EngineSaid
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .warning
    init(into said: EngineSaid) { self.said = said }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) {
        said.add(event.level, "\(event.message)")
    }
}
