// The five rules, measured: when each surface first shows a fault, and the invariants that must hold after it.
import Foundation
import GRDB
import WardenIPC
import WardenFakes

/// What a fault must look like on each surface. `status` is applied to `wardenctl status --json` and to the
/// dashboard's /api/state (the same document); `channel` to the texts that reached the fake channel since
/// the injection.
struct Sight {
    var status: @Sendable (StatusResponse) -> Bool
    var metrics: @Sendable (Metrics) -> Bool
    var channel: @Sendable ([String]) -> Bool
    /// Why the channel cannot show this fault (it is the faulty part), when that is so.
    var channelExempt: String? = nil
}

/// Seconds from the injection until each surface showed the fault (nil: not within the bound).
struct Visibility: CustomStringConvertible {
    var ctl: Double?
    var api: Double?
    var metrics: Double?
    var channel: Double?
    var channelExempt: String?

    var complete: Bool { ctl != nil && api != nil && metrics != nil && (channel != nil || channelExempt != nil) }
    var latest: Double? {
        let all = [ctl, api, metrics] + (channelExempt == nil ? [channel] : [])
        return all.contains { $0 == nil } ? nil : all.compactMap { $0 }.max()
    }
    var description: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.1f s", $0) } ?? "not seen" }
        return "wardenctl \(f(ctl)) · /api/state \(f(api)) · /metrics \(f(metrics)) · channel \(channelExempt.map { "n/a (\($0))" } ?? f(channel))"
    }
}

extension Stack {
    /// Watches all four surfaces until each shows `sight` or `limit` passes.
    func watch(_ sight: Sight, from t0: ContinuousClock.Instant, channelMark: Int, within limit: Duration = .seconds(10)) async -> Visibility {
        var v = Visibility(channelExempt: sight.channelExempt)
        let deadline = t0 + limit
        func elapsed() -> Double { let d = ContinuousClock.now - t0; return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18 }
        while ContinuousClock.now < deadline {
            if v.ctl == nil, let s = await status(), sight.status(s) { v.ctl = elapsed() }
            if v.api == nil, let s = await apiState(), sight.status(s) { v.api = elapsed() }
            if v.metrics == nil, let m = await metrics(), sight.metrics(m) { v.metrics = elapsed() }
            if v.channel == nil, sight.channelExempt == nil, sight.channel(Array(channelTexts.dropFirst(channelMark))) { v.channel = elapsed() }
            if v.complete { break }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return v
    }

    // MARK: - Invariants

    /// Every check after a scenario: name → nil when it holds, else what is wrong.
    func invariants() async -> [(String, String?)] {
        var out: [(String, String?)] = []
        for db in ["engine.db", "notifier.db"] {
            let path = stateDir + "/" + db
            out.append(("integrity_check \(db)", Self.integrity(path)))
        }
        // Every fill told to a subscriber is in the journal exactly once.
        let told = self.told.withLock { $0 }
        var problem: String? = Set(told).count != told.count ? "a fill was announced twice" : nil
        do {
            let missing = try await Self.open(stateDir + "/engine.db").read { db -> String? in
                for entry in Set(told) {
                    let parts = entry.split(separator: " ", maxSplits: 1).map(String.init)
                    guard parts.count == 2, let seq = Int64(parts[0]) else { return "unreadable ledger entry \(entry)" }
                    let events = try String.fetchAll(db, sql: "SELECT payload FROM events WHERE topic = 'trades' AND topic_seq = ?", arguments: [seq])
                    guard events.count == 1, events[0].contains("\"intent_id\":\"\(parts[1])\"") else {
                        return "fill \(seq) of intent \(parts[1]) is in the journal's trade events \(events.count) times"
                    }
                    let n = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM fills WHERE intent_id = ?", arguments: [parts[1]]) ?? 0
                    if n < 1 { return "fill \(seq) of intent \(parts[1]) is not in the journal" }
                }
                return nil
            }
            problem = problem ?? missing
        } catch { problem = "journal unreadable: \(error)" }
        out.append(("\(told.count) fills told to a subscriber: each in the journal once", problem))
        // Accounts against their fills: cash + positions at cost − fees = bankroll + realised P&L, positions = Σ fills.
        let verify: String?
        do {
            let audit = try await Tool.run(bin + "/warden-engine", ["verify", "--config", configPath], limit: .seconds(60))
            verify = audit.code == 0 ? nil : (audit.out + audit.err).trimmingCharacters(in: .whitespacesAndNewlines)
        } catch { verify = "verify did not run: \(error)" }
        out.append(("warden-engine verify (accounts, positions and fills)", verify))
        out.append(("every alert raised reached the channel", await alertsDelivered()))
        return out
    }

    static func open(_ path: String) throws -> DatabaseQueue {
        var c = Configuration()
        c.readonly = true
        c.busyMode = .timeout(10)
        return try DatabaseQueue(path: path, configuration: c)
    }

    static func integrity(_ path: String) -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return "\(path) missing" }
        do {
            let r = try open(path).read { try String.fetchAll($0, sql: "PRAGMA integrity_check") }
            return r == ["ok"] ? nil : r.prefix(5).joined(separator: "; ")
        } catch { return "\(error)" }
    }

    /// Every engine alert in the journal was taken by the notifier and sent (or coalesced into a sent ×N
    /// summary, or put in a digest); every message for the channel was sent, and the channel holds at least
    /// as many messages as were sent (more only by the documented at-least-once repeat after a kill).
    func alertsDelivered(within limit: Duration = .seconds(30)) async -> String? {
        let deadline = ContinuousClock.now + limit
        var last = "not checked"
        while ContinuousClock.now < deadline {
            last = alertsDeliveredOnce() ?? ""
            if last.isEmpty { return nil }
            try? await Task.sleep(for: .milliseconds(500))
        }
        return last
    }

    private func alertsDeliveredOnce() -> String? {
        do {
            let raised = try Self.open(stateDir + "/engine.db").read {
                try Int64.fetchAll($0, sql: "SELECT topic_seq FROM events WHERE topic = 'alerts' ORDER BY topic_seq")
            }
            return try Self.open(stateDir + "/notifier.db").read { db -> String? in
                let taken = Set(try Int64.fetchAll(db, sql: "SELECT seq FROM alerts WHERE source = 'engine'"))
                let missing = raised.filter { !taken.contains($0) }
                if !missing.isEmpty { return "engine alerts \(missing.prefix(8).map(String.init).joined(separator: ", ")) not taken by the notifier" }
                let odd = try String.fetchAll(db, sql: "SELECT DISTINCT disposition FROM alerts WHERE disposition NOT IN ('queued', 'coalesced', 'digest', 'unrouted', 'sent-direct')")
                if !odd.isEmpty { return "alerts with an unknown disposition: \(odd.joined(separator: ", "))" }
                // Coalesced alerts are counted in a ×N summary, sent when the window ends: none may stay held.
                let held = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM conditions WHERE json_extract(state, '$.held') > 0") ?? 0
                if held > 0 { return "\(held) conditions still hold coalesced alerts not yet summarised" }
                let pending = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries WHERE channel = 'telegram' AND state != 'sent'") ?? 0
                if pending > 0 { return "\(pending) messages for the channel not sent" }
                let sent = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM deliveries WHERE channel = 'telegram' AND state = 'sent'") ?? 0
                let got = channels.received.count
                if got < sent { return "the channel received \(got) messages, the notifier recorded \(sent) sent" }
                return nil
            }
        } catch { return "\(error)" }
    }
}
