// warden-chaos: every FAULTS.md row against the running stack, with a report.
//   warden-chaos --bin .build/debug --quick              each stack scenario once, small counts (CI)
//   warden-chaos --bin … --kills 200 --tests --report Tests/FAULTS.md   the full run (`make chaos`)
import ArgumentParser
import Foundation

@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "warden-chaos",
                                                    abstract: "Inject every FAULTS.md row into the running Warden stack and check the five rules.")

    @Option(help: "Folder of the built executables.") var bin: String
    @Flag(help: "The quick pass: each scenario once, F01/F13 with 3 kills, F11 a 12 s lock, F15 an 8 s outage.") var quick = false
    @Option(help: "Kills for F01 and F13 (default 200, or 3 with --quick).") var kills: Int?
    @Option(help: "Only these F-numbers (comma-separated).") var only: String?
    @Option(help: "Seed of every random choice (kill moments, fuzz).") var seed = 20261122
    @Option(help: "Work folder for the stacks' trees.") var work = NSTemporaryDirectory() + "warden-chaos"
    @Flag(help: "Also run the integration tests that prove the remaining rows (`swift test --skip-build --filter`).") var tests = false
    @Option(help: "Write the markdown report here.") var report: String?

    func run() async throws {
        let settings = RunSettings(bin: bin, work: work + "-\(getpid())", quick: quick, kills: kills ?? (quick ? 3 : 200), seed: seed)
        try FileManager.default.createDirectory(atPath: settings.work, withIntermediateDirectories: true)
        let wanted = only.map { Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).uppercased() }) }
        var outcomes: [Outcome] = []
        for (i, s) in Catalogue.all(settings).enumerated() where wanted?.contains(s.id) ?? true {
            log("\(s.id) \(s.title): \(s.scenario)")
            let o = await s.run(settings, index: i)
            log(o.notRun.map { "\(s.id) NOT RUN: \($0)" } ?? "\(s.id) \(o.passed ? "PASS" : "FAIL") in \(Int(o.seconds)) s" + (o.visibility.map { " · \($0)" } ?? ""))
            for f in o.failures { log("  ✘ \(f)") }
            for (name, problem) in o.invariants where problem != nil { log("  ✘ invariant \(name): \(problem!)") }
            for m in o.measured { log("  · \(m)") }
            outcomes.append(o)
        }
        var reused: [ReusedRow] = []
        if tests {
            for row in ReusedRow.catalogue where wanted?.contains(row.id) ?? true {
                log("\(row.id) \(row.title): swift test --filter \(row.filter)")
                reused.append(await row.run(bin: bin))
                log("\(row.id) \(reused.last!.passed ? "PASS" : "FAIL"): \(reused.last!.result)")
            }
        }
        let failed = outcomes.filter { !$0.passed }.map(\.id) + reused.filter { !$0.passed }.map(\.id)
        if let report {
            // The hand-kept part of the file (the component-level tests of each row) is carried over.
            let kept = (try? String(contentsOfFile: report, encoding: .utf8))
                .flatMap { old in old.range(of: Report.appendixMarker).map { String(old[$0.lowerBound...]) } } ?? ""
            try (Report.markdown(outcomes, reused, settings: settings, full: !quick) + kept).write(toFile: report, atomically: true, encoding: .utf8)
            log("report written to \(report)")
        }
        log(failed.isEmpty ? "all \(outcomes.count + reused.count) rows passed" : "FAILED: \(failed.joined(separator: ", "))")
        if !failed.isEmpty { throw ExitCode(1) }
    }

    func log(_ s: String) { FileHandle.standardError.write(Data("warden-chaos: \(s)\n".utf8)) }
}

/// A row proven by an integration test of the real processes (Tests/WardenIntegrationTests): run, not rewritten.
struct ReusedRow {
    var id: String
    var title: String
    var filter: String
    var how: String
    var result = ""
    var passed = false

    static let catalogue: [ReusedRow] = [
        .init(id: "F08", title: "supervisor hangs", filter: "f08SupervisorWatchdog", how: "warden under a fake NOTIFY_SOCKET listener with WATCHDOG_USEC; kill -STOP: its WATCHDOG=1 stops, and resumes after -CONT"),
        .init(id: "F09", title: "memory or fd leak", filter: "f09MemoryLeak|f09FDLeak", how: "a child leaking memory, another leaking fds: warned at 80 %, restarted at the limit with the figure"),
        .init(id: "F12", title: "database corrupt or missing", filter: "corruptJournal|missingJournal", how: "engine.db pages overwritten: refuses to trade, keeps the file, names it and the last backup; deleted: a fresh journal, said"),
        .init(id: "F14", title: "unbounded log growth", filter: "logsCaptured", how: "a child printing fast: size-rotated files, at most log_keep_files kept"),
        .init(id: "F22", title: "wall clock steps", filter: "wallClockSteps", how: "libfaketime under warden and the engine steps the clock +1 h and back: two clock-step events, no restart"),
        .init(id: "F24", title: "low fd limit", filter: "lowFDLimit", how: "ulimit -n 64: preflight names the limit and blocks the start"),
        .init(id: "F25", title: "started from another directory", filter: "f25PathsIndependentOfCwd", how: "started from / and with STATE/RUNTIME/LOGS_DIRECTORY: paths never from the cwd"),
        .init(id: "F28", title: "bad operator input", filter: "f28BadInput", how: "unknown command, bad arguments: exit 2 with a message, nothing changed"),
        .init(id: "F29", title: "invalid configuration", filter: "f29InvalidConfiguration", how: "wrong types, unknown keys, out-of-range values: exit 78 naming the key path"),
        .init(id: "F30", title: "bounded history", filter: "boundedHistory", how: "more fills than a page: \"last N of M\"; the CSV export has every row"),
        .init(id: "F32", title: "peer vanishes mid-request", filter: "f32PeerVanishes", how: "server stopped and killed mid-request: the client times out and reconnects"),
        .init(id: "F33", title: "another local user", filter: "f33OtherUser", how: "connecting as nobody: refused by the 0700 directory and SO_PEERCRED"),
        .init(id: "F34", title: "unauthenticated web access, CSRF", filter: "webSecurityAndSlowStreams", how: "web_security.py against the dashboard: 401/403, no state change"),
        .init(id: "F35", title: "slow subscriber", filter: "slowSubscriber|webSecurityAndSlowStreams", how: "IPC and SSE clients that never read: the publisher never blocks, gaps announced"),
        .init(id: "F36", title: "drawdown limit", filter: "drawdownHalts", how: "the fake moves prices against the position: HALTED, survives kill -9, only halt-reset resumes"),
        .init(id: "F37", title: "strategy error", filter: "strategyError", how: "a strategy that throws and emits price 1.5: rejected, then disabled; the others trade on"),
        .init(id: "F38", title: "crash between intent and fill", filter: "crashBetweenIntentAndFill", how: "a hook kills the engine after the write-ahead intent: resolved exactly once at the next start"),
        .init(id: "F39", title: "market resolves", filter: "resolution", how: "the fake resolves a held market: settled at 1/0 exactly once, also across kill -9"),
        .init(id: "F47", title: "crash between send and record", filter: "LiveStackTests/crashBetweenSendAndRecord|LiveVenueTests/crashBetweenSendAndRecord",
              how: "a hook kills the engine right after the CLOB fake answered an order: UNKNOWN at the next start, found on the venue, its trades booked once, never re-sent"),
    ]

    func run(bin: String) async -> ReusedRow {
        var r = self
        let swift = ProcessInfo.processInfo.environment["SWIFT"] ?? "/usr/bin/env"
        let args = (swift == "/usr/bin/env" ? ["swift"] : []) + ["test", "--skip-build", "--disable-xctest", "--filter", filter]
        do {
            let out = try await Tool.run(swift, args, env: ["WARDEN_BIN_DIR": bin], limit: .seconds(600))
            let lines = (out.out + out.err).split(separator: "\n")
            let summary = lines.last { $0.contains("Test run with") }.map(String.init) ?? "no summary (exit \(out.code))"
            r.passed = out.code == 0 && summary.contains("passed")
            r.result = summary.replacingOccurrences(of: "✔ ", with: "").replacingOccurrences(of: "✘ ", with: "")
        } catch {
            r.result = "\(error)"
        }
        return r
    }
}
