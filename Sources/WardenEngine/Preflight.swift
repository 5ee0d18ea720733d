// `warden-engine preflight`: what must hold before the engine may trade. Run by the supervisor as pre_start.
import Foundation
import WardenCore
import WardenHTTP
import WardenPolymarket
public import WardenKit

public struct PreflightCheck: Sendable, Codable {
    public enum Outcome: String, Sendable, Codable { case ok, warn, fail }
    public var name: String
    public var outcome: Outcome
    public var detail: String
}

public enum Preflight {
    public static func run(config: WardenConfiguration, paths: WardenPaths) async -> [PreflightCheck] {
        let e = config.engine
        var checks: [PreflightCheck] = [PreflightCheck(name: "configuration", outcome: .ok, detail: config.file)]
        // Directories writable.
        let probe = paths.stateDir + "/.preflight-\(getpid())"
        do {
            try FileManager.default.createDirectory(atPath: paths.stateDir, withIntermediateDirectories: true)
            guard FileManager.default.createFile(atPath: probe, contents: Data("ok".utf8)) else { throw WardenError.posix("create \(probe)") }
            try FileManager.default.removeItem(atPath: probe)
            checks.append(PreflightCheck(name: "state directory", outcome: .ok, detail: "\(paths.stateDir) writable"))
        } catch {
            checks.append(PreflightCheck(name: "state directory", outcome: .fail, detail: "\(paths.stateDir) not writable: \(error)"))
        }
        // Free space and inodes.
        var s = statvfs()
        if statvfs(paths.stateDir, &s) == 0, s.f_blocks > 0 {
            let bytes = Double(s.f_bavail) / Double(s.f_blocks) * 100
            let inodes = s.f_files > 0 ? Double(s.f_favail) / Double(s.f_files) * 100 : 100
            let worst = min(bytes, inodes)
            let outcome: PreflightCheck.Outcome = worst < e.minFreePercent ? .fail : worst < e.minFreePercent * 2 ? .warn : .ok
            checks.append(PreflightCheck(name: "free space", outcome: outcome,
                                         detail: String(format: "%.1f%% space, %.1f%% inodes free (minimum %.0f%%)", bytes, inodes, e.minFreePercent)))
        } else {
            checks.append(PreflightCheck(name: "free space", outcome: .fail, detail: "statvfs \(paths.stateDir) failed"))
        }
        // File descriptor limit.
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        checks.append(PreflightCheck(name: "fd limit", outcome: Int(limit.rlim_cur) >= e.minFDs ? .ok : .fail,
                                     detail: "soft limit \(limit.rlim_cur) open files (needs \(e.minFDs); raise with LimitNOFILE= or ulimit -n)"))
        // Database integrity.
        let dbPath = paths.stateDir + "/engine.db"
        if FileManager.default.fileExists(atPath: dbPath) {
            do {
                let (j, _) = try Journal.open(path: dbPath, backupsDir: paths.stateDir + "/backups")
                _ = j
                checks.append(PreflightCheck(name: "database", outcome: .ok, detail: "\(dbPath) passes integrity_check"))
            } catch {
                checks.append(PreflightCheck(name: "database", outcome: .fail, detail: "\(error)"))
            }
        } else {
            checks.append(PreflightCheck(name: "database", outcome: .warn, detail: "\(dbPath) missing: the engine will start a fresh journal"))
        }
        if e.source == .replay {
            let file = WardenPaths.absolute(e.replayFile ?? "", against: paths.root)
            do {
                let replay = try ReplayMarketData(path: file, speed: e.replaySpeed)
                checks.append(PreflightCheck(name: "replay file", outcome: replay.warnings.isEmpty ? .ok : .warn,
                                             detail: replay.warnings.first ?? "\(file) loads"))
            } catch {
                checks.append(PreflightCheck(name: "replay file", outcome: .fail, detail: "\(error)"))
            }
            return checks
        }
        // Market API reachability and clock skew.
        var retry = RetryPolicy()
        retry.maxAttempts = 1
        let client = PolymarketClient(http: HTTPClient(retry: retry), gammaURL: e.gammaURL, clobURL: e.clobURL,
                                      timeout: e.requestTimeout, connectTimeout: e.connectTimeout)
        do {
            let date = try await client.serverDate()
            checks.append(PreflightCheck(name: "market API", outcome: .ok, detail: "\(e.gammaURL) answers"))
            if let date {
                let skew = abs(date.timeIntervalSinceNow)
                checks.append(PreflightCheck(name: "clock skew", outcome: skew <= e.maxClockSkew.seconds ? .ok : .fail,
                                             detail: String(format: "%.1fs against the API's Date header (limit %.0fs)", skew, e.maxClockSkew.seconds)))
            } else {
                checks.append(PreflightCheck(name: "clock skew", outcome: .warn, detail: "the API sent no Date header"))
            }
        } catch {
            // A warning, not a block: the engine then starts with entries paused for "market data down" on every
            // surface and resumes by itself, which says more than an engine that never starts.
            checks.append(PreflightCheck(name: "market API", outcome: .warn,
                                         detail: "\(e.gammaURL) unreachable: \(error); the engine will start with entries paused until it answers"))
            checks.append(PreflightCheck(name: "clock skew", outcome: .warn, detail: "not checked: the market API did not answer"))
        }
        // The live venue, when strategies trade live: a failure here blocks the start with the exact reason.
        if !e.live.strategies.isEmpty {
            do {
                let c = try await LiveSetup.config(e)
                checks.append(PreflightCheck(name: "venue credentials", outcome: .ok,
                                             detail: "key for \(c.key.address), funder \(c.funder ?? c.key.address), signature type \(c.signatureType.rawValue)"))
                checks += await LiveSetup.checks(c, e)
                _ = try LiveSetup.caps(e.live)
            } catch {
                checks.append(PreflightCheck(name: "venue credentials", outcome: .fail, detail: "\(error)"))
            }
        }
        return checks
    }
}
