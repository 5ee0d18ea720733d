// The notifier: takes alerts into the durable outbox (idempotent per source and seq), delivers them per channel
// with rate limits, Retry-After and backoff, and keeps the noise down. Every figure it shows comes from notifier.db.
public import Foundation
public import Logging
public import WardenHTTP
public import WardenIPC
import WardenKit

public actor Notifier {
    let settings: NotifierSettings
    let outbox: Outbox
    let noise: NoiseControl
    let senders: [String: ChannelSender]
    let logger: Logger

    /// Per channel, what is not worth a database row: when it may send next, and its recent sends.
    struct Pace {
        var nextAllowedAt = Date.distantPast
        var recent: [Date] = []
        var state = "ok"
        var lastSuccessAt: Date?
        var lastError: String?
    }
    var pace: [String: Pace] = [:]
    var intakeConnected: [String: Bool] = [:]
    /// Messages a channel took whose record could not be written (disk full, locked): recorded later, never
    /// sent again by this process.
    var sentUnrecorded: [Int64: Date] = [:]
    /// Alerts sent straight to their channels because notifier.db could not take them (a full disk is the one
    /// alert that cannot wait for the disk); when they are taken later they are not queued again.
    var sentDirectly: Set<String> = []
    var lastSweep = Date.distantPast

    public init(settings: NotifierSettings, outbox: Outbox, http: HTTPClient, logger: Logger,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        self.settings = settings
        self.outbox = outbox
        self.noise = NoiseControl(settings: settings)
        self.logger = logger
        var senders: [String: ChannelSender] = [:]
        for c in settings.channels {
            senders[c.name] = ChannelSender(channel: c, http: http, timeout: settings.requestTimeout,
                                            connectTimeout: settings.connectTimeout, logger: logger, environment: environment)
        }
        self.senders = senders
        let stored = try outbox.channels()
        for c in settings.channels {
            // A channel marked failed stays failed across restarts until a test succeeds.
            var p = Pace()
            if let r = stored[c.name] { p.state = r.state; p.lastSuccessAt = r.lastSuccessAt; p.lastError = r.lastError }
            pace[c.name] = p
        }
    }

    // MARK: - Intake

    /// Takes one alert, once: a replay after a restart of either side is a duplicate. The same seq with other
    /// content means the source started its sequence again (a fresh journal): said, archived, and taken.
    @discardableResult
    public func take(_ a: IncomingAlert, now: Date = Date()) throws -> Outbox.Taken {
        let result = try takeOnce(a, now: now)
        guard result == .conflict else { return result }
        sourceRestarted(a.source, why: "seq \(a.seq) arrived again with other content", now: now)
        return try takeOnce(a, now: now)
    }

    private func takeOnce(_ a: IncomingAlert, now: Date) throws -> Outbox.Taken {
        let direct = sentDirectly.contains(Self.directKey(a))
        let taken = try outbox.take(a, now: now) { db, _ in
            let before = try Outbox.condition(db, a.key)
            let (after, decision) = noise.decide(a, before, now: now)
            try Outbox.save(db, a.key, after)
            if direct { return ("sent-direct", []) }  // the condition is kept (pairing, coalescing); no second copy
            switch decision {
            case .send(let text, let severity):
                let routes = noise.channels(severity: severity, kind: a.kind).map { (channel: $0.name, text: text, severity: severity) }
                return ("queued", routes)
            case .hold: return ("coalesced", [])
            case .digest(let text):
                try Outbox.holdForDigest(db, text: text, at: now)
                return ("digest", [])
            case .unrouted: return ("unrouted", [])
            }
        }
        if direct { sentDirectly.remove(Self.directKey(a)) }
        return taken
    }

    static func directKey(_ a: IncomingAlert) -> String { "\(a.source)#\(a.seq)" }

    /// notifier.db cannot take `a` (disk full, locked): a warning or worse goes to its channels now, unqueued
    /// and said to be so, once; the intake keeps retrying to record it. Info waits for the disk.
    public func sendUnstored(_ a: IncomingAlert, because error: any Error) async {
        guard a.severity != AlertSeverity.info.rawValue, !sentDirectly.contains(Self.directKey(a)) else { return }
        let text = NoiseControl.line(a, severity: a.severity) + " [sent unqueued: notifier.db cannot be written: \(error)]"
        var sent = false
        for c in noise.channels(severity: a.severity, kind: a.kind) {
            guard pace[c.name]?.state != "failed", let sender = senders[c.name] else { continue }
            if case .sent = await sender.send(NoiseControl.cut(text, to: c.maxLength), severity: a.severity) { sent = true }
        }
        if sent {
            sentDirectly.insert(Self.directKey(a))
            logger.warning("alert \(a.source) #\(a.seq) sent to its channels without being queued (storage failing)")
        }
    }

    /// The notifier's own alerts (gaps, a restarted source, given-up messages) go through the same pipeline.
    public func own(key: String, kind: String = "notifier", severity: AlertSeverity, _ message: String, now: Date = Date()) {
        do {
            let seq = try outbox.cursor("notifier").lastSeq + 1
            try take(IncomingAlert(source: "notifier", seq: seq, key: key, kind: kind, severity: severity.rawValue, message: message, at: now), now: now)
        } catch {
            logger.error("own alert not stored: \(message): \(error)")
        }
    }

    public func lastSeq(_ source: String) throws -> Int64 { try outbox.cursor(source).lastSeq }

    public func setConnected(_ source: String, _ connected: Bool) { intakeConnected[source] = connected }

    /// A source no longer held events we had not taken: said, counted, and the cursor moves past them.
    public func gap(source: String, from: Int64, to: Int64, reason: String) {
        do { try outbox.recordGap(source: source, through: to) } catch { logger.error("gap not recorded: \(error)") }
        own(key: "gap:\(source)", severity: .warning, "\(source) alerts \(from)…\(to) never reached the notifier (\(reason))")
    }

    /// A source's sequence started again (a fresh journal, a new supervisor): what was taken is kept, archived.
    public func sourceRestarted(_ source: String, why: String, now: Date = Date()) {
        do { try outbox.resetSource(source, renameTo: "\(source)#until-\(Int(now.timeIntervalSince1970))") } catch {
            logger.error("source reset not recorded: \(error)")
        }
        own(key: "restart:\(source)", severity: .warning, "\(source) alert sequence restarted (\(why)); taking its alerts from 1", now: now)
    }

    // MARK: - Delivery

    /// One round: every channel that may send, sends its oldest due message; all channels at once.
    public func deliverDue(now: Date = Date()) async {
        for (id, at) in sentUnrecorded.sorted(by: { $0.key < $1.key }) {
            do {
                try outbox.markSent(id, at: at)
                sentUnrecorded[id] = nil
            } catch {
                return  // storage still failing: send nothing more until what was sent is recorded
            }
        }
        var batch: [(Delivery, ChannelSender)] = []
        for c in settings.channels {
            guard var p = pace[c.name], p.state != "failed", now >= p.nextAllowedAt else { continue }
            p.recent.removeAll { now.timeIntervalSince($0) >= 60 }
            pace[c.name] = p
            guard p.recent.count < c.perMinute, let sender = senders[c.name] else { continue }
            do {
                if let d = try outbox.nextDue(channel: c.name, now: now) { batch.append((d, sender)) }
            } catch {
                logger.error("outbox unreadable: \(error)")
                return
            }
        }
        guard !batch.isEmpty else { return }
        let results = await withTaskGroup(of: (Delivery, SendOutcome).self) { group in
            for (d, sender) in batch { group.addTask { (d, await sender.send(d.text, severity: d.severity)) } }
            var out: [(Delivery, SendOutcome)] = []
            for await r in group { out.append(r) }
            return out
        }
        // Outcomes are applied on the round's clock (a send is bounded by request_timeout).
        for (d, outcome) in results { apply(outcome, to: d, now: now) }
    }

    func apply(_ outcome: SendOutcome, to d: Delivery, now: Date) {
        guard let c = settings.channel(named: d.channel), var p = pace[d.channel] else { return }
        do {
            switch outcome {
            case .sent:
                try outbox.markSent(d.id, at: now)
                p.recent.append(now)
                p.nextAllowedAt = now.addingTimeInterval(c.minInterval.seconds)
                p.state = "ok"
                p.lastSuccessAt = now
            case .rateLimited(let after, let detail):
                // The channel's own figure, not ours: nothing goes to it before then.
                try outbox.retry(d.id, at: now.addingTimeInterval(after), error: detail, countAttempt: false)
                p.nextAllowedAt = now.addingTimeInterval(after)
                p.state = "retrying"
                p.lastError = detail
            case .transient(let detail):
                let delay = backoff(d.attempts + 1)
                try outbox.retry(d.id, at: now.addingTimeInterval(delay), error: detail)
                p.nextAllowedAt = now.addingTimeInterval(min(delay, 1))
                p.state = "retrying"
                p.lastError = detail
            case .channelBroken(let detail):
                try outbox.retry(d.id, at: now, error: detail, countAttempt: false)
                if p.state != "failed" {
                    p.state = "failed"
                    p.lastError = detail
                    pace[d.channel] = p
                    logger.critical("channel \(d.channel) failed: \(detail); its messages wait until `wardenctl notify test \(d.channel)` succeeds")
                    own(key: "channel_failed:\(d.channel)", severity: .critical,
                        "alert channel \(d.channel) failed: \(detail); its messages are kept until it is fixed and retested", now: now)
                }
                p.lastError = detail
            case .tooLong(let detail):
                let shorter = NoiseControl.cut(d.text, to: max(100, min(c.maxLength, d.text.count) / 2))
                try outbox.replaceText(d.id, shorter)
                try outbox.retry(d.id, at: now, error: detail)
            case .refused(let detail):
                try outbox.markFailed(d.id, at: now, error: detail)
                p.lastError = detail
                logger.error("channel \(d.channel) refused message \(d.id) for good: \(detail)")
            }
            pace[d.channel] = p
            try outbox.saveChannel(d.channel, ChannelRecord(state: p.state, lastSuccessAt: p.lastSuccessAt, lastError: p.lastError))
        } catch {
            if case .sent = outcome {
                sentUnrecorded[d.id] = now
                logger.error("message \(d.id) was delivered but its record not stored (\(error)); recorded when storage allows, not sent again")
            } else {
                logger.error("delivery outcome of message \(d.id) not stored (it will be tried again): \(error)")
            }
        }
    }

    func backoff(_ attempt: Int) -> Double {
        let base = min(settings.backoffInitial.seconds * pow(2, Double(max(0, attempt - 1))), settings.backoffMax.seconds)
        return base * Double.random(in: 0.8...1.2)
    }

    // MARK: - Periodic

    /// Coalesced summaries, stuck pauses, the quiet-hours digest, the daily digest, and messages too old to send.
    public func sweep(now: Date = Date(), dailyDigest: () async -> String?) async {
        guard now.timeIntervalSince(lastSweep) >= 0.5 else { return }
        lastSweep = now
        do {
            try outbox.sweepConditions(now: now) { key, c in
                var state = c
                var messages: [(channel: String, text: String, severity: String)] = []
                if let (after, m) = noise.flush(key: key, state, now: now) {
                    state = after
                    messages += noise.channels(severity: m.severity, kind: c.kind ?? "alert").map { ($0.name, m.text, m.severity) }
                }
                if let (after, text) = noise.escalation(key: key, state, now: now) {
                    state = after
                    messages += noise.channels(severity: "critical", kind: "escalation").map { ($0.name, text, "critical") }
                }
                return (state == c ? nil : state, messages)
            }
            if !noise.isQuiet(now) {
                let n = try outbox.flushDigest(now: now) { lines in
                    let text = "Quiet hours digest: \(lines.count) info alerts\n" + lines.map { "• \($0)" }.joined(separator: "\n")
                    return noise.channels(severity: "info", kind: "digest").map { ($0.name, text, "info") }
                }
                if n > 0 { logger.info("quiet hours over: \(n) info alerts sent as one digest") }
            }
            for d in try outbox.expire(olderThan: now.addingTimeInterval(-settings.giveUpAfter.seconds), now: now) {
                logger.error("message \(d.id) to \(d.channel) given up after \(NoiseControl.span(now.timeIntervalSince(d.createdAt))): \(d.text)")
                if d.channel != "log" || settings.channels.contains(where: { $0.name != d.channel }) {
                    own(key: "given_up:\(d.channel)", severity: .critical,
                        "a message to \(d.channel) could not be delivered within give_up_after and was given up: \(d.text.prefix(300))", now: now)
                }
            }
            try await dailyDigestIfDue(now: now, compose: dailyDigest)
        } catch {
            logger.error("notifier sweep failed: \(error)")
        }
    }

    func dailyDigestIfDue(now: Date, compose: () async -> String?) async throws {
        guard let at = settings.digestAt else { return }
        let day = Int(now.timeIntervalSince1970 / 86_400)
        let minute = Int(now.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) / 60)
        guard minute >= at, try outbox.meta("digest_day") != String(day) else { return }
        try outbox.setMeta("digest_day", String(day))
        let sent = try outbox.sentSince(now.addingTimeInterval(-86_400))
        let body = await compose() ?? "engine and supervisor figures unavailable"
        let text = "Daily digest \(isoString(now).prefix(10)): \(body); \(sent) messages delivered in the last 24h"
        try outbox.enqueue(settings.channels.map { ($0.name, text, "info") }, now: now)
    }

    // MARK: - Operator

    public func status(now: Date = Date()) -> NotifierStatusInfo {
        do {
            let f = try outbox.figures()
            let channels = settings.channels.map { c -> ChannelInfo in
                let p = pace[c.name] ?? Pace()
                return ChannelInfo(name: c.name, kind: c.kind.rawValue, state: p.state, last_success_at: p.lastSuccessAt.map(isoString),
                                   last_error: p.lastError, pending: f.pendingByChannel[c.name] ?? 0)
            }
            var intake: [IntakeInfo] = []
            for source in ["engine", "supervisor"] {
                let cur = f.cursors[source] ?? (0, 0)
                intake.append(IntakeInfo(source: source, connected: intakeConnected[source] ?? false, last_seq: cur.lastSeq, gaps_total: cur.gaps))
            }
            return NotifierStatusInfo(reachable: true, queue_depth: f.pendingByChannel.values.reduce(0, +),
                                      oldest_pending_age_s: f.oldestPending.map { now.timeIntervalSince($0) }, channels: channels,
                                      intake: intake, alerts_total: f.alerts, delivered_total: f.delivered, failed_total: f.failed)
        } catch {
            return NotifierStatusInfo(reachable: true, error: "notifier.db unreadable: \(error)")
        }
    }

    /// One line for STATUS=, e.g. `ok · queue 0 · telegram ok · webhook retrying`.
    public func statusLine() -> String {
        let s = status()
        let worst = s.channels?.contains { $0.state == "failed" } == true ? "degraded" : "ok"
        return ([worst, "queue \(s.queue_depth ?? 0)"] + (s.channels ?? []).map { "\($0.name) \($0.state)" }).joined(separator: " · ")
    }

    public func notify(_ r: NotifyRequest) throws -> NotifyResponse {
        guard let sev = AlertSeverity(rawValue: r.severity) else {
            throw IPCError(.invalid, "severity must be info, warning or critical, not `\(r.severity)`")
        }
        let text = "[\(sev.rawValue.uppercased())] operator (\(r.author)): \(r.message)"
        let routes = noise.channels(severity: sev.rawValue, kind: "operator")
        try outbox.enqueue(routes.map { ($0.name, text, sev.rawValue) }, now: Date())
        return NotifyResponse(queued: routes.map(\.name))
    }

    /// Sends a test message now and waits for the answer; success clears a failed channel so its queue flows again.
    public func testChannel(_ name: String, author: String) async throws -> TestChannelResponse {
        guard let sender = senders[name] else {
            throw IPCError(.notFound, "no channel `\(name)` (configured: \(settings.channels.map(\.name).joined(separator: ", ")))")
        }
        let outcome = await sender.send("[TEST] Warden test message from \(author) at \(isoString(Date()))", severity: "info")
        var p = pace[name] ?? Pace()
        let response: TestChannelResponse
        switch outcome {
        case .sent:
            p.state = "ok"
            p.lastSuccessAt = Date()
            p.nextAllowedAt = .distantPast
            response = TestChannelResponse(channel: name, ok: true, detail: "delivered; the channel is ok")
        case .rateLimited(let after, let d):
            p.state = "retrying"
            p.lastError = d
            response = TestChannelResponse(channel: name, ok: false, detail: "rate limited, retry after \(after)s: \(d)")
        case .transient(let d), .refused(let d), .tooLong(let d):
            p.lastError = d
            response = TestChannelResponse(channel: name, ok: false, detail: d)
        case .channelBroken(let d):
            p.state = "failed"
            p.lastError = d
            response = TestChannelResponse(channel: name, ok: false, detail: d)
        }
        pace[name] = p
        try outbox.saveChannel(name, ChannelRecord(state: p.state, lastSuccessAt: p.lastSuccessAt, lastError: p.lastError))
        return response
    }

    /// Channel checks for preflight: the token answers `getMe`, the credentials are there.
    public static func preflight(_ settings: NotifierSettings, http: HTTPClient, logger: Logger) async -> [(name: String, ok: Bool, detail: String)] {
        var out: [(String, Bool, String)] = []
        for c in settings.channels {
            let sender = ChannelSender(channel: c, http: http, timeout: settings.requestTimeout, connectTimeout: settings.connectTimeout, logger: logger)
            switch await sender.check() {
            case .sent: out.append((c.name, true, "\(c.kind.rawValue) ok"))
            case .channelBroken(let d), .refused(let d), .tooLong(let d), .transient(let d): out.append((c.name, false, d))
            case .rateLimited(_, let d): out.append((c.name, true, "reachable (rate limited now: \(d))"))
            }
        }
        return out
    }
}
