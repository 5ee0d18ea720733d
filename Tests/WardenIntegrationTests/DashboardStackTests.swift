// The real stack with the dashboard on the fakes: a headless Chromium drives it (Tests/e2e/dashboard_e2e.py),
// web security and slow streams over real HTTP (Tests/e2e/web_security.py), promtool on /metrics, and the
// dashboard killed and frozen while trading goes on.
import Foundation
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit


let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// The notifier, engine and dashboard on the fakes; the engine is not restarted at once after a crash (so a
/// test can see it down).
func dashboardTree(_ market: PolymarketFake, _ channels: AlertChannelFake, port: Int, clob: ClobFake? = nil) throws -> TestTree {
    // With a CLOB trading fake: mean_reversion trades live on it beside the paper strategies (issue 14's Orders view).
    let live = clob.map { "  live:\n    strategies: [mean_reversion]\n    clob_url: \($0.baseURL)\n    heartbeat: 1s\n    reconcile: 2s\n" } ?? ""
    let key = clob == nil ? "" : "\n    env: {WARDEN_SECRET_POLYMARKET_PRIVATE_KEY: \"\(liveTestKey)\"}"
    return try TestTree(programs: """
    \(StackYAML.entry(.notifier, Bin.path("warden-notifier")))
        watchdog_sec: 5s
        env: {WARDEN_SECRET_HOOK_URL: "\(channels.jsonURL)"}
    \(StackYAML.entry(.engine, Bin.path("warden-engine")))
        critical: true
        watchdog_sec: 10s
        start_timeout: 30s
        stable_after: 1h
        backoff: {initial: 4s, max: 4s, jitter: 0}\(key)
    \(StackYAML.entry(.dashboard, Bin.path("warden-dashboard")))
        after: [engine]
        watchdog_sec: 5s
        stop_timeout: 2s
    """, supervisor: """
      log_level: info
    engine:
      gamma_url: \(market.baseURL)
      clob_url: \(market.baseURL)
      cycle: 200ms
      book_refresh: 300ms
      stale_data_after: 3s
      request_timeout: 3s
      connect_timeout: 1s
      equity_interval: 1s
      # The fake answers from the loaded test process: a burst of slow answers may trip the API health guard,
      # which must then clear within the test (the default cooldown is 5 minutes).
      health:
        cooldown: 2s
    \(live)
    notifier:
      channels:
        hook: {kind: webhook, format: json, url_credential: hook_url, min_severity: warning, min_interval: 0s}
    dashboard:
      port: \(port)
      list_limit: 10

    """)
}

/// Runs a program to completion within `limit`, output merged; fails the test if it is still running.
func runProgram(_ path: String, _ args: [String], limit: Duration) async throws -> (code: Int32, out: String) {
    let r = try await BoundedRun.run(path, args, limit: limit, mergeOutput: true)
    return (r.code, r.out)
}

@Suite("Dashboard on the fakes", .serialized)
struct DashboardStackTests {
    /// Starts the stack and waits for the dashboard; returns the tree, warden, the port and the login token.
    func start() async throws -> (TestTree, WardenProcess, Int, String, PolymarketFake, AlertChannelFake, LiveBeside) {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        let (clob, feed) = try await clobBeside(market, .demo())
        let port = try freePort()
        let tree = try dashboardTree(market, channels, port: port, clob: clob)
        let w = try WardenProcess(tree)
        try await waitRunning(tree, "dashboard", within: .seconds(40))
        let token = try await eventually("the dashboard token") {
            let r = try await wardenctl(tree, "dashboard-token")
            return r.code == 0 ? r.out.trimmingCharacters(in: .whitespacesAndNewlines) : nil
        }
        #expect(token.count == 64)
        let mode = try FileManager.default.attributesOfItem(atPath: tree.root + "/var/lib/dashboard.token")[.posixPermissions] as? Int
        #expect(mode == 0o600, "the token file is private")
        return (tree, w, port, token, market, channels, LiveBeside(clob: clob, feed: feed))
    }

    @Test("in headless Chromium: log in, a fill appears live, pause from the page (seen in wardenctl), CSV = journal, kill the engine → banner; screenshots",
          .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/chromedriver"), "needs Debian's chromium-driver (make deps installs it)"))
    func browser() async throws {
        let (tree, w, port, token, market, channels, beside) = try await start()
        defer { Task { await w.stop(); await market.stop(); await channels.stop(); await beside.stop() } }
        let out = packageRoot + "/test-output/dashboard"
        let r = try await runProgram("/usr/bin/python3", [packageRoot + "/Tests/e2e/dashboard_e2e.py", "--url", "http://127.0.0.1:\(port)",
                                                           "--token", token, "--wardenctl", Bin.path("wardenctl"), "--config", tree.configPath,
                                                           "--out", out], limit: .seconds(240))
        #expect(r.code == 0 && r.out.contains("PASS"), "\(r.out)")
        for shot in ["overview", "trades", "strategies", "orders", "events", "alerts", "system", "engine-killed"] {
            #expect(FileManager.default.fileExists(atPath: "\(out)/\(shot).png"), "screenshot \(shot)")
        }
        await w.stop()
    }

    @Test("F34 and F35 over real HTTP: no session, bad CSRF, cross-site POST refused, nothing changed; streams never read slow nobody; login rate limit")
    func webSecurityAndSlowStreams() async throws {
        let (tree, w, port, token, market, channels, beside) = try await start()
        defer { Task { await w.stop(); await market.stop(); await channels.stop(); await beside.stop() } }
        try await eventually("trading", within: .seconds(30)) { try await engineStatus(tree)?.trading_state == "ACTIVE" ? true : nil }
        let r = try await runProgram("/usr/bin/python3", [packageRoot + "/Tests/e2e/web_security.py", "--port", String(port), "--token", token,
                                                           "--wardenctl", Bin.path("wardenctl"), "--config", tree.configPath], limit: .seconds(180))
        #expect(r.code == 0 && r.out.contains("PASS"), "\(r.out)")
        let logs = try await wardenctl(tree, "logs", "dashboard", "-n", "500")
        #expect(!logs.out.contains(token), "the token never appears in the logs")
        await w.stop()
    }

    @Test("/metrics passes promtool check metrics, with a program label on the whole stack",
          .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/promtool"), "needs Debian's prometheus package (make deps installs it)"))
    func promtool() async throws {
        let (tree, w, port, token, market, channels, beside) = try await start()
        defer { Task { await w.stop(); await market.stop(); await channels.stop(); await beside.stop() } }
        try await eventually("a fill", within: .seconds(30)) { (try await engineStatus(tree)?.fills_total ?? 0) > 0 ? true : nil }
        let file = tree.root + "/metrics.txt"
        let fetch = try await sh("curl -sf -H 'Authorization: Bearer \(token)' http://127.0.0.1:\(port)/metrics -o '\(file)'")
        #expect(fetch.code == 0, "\(fetch.out)")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        for needle in ["warden_restarts_total{program=\"engine\"}", "warden_fills_total{program=\"engine\"}", "warden_heartbeat_age_seconds{program=\"notifier\"}",
                       "warden_alert_queue_depth{program=\"notifier\"}", "warden_http_requests_total{program=\"engine\",host=\"127.0.0.1\"}",
                       "warden_trading_state{program=\"engine\",state=\"ACTIVE\"} 1", "warden_venue_healthy{program=\"engine\"} 1",
                       "warden_engine_cycle_duration_seconds_bucket{program=\"engine\",le=\"+Inf\"}"] {
            #expect(text.contains(needle), "metrics contain \(needle)")
        }
        let check = try await sh("promtool check metrics < '\(file)'")
        #expect(check.code == 0, "promtool: \(check.out)")
        await w.stop()
    }

    @Test("forty browsers asking /api/state at once are served by a few status round trips through the sockets, not forty")
    func statusShared() async throws {
        let (tree, w, port, token, market, channels, beside) = try await start()
        defer { Task { await w.stop(); await market.stop(); await channels.stop(); await beside.stop() } }
        try await eventually("trading", within: .seconds(30)) { try await engineStatus(tree)?.trading_state == "ACTIVE" ? true : nil }
        func controlRequests() async throws -> UInt64 { try #require(try await status(tree)?.supervisor.control_socket?.requests_total) }
        let before = try await controlRequests()
        let r = try await sh("seq 40 | xargs -P 40 -I{} curl -s -o /dev/null -w '%{http_code}\\n' -H 'Authorization: Bearer \(token)' http://127.0.0.1:\(port)/api/state")
        #expect(r.out.split(separator: "\n").filter { $0 == "200" }.count == 40, "every request answered: \(r.out)")
        let after = try await controlRequests()
        // Each of our two status reads counts one; each status the dashboard asks for counts one more.
        #expect(after - before < 20, "the dashboard asked the supervisor \(after - before - 1) times for 40 requests")
        await w.stop()
    }

    @Test("F03: the dashboard killed, then frozen: restarted each time, and trading goes on untouched")
    func dashboardKilledAndFrozen() async throws {
        let (tree, w, port, _, market, channels, beside) = try await start()
        defer { Task { await w.stop(); await market.stop(); await channels.stop(); await beside.stop() } }
        let engine = try await waitRunning(tree, "engine", within: .seconds(30))
        let first = try await waitRunning(tree, "dashboard")
        kill(first.pid!, SIGKILL)
        let second = try await waitRunning(tree, "dashboard", otherThanPID: first.pid, within: .seconds(20))
        let fillsBefore = try await fills(tree)
        kill(second.pid!, SIGSTOP)
        // Frozen: its watchdog (5 s) fires and it is replaced; meanwhile the engine keeps trading.
        try await waitRunning(tree, "dashboard", otherThanPID: second.pid, within: .seconds(30))
        // A generous bound: on a loaded machine the scenario may go a while without a fill (the point is that one comes).
        try await waitFills(tree, atLeast: fillsBefore + 1, within: .seconds(120))
        let e = try #require(program(try await status(tree), "engine"))
        #expect(e.pid == engine.pid && e.restarts == 0, "the engine was not touched")
        #expect(try await sh("curl -sf http://127.0.0.1:\(port)/healthz").out == "ok\n", "the new dashboard answers")
        await w.stop()
    }
}
