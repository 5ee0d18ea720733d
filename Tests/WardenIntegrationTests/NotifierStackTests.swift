// The real warden + warden-engine + warden-notifier on the loopback fakes: alerts survive a frozen and a killed
// notifier, a flapping data source gives one alert and one recovery, bad credentials show everywhere, a stuck
// pause escalates.
import Foundation
import Testing
import WardenFakes
import WardenIPC
import WardenTestKit

/// A tree running the notifier (channels on `channels`) and the engine (on `market`).
func stackTree(_ market: PolymarketFake, _ channels: AlertChannelFake, notifier: String, engine: String = "",
               secrets: [String: String] = [:]) throws -> TestTree {
    var env = ["WARDEN_SECRET_TELEGRAM_TOKEN": channels.token, "WARDEN_SECRET_TELEGRAM_CHAT_ID": "42", "WARDEN_SECRET_HOOK_URL": channels.jsonURL]
    for (k, v) in secrets { env[k] = v }
    let envYAML = env.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ")
    return try TestTree(programs: """
    \(StackYAML.entry(.notifier, Bin.path("warden-notifier")))
        watchdog_sec: 3s
        stop_timeout: 2s
        env: {\(envYAML)}
    \(StackYAML.entry(.engine, Bin.path("warden-engine")))
        critical: true
        watchdog_sec: 10s
        start_timeout: 30s
    """, supervisor: """
      log_level: info
    engine:
      gamma_url: \(market.baseURL)
      clob_url: \(market.baseURL)
      cycle: 200ms
      book_refresh: 300ms
      stale_data_after: 2s
      request_timeout: 1s
      connect_timeout: 500ms
      health:
        cooldown: 2s
    \(engine)

    notifier:
      backoff: {initial: 200ms, max: 2s}
      request_timeout: 2s
    \(notifier)

    """)
}

/// The JSON webhook channel every test here counts on.
let hookChannel = """
  channels:
    hook: {kind: webhook, format: json, url_credential: hook_url, min_severity: warning, min_interval: 0s}
"""

func notifierStatus(_ tree: TestTree) async throws -> NotifierStatusInfo? { try await status(tree)?.notifier }

/// Received texts containing `needle`.
func received(_ fake: AlertChannelFake, _ needle: String) -> [String] { fake.received.map(\.text).filter { $0.contains(needle) } }

/// The pause alerts with this reason (not the recoveries, which quote their cause).
func pauses(_ fake: AlertChannelFake, _ reason: String) -> Int {
    fake.received.filter { $0.text.hasPrefix("[WARNING] engine: paused by") && $0.text.hasSuffix(reason) }.count
}
func recoveries(_ fake: AlertChannelFake) -> Int { fake.received.filter { $0.text.hasPrefix("[RECOVERED] engine: resumed by") }.count }

@Suite("Notifier stack on the fakes", .serialized)
struct NotifierStackTests {
    @Test("F04: alerts raised while the notifier is frozen, then killed, are all delivered afterwards, each once")
    func notifierFrozenAndKilled() async throws {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        defer { Task { await market.stop(); await channels.stop() } }
        let tree = try stackTree(market, channels, notifier: "  coalesce_window: 0s\n" + hookChannel)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "engine", within: .seconds(30))
        let first = try await waitRunning(tree, "notifier", within: .seconds(30))
        try await eventually("the pipeline delivers (fresh journal alert)", within: .seconds(20)) {
            received(channels, "started a fresh one").isEmpty ? nil : true
        }
        // Frozen: the supervisor's watchdog kills it; alerts raised meanwhile wait in the engine.
        kill(first.pid!, SIGSTOP)
        for tag in ["f04-a", "f04-b"] {
            #expect(try await wardenctl(tree, "pause", "--reason", tag).code == 0)
            #expect(try await wardenctl(tree, "resume").code == 0)
        }
        let second = try await waitRunning(tree, "notifier", otherThanPID: first.pid, within: .seconds(20))
        try await eventually("frozen-time alerts delivered (received: \(channels.received.map(\.text)))", within: .seconds(20)) {
            pauses(channels, "f04-a") == 1 && pauses(channels, "f04-b") == 1 ? true : nil
        }
        // Killed: the same, through a kill -9 — once the deliveries above are recorded. (A kill between a channel's
        // acceptance and the notifier's record of it makes that one message go out again: at least once, never lost.)
        try await eventually("the deliveries recorded", within: .seconds(20)) {
            try await notifierStatus(tree)?.queue_depth == 0 ? true : nil
        }
        kill(second.pid!, SIGKILL)
        #expect(try await wardenctl(tree, "pause", "--reason", "f04-c").code == 0)
        #expect(try await wardenctl(tree, "resume").code == 0)
        try await waitRunning(tree, "notifier", otherThanPID: second.pid, within: .seconds(20))
        try await eventually("killed-time alerts delivered", within: .seconds(20)) {
            pauses(channels, "f04-c") == 1 && recoveries(channels) == 3 ? true : nil
        }
        try await Task.sleep(for: .seconds(1))
        for tag in ["f04-a", "f04-b", "f04-c"] { #expect(pauses(channels, tag) == 1, "\(tag) delivered once") }
        #expect(recoveries(channels) == 3, "each recovery once")
        #expect(received(channels, "watchdog").count >= 1, "the supervisor's watchdog kill of the notifier was told too")
        let n = try #require(try await notifierStatus(tree))
        #expect(n.reachable && n.queue_depth == 0 && n.channels?.first { $0.name == "hook" }?.state == "ok")
        await w.stop()
    }

    @Test("a flapping market data source gives one alert and one recovery (×N), not one per flap")
    func flappingDataSource() async throws {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        defer { Task { await market.stop(); await channels.stop() } }
        let tree = try stackTree(market, channels, notifier: "  coalesce_window: 25s\n" + hookChannel)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await eventually("fresh data", within: .seconds(30)) { try await engineStatus(tree)?.data?.status == "fresh" ? true : nil }
        for _ in 0..<3 {
            try await post(market.baseURL + "/admin/fault", #"{"mode":"down"}"#)
            try await eventually("stale", within: .seconds(15)) { try await engineStatus(tree)?.reasons?.contains { $0.code == "data_stale" } == true ? true : nil }
            try await post(market.baseURL + "/admin/fault", #"{"mode":"clear"}"#)
            try await eventually("fresh", within: .seconds(15)) { try await engineStatus(tree)?.reasons?.contains { $0.code == "data_stale" } == false ? true : nil }
        }
        try await eventually("the summary at the end of the window", within: .seconds(40)) {
            received(channels, "market data").count >= 2 ? true : nil
        }
        try await Task.sleep(for: .seconds(1))
        let messages = received(channels, "market data")
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.first?.hasPrefix("[CRITICAL] engine: market data stale since") == true)
        #expect(messages.last?.hasPrefix("[RECOVERED] engine: market data fresh again") == true && messages.last?.contains("×5") == true,
                "the last flap's recovery, with the count: \(messages.last ?? "")")
        await w.stop()
    }

    @Test("F21: a Telegram channel answering 401 is failed on status and in preflight, keeps its messages, and a passed test releases them")
    func badCredentials() async throws {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        defer { Task { await market.stop(); await channels.stop() } }
        let telegram = """
          coalesce_window: 0s
          channels:
            telegram: {kind: telegram, api_url: "\(channels.baseURL)", min_severity: warning, min_interval: 0s}
        """
        let tree = try stackTree(market, channels, notifier: telegram)
        var f = AlertChannelFake.Faults()
        f.status = 401
        channels.setFaults(f)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let n = try await eventually("telegram failed on status", within: .seconds(30)) {
            let n = try await notifierStatus(tree)
            return n?.channels?.first { $0.name == "telegram" && $0.state == "failed" } != nil ? n : nil
        }
        let ch = try #require(n.channels?.first)
        #expect(ch.last_error?.contains("401") == true && ch.last_error?.contains(channels.token) == false, "the reason, never the token")
        #expect(ch.pending >= 1, "messages kept")
        let human = try await wardenctl(tree, "status")
        #expect(human.out.contains("telegram failed (HTTP 401"), "\(human.out)")
        let preflight = try await runTool("wardenctl", ["preflight", "--config", tree.configPath],
                                          env: ["WARDEN_SECRET_TELEGRAM_TOKEN": channels.token, "WARDEN_SECRET_TELEGRAM_CHAT_ID": "42"])
        #expect(preflight.code == 1 && preflight.out.contains("FAIL  channel telegram: HTTP 401"), "\(preflight.out)")
        // Fixed: a passed test puts the channel back to ok and its kept messages go out.
        channels.setFaults(AlertChannelFake.Faults())
        let test = try await wardenctl(tree, "notify", "test", "telegram")
        #expect(test.code == 0 && test.out.contains("telegram: ok"), "\(test.out)\(test.err)")
        try await eventually("the kept alert delivered", within: .seconds(10)) {
            received(channels, "started a fresh one").count == 1 ? true : nil
        }
        let unknown = try await wardenctl(tree, "notify", "test", "pager")
        #expect(unknown.code == 1 && unknown.err.contains("no channel `pager`"), "\(unknown.err)")
        await w.stop()
    }

    @Test("F20: a channel down, then answering 429: retrying on status, Retry-After honoured, nothing lost, nothing twice")
    func channelDownAndRateLimited() async throws {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        defer { Task { await market.stop(); await channels.stop() } }
        let tree = try stackTree(market, channels, notifier: "  coalesce_window: 0s\n" + hookChannel)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "engine", within: .seconds(30))
        try await eventually("the pipeline delivers", within: .seconds(20)) { received(channels, "started a fresh one").isEmpty ? nil : true }
        var f = AlertChannelFake.Faults()
        f.down = true
        channels.setFaults(f)
        for tag in ["f20-a", "f20-b"] {
            #expect(try await wardenctl(tree, "pause", "--reason", tag).code == 0)
            #expect(try await wardenctl(tree, "resume").code == 0)
        }
        let n = try await eventually("hook retrying on status", within: .seconds(15)) {
            let n = try await notifierStatus(tree)
            return n?.channels?.first { $0.name == "hook" && $0.state == "retrying" } != nil ? n : nil
        }
        #expect((n.queue_depth ?? 0) >= 1 && n.oldest_pending_age_s != nil)
        channels.setFaults(AlertChannelFake.Faults())
        try await eventually("delivered after the outage", within: .seconds(20)) {
            pauses(channels, "f20-a") == 1 && pauses(channels, "f20-b") == 1 && recoveries(channels) == 2 ? true : nil
        }
        // 429 with Retry-After: 3 on the next message: it arrives no sooner than that.
        f = AlertChannelFake.Faults()
        f.rateLimitCount = 1
        f.retryAfter = 3
        channels.setFaults(f)
        let raised = Date()
        #expect(try await wardenctl(tree, "pause", "--reason", "f20-c").code == 0)
        try await eventually("delivered after Retry-After", within: .seconds(15)) { pauses(channels, "f20-c") == 1 ? true : nil }
        let at = try #require(channels.received.first { $0.text.hasSuffix("f20-c") }?.at)
        #expect(at.timeIntervalSince(raised) >= 2.9, "sent again only after the 3 s the channel asked for (\(at.timeIntervalSince(raised)) s)")
        #expect(channels.refusedCount == 1)
        try await Task.sleep(for: .seconds(1))
        for tag in ["f20-a", "f20-b", "f20-c"] { #expect(pauses(channels, tag) == 1, "\(tag) once") }
        await w.stop()
    }

    @Test("F26: a pause that lasts past pause_stuck_after escalates, once")
    func pauseStuck() async throws {
        let market = try await PolymarketFake.start(.demo())
        let channels = try await AlertChannelFake.start()
        defer { Task { await market.stop(); await channels.stop() } }
        let tree = try stackTree(market, channels, notifier: "  pause_stuck_after: 2s\n" + hookChannel)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "engine", within: .seconds(30))
        try await waitRunning(tree, "notifier", within: .seconds(30))
        #expect(try await wardenctl(tree, "pause", "--reason", "stuck test").code == 0)
        try await eventually("the escalation", within: .seconds(15)) {
            received(channels, "still PAUSED after").isEmpty ? nil : true
        }
        try await Task.sleep(for: .seconds(2))
        let escalations = received(channels, "still PAUSED after")
        #expect(escalations.count == 1 && escalations[0].hasPrefix("[CRITICAL]") && escalations[0].contains("stuck test"), "\(escalations)")
        await w.stop()
    }
}
