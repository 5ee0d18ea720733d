// The loop every Warden child does its real work in: a round, then READY=1 (first time), WATCHDOG=1 and
// STATUS= — so a heartbeat proves a completed round, never just a timer.
import Foundation
public import Logging
import ServiceLifecycle

public enum HeartbeatLoop {
    /// Runs `round` every `interval` until graceful shutdown or cancellation; `round` returns the STATUS= line,
    /// or nil when the round could not prove progress (then no WATCHDOG=1: the supervisor's watchdog decides).
    /// A round longer than the interval is followed by the next at once.
    public static func run(every interval: Duration, logger: Logger, round: () async -> String?) async {
        let sd = SystemdNotifier()
        var readySent = false
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let started = ContinuousClock.now
            if let status = await round() {
            do {
                if !readySent {
                    try sd.ready(status: status)
                    readySent = true
                }
                try sd.watchdog()
                try sd.status(status)
            } catch {
                logger.error("sd_notify to the supervisor failed", metadata: ["error": "\(error)"])
            }
            }
            let spent = ContinuousClock.now - started
            if spent < interval {
                do { try await Task.sleep(for: interval - spent) } catch { break }
            }
        }
        do { try sd.stopping() } catch { logger.warning("STOPPING=1 not sent: \(error)") }
    }
}

/// Loads the configuration for a Warden program, with the sections it reads registered first; an invalid one is
/// printed with every bad key and the process exits 78 (EX_CONFIG), as `warden` itself does.
public func loadProgramConfiguration(_ path: String?, program: String, sections: [SectionRegistration] = []) async -> (WardenConfiguration, WardenPaths) {
    let file = path ?? WardenPaths.defaultConfigFile()
    ConfigLoader.register(sections)
    do {
        let cfg = try await ConfigLoader.load(path: file)
        return (cfg, WardenPaths.resolve(cfg))
    } catch {
        FileHandle.standardError.write(Data("\(program): \(error)\n".utf8))
        exit(78)
    }
}
