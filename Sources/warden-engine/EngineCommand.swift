// `warden-engine`: the trading engine process (run by warden), and its preflight.
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import WardenEngine
import WardenHTTP
import WardenIPC
import WardenCore
import WardenKit
import WardenStrategies

@main
struct EngineCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-engine", abstract: "Warden's trading engine (paper trading on live or replayed market data).",
        version: wardenVersion, subcommands: [Run.self, PreflightCommand.self, VerifyCommand.self, RecordCommand.self, BacktestCommand.self, OrderCommand.self], defaultSubcommand: Run.self)
}

struct CommonEngineOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, as set by warden).")
    var config: String?

    /// The configuration with every strategy's section read strictly.
    func load() async throws -> (WardenConfiguration, WardenPaths) {
        await loadProgramConfiguration(config, program: "warden-engine", sections: EngineApplication.configSections)
    }
}

struct PreflightCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preflight", abstract: "Check what must hold before trading; exit 1 on a failure (unless configured to warn only).")
    @OptionGroup var options: CommonEngineOptions
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let (cfg, paths) = try await options.load()
        let checks = await Preflight.run(config: cfg, paths: paths)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(checks), as: UTF8.self))
        } else {
            for c in checks { print("\(c.outcome.rawValue.uppercased().padding(toLength: 5, withPad: " ", startingAt: 0)) \(c.name): \(c.detail)") }
        }
        let failed = checks.filter { $0.outcome == .fail }
        if !failed.isEmpty {
            let names = failed.map(\.name).joined(separator: ", ")
            if cfg.engine.preflightBlocks {
                FileHandle.standardError.write(Data("preflight failed: \(names)\n".utf8))
                throw ExitCode(1)
            }
            FileHandle.standardError.write(Data("preflight failed (warn only): \(names)\n".utf8))
        }
    }
}

struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Record the live market data (markets, book snapshots and the WebSocket's deltas, as the engine sees them) into a replay file for `source: replay`.")
    @OptionGroup var options: CommonEngineOptions
    @Option(name: .long, help: "The replay file to write (appended to).") var out: String
    @Option(name: .long, help: "How long to record, e.g. 10m, 2h.") var duration: String = "10m"

    func run() async throws {
        let (cfg, _) = try await options.load()
        guard let length = Duration.parse(config: duration), length > .zero else {
            throw ValidationError("--duration: `\(duration)` is not a duration like 30s, 10m or 2h")
        }
        // A compressed recording is never appended to: the file a stopped recorder left ends inside a gzip member,
        // which another member after it would make unreadable.
        if out.hasSuffix(".gz"), let size = (try? FileManager.default.attributesOfItem(atPath: out))?[.size] as? Int, size > 0 {
            throw ValidationError("--out: \(out) exists; a compressed recording goes to a new file")
        }
        if !FileManager.default.fileExists(atPath: out) {
            guard FileManager.default.createFile(atPath: out, contents: nil) else { throw ValidationError("--out: cannot create \(out)") }
        }
        guard let handle = FileHandle(forWritingAtPath: out) else { throw ValidationError("--out: cannot open \(out) for writing") }
        defer { try? handle.close() }
        try handle.seekToEnd()
        let e = cfg.engine
        // The WebSocket's deltas too, so a replay or backtest sees what the live engine saw between snapshots.
        let stream = e.ws.enabled ? MarketStream(settings: MarketStream.Settings(e), logger: Logger(label: "record")) : nil
        let recorder = MarketRecorder(source: EngineApplication.liveSource(e), bookRefresh: e.bookRefresh, discoveryInterval: e.discoveryInterval, stream: stream)
        // `.gz`: compressed as it is written (and flushed every round, so a stopped recorder leaves a readable file).
        let n = try await recorder.record(to: handle, compressed: out.hasSuffix(".gz"), for: length) { problem in
            FileHandle.standardError.write(Data("warden-engine record: \(problem)\n".utf8))
        }
        print("recorded \(n) records into \(out)")
    }
}

struct VerifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Audit engine.db (run with the engine stopped): integrity, each fill once, accounts equal to their fills; exit 1 on a problem.")
    @OptionGroup var options: CommonEngineOptions
    @Option(name: .long, help: "A journal file to audit instead of the configured state directory's engine.db.") var database: String?
    @Flag(name: .long, help: "Print JSON.") var json = false

    func run() async throws {
        let path: String
        if let database { path = database } else { path = try await options.load().1.stateDir + "/engine.db" }
        guard FileManager.default.fileExists(atPath: path) else {
            FileHandle.standardError.write(Data("warden-engine verify: no journal at \(path)\n".utf8))
            throw ExitCode(1)
        }
        let audit: JournalAudit
        do {
            let (journal, _) = try Journal.open(path: path, backupsDir: URL(fileURLWithPath: path).deletingLastPathComponent().path + "/backups")
            audit = try journal.verify()
        } catch {
            FileHandle.standardError.write(Data("warden-engine verify: \(error)\n".utf8))
            throw ExitCode(1)
        }
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(audit), as: UTF8.self))
        } else {
            print("\(path): integrity \(audit.integrity), \(audit.fills) fills, \(audit.openIntents) open intents, accounts \(audit.accounts.joined(separator: ", "))")
            for p in audit.problems { print("PROBLEM \(p)") }
            if audit.ok { print("ok: every check passed") }
        }
        if !audit.ok { throw ExitCode(1) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Run the engine (the default).")
    @OptionGroup var options: CommonEngineOptions

    func run() async throws {
        do {
            try await ProgramMain.run(program: "warden-engine", label: "engine", configPath: options.config,
                                      sections: EngineApplication.configSections, build: EngineApplication.build)
        } catch let f as StartFailure { throw ExitCode(f.code) }
    }
}
