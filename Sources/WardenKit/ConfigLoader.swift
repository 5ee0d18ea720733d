// Reads etc/warden.yaml strictly: unknown keys, wrong types and out-of-range values all stop the start.
import Configuration
import Foundation
import Logging
import SystemPackage
import Yams

/// One thing wrong with a configuration, by key path.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var keyPath: String
    public var reason: String
    public var description: String { "\(keyPath): \(reason)" }
}

/// The configuration could not be used; lists every problem found, each with its key path.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var issues: [ConfigIssue]
    public var description: String {
        "invalid configuration \(file):\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Loads and validates a Warden configuration.
///
/// The YAML file is walked once with Yams to find program names and reject unknown keys;
/// values are then read through swift-configuration's providers, environment first
/// (`WARDEN_SUPERVISOR_LOG_LEVEL`, `WARDEN_PROGRAMS_ENGINE_WATCHDOG_SEC`, …) then the file.
/// Unlike `ConfigReader`'s lenient getters, a value that cannot be converted is an error, never a default.
public enum ConfigLoader {
    static let supervisorKeys: Set<String> = [
        "root", "state_dir", "runtime_dir", "logs_dir", "log_level", "journald", "log_max_bytes",
        "log_keep_files", "log_tail_lines", "resource_interval", "disk_warn_percent",
        "disk_critical_percent", "event_buffer", "allowed_uids", "tick", "containment",
    ]
    static let programKeys: Set<String> = [
        "command", "env", "pass_env", "after", "critical", "autostart", "ready", "start_timeout", "watchdog_sec",
        "stop_timeout", "stop_signal", "kill_mode", "exit_ok", "notify_access", "reload_signal", "reload_timeout", "user", "group", "umask",
        "working_dir", "limit_nofile", "limit_core", "listen", "fd_store_max", "restart", "backoff", "stable_after", "intensity", "cooldown", "limits",
        "pre_start", "pre_start_timeout",
    ]
    /// `engine:` keys, and the keys of its sub-sections.
    static let engineKeys: Set<String> = [
        "source", "gamma_url", "clob_url", "replay_file", "replay_speed", "cycle", "book_refresh", "discovery_interval",
        "stale_market_after", "stale_data_after", "request_timeout", "connect_timeout", "filters", "health",
        "paper", "risk", "strategies", "strategy_errors", "backup_interval", "backups_keep", "equity_interval", "preflight",
        "fee_rates", "ws",
    ]
    static let engineSections: [String: Set<String>] = [
        "filters": ["liquidity_min", "volume_min", "end_within_hours", "max_markets", "tag_ids"],
        "health": ["error_rate", "rate_limit_usage", "cooldown"],
        "paper": ["bankroll", "slippage"],
        "risk": ["max_drawdown", "daily_loss", "max_exposure_per_market", "max_total_exposure", "max_open_positions",
                 "loss_streak", "loss_streak_cooldown"],
        "strategies": ["complement_arb", "near_resolution", "mean_reversion"],
        "strategy_errors": ["max", "window"],
        "preflight": ["block", "min_free_percent", "min_fds", "max_clock_skew"],
        "ws": ["enabled", "url", "assets_per_connection", "ping_interval", "silent_after", "custom_features", "reconnect"],
    ]
    static let strategyKeys: [String: Set<String>] = [
        "complement_arb": ["enabled", "edge", "max_shares"],
        "near_resolution": ["enabled", "band_low", "band_high", "within_hours", "stake"],
        "mean_reversion": ["enabled", "window", "z_entry", "take_profit", "stop_loss", "stake"],
    ]
    /// `engine.ws.reconnect` keys.
    static let wsReconnectKeys: Set<String> = ["base", "multiplier", "cap", "jitter", "max_attempts", "stable_after"]
    static let sectionKeys: [String: Set<String>] = [
        "backoff": ["initial", "max", "multiplier", "jitter"],
        "intensity": ["max_restarts", "window"],
        "limits": ["rss_mb", "fds", "pids"],
    ]

    /// Loads `path`, applying `WARDEN_…` overrides from `environment`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws -> WardenConfiguration
    {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "cannot read \(absolute): no such file or not readable")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "not UTF-8 text")])
        }
        let tree: Node?
        do {
            tree = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "YAML syntax error: \(error)")])
        }
        let fileProvider: FileProvider<YAMLSnapshot>
        do {
            fileProvider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(absolute))
        } catch {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "\(error)")])
        }
        let env = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["warden"])
        let reader = StrictReader(providers: [env, fileProvider])
        var config = WardenConfiguration(file: absolute)
        let (programNames, channelNames) = validateShape(tree, reader: reader)
        readSupervisor(into: &config.supervisor, reader)
        readEngine(into: &config.engine, reader)
        if let rates = tree?.mapping?["engine"]?.mapping?["fee_rates"]?.mapping {
            // Category → taker rate, for fee-enabled markets that give only their `feeType` (categories are
            // Polymarket's, so any name is taken; the published rates are the defaults).
            for (k, _) in rates {
                guard let category = k.string else { continue }
                reader.double("engine.fee_rates.\(category)", in: 0...0.5).map { config.engine.feeRates[category.lowercased()] = $0 }
            }
        }
        readNotifier(into: &config.notifier, channels: channelNames, reader)
        readDashboard(into: &config.dashboard, reader)
        for name in programNames {
            config.programs.append(readProgram(name, tree: tree, reader))
        }
        checkReferences(config, reader)
        if !reader.issues.isEmpty {
            throw ConfigurationError(file: absolute, issues: reader.issues)
        }
        return config
    }

    /// Walks the YAML tree: top-level shape, unknown keys, program names. Returns names in file order.
    /// Returns program names in file order, and channel names when a `notifier.channels` mapping is given.
    private static func validateShape(_ tree: Node?, reader: StrictReader) -> ([String], [String]?) {
        guard let tree else { return ([], nil) }  // an empty file is a configuration with defaults and no programs
        guard let top = tree.mapping else {
            reader.fail("(top level)", "must be a mapping with `supervisor` and `programs`")
            return ([], nil)
        }
        var names: [String] = []
        var channels: [String]?
        for (k, v) in top {
            let key = k.string ?? "?"
            switch key {
            case "supervisor":
                checkKeys(v, path: "supervisor", allowed: supervisorKeys, reader)
            case "engine":
                checkKeys(v, path: "engine", allowed: engineKeys, reader)
                for (sk, sv) in v.mapping ?? [:] {
                    guard let name = sk.string, let allowed = engineSections[name] else { continue }
                    checkKeys(sv, path: "engine.\(name)", allowed: allowed, reader)
                    if name == "ws", let reconnect = sv.mapping?["reconnect"] {
                        checkKeys(reconnect, path: "engine.ws.reconnect", allowed: wsReconnectKeys, reader)
                    }
                    if name == "strategies" {
                        for (stk, stv) in sv.mapping ?? [:] {
                            guard let st = stk.string, let keys = strategyKeys[st] else { continue }
                            checkKeys(stv, path: "engine.strategies.\(st)", allowed: keys, reader)
                        }
                    }
                }
            case "dashboard":
                checkKeys(v, path: "dashboard", allowed: dashboardKeys, reader)
            case "notifier":
                channels = validateNotifier(v, reader)
                if v.mapping?.keys.contains(where: { $0.string == "channels" }) != true { channels = nil }
            case "programs":
                if case .scalar(let s) = v, s.string.isEmpty || s.string == "null" || s.string == "~" { continue }
                guard let programs = v.mapping else {
                    reader.fail("programs", "must be a mapping of program name to its settings")
                    continue
                }
                for (pk, pv) in programs {
                    let name = pk.string ?? "?"
                    guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
                        reader.fail("programs.\(name)", "program names are 1-32 of a-z, 0-9, '-', '_', starting with a letter")
                        continue
                    }
                    names.append(name)
                    checkKeys(pv, path: "programs.\(name)", allowed: programKeys, reader)
                    if let m = pv.mapping {
                        for (sk, sv) in m {
                            guard let s = sk.string else { continue }
                            if let allowed = sectionKeys[s] {
                                checkKeys(sv, path: "programs.\(name).\(s)", allowed: allowed, reader)
                            } else if s == "env" {
                                checkEnv(sv, path: "programs.\(name).env", reader)
                            }
                        }
                    }
                }
            default:
                reader.fail(key, "unknown key\(suggestion(key, ["supervisor", "engine", "notifier", "dashboard", "programs"]))")
            }
        }
        return (names, channels)
    }

    static func checkKeys(_ node: Node, path: String, allowed: Set<String>, _ reader: StrictReader) {
        guard let m = node.mapping else {
            reader.fail(path, "must be a mapping")
            return
        }
        for (k, _) in m {
            let key = k.string ?? "?"
            if !allowed.contains(key) {
                reader.fail("\(path).\(key)", "unknown key\(suggestion(key, allowed))")
            }
        }
    }

    private static func checkEnv(_ node: Node, path: String, _ reader: StrictReader) {
        guard let m = node.mapping else {
            reader.fail(path, "must be a mapping of variable name to value")
            return
        }
        for (k, v) in m {
            let key = k.string ?? "?"
            if key.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                reader.fail("\(path).\(key)", "not a valid environment variable name")
            }
            if v.scalar == nil { reader.fail("\(path).\(key)", "must be a string") }
        }
    }

    /// " (did you mean x?)" for a near miss, else "".
    static func suggestion(_ key: String, _ known: some Collection<String>) -> String {
        let best = known.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= 3 else { return " (known keys: \(known.sorted().joined(separator: ", ")))" }
        return " (did you mean `\(best.0)`?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }

    private static func readSupervisor(into s: inout SupervisorSettings, _ r: StrictReader) {
        let p = "supervisor"
        r.string("\(p).root").map { s.root = $0 }
        r.string("\(p).state_dir").map { s.stateDir = $0 }
        r.string("\(p).runtime_dir").map { s.runtimeDir = $0 }
        r.string("\(p).logs_dir").map { s.logsDir = $0 }
        r.oneOf("\(p).log_level", Logger.Level.allCases.map(\.rawValue)).map { s.logLevel = Logger.Level(rawValue: $0)! }
        r.oneOf("\(p).containment", ["auto", "cgroup", "subreaper"]).map { s.containment = $0 }
        r.oneOf("\(p).journald", JournaldMode.allCases.map(\.rawValue)).map { s.journald = JournaldMode(rawValue: $0)! }
        r.int("\(p).log_max_bytes", in: 4096...(1 << 40)).map { s.logMaxBytes = $0 }
        r.int("\(p).log_keep_files", in: 1...100).map { s.logKeepFiles = $0 }
        r.int("\(p).log_tail_lines", in: 10...100_000).map { s.logTailLines = $0 }
        r.duration("\(p).resource_interval", in: .milliseconds(100)...(.seconds(3600))).map { s.resourceInterval = $0 }
        r.double("\(p).disk_warn_percent", in: 0...100).map { s.diskWarnPercent = $0 }
        r.double("\(p).disk_critical_percent", in: 0...100).map { s.diskCriticalPercent = $0 }
        r.int("\(p).event_buffer", in: 10...1_000_000).map { s.eventBuffer = $0 }
        r.intArray("\(p).allowed_uids").map { s.allowedUIDs = $0 }
        r.duration("\(p).tick", in: .milliseconds(1)...(.seconds(1))).map { s.tick = $0 }
        if s.diskCriticalPercent > s.diskWarnPercent {
            r.fail("\(p).disk_critical_percent", "must not exceed disk_warn_percent (\(s.diskWarnPercent))")
        }
    }

    private static func readEngine(into e: inout EngineSettings, _ r: StrictReader) {
        let p = "engine"
        r.oneOf("\(p).source", EngineSettings.Source.allCases.map(\.rawValue)).map { e.source = EngineSettings.Source(rawValue: $0)! }
        for (key, path) in [("gamma_url", \EngineSettings.gammaURL), ("clob_url", \EngineSettings.clobURL)] {
            if let url = r.string("\(p).\(key)") {
                if (url.hasPrefix("http://") || url.hasPrefix("https://")), URLComponents(string: url)?.host?.isEmpty == false {
                    e[keyPath: path] = url
                } else {
                    r.fail("\(p).\(key)", "`\(url)` is not an http(s) URL with a host")
                }
            }
        }
        if let url = r.string("\(p).ws.url") {
            if (url.hasPrefix("ws://") || url.hasPrefix("wss://")), URLComponents(string: url)?.host?.isEmpty == false {
                e.ws.url = url
            } else {
                r.fail("\(p).ws.url", "`\(url)` is not a ws(s) URL with a host")
            }
        }
        r.string("\(p).replay_file").map { e.replayFile = $0 }
        r.double("\(p).replay_speed", in: 0.01...10_000).map { e.replaySpeed = $0 }
        if e.source == .replay && e.replayFile == nil { r.fail("\(p).replay_file", "required when source is replay") }
        let durations: [(String, WritableKeyPath<EngineSettings, Duration>, ClosedRange<Duration>)] = [
            ("cycle", \.cycle, .milliseconds(50)...(.seconds(600))),
            ("book_refresh", \.bookRefresh, .milliseconds(100)...(.seconds(3600))),
            ("discovery_interval", \.discoveryInterval, .seconds(1)...(.seconds(86400))),
            ("stale_market_after", \.staleMarketAfter, .milliseconds(100)...(.seconds(86400))),
            ("stale_data_after", \.staleDataAfter, .milliseconds(100)...(.seconds(86400))),
            ("request_timeout", \.requestTimeout, .milliseconds(100)...(.seconds(300))),
            ("connect_timeout", \.connectTimeout, .milliseconds(100)...(.seconds(60))),
            ("health.cooldown", \.healthCooldown, .seconds(1)...(.seconds(86400))),
            ("risk.loss_streak_cooldown", \.lossStreakCooldown, .zero...(.seconds(86400 * 7))),
            ("strategy_errors.window", \.strategyErrorsWindow, .seconds(1)...(.seconds(86400))),
            ("backup_interval", \.backupInterval, .seconds(1)...(.seconds(86400 * 7))),
            ("equity_interval", \.equityInterval, .seconds(1)...(.seconds(86400))),
            ("preflight.max_clock_skew", \.maxClockSkew, .milliseconds(100)...(.seconds(3600))),
            ("ws.ping_interval", \.ws.pingInterval, .seconds(1)...(.seconds(60))),
            ("ws.silent_after", \.ws.silentAfter, .seconds(1)...(.seconds(3600))),
            ("ws.reconnect.base", \.ws.reconnectBase, .milliseconds(10)...(.seconds(600))),
            ("ws.reconnect.cap", \.ws.reconnectCap, .milliseconds(10)...(.seconds(3600))),
            ("ws.reconnect.stable_after", \.ws.stableAfter, .seconds(1)...(.seconds(86400))),
        ]
        for (key, path, range) in durations { r.duration("\(p).\(key)", in: range).map { e[keyPath: path] = $0 } }
        if e.ws.reconnectBase > e.ws.reconnectCap { r.fail("\(p).ws.reconnect.base", "must not exceed reconnect.cap (\(e.ws.reconnectCap))") }
        let doubles: [(String, WritableKeyPath<EngineSettings, Double>, ClosedRange<Double>)] = [
            ("health.error_rate", \.healthErrorRate, 0.01...1), ("health.rate_limit_usage", \.healthRateLimitUsage, 0.1...1),
            ("paper.bankroll", \.bankroll, 1...1e9), ("paper.slippage", \.slippage, 0...0.5),
            ("risk.max_drawdown", \.maxDrawdown, 0.01...1), ("risk.daily_loss", \.dailyLoss, 0...1e9),
            ("risk.max_exposure_per_market", \.maxExposurePerMarket, 0...1e9), ("risk.max_total_exposure", \.maxTotalExposure, 0...1e9),
            ("strategies.complement_arb.edge", \.arbEdge, 0...0.5), ("strategies.complement_arb.max_shares", \.arbMaxShares, 1...1e7),
            ("strategies.near_resolution.band_low", \.favouriteBandLow, 0.01...0.99),
            ("strategies.near_resolution.band_high", \.favouriteBandHigh, 0.01...0.99),
            ("strategies.near_resolution.within_hours", \.favouriteWithinHours, 0.01...8760),
            ("strategies.near_resolution.stake", \.favouriteStake, 0.01...1e9),
            ("strategies.mean_reversion.z_entry", \.mrZEntry, 0.1...10), ("strategies.mean_reversion.take_profit", \.mrTakeProfit, 0.001...0.99),
            ("strategies.mean_reversion.stop_loss", \.mrStopLoss, 0.001...0.99), ("strategies.mean_reversion.stake", \.mrStake, 0.01...1e9),
            ("preflight.min_free_percent", \.minFreePercent, 0...100),
            ("ws.reconnect.multiplier", \.ws.reconnectMultiplier, 1...10), ("ws.reconnect.jitter", \.ws.reconnectJitter, 0...0.9),
        ]
        for (key, path, range) in doubles { r.double("\(p).\(key)", in: range).map { e[keyPath: path] = $0 } }
        let ints: [(String, WritableKeyPath<EngineSettings, Int>, ClosedRange<Int>)] = [
            ("filters.max_markets", \.maxMarkets, 1...100_000), ("risk.max_open_positions", \.maxOpenPositions, 1...100_000),
            ("risk.loss_streak", \.lossStreak, 1...1000), ("strategy_errors.max", \.strategyErrorsMax, 1...10_000),
            ("strategies.mean_reversion.window", \.mrWindow, 2...10_000), ("backups_keep", \.backupsKeep, 1...1000),
            ("preflight.min_fds", \.minFDs, 16...1_048_576),
            ("ws.assets_per_connection", \.ws.assetsPerConnection, 1...500), ("ws.reconnect.max_attempts", \.ws.reconnectMaxAttempts, 1...1_000_000),
        ]
        for (key, path, range) in ints { r.int("\(p).\(key)", in: range).map { e[keyPath: path] = $0 } }
        let bools: [(String, WritableKeyPath<EngineSettings, Bool>)] = [
            ("strategies.complement_arb.enabled", \.complementArb), ("strategies.near_resolution.enabled", \.nearResolution),
            ("strategies.mean_reversion.enabled", \.meanReversion), ("preflight.block", \.preflightBlocks),
            ("ws.enabled", \.ws.enabled), ("ws.custom_features", \.ws.customFeatures),
        ]
        for (key, path) in bools { r.bool("\(p).\(key)").map { e[keyPath: path] = $0 } }
        r.double("\(p).filters.liquidity_min", in: 0...1e12).map { e.liquidityMin = $0 }
        r.double("\(p).filters.volume_min", in: 0...1e12).map { e.volumeMin = $0 }
        r.double("\(p).filters.end_within_hours", in: 0.01...87600).map { e.endWithinHours = $0 }
        r.stringArray("\(p).filters.tag_ids").map { ids in
            for id in ids where Int(id) == nil { r.fail("\(p).filters.tag_ids", "`\(id)` is not a numeric Gamma tag id") }
            e.tagIDs = ids
        }
        if e.favouriteBandLow >= e.favouriteBandHigh {
            r.fail("\(p).strategies.near_resolution.band_low", "must be below band_high (\(e.favouriteBandHigh))")
        }
    }

    private static func readProgram(_ name: String, tree: Node?, _ r: StrictReader) -> ProgramSpec {
        let p = "programs.\(name)"
        var spec = ProgramSpec(name: name, command: [])
        if let command = r.stringArray("\(p).command") {
            if command.isEmpty || command[0].isEmpty {
                r.fail("\(p).command", "must name an executable")
            }
            spec.command = command
        } else {
            r.fail("\(p).command", "required: the executable and its arguments, as a list")
        }
        if let envNode = tree?.mapping?["programs"]?.mapping?[name]?.mapping?["env"]?.mapping {
            for (k, _) in envNode {
                guard let key = k.string else { continue }
                r.string("\(p).env.\(key)").map { spec.env[key] = $0 }
            }
        }
        r.stringArray("\(p).pass_env").map { names in
            for n in names where n.isEmpty || n.dropLast(n.hasSuffix("*") ? 1 : 0).contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
                r.fail("\(p).pass_env", "`\(n)` is not a variable name (letters, digits, _; a trailing * matches a prefix)")
            }
            spec.passEnv = names
        }
        r.stringArray("\(p).after").map { spec.after = $0 }
        r.bool("\(p).critical").map { spec.critical = $0 }
        r.bool("\(p).autostart").map { spec.autostart = $0 }
        r.oneOf("\(p).ready", ReadinessMode.allCases.map(\.rawValue)).map { spec.ready = ReadinessMode(rawValue: $0)! }
        r.duration("\(p).start_timeout", in: .milliseconds(10)...(.seconds(3600))).map { spec.startTimeout = $0 }
        if let w = r.duration("\(p).watchdog_sec", in: .zero...(.seconds(3600))) {
            if w == .zero { spec.watchdogSec = nil }
            else if w < .milliseconds(100) { r.fail("\(p).watchdog_sec", "must be 0 (off) or at least 100ms, got \(w.short)") }
            else { spec.watchdogSec = w }
        }
        r.duration("\(p).stop_timeout", in: .milliseconds(10)...(.seconds(3600))).map { spec.stopTimeout = $0 }
        if let name = r.string("\(p).stop_signal") {
            let bare = name.uppercased().hasPrefix("SIG") ? String(name.uppercased().dropFirst(3)) : name.uppercased()
            if let sig = stopSignalNames[bare] { spec.stopSignal = sig } else {
                r.fail("\(p).stop_signal", "`\(name)` is not one of \(stopSignalNames.keys.sorted().joined(separator: ", "))")
            }
        }
        r.oneOf("\(p).kill_mode", KillMode.allCases.map(\.rawValue)).map { spec.killMode = KillMode(rawValue: $0)! }
        if let name = r.string("\(p).reload_signal") {
            let bare = name.uppercased().hasPrefix("SIG") ? String(name.uppercased().dropFirst(3)) : name.uppercased()
            if let sig = stopSignalNames[bare] { spec.reloadSignal = sig } else {
                r.fail("\(p).reload_signal", "`\(name)` is not one of \(stopSignalNames.keys.sorted().joined(separator: ", "))")
            }
        }
        r.duration("\(p).reload_timeout", in: .milliseconds(100)...(.seconds(3600))).map { spec.reloadTimeout = $0 }
        r.oneOf("\(p).notify_access", NotifyAccess.allCases.map(\.rawValue)).map { spec.notifyAccess = NotifyAccess(rawValue: $0)! }
        r.string("\(p).user").map { spec.user = $0 }
        r.string("\(p).group").map { spec.group = $0 }
        if let m = r.string("\(p).umask") {
            if let v = Int(m, radix: 8), (0...0o777).contains(v) { spec.umask = v } else { r.fail("\(p).umask", "`\(m)` is not an octal mask like 027") }
        }
        r.string("\(p).working_dir").map { spec.workingDir = $0 }
        r.int("\(p).limit_nofile", in: 16...1_048_576).map { spec.limitNofile = $0 }
        r.int("\(p).limit_core", in: 0...Int(Int32.max)).map { spec.limitCore = $0 }
        for (i, text) in (r.stringArray("\(p).listen") ?? []).enumerated() {
            switch ListenAddress.parse(text) {
            case .success(let a):
                if spec.listen.contains(a) { r.fail("\(p).listen[\(i)]", "`\(text)` is listed twice") } else { spec.listen.append(a) }
            case .failure(let e): r.fail("\(p).listen[\(i)]", e.message)
            }
        }
        r.int("\(p).fd_store_max", in: 0...48).map { spec.fdStoreMax = $0 }
        if let codes = r.intArray("\(p).exit_ok") {
            if let bad = codes.first(where: { !(0...255).contains($0) }) { r.fail("\(p).exit_ok", "\(bad) is not an exit code (0…255)") }
            else { spec.exitOK = codes.map(Int32.init) }
        }
        r.oneOf("\(p).restart", RestartMode.allCases.map(\.rawValue)).map { spec.restart = RestartMode(rawValue: $0)! }
        r.duration("\(p).backoff.initial", in: .milliseconds(1)...(.seconds(3600))).map { spec.backoff.initial = $0 }
        r.duration("\(p).backoff.max", in: .milliseconds(1)...(.seconds(86400))).map { spec.backoff.max = $0 }
        r.double("\(p).backoff.multiplier", in: 1...100).map { spec.backoff.multiplier = $0 }
        r.double("\(p).backoff.jitter", in: 0...1).map { spec.backoff.jitter = $0 }
        if spec.backoff.max < spec.backoff.initial {
            r.fail("\(p).backoff.max", "must be at least backoff.initial (\(spec.backoff.initial.short))")
        }
        r.duration("\(p).stable_after", in: .zero...(.seconds(86400))).map { spec.stableAfter = $0 }
        r.int("\(p).intensity.max_restarts", in: 1...100_000).map { spec.intensity.maxRestarts = $0 }
        r.duration("\(p).intensity.window", in: .seconds(1)...(.seconds(86400))).map { spec.intensity.window = $0 }
        r.duration("\(p).cooldown", in: .seconds(1)...(.seconds(86400 * 7))).map { spec.cooldown = $0 }
        r.int("\(p).limits.rss_mb", in: 1...1_048_576).map { spec.limits.rssMB = $0 }
        r.int("\(p).limits.fds", in: 8...1_048_576).map { spec.limits.fds = $0 }
        r.int("\(p).limits.pids", in: 1...4_194_304).map { spec.limits.pids = $0 }
        if let pre = r.stringArray("\(p).pre_start") {
            if pre.isEmpty || pre[0].isEmpty { r.fail("\(p).pre_start", "must name an executable") }
            spec.preStart = pre
        }
        r.duration("\(p).pre_start_timeout", in: .milliseconds(10)...(.seconds(3600))).map { spec.preStartTimeout = $0 }
        return spec
    }

    private static func checkReferences(_ config: WardenConfiguration, _ r: StrictReader) {
        let names = Set(config.programs.map(\.name))
        for spec in config.programs {
            for dep in spec.after where !names.contains(dep) {
                r.fail("programs.\(spec.name).after", "names `\(dep)`, which is not a configured program")
            }
            if spec.after.contains(spec.name) {
                r.fail("programs.\(spec.name).after", "a program cannot start after itself")
            }
        }
        // A cycle in `after` would deadlock the start order.
        var visiting = Set<String>(), done = Set<String>()
        func visit(_ n: String, _ path: [String]) {
            if done.contains(n) { return }
            if visiting.contains(n) {
                r.fail("programs.\(n).after", "start order has a cycle: \((path + [n]).joined(separator: " → "))")
                return
            }
            visiting.insert(n)
            for d in config.program(named: n)?.after ?? [] where names.contains(d) && d != n { visit(d, path + [n]) }
            visiting.remove(n)
            done.insert(n)
        }
        for spec in config.programs { visit(spec.name, []) }
    }
}

/// Reads typed values from providers in order; every failure is recorded with its key path.
final class StrictReader: @unchecked Sendable {
    private let providers: [any ConfigProvider]
    private(set) var issues: [ConfigIssue] = []

    init(providers: [any ConfigProvider]) { self.providers = providers }

    func fail(_ path: String, _ reason: String) {
        if !issues.contains(where: { $0.keyPath == path && $0.reason == reason }) {
            issues.append(ConfigIssue(keyPath: path, reason: reason))
        }
    }

    /// The first provider's value for `path`, or nil when no provider has one.
    private func content(_ path: String, _ type: ConfigType, expected: String) -> ConfigContent? {
        let key = AbsoluteConfigKey(path.split(separator: ".").map(String.init))
        for provider in providers {
            do {
                if let value = try provider.value(forKey: key, type: type).value { return value.content }
            } catch {
                fail(path, "expected \(expected) (from \(provider.providerName))")
                return nil
            }
        }
        return nil
    }

    func string(_ path: String) -> String? {
        guard case .string(let s)? = content(path, .string, expected: "a string") else { return nil }
        return s
    }

    func oneOf(_ path: String, _ allowed: [String]) -> String? {
        guard let s = string(path) else { return nil }
        guard allowed.contains(s) else {
            fail(path, "`\(s)` is not one of: \(allowed.joined(separator: ", "))")
            return nil
        }
        return s
    }

    func bool(_ path: String) -> Bool? {
        guard case .bool(let b)? = content(path, .bool, expected: "true or false") else { return nil }
        return b
    }

    func int(_ path: String, in range: ClosedRange<Int>) -> Int? {
        guard case .int(let i)? = content(path, .int, expected: "an integer") else { return nil }
        guard range.contains(i) else {
            fail(path, "\(i) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return i
    }

    func double(_ path: String, in range: ClosedRange<Double>) -> Double? {
        guard case .double(let d)? = content(path, .double, expected: "a number") else { return nil }
        guard d.isFinite, range.contains(d) else {
            fail(path, "\(d) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return d
    }

    func duration(_ path: String, in range: ClosedRange<Duration>) -> Duration? {
        guard let s = string(path) else { return nil }
        guard let d = Duration.parse(config: s) else {
            fail(path, "`\(s)` is not a duration (examples: 250ms, 10s, 5m)")
            return nil
        }
        guard range.contains(d) else {
            fail(path, "\(s) is out of range \(range.lowerBound.short)…\(range.upperBound.short)")
            return nil
        }
        return d
    }

    func stringArray(_ path: String) -> [String]? {
        guard case .stringArray(let a)? = content(path, .stringArray, expected: "a list of strings") else { return nil }
        return a
    }

    func intArray(_ path: String) -> [Int]? {
        guard case .intArray(let a)? = content(path, .intArray, expected: "a list of integers") else { return nil }
        return a
    }
}
