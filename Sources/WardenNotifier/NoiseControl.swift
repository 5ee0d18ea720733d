// Noise control as pure decisions: routing, coalescing by key, recovery pairing, quiet hours, pause escalation.
public import Foundation
import WardenKit

public struct NoiseControl: Sendable {
    public let settings: NotifierSettings
    public init(settings: NotifierSettings) { self.settings = settings }

    /// Kinds that open a condition, and kinds that close it.
    static let problemKinds: Set<String> = ["paused", "halted", "disk-low", "disk-critical", "fatal", "escalate", "stall", "suspend",
                                            "crash", "watchdog", "limit", "start-timeout", "kill"]
    static let recoveryKinds: Set<String> = ["resumed", "recovered", "disk-recovered"]
    /// Conditions whose lasting too long is itself news.
    static let stuckKinds: Set<String> = ["paused", "halted"]

    public enum Decision: Equatable {
        /// Sent now to these channels.
        case send(text: String, severity: String)
        /// Held within the coalescing window; summarised when it ends.
        case hold
        /// Info during quiet hours: into the digest sent when they end.
        case digest(text: String)
        /// No channel takes it.
        case unrouted
    }

    /// Channels that take an alert of this severity and kind.
    public func channels(severity: String, kind: String) -> [ChannelSettings] {
        let sev = AlertSeverity(rawValue: severity) ?? .warning
        return settings.channels.filter { sev >= $0.minSeverity && ($0.kinds.isEmpty || $0.kinds.contains(kind)) }
    }

    public func isQuiet(_ t: Date) -> Bool {
        guard let start = settings.quietStart, let end = settings.quietEnd, start != end else { return false }
        let m = Int(t.timeIntervalSince1970.truncatingRemainder(dividingBy: 86_400) / 60)
        return start < end ? (m >= start && m < end) : (m >= start || m < end)
    }

    /// What to do with one alert given its key's condition; returns the condition after it.
    public func decide(_ a: IncomingAlert, _ before: ConditionState, now: Date) -> (ConditionState, Decision) {
        var c = before
        let recovery = Self.recoveryKinds.contains(a.kind)
        // A recovery is routed like its cause, so whoever heard of the problem hears it is over.
        let severity = recovery ? (c.causeSeverity ?? a.severity) : a.severity
        var text = Self.line(a, severity: severity)
        if recovery, c.open {
            let lasted = a.durationS ?? c.openedAt.map { a.at.timeIntervalSince($0) }
            text += (lasted.map { " — lasted \(Self.span($0))" } ?? "") + (c.cause.map { " (cause: \($0))" } ?? "")
        }
        if Self.problemKinds.contains(a.kind) {
            if !c.open { c.openedAt = a.at; c.escalated = false }
            c.open = true
            c.cause = a.message
            c.kind = a.kind
            c.causeSeverity = a.severity
        } else if recovery {
            c.open = false
        }
        guard !channels(severity: severity, kind: a.kind).isEmpty else { return (c, .unrouted) }
        if severity == AlertSeverity.info.rawValue, isQuiet(now) { return (c, .digest(text: text)) }
        if let last = c.lastSentAt, now.timeIntervalSince(last) < settings.coalesceWindow.seconds,
           Self.rank(severity) <= Self.rank(c.lastSentSeverity ?? severity) {
            c.held += 1
            c.heldText = text
            c.heldSeverity = severity
            return (c, .hold)
        }
        c.lastSentAt = now
        c.lastSentSeverity = severity
        c.held = 0
        c.heldText = nil
        return (c, .send(text: text, severity: severity))
    }

    /// When the window after the last message has passed with alerts held: one message for all of them.
    public func flush(key: String, _ before: ConditionState, now: Date) -> (ConditionState, (text: String, severity: String))? {
        guard before.held > 0, let text = before.heldText, let last = before.lastSentAt,
              now.timeIntervalSince(last) >= settings.coalesceWindow.seconds else { return nil }
        var c = before
        let n = c.held
        c.held = 0
        c.heldText = nil
        c.lastSentAt = now
        c.lastSentSeverity = c.heldSeverity
        let summary = "\(text) (×\(n) since the last message about `\(key)`, within \(Self.span(now.timeIntervalSince(last))))"
        return (c, (summary, c.heldSeverity ?? AlertSeverity.warning.rawValue))
    }

    /// A pause or halt open longer than `pause_stuck_after`: escalated once, as critical.
    public func escalation(key: String, _ before: ConditionState, now: Date) -> (ConditionState, String)? {
        guard before.open, !before.escalated, let kind = before.kind, Self.stuckKinds.contains(kind), let since = before.openedAt,
              now.timeIntervalSince(since) >= settings.pauseStuckAfter.seconds else { return nil }
        var c = before
        c.escalated = true
        return (c, "[CRITICAL] still \(kind.uppercased()) after \(Self.span(now.timeIntervalSince(since))) (longer than pause_stuck_after): \(before.cause ?? key)")
    }

    /// Cuts a message to a channel's limit, saying so.
    public static func cut(_ text: String, to limit: Int) -> String {
        guard text.count > limit else { return text }
        let marker = " …[cut: \(text.count) characters]"
        return String(text.prefix(max(0, limit - marker.count))) + marker
    }

    static func rank(_ severity: String) -> Int { ["info": 0, "warning": 1, "critical": 2][severity] ?? 1 }

    static func line(_ a: IncomingAlert, severity: String) -> String {
        let tag = recoveryKinds.contains(a.kind) ? "RECOVERED" : severity.uppercased()
        return "[\(tag)] \(a.source.split(separator: "#").first.map(String.init) ?? a.source): \(a.message)"
    }

    /// 75 → "1m 15s"; 7260 → "2h 1m".
    public static func span(_ s: Double) -> String {
        let t = Int(s.rounded())
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m \(t % 60)s" }
        if t < 86_400 { return "\(t / 3600)h \(t % 3600 / 60)m" }
        return "\(t / 86_400)d \(t % 86_400 / 3600)h"
    }
}
