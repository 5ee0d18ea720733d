// The notifier's decisions (pure) and its pipeline over a real notifier.db and the loopback channel fakes,
// with the clock injected: coalescing, recovery pairing, quiet hours, digests, limits, failures.
import Foundation
import Logging
import Testing
import WardenFakes
import WardenHTTP
import WardenKit
@testable import WardenNotifier
import WardenIPC

private let t0 = Date(timeIntervalSince1970: 1_790_000_000)  // 2026-09-21 … 14:13 UTC

private func alert(_ seq: Int64, key: String = "data_stale", kind: String, severity: String = "critical",
                   _ message: String = "market data stale", at: Date, duration: Double? = nil) -> IncomingAlert {
    IncomingAlert(source: "engine", seq: seq, key: key, kind: kind, severity: severity, message: message, at: at, durationS: duration)
}

@Suite("Noise control")
struct NoiseControlTests {
    var settings: NotifierSettings {
        var s = NotifierSettings()
        s.coalesceWindow = .seconds(60)
        s.channels = [ChannelSettings(name: "log", kind: .log)]
        return s
    }

    @Test("a data source flapping 50 times gives one alert and one recovery, the second saying ×N and how long it lasted")
    func flapping() {
        let noise = NoiseControl(settings: settings)
        var c = ConditionState()
        var sent: [String] = []
        for i in 0..<50 {
            let t = t0.addingTimeInterval(Double(i))
            let a = i % 2 == 0 ? alert(Int64(i), kind: "paused", at: t) : alert(Int64(i), kind: "resumed", severity: "info", "market data fresh again", at: t, duration: 1)
            let (after, d) = noise.decide(a, c, now: t)
            c = after
            if case .send(let text, _) = d { sent.append(text) }
        }
        #expect(sent.count == 1 && sent[0].hasPrefix("[CRITICAL] engine: market data stale"))
        let (after, summary) = try! #require(noise.flush(key: "data_stale", c, now: t0.addingTimeInterval(61)))
        #expect(summary.text.hasPrefix("[RECOVERED] engine: market data fresh again — lasted 1s (cause: market data stale)"))
        #expect(summary.text.contains("×49"), "\(summary.text)")
        #expect(summary.severity == "critical", "a recovery is routed like its cause")
        #expect(noise.flush(key: "data_stale", after, now: t0.addingTimeInterval(200)) == nil, "nothing left to summarise")
    }

    @Test("a more severe alert is never held behind a coalesced one: crash warnings, then FATAL, go out at once")
    func severityBreaksCoalescing() {
        let noise = NoiseControl(settings: settings)
        var c = ConditionState()
        var sent: [String] = []
        for (i, (kind, severity)) in [("crash", "warning"), ("crash", "warning"), ("fatal", "critical"), ("crash", "warning")].enumerated() {
            let t = t0.addingTimeInterval(Double(i))
            let (after, d) = noise.decide(alert(Int64(i), kind: kind, severity: severity, "flaky: \(kind)", at: t), c, now: t)
            c = after
            if case .send(let text, _) = d { sent.append(text) }
        }
        #expect(sent == ["[WARNING] engine: flaky: crash", "[CRITICAL] engine: flaky: fatal"], "\(sent)")
        #expect(c.held == 1, "the warning after the FATAL is held as usual")
    }

    @Test("quiet hours hold info (digest) but never warnings; they can span midnight")
    func quietHours() {
        var s = settings
        s.quietStart = 22 * 60
        s.quietEnd = 7 * 60
        let noise = NoiseControl(settings: s)
        let night = Date(timeIntervalSince1970: Double(1_790_000_000 - 1_790_000_000 % 86_400 + 23 * 3600))
        let morning = night.addingTimeInterval(9 * 3600)
        #expect(noise.isQuiet(night) && noise.isQuiet(night.addingTimeInterval(7 * 3600)) && !noise.isQuiet(morning))
        if case .digest = noise.decide(alert(1, key: "fill:1", kind: "fill", severity: "info", "a fill", at: night), ConditionState(), now: night).1 {} else {
            Issue.record("info during quiet hours goes to the digest")
        }
        if case .send = noise.decide(alert(2, kind: "paused", at: night), ConditionState(), now: night).1 {} else {
            Issue.record("critical goes out at night")
        }
    }

    @Test("a pause open past pause_stuck_after escalates once, as critical")
    func pauseStuck() {
        var s = settings
        s.pauseStuckAfter = .seconds(600)
        let noise = NoiseControl(settings: s)
        let (c, _) = noise.decide(alert(1, key: "operator_pause", kind: "paused", severity: "warning", "paused by ops: deploy", at: t0), ConditionState(), now: t0)
        #expect(noise.escalation(key: "operator_pause", c, now: t0.addingTimeInterval(599)) == nil)
        let (escalated, text) = try! #require(noise.escalation(key: "operator_pause", c, now: t0.addingTimeInterval(601)))
        #expect(text.hasPrefix("[CRITICAL] still PAUSED after 10m 1s") && text.contains("paused by ops: deploy"))
        #expect(noise.escalation(key: "operator_pause", escalated, now: t0.addingTimeInterval(9999)) == nil, "once")
    }

    @Test("routing by severity and kind; messages cut to the channel's limit, saying so")
    func routingAndCut() {
        var s = settings
        var tg = ChannelSettings(name: "tg", kind: .telegram)
        tg.minSeverity = .warning
        var fills = ChannelSettings(name: "fills", kind: .webhook)
        fills.kinds = ["fill"]
        s.channels = [tg, fills, ChannelSettings(name: "log", kind: .log)]
        let noise = NoiseControl(settings: s)
        #expect(noise.channels(severity: "info", kind: "fill").map(\.name) == ["fills", "log"])
        #expect(noise.channels(severity: "critical", kind: "paused").map(\.name) == ["tg", "log"])
        let long = String(repeating: "x", count: 5000)
        let cut = NoiseControl.cut(long, to: 4096)
        #expect(cut.count == 4096 && cut.hasSuffix("[cut: 5000 characters]"))
    }
}

/// A notifier over a fresh notifier.db whose channels are the loopback fakes.
private func pipeline(_ fake: AlertChannelFake, tweak: (inout NotifierSettings) -> Void = { _ in },
                      env extra: [String: String] = [:]) throws -> (Notifier, Outbox) {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("notifier-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var s = NotifierSettings()
    var tg = ChannelSettings(name: "telegram", kind: .telegram)
    tg.apiURL = fake.baseURL
    tg.minInterval = .zero
    var hook = ChannelSettings(name: "discord", kind: .webhook)
    hook.format = .discord
    hook.maxLength = hook.defaultMaxLength
    hook.urlCredential = "discord_url"
    hook.minInterval = .zero
    s.channels = [tg, hook]
    s.coalesceWindow = .seconds(60)
    s.backoffInitial = .milliseconds(200)
    s.requestTimeout = .seconds(2)
    tweak(&s)
    var env = ["WARDEN_SECRET_TELEGRAM_TOKEN": fake.token, "WARDEN_SECRET_TELEGRAM_CHAT_ID": "42", "WARDEN_SECRET_DISCORD_URL": fake.discordURL]
    for (k, v) in extra { env[k] = v }
    let outbox = try Outbox.open(path: dir + "/notifier.db")
    var retry = RetryPolicy()
    retry.maxAttempts = 1
    // The circuit breaker runs on the real clock; these tests drive the notifier's own clock, so it stays out of the way.
    var breaker = CircuitBreaker.Settings()
    breaker.failureThreshold = 1_000
    return (try Notifier(settings: s, outbox: outbox, http: HTTPClient(retry: retry, breaker: breaker), logger: Logger(label: "test"), environment: env), outbox)
}

/// Delivery rounds on the injected clock until `done` or the bound.
private func deliver(_ n: Notifier, at now: Date, rounds: Int = 20, until done: () -> Bool) async {
    for _ in 0..<rounds {
        await n.deliverDue(now: now)
        if done() { return }
    }
}

@Suite("Notifier pipeline on the channel fakes", .serialized)
struct NotifierPipelineTests {
    @Test("an alert taken twice (a replay) is delivered once to each channel")
    func idempotentIntake() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        // A generous timeout: the fake answers from this loaded process, and a send it took but answered past 2 s
        // was rightly sent again (at least once), which is not what this test is about.
        let (n, _) = try pipeline(fake) { $0.requestTimeout = .seconds(30) }
        let a = alert(7, kind: "paused", at: t0)
        #expect(try await n.take(a, now: t0) == .taken)
        #expect(try await n.take(a, now: t0) == .duplicate)
        await deliver(n, at: t0) { fake.received.count >= 2 }
        #expect(fake.received.count == 2 && Set(fake.received.map(\.path)) == ["/bot\(fake.token)/sendMessage", "/hooks/discord"])
        await n.deliverDue(now: t0.addingTimeInterval(5))
        #expect(fake.received.count == 2)
    }

    @Test("the same seq with other content means the source restarted: said, and the new alert is not swallowed")
    func sourceRestart() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake)
        try await n.take(alert(1, kind: "paused", "first life", at: t0), now: t0)
        #expect(try await n.take(alert(1, key: "disk_low", kind: "paused", "second life", at: t0.addingTimeInterval(100)), now: t0) == .taken)
        await deliver(n, at: t0) { fake.received.count >= 6 }
        let texts = fake.received.map(\.text)
        #expect(texts.contains { $0.contains("second life") })
        #expect(texts.contains { $0.contains("alert sequence restarted") })
    }

    @Test("F20: 429 with retry_after is honoured to the second, and a channel that is down keeps its messages until it is back")
    func rateLimitAndDown() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake) { $0.channels.removeLast() }
        var f = AlertChannelFake.Faults()
        f.rateLimitCount = 1
        f.retryAfter = 35
        fake.setFaults(f)
        try await n.take(alert(1, kind: "paused", at: t0), now: t0)
        await n.deliverDue(now: t0)
        #expect(fake.received.isEmpty && fake.refusedCount == 1)
        #expect(await n.status(now: t0).channels?.first?.state == "retrying")
        await n.deliverDue(now: t0.addingTimeInterval(34))
        #expect(fake.received.isEmpty, "nothing before retry_after")
        await deliver(n, at: t0.addingTimeInterval(35.1)) { !fake.received.isEmpty }
        #expect(fake.received.count == 1)
        // Down: transport errors, backoff, nothing lost.
        f = AlertChannelFake.Faults()
        f.down = true
        fake.setFaults(f)
        for i in 2...4 { try await n.take(alert(Int64(i), key: "k\(i)", kind: "paused", "alert \(i)", at: t0), now: t0.addingTimeInterval(40)) }
        var now = t0.addingTimeInterval(40)
        for _ in 0..<5 { await n.deliverDue(now: now); now = now.addingTimeInterval(1) }
        let s = await n.status(now: now)
        #expect(s.queue_depth == 3 && s.channels?.first?.state == "retrying" && s.channels?.first?.last_error != nil)
        fake.setFaults(AlertChannelFake.Faults())
        await deliver(n, at: now.addingTimeInterval(600), rounds: 10) { fake.received.count >= 4 }
        #expect(fake.received.map(\.text).filter { $0.contains("alert ") }.count == 3, "each delivered once after the outage")
        #expect(await n.status(now: now.addingTimeInterval(600)).queue_depth == 0)
    }

    @Test("F21: 403 marks the channel failed, visible, its messages kept; a successful test clears it and they flow")
    func badCredentials() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake) { $0.channels.removeLast() }
        var f = AlertChannelFake.Faults()
        f.status = 403
        fake.setFaults(f)
        try await n.take(alert(1, kind: "paused", at: t0), now: t0)
        await n.deliverDue(now: t0)
        let ch = try #require(await n.status(now: t0).channels?.first)
        #expect(ch.state == "failed" && ch.last_error?.contains("403") == true && ch.last_error?.contains(fake.token) == false)
        #expect(ch.pending >= 1, "kept, not dropped")
        let test1 = try await n.testChannel("telegram", author: "test")
        #expect(!test1.ok)
        fake.setFaults(AlertChannelFake.Faults())
        let test2 = try await n.testChannel("telegram", author: "test")
        #expect(test2.ok)
        await deliver(n, at: t0.addingTimeInterval(1)) { fake.received.contains { $0.text.contains("market data stale") } }
        #expect(fake.received.contains { $0.text.contains("market data stale") })
        // A wrong token: preflight's getMe names it.
        var bad = NotifierSettings()
        var tg = ChannelSettings(name: "telegram", kind: .telegram)
        tg.apiURL = fake.baseURL
        bad.channels = [tg]
        let env = ["WARDEN_SECRET_TELEGRAM_TOKEN": "999:WRONG", "WARDEN_SECRET_TELEGRAM_CHAT_ID": "42"]
        let sender = ChannelSender(channel: tg, http: HTTPClient(), timeout: .seconds(30), connectTimeout: .seconds(10), logger: Logger(label: "t"), environment: env)
        if case .channelBroken(let d) = await sender.check() { #expect(d.contains("401") && !d.contains("999:WRONG")) } else { Issue.record("401 not seen as broken") }
    }

    @Test("Telegram's 4096-character limit: a longer message is cut and says so; a 400 'too long' is halved and retried")
    func messageLength() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake) { s in
            s.channels.removeLast()
            s.channels[0].maxLength = 6000  // above Telegram's real limit: the fake's 400 must be handled
        }
        try await n.take(alert(1, kind: "paused", String(repeating: "y", count: 5000), at: t0), now: t0)
        await deliver(n, at: t0) { !fake.received.isEmpty }
        let got = try #require(fake.received.first)
        #expect(got.text.count <= 4096 && got.text.contains("[cut:"))
        #expect(fake.refusedCount == 1, "the first, too long, was refused with 400")
    }

    @Test("quiet hours: info waits and arrives as one digest when they end; warnings go at once")
    func quietDigest() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let midnight = t0.addingTimeInterval(-t0.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400))
        let night = midnight.addingTimeInterval(2 * 3600)
        let (n, _) = try pipeline(fake) { s in
            s.channels.removeLast()
            s.quietStart = 0
            s.quietEnd = 6 * 60
            s.digestAt = nil
        }
        for i in 1...3 { try await n.take(alert(Int64(i), key: "fill:\(i)", kind: "fill", severity: "info", "fill \(i)", at: night), now: night) }
        try await n.take(alert(9, key: "crash:engine", kind: "crash", severity: "warning", "engine: exited with code 1", at: night), now: night)
        await deliver(n, at: night) { !fake.received.isEmpty }
        await n.sweep(now: night) { nil }
        await n.deliverDue(now: night.addingTimeInterval(1))
        #expect(fake.received.count == 1 && fake.received[0].text.contains("exited with code 1"))
        let morning = midnight.addingTimeInterval(6 * 3600 + 60)
        await n.sweep(now: morning) { nil }
        await deliver(n, at: morning) { fake.received.count >= 2 }
        let digest = try #require(fake.received.last)
        #expect(fake.received.count == 2, "\(fake.received.map(\.text))")
        #expect(digest.text.hasPrefix("Quiet hours digest: 3 info alerts") && digest.text.contains("fill 2"), "\(digest.text)")
    }

    @Test("the daily digest goes out once a day at digest_at with the figures it is given")
    func dailyDigest() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let midnight = t0.addingTimeInterval(-t0.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400))
        let (n, _) = try pipeline(fake) { s in s.channels.removeLast(); s.digestAt = 8 * 60 }
        await n.sweep(now: midnight.addingTimeInterval(7 * 3600)) { "equity 1000.00" }
        await n.deliverDue(now: midnight.addingTimeInterval(7 * 3600))
        #expect(fake.received.isEmpty, "not before 08:00")
        for minute in [0.0, 1, 2] { await n.sweep(now: midnight.addingTimeInterval(8 * 3600 + minute * 60)) { "equity 1012.40, 37 fills" } }
        await deliver(n, at: midnight.addingTimeInterval(8 * 3600 + 200)) { !fake.received.isEmpty }
        #expect(fake.received.count == 1 && fake.received[0].text.hasPrefix("Daily digest") && fake.received[0].text.contains("37 fills"))
    }

    @Test("a gap in a source's stream is said as an alert, counted, and the cursor moves past it")
    func gap() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake) { $0.channels.removeLast() }
        await n.gap(source: "engine", from: 3, to: 40, reason: "no longer held by the publisher")
        #expect(try await n.lastSeq("engine") == 40)
        #expect(await n.status().intake?.first { $0.source == "engine" }?.gaps_total == 1)
        await deliver(n, at: Date()) { !fake.received.isEmpty }
        #expect(fake.received.first?.text.contains("engine alerts 3…40 never reached the notifier (no longer held by the publisher)") == true)
    }

    @Test("a message no channel could take within give_up_after is given up, visibly")
    func giveUp() async throws {
        let fake = try await AlertChannelFake.start()
        defer { Task { await fake.stop() } }
        let (n, _) = try pipeline(fake) { s in s.giveUpAfter = .seconds(60); s.digestAt = nil }
        var f = AlertChannelFake.Faults()
        f.down = true
        fake.setFaults(f)
        try await n.take(alert(1, kind: "paused", at: t0), now: t0)
        await n.deliverDue(now: t0)
        await n.sweep(now: t0.addingTimeInterval(61)) { nil }
        let s = await n.status(now: t0.addingTimeInterval(61))
        #expect((s.failed_total ?? 0) >= 2, "both channels' copies given up and counted")
        fake.setFaults(AlertChannelFake.Faults())
        await deliver(n, at: t0.addingTimeInterval(62)) { fake.received.contains { $0.text.contains("given up") } }
        #expect(fake.received.contains { $0.text.contains("could not be delivered within give_up_after") })
    }
}
