// The chaos run as markdown: one row per F-number, then each scenario's details.
import Foundation

enum Report {
    /// Everything from this heading on in an existing report is kept by the next run.
    static let appendixMarker = "## Component-level tests of each row"

    static func markdown(_ outcomes: [Outcome], _ reused: [ReusedRow], settings: RunSettings, full: Bool) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.1f s", $0) } ?? "—" }
        var s = """
        # Fault catalogue: the chaos run

        Every row of ../shared/FAULTS.md, injected by `warden-chaos` (Sources/warden-chaos) into the running stack —
        the real `warden` supervising the notifier, engine and dashboard in a fresh temporary tree, trading on the
        loopback Polymarket fake and alerting to the loopback Telegram fake — or, where marked "test", by the
        integration test of the real processes named there (run by the same command, not rewritten).

        For each stack scenario the runner checks the five rules of FAULTS.md: **detected** (seconds from the
        injection until `wardenctl status` shows it, against the row's bound), **visible** (seconds until each of
        `wardenctl status --json`, the dashboard's `/api/state`, its `/metrics` and the fake alert channel shows
        it; all within 10 s of detection), the **written response**, **nothing lost** (the invariants below, after
        every scenario) and **recovery by itself** with a recovery message on the channel.

        Invariants after every scenario: `PRAGMA integrity_check` of engine.db and notifier.db; every fill a
        subscriber of engine.sock was told about is in the journal exactly once and none was told twice;
        `warden-engine verify` (per sub-account cash + positions at cost − fees = bankroll + realised P&L, and
        positions = the sum of their fills); every engine alert in the journal was taken by the notifier, none is
        still held by coalescing (×N summaries sent), every message for the channel was sent, and the channel
        received at least as many as were sent.

        Run: `\(full ? "make chaos" : "warden-chaos --quick")` · seed \(settings.seed) · F01/F13 kills: \(settings.kills) · \(isoNow())

        | id | fault | scenario | detected | visible (ctl · api · metrics · channel) | result |
        | --- | --- | --- | --- | --- | --- |

        """
        var rows: [(String, String)] = []
        for o in outcomes {
            let v = o.visibility
            let vis = v.map { "\(f($0.ctl)) · \(f($0.api)) · \(f($0.metrics)) · \($0.channelExempt != nil ? "n/a" : f($0.channel))" } ?? "—"
            let result = o.notRun.map { "not run here: \($0)" } ?? (o.passed ? "pass" : "**FAIL**")
            rows.append((o.id, "| \(o.id) | \(o.title) | \(o.scenario) | \(f(o.detection)) | \(vis) | \(result) |"))
        }
        for r in reused {
            rows.append((r.id, "| \(r.id) | \(r.title) | test `\(r.filter)`: \(r.how) | — | — | \(r.passed ? "pass" : "**FAIL**") (\(r.result)) |"))
        }
        s += rows.sorted { $0.0 < $1.0 }.map(\.1).joined(separator: "\n") + "\n\n## Scenario details\n\n"
        for o in outcomes {
            s += "### \(o.id) \(o.title) — \(o.passed ? "pass" : "FAIL") (\(Int(o.seconds)) s)\n\n"
            if let v = o.visibility { s += "- visibility: \(v)\n" }
            for m in o.measured { s += "- \(m)\n" }
            for fl in o.failures { s += "- ✘ \(fl)\n" }
            for (name, problem) in o.invariants { s += "- invariant: \(name): \(problem.map { "✘ \($0)" } ?? "ok")\n" }
            s += "\n"
        }
        return s
    }

    static func isoNow() -> String {
        let f = ISO8601DateFormatter()
        return f.string(from: Date())
    }
}
