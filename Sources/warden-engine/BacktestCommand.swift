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

    func run() async throws {
        ConfigLoader.register(StrategyRegistry.sections)
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("WARDEN_") || $0.key == "WARDEN_CONFIG" }
        let known = Dictionary(ConfigLoader.allKeys.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else { throw ValidationError("--set \(o): expected KEY=VALUE") }
            let key = String(o[..<eq]), value = String(o[o.index(after: eq)...])
            guard known[key] != nil else {
                throw ValidationError("--set \(key): not a configuration key (`warden config keys` lists them)")
            }
            env["WARDEN_" + key.uppercased().replacingOccurrences(of: ".", with: "_")] = value
        }
        if let list = strategies {
            let wanted = Set(list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
            let names = StrategyRegistry.sections.map { String($0.path.split(separator: ".").last ?? "") }
            if let bad = wanted.first(where: { !names.contains($0) }) {
                throw ValidationError("--strategies: `\(bad)` is not a strategy (there are: \(names.joined(separator: ", ")))")
            }
            for n in names { env["WARDEN_ENGINE_STRATEGIES_\(n.uppercased())_ENABLED"] = wanted.contains(n) ? "true" : "false" }
        }
        let file = try configFile()
        let cfg: WardenConfiguration
        do { cfg = try await ConfigLoader.load(path: file.path, environment: env) } catch {
            FileHandle.standardError.write(Data("warden-engine backtest: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if file.temporary { try? FileManager.default.removeItem(atPath: file.path) }
        let built: [any Strategy]
        do { built = try StrategyRegistry.build(cfg.sections) } catch {
            FileHandle.standardError.write(Data("warden-engine backtest: invalid strategy configuration: \(error)\n".utf8))
            throw ExitCode(78)
        }
        try FileManager.default.createDirectory(atPath: report, withIntermediateDirectories: true)
        let bar = ProgressBar(enabled: isatty(STDERR_FILENO) == 1)
        let result: BacktestResult
        do {
            result = try await Backtest.run(data: data, settings: cfg.engine, strategies: built, journalPath: report + "/journal.db") { bar.show($0) }
        } catch let e as ReplayError {
            bar.finish()
            FileHandle.standardError.write(Data("warden-engine backtest: \(e.description)\n".utf8))
            throw ExitCode(1)
        }
        bar.finish()
        try BacktestReport.markdown(result).write(toFile: report + "/report.md", atomically: true, encoding: .utf8)
        try BacktestReport.html(result).write(toFile: report + "/report.html", atomically: true, encoding: .utf8)
        for w in result.warnings { FileHandle.standardError.write(Data("warning: \(w)\n".utf8)) }
        let span = result.end.timeIntervalSince(result.start)
        print(String(format: "backtest: %.1f h of recording in %.2f s (%.0fx real time), %d cycles, %d fills; report in %@",
                     span / 3600, result.wallSeconds, span / max(result.wallSeconds, 0.001), result.cycles, result.fills.count, report))
        for f in BacktestReport.figures(result).sorted(by: { $0.strategy < $1.strategy }) {
            print("  " + f.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: " net %@ (%.2f%%), max drawdown %.2f%%, %d fills", Fixed.text(f.netPnL), f.returnPct, f.maxDrawdownPct, f.fills))
        }
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
