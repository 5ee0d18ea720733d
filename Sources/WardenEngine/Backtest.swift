// `warden-engine backtest`: a recording played through the same engine code as a live run, on a simulated
// clock and the paper venue, as fast as the CPU allows. Nothing in the engine reads the wall clock: its clock and
// the replay's are the simulated one, which advances by exactly one cycle per cycle.
import Foundation
import Logging
import Synchronization
import WardenCore
import WardenIPC
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
    public var wallSeconds: Double
}

public enum Backtest {
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
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: journalPath + suffix) }
        let dir = (journalPath as NSString).deletingLastPathComponent
        let (journal, _) = try Journal.open(path: journalPath, backupsDir: dir + "/backups", durable: false)
        var s = base
        // Equity about 600 times over the run (the charts' points); no backups, no disk watch, no WebSocket.
        let span = max(last.timeIntervalSince(first), s.cycle.seconds)
        s.equityInterval = .seconds(max(s.cycle.seconds, span / 600))
        s.backupInterval = .seconds(1e9)
        s.minFreePercent = 0
        let quiet = Logger(label: "backtest", factory: { _ in SwiftLogNoOpLogHandler() })
        let engine = TradingEngine(settings: s, journal: journal, journalProblem: nil, source: probe, publisher: EventPublisher(retainPerTopic: 16),
                                   stateDir: dir, logger: quiet, strategies: strategies, clock: { clock.now })
        try await engine.recover()
        let step = s.cycle.seconds
        var t = first
        var cycles = 0
        var told = -1
        while t <= last {
            clock.set(t)
            await engine.cycle(now: t)
            cycles += 1
            let done = Int(t.timeIntervalSince(first) / span * 100)
            if done != told { told = done; progress(Double(done) / 100) }
            t = t.addingTimeInterval(step)
        }
        progress(1)
        let accounts = await engine.accounts.values.sorted { $0.strategy < $1.strategy }
        var equity: [String: [(Date, Micros)]] = [:]
        for a in accounts {
            equity[a.strategy] = try journal.equityHistory(strategy: a.strategy, limit: 1_000_000).map { (Date(timeIntervalSince1970: $0.at), $0.equity) }
        }
        let fills = try journal.trades(limit: 10_000_000).rows.reversed()
        let settlements = try journal.settlementRows()
        let shown: [(String, String)] = [("cycle", s.cycle.short), ("book_refresh", s.bookRefresh.short), ("discovery_interval", s.discoveryInterval.short),
                                         ("stale_data_after", s.staleDataAfter.short), ("stale_market_after", s.staleMarketAfter.short),
                                         ("paper.bankroll", String(format: "%g", s.bankroll)), ("paper.slippage", String(format: "%g", s.slippage))]
        return BacktestResult(data: data, start: first, end: min(t, last), cycles: cycles, settings: shown, accounts: accounts, equity: equity,
                              fills: Array(fills), settlements: settlements, warnings: probe.warnings,
                              wallSeconds: (ContinuousClock.now - started).seconds)
    }
}
