// Work that runs beside the cycle on timers of its own (DESIGN §4.1, the runtime's timer services): equity points for
// the charts, and journal backups. A backup copies the whole journal on a thread of its own (a read transaction: the
// cycle's writes go on meanwhile), so no cycle waits for a slow disk; one still running past its bound is said, and
// its end is said with how long it took.
public import Foundation
import WardenCore
public import Logging
public import ServiceLifecycle
import WardenKit

public struct EngineTimerService: Service {
    let engine: TradingEngine
    let equityEvery: Duration
    let backupEvery: Duration
    let backupsKeep: Int
    /// A backup running this long is said to be stuck (again each time as long).
    let backupSlowAfter: Duration
    let logger: Logger

    public init(engine: TradingEngine, equityEvery: Duration, backupEvery: Duration, backupsKeep: Int,
                backupSlowAfter: Duration = .seconds(120), logger: Logger) {
        self.engine = engine; self.equityEvery = equityEvery; self.backupEvery = backupEvery; self.backupsKeep = backupsKeep
        self.backupSlowAfter = backupSlowAfter; self.logger = logger
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    // The first point once a cycle has marked the positions (before it, held shares have no price).
                    while await engine.cycles == 0 {
                        guard (try? await Task.sleep(for: .milliseconds(100))) != nil else { return }
                    }
                    while !Task.isCancelled {
                        await engine.recordEquity(now: Date())
                        guard (try? await Task.sleep(for: equityEvery)) != nil else { return }
                    }
                }
                group.addTask {
                    while !Task.isCancelled {
                        guard (try? await Task.sleep(for: backupEvery)) != nil else { return }
                        await backupOnce()
                    }
                }
                await group.waitForAll()
            }
        }
    }

    /// One backup on its own thread, watched: said when slow, said when done or failed.
    func backupOnce() async {
        guard let journal = engine.journal else { return }
        let keep = backupsKeep
        let started = ContinuousClock.now
        let watch = Task {
            while true {
                try await Task.sleep(for: backupSlowAfter)
                await engine.backupSlow(for: ContinuousClock.now - started)
            }
        }
        let result: Result<String, any Error> = await Self.onThread { Result { try journal.backup(at: Date(), keep: keep) } }
        watch.cancel()
        await engine.backupFinished(result, took: ContinuousClock.now - started)
    }

    /// Runs `body` on a thread of its own, not on the concurrency pool (a journal copy blocks for as long as the disk
    /// takes).
    static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
            let t = Thread { c.resume(returning: body()) }
            t.name = "warden-backup"
            t.start()
        }
    }
}

extension TradingEngine {
    /// One equity point per strategy (the charts and the backtest report read them); none while storage fails.
    public func recordEquity(now: Date) {
        guard let journal, storageProblem == nil else { return }
        let m = marks()
        do {
            try journal.recordEquity(core.accounts.values.map { ($0.strategy, $0.equity(marks: m)) }, at: now)
        } catch {
            storageFailed("equity not recorded: \(error)", now)
        }
    }

    func backupSlow(for elapsed: Duration) {
        emit(key: "backup_slow", kind: .storage, severity: .warning,
             message: String(format: "journal backup still running after %.0fs (a slow or stuck disk); trading goes on", elapsed.seconds))
    }

    func backupFinished(_ result: Result<String, any Error>, took: Duration) {
        switch result {
        case .success(let path):
            emit(key: "backup", kind: .backup, severity: .info,
                 message: String(format: "journal backed up to %@ in %.1fs", path, took.seconds), alert: false)
        case .failure(let error):
            emit(key: "backup_failed", kind: .storage, severity: .warning, message: "journal backup failed: \(error)")
        }
    }
}
