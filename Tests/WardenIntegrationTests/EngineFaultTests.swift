// Faults injected into the real warden + warden-engine on the loopback fake: disk full, a locked and a missing
// journal, kill -9 of the whole group during fills, slow / rate-limited / malformed / frozen market data, a
// suspend, a low fd limit, drawdown, a failing strategy, a crash between intent and fill, a resolution.
import Foundation
import Logging
import Synchronization
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit

/// Runs `/bin/sh -c command` to completion (bounded; never blocks a thread of the test's executor, which the
/// in-process fakes answer on); returns exit code and combined output.
@discardableResult
func sh(_ command: String, limit: Duration = .seconds(120)) async throws -> (code: Int32, out: String) {
    let r = try await BoundedRun.run("/bin/sh", ["-c", command], limit: limit, mergeOutput: true)
    return (r.code, r.out)
}

/// One number from engine.db (read after the engine stopped: the engine is the journal's only user while it runs).
func journalCount(_ tree: TestTree, _ sql: String) async throws -> Int {
    let r = try await sh("sqlite3 '\(tree.root)/var/lib/engine.db' \"\(sql)\"")
    guard r.code == 0, let n = Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure(description: "sqlite3 \(sql): \(r.out)")
    }
    return n
}

/// `warden-engine verify` on the tree's journal: integrity, each fill once, accounts equal to their fills.
func verifyJournal(_ tree: TestTree) async throws -> CommandResult {
    try await runTool("warden-engine", ["verify", "--config", tree.configPath])
}

func fills(_ tree: TestTree) async throws -> Int { try await engineStatus(tree)?.fills_total ?? -1 }

func reason(_ e: EngineStatus?, _ code: String) -> ReasonInfo? { e?.reasons?.first { $0.code == code } }

/// Waits until the engine has made at least `n` fills; returns the count.
@discardableResult
func waitFills(_ tree: TestTree, atLeast n: Int, within: Duration = .seconds(40)) async throws -> Int {
    var last = "no status"
    return try await eventually("at least \(n) fills (last: \(last))", within: within) {
        let e = try await engineStatus(tree)
        last = "\(e?.trading_state ?? "?") fills \(e?.fills_total ?? -1) data \(e?.data?.status ?? "?") markets \(e?.data?.markets ?? -1) reasons \(e?.reasons?.map(\.message) ?? [])"
        let f = e?.fills_total ?? -1
        return f >= n ? f : nil
    }
}

/// One market near resolution that only the favourite strategy trades: a single, predictable position.
func favouriteScenario() -> FakeScenario {
    var m = FakeMarketSpec(id: "601", question: "Will the lone favourite win?", yesToken: "9601", noToken: "9602",
                           endsInHours: 6, startPrice: 0.94)
    m.volatility = 0
    return FakeScenario(seed: 3, speed: 1, stepSeconds: 1, markets: [m])
}

let faketimeLibrary = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"

let favouriteOnly = """
  strategies:
    complement_arb: {enabled: false}
    mean_reversion: {enabled: false}
"""

@Suite("Engine faults on the fakes", .serialized)
struct EngineFaultTests {
    @Test("F10: a full disk pauses entries loudly (storage_degraded / disk_low), nothing is lost, and trading resumes when space returns",
          .enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func diskFull() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let lib = tree.root + "/var/lib"
        try FileManager.default.createDirectory(atPath: lib, withIntermediateDirectories: true)
        let mount = try await sh("mount -t tmpfs -o size=16m tmpfs '\(lib)'")
        try #require(mount.code == 0, "tmpfs mount: \(mount.out)")
        defer { _ = umount2(lib, Int32(MNT_DETACH)) }  // a lazy unmount, as umount -l
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitFills(tree, atLeast: 1)
        // Fill the disk to the last block.
        _ = try await sh("dd if=/dev/zero of='\(lib)/filler' bs=64k 2>/dev/null; sync")
        let e = try await eventually("entries paused for storage", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.trading_state == "PAUSED" && (reason(e, "disk_low") != nil || reason(e, "storage_degraded") != nil) ? e : nil
        }
        let message = (reason(e, "disk_low") ?? reason(e, "storage_degraded"))!.message
        #expect(message.contains(lib) || message.contains("storage"), "the reason names the problem: \(message)")
        let human = try await wardenctl(tree, "status")
        #expect(human.out.contains("PAUSED") && (human.out.contains("disk_low") || human.out.contains("storage_degraded")))
        let frozen = try await fills(tree)
        try await Task.sleep(for: .seconds(1))
        #expect(try await fills(tree) == frozen, "no fills while the disk is full")
        try FileManager.default.removeItem(atPath: lib + "/filler")
        try await eventually("trading resumes when space returns", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.trading_state == "ACTIVE" && e?.storage == "ok" ? true : nil
        }
        try await waitFills(tree, atLeast: frozen + 1)
        #expect(program(try await status(tree), "engine")?.restarts == 0, "degraded, not crashed")
        await w.stop()
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "journal audit: \(audit.out)\(audit.err)")
    }

    @Test("F11: a 30 s exclusive lock degrades storage without stalling the engine; the held alerts land after the lock goes")
    func locked() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        try await waitFills(tree, atLeast: 1)
        let db = tree.root + "/var/lib/engine.db"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = ["python3", "-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(30)
            c.execute("COMMIT")
            """, db]
        // Its output goes to a file read by polling: a blocking read would hold a thread of the test executor.
        let said = tree.root + "/lock-holder.out"
        _ = FileManager.default.createFile(atPath: said, contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: said))
        holder.standardOutput = out
        try holder.run()
        try out.close()
        defer { if holder.isRunning { holder.terminate() } }
        try await eventually("the lock holder holds the lock", within: .seconds(30)) {
            (try? String(contentsOfFile: said, encoding: .utf8))?.contains("locked") == true ? true : nil
        }
        let e = try await eventually("storage_degraded while locked", within: .seconds(25)) {
            let e = try await engineStatus(tree)
            return reason(e, "storage_degraded") != nil ? e : nil
        }
        #expect(e.trading_state == "PAUSED" && reason(e, "storage_degraded")!.message.contains("locked"))
        let frozen = e.fills_total ?? 0
        // Through the rest of the lock: nothing acknowledged, and the engine keeps its heartbeat (no restart).
        while holder.isRunning {
            let s = try await status(tree)
            #expect(program(s, "engine")?.pid == engine.pid, "the engine was not restarted by its watchdog")
            #expect((s?.engine?.fills_total ?? frozen) == frozen, "no fill acknowledged while the journal is locked")
            try await Task.sleep(for: .seconds(2))
        }
        try await eventually("storage recovers after the lock goes", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.storage == "ok" && reason(e, "storage_degraded") == nil ? true : nil
        }
        try await waitFills(tree, atLeast: frozen + 1)
        #expect(program(try await status(tree), "engine")?.restarts == 0)
        await w.stop()
        // The degraded alert was raised while nothing could be written: it is in the journal now, with its recovery.
        #expect(try await journalCount(tree, "SELECT COUNT(*) FROM events WHERE topic='alerts' AND payload LIKE '%\\\"key\\\":\\\"storage_degraded\\\"%'") >= 2)
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "journal audit: \(audit.out)\(audit.err)")
    }

    @Test("F12: a missing journal starts fresh and says so")
    func missingJournal() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("the engine log says a fresh journal was started") {
            let logs = try await wardenctl(tree, "logs", "engine", "-n", "200")
            return logs.out.contains("no journal at \(tree.root)/var/lib/engine.db: started a fresh one") ? true : nil
        }
        await w.stop()
    }

    @Test("F13: kill -9 of the whole group during fills, again and again: every acknowledged fill is in the journal once, invariants hold")
    func killDuringFills() async throws {
        let fake = try await PolymarketFake.start(.demo(seed: 11))
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        // Every fill a subscriber was told about, collected across restarts by one reconnecting client.
        let told = Mutex<[String]>([])
        let client = IPCClient(path: tree.runtimeDir + "/engine.sock", role: "test", logger: Logger(label: "f13"),
                               backoffInitial: .milliseconds(50), backoffMax: .milliseconds(300))
        client.subscribe(SubscribeRequest(topics: [EngineTopic.trades]))
        let runner = Task { await client.run() }
        let reader = Task {
            for await event in client.events {
                guard case .event(let frame) = event, let body = try? frame.body(as: EventBody<TradeInfo>.self) else { continue }
                told.withLock { $0.append(body.data.intent_id) }
            }
        }
        defer { runner.cancel(); reader.cancel() }
        var rng = SystemRandomNumberGenerator()
        let rounds = 6
        for round in 1...rounds {
            let w = try WardenProcess(tree)
            let engine = try await waitRunning(tree, "engine", within: .seconds(40))
            let before = told.withLock { $0.count }
            try await eventually("round \(round): a fill told to the subscriber", within: .seconds(40)) {
                told.withLock { $0.count } > before ? true : nil
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...400, using: &rng)))
            // Power loss: the supervisor and the engine's own process group at once.
            kill(w.pid, SIGKILL)
            kill(-engine.pid!, SIGKILL)
            _ = await w.waitExit(within: .seconds(10))
            try await eventually("round \(round): engine gone", within: .seconds(10)) { isAlive(engine.pid!) ? nil : true }
        }
        let w = try WardenProcess(tree)
        try await waitRunning(tree, "engine", within: .seconds(40))
        await w.stop()
        let acknowledged = told.withLock { $0 }
        #expect(acknowledged.count >= rounds)
        #expect(Set(acknowledged).count == acknowledged.count, "no fill was announced twice")
        for id in Set(acknowledged) {
            #expect(try await journalCount(tree, "SELECT COUNT(*) FROM fills WHERE intent_id = '\(id)'") == 1, "fill of intent \(id) is in the journal once")
        }
        #expect(try await journalCount(tree, "SELECT COUNT(*) FROM intents WHERE status = 'open'") == 0, "every open intent resolved at start")
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "journal audit after \(rounds) power losses: \(audit.out)\(audit.err)")
    }

    @Test("F16: a market API slower than the timeout: every call bounded, the cycle and heartbeat go on, entries paused, then resumed")
    func slowAPI() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"slow","ms":4000}"#)
        let e = try await eventually("data_stale while slow", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return reason(e, "data_stale") != nil ? e : nil
        }
        let why = reason(e, "data_stale")!.message.lowercased()
        #expect(why.contains("timed out") || why.contains("timeout"), "the reason says the calls time out: \(why)")
        // Past the watchdog (10 s) with every call slow: the engine keeps beating and is never restarted.
        try await Task.sleep(for: .seconds(11))
        let p = try #require(program(try await status(tree), "engine"))
        #expect(p.pid == engine.pid && p.restarts == 0)
        #expect((p.last_heartbeat_age_s ?? 99) < 5, "heartbeat continues while every call is slow")
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
        try await eventually("resumes", within: .seconds(30)) {
            try await engineStatus(tree)?.trading_state == "ACTIVE" ? true : nil
        }
        await w.stop()
    }

    @Test("F17: 429 with Retry-After trips the API health guard (entries paused for the cooldown) and it clears by itself")
    func rateLimited() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        let booksBefore = fake.requestCount("/books")
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"rate_limit","retry_after":2}"#)
        let e = try await eventually("entries paused by the rate limit", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.trading_state == "PAUSED" && (reason(e, "api_health") != nil || reason(e, "data_stale") != nil) ? e : nil
        }
        _ = e
        // Retry-After 2 s honoured: over 6 s at most a handful of /books calls, where an unthrottled 300 ms refresh makes 20.
        let mark = fake.requestCount("/books")
        try await Task.sleep(for: .seconds(6))
        let during = fake.requestCount("/books") - mark
        #expect(during <= 8, "\(during) /books requests in 6 s under Retry-After: 2")
        #expect(mark > booksBefore, "the engine did call while limited")
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
        try await eventually("resumes after the cooldown", within: .seconds(45)) {
            let e = try await engineStatus(tree)
            return e?.trading_state == "ACTIVE" && reason(e, "api_health") == nil ? true : nil
        }
        await w.stop()
    }

    @Test("F18: malformed market data is rejected and counted; the engine does not crash")
    func malformed() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"malformed"}"#)
        try await eventually("rejected items counted", within: .seconds(20)) {
            (try await engineStatus(tree)?.data?.rejected_items_total ?? 0) > 0 ? true : nil
        }
        try await Task.sleep(for: .seconds(2))
        let p = try #require(program(try await status(tree), "engine"))
        #expect(p.pid == engine.pid && p.restarts == 0 && p.state == "RUNNING")
        await w.stop()
    }

    @Test("F19: frozen books pause entries for those markets only")
    func frozenBooks() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"frozen","tokens":["9003","9004"]}"#)
        let e = try await eventually("market 502 paused as stale", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.contains { $0.code == "market_stale" && $0.market_id == "502" } == true ? e : nil
        }
        #expect(e.trading_state == "ACTIVE", "only that market is paused")
        #expect(e.reasons?.filter { $0.code == "market_stale" }.allSatisfy { $0.market_id == "502" } == true)
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
        try await eventually("market 502 fresh again", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.contains { $0.code == "market_stale" } == false ? true : nil
        }
        await w.stop()
    }

    @Test("F22: the wall clock steps an hour forward and back (libfaketime): reported, no restart, data fresh again",
          .enabled(if: FileManager.default.fileExists(atPath: faketimeLibrary), "needs Debian's faketime package (make deps installs it)"))
    func wallClockSteps() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let offset = tree.root + "/faketime"
        try "+0".write(toFile: offset, atomically: true, encoding: .utf8)
        // Only the wall clock is faked; the monotonic clock every timer runs on is left alone.
        let w = try WardenProcess(tree, env: ["LD_PRELOAD": faketimeLibrary, "FAKETIME_TIMESTAMP_FILE": offset,
                                              "FAKETIME_CACHE_DURATION": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"], viaShell: true)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        for (step, sign) in [("+3600", "+"), ("+0", "-")] {
            try step.write(toFile: offset, atomically: true, encoding: .utf8)
            try await eventually("a clock-step event of \(sign)3600 s", within: .seconds(20)) {
                try await events(tree).contains { $0.kind == "clock-step" && $0.message.contains("stepped \(sign)36") } ? true : nil
            }
            try await eventually("fresh data after the step", within: .seconds(30)) {
                try await engineStatus(tree)?.data?.status == "fresh" ? true : nil
            }
        }
        let p = try #require(program(try await status(tree), "engine"))
        #expect(p.pid == engine.pid && p.restarts == 0, "no watchdog restart from a wall-clock step")
        await w.stop()
    }

    @Test("F23: the whole group stopped and continued: no restart, the engine treats its data as stale until refreshed")
    func suspendEngine() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        // Answers just inside the request timeout keep the engine inside a cycle (awaiting a fetch) nearly all the
        // time, so the stop lands mid-cycle: no gap between cycles shows it, the engine must notice it anyway.
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"slow","ms":800}"#)
        try await Task.sleep(for: .seconds(2))
        kill(w.pid, SIGSTOP)
        kill(-engine.pid!, SIGSTOP)
        try await Task.sleep(for: .seconds(7))
        kill(-engine.pid!, SIGCONT)
        kill(w.pid, SIGCONT)
        try await eventually("the engine says its data was treated as stale", within: .seconds(30)) {
            let logs = try await wardenctl(tree, "logs", "engine", "-n", "1000")
            return logs.out.contains("market data treated as stale until refreshed") ? true : nil
        }
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
        try await eventually("fresh again", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        let p = try #require(program(try await status(tree), "engine"))
        #expect(p.pid == engine.pid && p.restarts == 0, "no restart after the suspend")
        await w.stop()
    }

    @Test("F24: a low fd limit is named by preflight, which blocks the start")
    func lowFDLimit() async throws {
        // The market API points at a closed loopback port: nothing leaves the machine.
        let tree = try TestTree(programs: "  {}\n", supervisor: "engine:\n  gamma_url: http://127.0.0.1:9\n  clob_url: http://127.0.0.1:9\n")
        let r = try await sh("ulimit -n 64; exec '\(Bin.path("warden-engine"))' preflight --config '\(tree.configPath)'")
        #expect(r.code == 1)
        #expect(r.out.contains("FAIL  fd limit: soft limit 64 open files"), "\(r.out)")
    }

    @Test("F30: trades say \"last N of M\" and the CSV export holds every row of the journal")
    func boundedHistory() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitFills(tree, atLeast: 3)
        #expect(try await wardenctl(tree, "kill-switch", "on").code == 0)
        let total = try await fills(tree)
        let page = try await wardenctl(tree, "trades", "--limit", "2")
        #expect(page.out.contains("-- last 2 of \(total) trades --"), "\(page.out)")
        let csv = try await wardenctl(tree, "trades", "--csv")
        #expect(csv.code == 0)
        await w.stop()
        let rows = csv.out.split(separator: "\n").count - 1
        let journalRows = try await journalCount(tree, "SELECT COUNT(*) FROM fills")
        #expect(rows == total && rows == journalRows)
    }

    @Test("F36: prices against the position HALT trading (exits only), the halt survives kill -9, only halt-reset resumes")
    func drawdownHalts() async throws {
        let fake = try await PolymarketFake.start(favouriteScenario())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake, extraEngine: favouriteOnly + "\n  risk:\n    max_drawdown: 0.02")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitFills(tree, atLeast: 1)
        try await post(fake.baseURL + "/admin/price", #"{"market":"601","price":0.10}"#)
        let e = try await eventually("HALTED by drawdown", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return e?.trading_state == "HALTED" ? e : nil
        }
        #expect(reason(e, "drawdown")?.message.contains("exits only") == true)
        let engine = try #require(program(try await status(tree), "engine"))
        kill(engine.pid!, SIGKILL)
        try await waitRunning(tree, "engine", otherThanPID: engine.pid, within: .seconds(30))
        let back = try await eventually("engine back") { try await engineStatus(tree).flatMap { $0.reachable ? $0 : nil } }
        #expect(back.trading_state == "HALTED" && reason(back, "drawdown") != nil, "the halt is persisted")
        try await Task.sleep(for: .seconds(1))
        #expect(try await engineStatus(tree)?.trading_state == "HALTED", "it does not clear by itself")
        let reset = try await wardenctl(tree, "halt-reset")
        #expect(reset.code == 0, "\(reset.err)")
        try await eventually("ACTIVE after the operator's reset") { try await engineStatus(tree)?.trading_state == "ACTIVE" ? true : nil }
        await w.stop()
    }

    @Test("F37: a strategy that throws and emits invalid intents is rejected with reasons, then disabled; the others go on")
    func strategyError() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake, program: "    env: {WARDEN_ENGINE_TEST_HOOKS: faulty_strategy}")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let e = try await eventually("faulty strategy disabled", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.accounts?.first { $0.strategy == "faulty" }?.enabled == false ? e : nil
        }
        let faulty = try #require(e.accounts?.first { $0.strategy == "faulty" })
        #expect(faulty.disabled_reason?.contains("errors within") == true && faulty.fills == 0)
        #expect(e.accounts?.filter { $0.strategy != "faulty" }.allSatisfy(\.enabled) == true, "the others are still enabled")
        let strategies = try await wardenctl(tree, "strategies")
        #expect(strategies.out.contains("faulty"), "\(strategies.out)")
        let now = e.fills_total ?? 0
        try await waitFills(tree, atLeast: now + 1)
        let logs = try await wardenctl(tree, "logs", "engine", "-n", "500")
        #expect(logs.out.contains("is outside (0, 1)") && logs.out.contains("division by zero"), "both failures named with reasons")
        await w.stop()
    }

    @Test("F38: a crash between the write-ahead intent and its fill: the intent is resolved exactly once at the next start")
    func crashBetweenIntentAndFill() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake, program: "    env: {WARDEN_ENGINE_TEST_HOOKS: crash_after_intent}")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("the engine crashed once and is back", within: .seconds(40)) {
            let p = program(try await status(tree), "engine")
            return p?.restarts == 1 && p?.state == "RUNNING" ? true : nil
        }
        try await eventually("the open intent resolved at start, and said") {
            let logs = try await wardenctl(tree, "logs", "engine", "-n", "500")
            return logs.out.contains("left open by a crash: resolved as not executed") ? true : nil
        }
        try await waitFills(tree, atLeast: 1)
        #expect(program(try await status(tree), "engine")?.restarts == 1, "the hook fired once")
        await w.stop()
        #expect(try await journalCount(tree, "SELECT COUNT(*) FROM intents WHERE status = 'abandoned'") == 1)
        #expect(try await journalCount(tree, "SELECT COUNT(*) FROM fills f JOIN intents i ON i.id = f.intent_id WHERE i.status = 'abandoned'") == 0)
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "journal audit: \(audit.out)\(audit.err)")
    }

    @Test("F39: a market resolves on the fake: positions settle at 1/0 exactly once, also across a restart")
    func resolution() async throws {
        let fake = try await PolymarketFake.start(favouriteScenario())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake, extraEngine: favouriteOnly)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitFills(tree, atLeast: 1)
        let held = try await eventually("a position in 601") {
            let p = try await wardenctl(tree, "positions", "--json")
            return p.out.contains("9601") ? p.out : nil
        }
        _ = held
        try await post(fake.baseURL + "/admin/resolve", #"{"market":"601","winner":"yes"}"#)
        let e = try await eventually("settled", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return e?.accounts?.first { $0.strategy == "near_resolution" }.flatMap { $0.open_positions == 0 ? e : nil }
        }
        let account = try #require(e.accounts?.first { $0.strategy == "near_resolution" })
        #expect(account.realized_pnl > 0 && account.cash > account.bankroll, "the winning shares paid 1 each")
        let engine = try #require(program(try await status(tree), "engine"))
        kill(engine.pid!, SIGKILL)
        try await waitRunning(tree, "engine", otherThanPID: engine.pid, within: .seconds(30))
        let again = try await eventually("engine back") { try await engineStatus(tree).flatMap { $0.reachable ? $0 : nil } }
        #expect(again.accounts?.first { $0.strategy == "near_resolution" }?.cash == account.cash, "not paid twice")
        await w.stop()
        #expect(try await journalCount(tree, "SELECT COUNT(*) FROM settlements WHERE market_id = '601'") == 1)
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "journal audit: \(audit.out)\(audit.err)")
    }
}
