// `warden-engine backtest`: a recording through the engine on a simulated clock; a report folder out.
import ArgumentParser
import Foundation
import WardenCore
import WardenEngine
import WardenKit
import WardenStrategies

struct BacktestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backtest",
        abstract: "Play a recording (`warden-engine record`) through the engine on a simulated clock with the paper venue, as fast as the CPU allows; write report.md and report.html.")
    @Option(name: .long, help: "The recording (JSON lines, or .gz).") var data: String
    @Option(name: .long, help: "Folder for report.md, report.html and the run's journal (created).") var report: String
    @Option(name: .long, help: "Configuration whose engine and strategy settings are used (default: $WARDEN_CONFIG, else etc/warden.yaml when present, else the defaults).")
    var config: String?
    @Option(name: .long, help: "Only these strategies (comma-separated), enabled whatever the configuration says.") var strategies: String?
    @Option(name: .customLong("set"), help: "KEY=VALUE: override a configuration key, e.g. engine.strategies.market_maker.size=10 (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "KEY=a,b,c: run once per value (repeatable: every combination), both cores at once, and rank the runs.")
    var sweep: [String] = []

    func run() async throws {
        ConfigLoader.register(EngineSettings.configSections)
        let known = Set(ConfigLoader.allKeys.map(\.path))
        var fixed: [String: String] = [:]
        for o in overrides {
            let (key, value) = try Self.split(o, option: "--set", known: known)
            fixed[key] = value
        }
        if let list = strategies {
            let wanted = Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let names = StrategyRegistry.sections.map { String($0.path.split(separator: ".").last ?? "") }
            if let bad = wanted.first(where: { !names.contains($0) }) {
                throw ValidationError("--strategies: `\(bad)` is not a strategy (there are: \(names.joined(separator: ", ")))")
            }
            for n in names { fixed["engine.strategies.\(n).enabled"] = wanted.contains(n) ? "true" : "false" }
        }
        var grid: [[String: String]] = [[:]]
        for g in sweep {
            let (key, values) = try Self.split(g, option: "--sweep", known: known)
            let list = values.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !list.isEmpty else { throw ValidationError("--sweep \(key): no values (KEY=a,b,c)") }
            grid = grid.flatMap { combo in list.map { combo.merging([key: $0]) { _, new in new } } }
        }
        let file = try configFile()
        defer { if file.temporary { try? FileManager.default.removeItem(atPath: file.path) } }
        // Every combination is loaded (and refused, with its key, when a value is out of bounds) before any runs.
        var runs: [(settings: EngineSettings, strategies: [any Strategy], combo: [String: String])] = []
        for combo in grid {
            let (settings, built) = try await load(file.path, fixed.merging(combo) { _, new in new })
            runs.append((settings, built, combo))
        }
        try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
        if sweep.isEmpty {
            let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
            let result = try await Self.play(data, runs[0].settings, runs[0].strategies, into: report) { bar.show($0) }
            bar.finish()
            for w in result.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
            let span = result.end.timeIntervalSince(result.start)
            print(String(format: "backtest: %.1f h of recording in %.2f s (%.0fx real time), %d cycles, %d fills, peak memory %d MiB; report in %@",
                         span / 3600, result.wallSeconds, span / max(result.wallSeconds, 0.001), result.cycles, result.fills.count, Self.peakMiB(), report))
            for f in try BacktestReport.figures(result).sorted(by: { $0.strategy < $1.strategy }) {
                print("  " + f.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)
                      + String(format: " net %@ (%.2f%%), max drawdown %.2f%%, %d fills", Fixed.text(f.netPnL), f.returnPct, f.maxDrawdownPct, f.fills))
            }
            return
        }
        // A sweep: as many runs at once as there are cores, each in its own folder; then the ranking.
        let started = ContinuousClock.now
        let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        let done = Counter()
        let width = max(1, ProcessInfo.processInfo.activeProcessorCount)
        var results: [(Int, BacktestResult)] = []
        let dataPath = data, total = runs.count
        let jobs = runs.map { (settings: $0.settings, strategies: $0.strategies) }
        try await withThrowingTaskGroup(of: (Int, BacktestResult).self) { group in
            var next = 0
            func start() {
                guard next < total else { return }
                let i = next, settings = jobs[i].settings, strategies = jobs[i].strategies
                next += 1
                let folder = report + "/run-\(i + 1)"
                group.addTask {
                    let out = try await Self.play(dataPath, settings, strategies, into: folder) { _ in }
                    bar.show(Double(done.increment()) / Double(total))
                    return (i, out)
                }
            }
            for _ in 0..<width { start() }
            while let r = try await group.next() {
                results.append(r)
                start()
            }
        }
        bar.finish()
        results.sort { $0.0 < $1.0 }
        let ranking = try BacktestReport.sweep(results.map { (runs[$0.0].combo, "run-\($0.0 + 1)", $0.1) })
        try ranking.write(toFile: report + "/sweep.md", atomically: true, encoding: .utf8)
        print(String(format: "sweep: %d runs in %.2f s on %d cores, peak memory %d MiB; ranking in %@/sweep.md", runs.count,
                     (ContinuousClock.now - started).seconds, width, Self.peakMiB(), report))
        print(ranking.split(separator: "\n").filter { $0.hasPrefix("|") }.prefix(12).joined(separator: "\n"))
    }

    /// The largest resident set this process has had (getrusage; Linux counts it in KiB).
    static func peakMiB() -> Int {
        var u = rusage()
        getrusage(RUSAGE_SELF.rawValue, &u)
        return u.ru_maxrss / 1024
    }

    /// One run into `folder`: its journal, report.md and report.html.
    static func play(_ data: String, _ settings: EngineSettings, _ built: [any Strategy], into folder: String,
                     progress: @escaping @Sendable (Double) -> Void) async throws -> BacktestResult {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let result: BacktestResult
        do {
            result = try await Backtest.run(data: data, settings: settings, strategies: built, journalPath: folder + "/journal.db", progress: progress)
        } catch let e as ReplayError {
            FileHandle.standardError.write(Data("\nwarden-engine backtest: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
        try BacktestReport.markdown(result).write(toFile: folder + "/report.md", atomically: true, encoding: .utf8)
        try BacktestReport.html(result).write(toFile: folder + "/report.html", atomically: true, encoding: .utf8)
        return result
    }

    /// The engine settings and strategies with `overrides` (key path → value) applied as WARDEN_… environment
    /// overrides, through the same strict loader as the engine's start.
    func load(_ path: String, _ overrides: [String: String]) async throws -> (EngineSettings, [any Strategy]) {
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WARDEN_") || $0.key == "WARDEN_CONFIG" }
        for (k, v) in overrides { env["WARDEN_" + k.uppercased().replacingOccurrences(of: ".", with: "_")] = v }
        let cfg: WardenConfiguration
        do { cfg = try await ConfigLoader.load(path: path, environment: env) } catch {
            FileHandle.standardError.write(Data("warden-engine backtest: \(error)\n".utf8))
            throw ExitCode(78)
        }
        do { return (cfg.engine, try StrategyRegistry.build(cfg.sections)) } catch {
            FileHandle.standardError.write(Data("warden-engine backtest: invalid strategy configuration: \(error)\n".utf8))
            throw ExitCode(78)
        }
    }

    static func split(_ text: String, option: String, known: Set<String>) throws -> (String, String) {
        guard let eq = text.firstIndex(of: "="), eq != text.startIndex else { throw ValidationError("\(option) \(text): expected KEY=VALUE") }
        let key = String(text[..<eq])
        guard known.contains(key) else { throw ValidationError("\(option) \(key): not a configuration key (`warden config keys` lists them)") }
        return (key, String(text[text.index(after: eq)...]))
    }

    /// The configuration to read: the one named, $WARDEN_CONFIG, etc/warden.yaml, or (none) an empty file: the defaults.
    func configFile() throws -> (path: String, temporary: Bool) {
        if let config { return (config, false) }
        if let env = ProcessInfo.processInfo.environment["WARDEN_CONFIG"] { return (env, false) }
        let shipped = WardenPaths.defaultConfigFile()
        if FileManager.default.fileExists(atPath: shipped) { return (shipped, false) }
        let tmp = NSTemporaryDirectory() + "warden-backtest-\(getpid()).yaml"
        try "{}\n".write(toFile: tmp, atomically: true, encoding: .utf8)
        return (tmp, true)
    }
}

/// `[#####.....] 42%` on standard error, redrawn in place; nothing when standard error is not a terminal.
final class ProgressBar: @unchecked Sendable {
    let enabled: Bool
    private let lock = NSLock()
    private var last = -1
    init(enabled: Bool) { self.enabled = enabled }
    func show(_ fraction: Double) {
        guard enabled else { return }
        let pct = Int(fraction * 100)
        lock.lock(); defer { lock.unlock() }
        guard pct != last else { return }
        last = pct
        let filled = pct * 30 / 100
        FileHandle.standardError.write(Data("\r[\(String(repeating: "#", count: filled))\(String(repeating: ".", count: 30 - filled))] \(pct)%".utf8))
    }
    func finish() { if enabled { FileHandle.standardError.write(Data("\n".utf8)) } }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
}
