// `warden-bench`: the benchmark suite (`make bench` writes Benchmarks/RESULTS.md; `--smoke` runs tiny sizes
// in `make test` so the suite cannot rot). Loopback only; goals are reported, never asserted.
import ArgumentParser
import Foundation

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "warden-bench",
        abstract: "Measure failover (against supervisord), hang detection, IPC, the journal and the engine cycle; write a report.")

    @Flag(help: "Tiny sizes: proves every benchmark runs (part of make test).") var smoke = false
    @Option(help: "Where the built binaries are (warden, warden-testchild).") var bin: String
    @Option(help: "Report file to write (Markdown).") var out: String
    @Option(help: "Crash-failover kills per supervisor.") var kills = 200
    @Option(help: "Events through each process of the running stack before its RSS is read again.") var events = 1_000_000
    @Option(help: "Repeats of each in-process measurement (the report gives median, min, max).") var repeats = 3
    @Option(help: "Folder of the helper scripts (sse_fanout.py).") var scripts = "Benchmarks"
    @Option(help: "Only these sections, comma-separated (failover, hang, ipc, requests, journal, cycle, feed, signing (with intent → order), backtest, stack); the report then holds only them.")
    var only: String?

    func wants(_ section: String) -> Bool { only.map { $0.split(separator: ",").map(String.init).contains(section) } ?? true }

    func run() async throws {
        // Absolute: the stack's configuration names the binaries by this path, and the stack runs in a directory of its own.
        let bin = URL(fileURLWithPath: self.bin).standardizedFileURL.path
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("warden-bench-\(getpid())").path
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        // The journal and cycle runs write to the same disk as a real state directory would.
        let disk = FileManager.default.currentDirectoryPath + "/.build/bench-disk-\(getpid())"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: disk) }
        var r = Report(smoke: smoke)

        if wants("failover") {
            let n = smoke ? 5 : kills
            log("crash failover: \(n) kills each, interleaved")
            let crash = try FailoverBench.crash(kills: n, bin: bin, work: work)
            r.failover(crash.warden, crash.supervisord)
        }
        if wants("hang") {
            let hangRounds = smoke ? 1 : 10
            log("hang detection: \(hangRounds) rounds of kill -STOP")
            r.hang(try FailoverBench.hang(rounds: hangRounds, bin: bin, work: work))
        }

        let reps = smoke ? 1 : repeats
        var ipcRows: [(subscribers: Int, events: Int, runs: [IPCBench.Result])] = []
        for subs in [1, 10] where wants("ipc") {
            let events = smoke ? 2000 : (subs == 1 ? 300_000 : 50_000)
            log("IPC: \(events) events to \(subs) subscriber(s), \(reps)×")
            var runs: [IPCBench.Result] = []
            for _ in 0..<reps { runs.append(try await IPCBench.run(dir: work, subscribers: subs, events: events)) }
            ipcRows.append((subs, events, runs))
        }
        if wants("ipc") { r.ipc(ipcRows) }
        if wants("requests") {
            let (rate, rss) = try await RequestBench.run(dir: work, rounds: 4, perRound: smoke ? 500 : 250_000)
            log(String(format: "requests: %.0f/s; RSS %@", rate, rss.map { String($0 / 1_048_576) }.joined(separator: " → ")))
            r.requests(rate: rate, rss: rss, perRound: smoke ? 500 : 250_000)
        }

        if wants("journal") {
            let fills = smoke ? 50 : 2000
            log("journal: \(fills) fills, \(reps)×")
            var jr: [JournalBench.Result] = []
            for _ in 0..<reps { jr.append(try JournalBench.run(dir: disk, fills: fills)) }
            r.journal(fills: fills, jr)
        }

        var cycleRows: [(markets: Int, summary: Summary)] = []
        for markets in smoke ? [100] : [1000, 10_000, 50_000] where wants("cycle") {
            let cycles = smoke ? 3 : (markets >= 50_000 ? 5 : 20)
            log("engine cycle: \(markets) markets, \(cycles) cycles")
            cycleRows.append((markets, try await CycleBench.run(dir: disk, markets: markets, cycles: cycles)))
        }
        if wants("cycle") { r.cycle(cycleRows) }

        if wants("feed") {
            log("market WebSocket: delta apply, and frame to book at 2,000 assets")
            r.feed(try await FeedBench.run(markets: 1000, levels: smoke ? 20_000 : 1_000_000, frames: smoke ? 200 : 5000))
        }

        if wants("stack") {
            log("the running stack: RSS idle, /api/state under wrk, SSE fan-out")
            r.stack(try await StackBench.run(bin: bin, work: work, seconds: smoke ? 2 : 15, sseClients: smoke ? 5 : 50,
                                             fanoutScript: scripts + "/sse_fanout.py", events: smoke ? 2000 : events, repeats: reps), smoke: smoke)
        }
        if wants("backtest") {
            let hours = smoke ? 0.1 : 24, markets = smoke ? 20 : 200
            log("backtest: a \(hours) h recording of \(markets) markets on a simulated clock, then one run (\(reps)×) and a sweep of \(smoke ? 2 : 8)")
            r.backtest(try await BacktestBench.run(bin: bin, dir: disk + "/backtest", hours: hours, markets: markets, repeats: reps, sweepValues: smoke ? 2 : 8))
        }
        if wants("signing") {
            log("signing: orders built, signed and encoded as POST /order bodies")
            r.signing(try SigningBench.run(count: smoke ? 200 : 20_000))
            log("intent → order: written ahead, signed, posted to the CLOB fake over loopback, resting on its book")
            r.intentToOrder(try await IntentBench.run(count: smoke ? 50 : 2_000, dir: disk + "/intent"))
        }
        try r.text().write(toFile: out, atomically: true, encoding: .utf8)
        log("report written to \(out)")
    }

    func log(_ s: String) { FileHandle.standardError.write(Data("warden-bench: \(s)\n".utf8)) }
}
