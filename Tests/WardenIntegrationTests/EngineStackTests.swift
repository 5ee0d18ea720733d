// The real warden + warden-engine against the loopback Polymarket fake: trading, pauses that survive
// a kill -9, data outages that pause entries (never a fallback), settlement, a corrupt journal.
import Foundation
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit

/// A tree whose engine trades on `fake`, with short staleness bounds. `program` adds keys to the engine's
/// program entry (4-space indent), `extraEngine` to the engine section (2-space indent).
func engineTree(_ fake: PolymarketFake, extraEngine: String = "", program: String = "") throws -> TestTree {
    try TestTree(programs: """
    \(StackYAML.entry(.engine, Bin.path("warden-engine")))
        critical: true
        watchdog_sec: 10s
        start_timeout: 30s
    \(program)
    """, supervisor: """
      log_level: info
    engine:
      gamma_url: \(fake.baseURL)
      clob_url: \(fake.baseURL)
      cycle: 200ms
      book_refresh: 300ms
      discovery_interval: 5s
      stale_data_after: 2s
      stale_market_after: 5s
      request_timeout: 1s
      connect_timeout: 500ms
      backup_interval: 1h
      health:
        cooldown: 2s
    \(extraEngine)

    """)
}

func engineStatus(_ tree: TestTree) async throws -> EngineStatus? { try await status(tree)?.engine }

/// Timeouts for `warden-engine record` against a fake served by the (loaded) test process.
let recorderTimeouts = ["WARDEN_ENGINE_REQUEST_TIMEOUT": "5s", "WARDEN_ENGINE_CONNECT_TIMEOUT": "2s"]

/// POSTs `json` to one of the fakes' /admin endpoints (bounded, without blocking a thread of the test's
/// executor: the fake answers on that executor, so a blocked thread could starve it on a 2-core machine).
func post(_ url: String, _ json: String) async throws {
    let r = try await BoundedRun.run("/usr/bin/env", ["python3", "-c", "import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method='POST'), timeout=20).read()", url, json], limit: .seconds(30))
    if r.code != 0 { throw TestFailure(description: "POST \(url) failed: \(r.err)") }
}

@Suite("Engine stack on the fakes", .serialized)
struct EngineStackTests {
    @Test("the engine paper-trades on the fake, and wardenctl shows fills, state and data age")
    func trades() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let e = try await eventually("a fill", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return (e?.fills_total ?? 0) > 0 ? e : nil
        }
        #expect(e.reachable && e.trading_state == "ACTIVE" && e.data?.status == "fresh")
        let csv = try await wardenctl(tree, "trades", "--csv")
        #expect(csv.code == 0 && csv.out.split(separator: "\n").count >= 2)
        await w.stop()
        await fake.stop()
    }

    @Test("F27: a pause with its reason and author survives kill -9 of the engine")
    func pauseSurvivesRestart() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        let p = try await wardenctl(tree, "pause", "--reason", "maintenance window")
        #expect(p.code == 0, "\(p.err)")
        kill(engine.pid!, SIGKILL)
        try await waitRunning(tree, "engine", otherThanPID: engine.pid, within: .seconds(30))
        let e = try await eventually("engine back and reachable") {
            let e = try await engineStatus(tree)
            return e?.reachable == true ? e : nil
        }
        #expect(e.trading_state == "PAUSED")
        let reason = try #require(e.reasons?.first { $0.code == "operator_pause" })
        #expect(reason.message == "maintenance window" && reason.author?.contains("via wardenctl") == true)
        #expect(try await wardenctl(tree, "resume").code == 0)
        #expect(try await engineStatus(tree)?.trading_state == "ACTIVE")
        await w.stop()
        await fake.stop()
    }

    @Test("F15: market data down pauses entries with since-when, never a fallback; it resumes by itself")
    func dataDown() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"down"}"#)
        let e = try await eventually("data_stale reason", within: .seconds(20)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.contains { $0.code == "data_stale" } == true ? e : nil
        }
        #expect(e.trading_state == "PAUSED" && e.data?.status == "down")
        #expect(e.reasons?.first { $0.code == "data_stale" }?.message.contains("market data stale since") == true)
        let fillsWhileDown = e.fills_total ?? 0
        try await Task.sleep(for: .seconds(1))  // an observation window of about five engine cycles
        #expect(try await engineStatus(tree)?.fills_total == fillsWhileDown, "no trades on stale data")
        try await post(fake.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
        // Data fresh again, then the health guard's cooldown (2 s here) runs out: ACTIVE with no reason left.
        var last = "no status"
        try await eventually("resumed by itself (last: \(last))", within: .seconds(45)) {
            let e = try await engineStatus(tree)
            last = "\(e?.trading_state ?? "?") data \(e?.data?.status ?? "?") reasons \(e?.reasons?.map(\.code) ?? [])"
            return e?.trading_state == "ACTIVE" && e?.data?.status == "fresh" ? true : nil
        }
        await w.stop()
        await fake.stop()
    }

    @Test("the shipped etc/warden.yaml with no market API reachable: the engine runs, shows market data down everywhere, trades nothing")
    func shippedConfigWithoutNetwork() async throws {
        let tree = try TestTree(programs: "")
        let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("etc/warden.yaml").path
        try FileManager.default.removeItem(atPath: tree.configPath)
        try FileManager.default.copyItem(atPath: shipped, toPath: tree.configPath)
        // "No network": both APIs on a closed loopback port (nothing leaves the machine); the rest as shipped.
        let w = try WardenProcess(tree, env: ["WARDEN_ENGINE_GAMMA_URL": "http://127.0.0.1:9", "WARDEN_ENGINE_CLOB_URL": "http://127.0.0.1:9",
                                              "WARDEN_SUPERVISOR_JOURNALD": "off", "WARDEN_ENGINE_STALE_DATA_AFTER": "3s"])
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "engine", within: .seconds(60))
        let e = try await eventually("market data down on status", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.data?.status == "down" && e?.reasons?.contains { $0.code == "data_stale" } == true ? e : nil
        }
        #expect(e.trading_state == "PAUSED" && (e.fills_total ?? -1) == 0)
        let human = try await wardenctl(tree, "status")
        #expect(human.out.contains("trading PAUSED · data down") && human.out.contains("market data stale since"), "\(human.out)")
        await w.stop()
    }

    @Test("F12: a corrupt journal is kept and trading is refused with the reason on status")
    func corruptJournal() async throws {
        let fake = try await PolymarketFake.start(.demo())
        defer { Task { await fake.stop() } }
        let tree = try engineTree(fake)
        try FileManager.default.createDirectory(atPath: tree.root + "/var/lib", withIntermediateDirectories: true)
        let db = tree.root + "/var/lib/engine.db"
        try Data(repeating: 0x42, count: 65536).write(to: URL(fileURLWithPath: db))
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let e = try await eventually("journal_unusable reason", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.contains { $0.code == "journal_unusable" } == true ? e : nil
        }
        #expect(e.trading_state == "PAUSED" && e.storage == "unusable")
        #expect(e.reasons?.first { $0.code == "journal_unusable" }?.message.contains(db) == true)
        #expect(FileManager.default.fileExists(atPath: db), "the corrupt file is kept")
        #expect((e.fills_total ?? 0) == 0)
        await w.stop()
        await fake.stop()
    }
}

@Suite("Replay source", .serialized)
struct ReplayTests {
    @Test("record the fake's market data, then trade on the replay with the fake gone; when the replay ends the data goes stale, never a fallback")
    func recordAndReplay() async throws {
        // The demo's markets and a lone favourite that neither moves nor resolves: every recorded snapshot offers
        // the near-resolution strategy its entry, so the replay trades however few rounds a loaded machine records.
        var scenario = FakeScenario.demo()
        scenario.markets.append(favouriteScenario().markets[0])
        let fake = try await PolymarketFake.start(scenario)
        let tree = try engineTree(fake)
        let recording = tree.root + "/recording.jsonl"
        // The fake answers from this loaded test process: the recorder's calls get a timeout that survives that
        // (with the tree's 1 s, a run recorded its first book snapshot only at the end, and the replay had no books).
        let rec = try await runTool("warden-engine", ["record", "--config", tree.configPath, "--out", recording, "--duration", "6s"],
                                    env: recorderTimeouts)
        await fake.stop()
        #expect(rec.code == 0 && rec.out.contains("recorded"), "\(rec.out)\(rec.err)")
        let lines = try String(contentsOfFile: recording, encoding: .utf8).split(separator: "\n")
        #expect(lines.count >= 5 && lines.contains { $0.contains(#""kind":"books""#) } && lines.contains { $0.contains(#""kind":"markets""#) })
        try tree.write(programs: """
        \(StackYAML.entry(.engine, Bin.path("warden-engine")))
            critical: true
            watchdog_sec: 10s
            pre_start: ["\(Bin.path("warden-engine"))", "preflight"]
        """, supervisor: """
          log_level: info
        engine:
          source: replay
          replay_file: \(recording)
          # At half speed the 6 s recorded last 12 s: a loaded machine's slow start still trades on it.
          replay_speed: 0.5
          cycle: 200ms
          book_refresh: 300ms
          stale_data_after: 2s
          # The favourite's book never changes: with a short bound it would be frozen (paused) 5 s after it is
          # first seen, which a loaded machine's slow first cycles can outlast. The end is judged by stale_data_after.
          stale_market_after: 60s

        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let e: EngineStatus
        do {
            e = try await eventually("fills on the replayed data", within: .seconds(45)) {
                let e = try await engineStatus(tree)
                return (e?.fills_total ?? 0) > 0 ? e : nil
            }
        } catch {
            // What the engine said and showed, so a failure on a loaded machine can be read from the log.
            let s = try? await wardenctl(tree, "status")
            let log = (try? String(contentsOfFile: tree.root + "/var/log/engine.log", encoding: .utf8)) ?? ""
            Issue.record("no fill on the replay.\nstatus:\n\(s?.out ?? "")\nengine.log (end):\n\(log.suffix(4000))")
            throw error
        }
        #expect(e.data?.source == "replay")
        let ended = try await eventually("the replay ends: data stale, entries paused", within: .seconds(30)) {
            let e = try await engineStatus(tree)
            return e?.reasons?.first { $0.code == "data_stale" }.flatMap { $0.message.contains("replay of \(recording) ended") ? e : nil }
        }
        #expect(ended.trading_state == "PAUSED")
        await w.stop()
        let audit = try await verifyJournal(tree)
        #expect(audit.code == 0, "\(audit.out)\(audit.err)")
    }

    @Test("a replay file with a bad line stops the start, naming the line")
    func badReplayFile() async throws {
        let tree = try TestTree(programs: "  {}\n", supervisor: "engine:\n  source: replay\n  replay_file: bad.jsonl\n")
        try "{\"kind\":\"markets\",\"at\":1,\"markets\":[]}\nnot json\n".write(toFile: tree.root + "/bad.jsonl", atomically: true, encoding: .utf8)
        let r = try await runTool("warden-engine", ["preflight", "--config", tree.configPath])
        #expect(r.code == 1 && r.out.contains("FAIL  replay file") && r.out.contains("line 2"), "\(r.out)")
    }
}
