// Server-rendered pages. Every figure carries its age; a process that does not answer is a banner with
// since-when, never old numbers shown as current; a bounded list says "last N of M". No CDN, no framework.
import Foundation
import WardenIPC
import WardenKit

enum HTML {
    static func esc(_ s: String) -> String {
        var o = ""
        o.reserveCapacity(s.count)
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    /// A time that the page keeps aging: "12s ago", updated every second by the script.
    static func age(_ iso: String?) -> String {
        guard let iso, let d = parseISO(iso) else { return "<span class=age>never</span>" }
        return "<span class=age data-at=\"\(d.timeIntervalSince1970)\" title=\"\(esc(iso))\">\(ago(Date().timeIntervalSince(d)))</span>"
    }

    static func ago(_ s: Double) -> String {
        let t = max(0, Int(s))
        if t < 60 { return "\(t)s ago" }
        if t < 3600 { return "\(t / 60)m \(t % 60)s ago" }
        return "\(t / 3600)h \(t % 3600 / 60)m ago"
    }

    static func money(_ d: Double) -> String { String(format: "%.2f", d) }

    static func table(_ head: [String], _ rows: [[String]], id: String? = nil) -> String {
        "<table\(id.map { " id=\($0)" } ?? "")><thead><tr>" + head.map { "<th>\(esc($0))</th>" }.joined() + "</tr></thead><tbody>"
            + rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined() + "</tbody></table>"
    }

    /// A confirmed POST form (the script asks before it submits); `fields` are extra inputs.
    static func action(_ path: String, _ label: String, confirm: String, csrf: String, fields: String = "", danger: Bool = false) -> String {
        // Confirmed by app.js (data-confirm); an inline handler would be blocked by the page's CSP.
        "<form method=post action=\"\(path)\" class=\"inline confirm\" data-confirm=\"\(esc(confirm))\">"
            + "<input type=hidden name=csrf value=\"\(csrf)\"><input type=hidden name=confirmed value=\"\">\(fields)"
            + "<button\(danger ? " class=danger" : "")>\(esc(label))</button></form>"
    }

    /// An SVG line chart of (time, value) points; no library.
    static func chart(_ series: [String: [EquityPoint]], width: Int = 640, height: Int = 160) -> String {
        let all = series.values.flatMap { $0 }
        guard all.count >= 2, let t0 = all.map(\.at).min(), let t1 = all.map(\.at).max(),
              let v0 = all.map(\.equity).min(), let v1 = all.map(\.equity).max() else {
            return "<p class=muted>no equity recorded yet</p>"
        }
        let dt = max(t1 - t0, 1), dv = max(v1 - v0, 0.01)
        let colours = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280"]
        var out = "<svg class=chart viewBox=\"0 0 \(width) \(height)\" width=\(width) height=\(height) role=img aria-label=\"equity\">"
        for (i, (name, points)) in series.sorted(by: { $0.key < $1.key }).enumerated() where points.count >= 2 {
            let pts = points.map { p in
                String(format: "%.1f,%.1f", (p.at - t0) / dt * Double(width - 10) + 5, Double(height - 5) - (p.equity - v0) / dv * Double(height - 20))
            }.joined(separator: " ")
            out += "<polyline fill=none stroke=\"\(colours[i % colours.count])\" stroke-width=2 points=\"\(pts)\"><title>\(esc(name))</title></polyline>"
        }
        out += "<text x=5 y=12 font-size=11>\(money(v1))</text><text x=5 y=\(height - 8) font-size=11>\(money(v0))</text></svg>"
        return out + "<p class=legend>" + series.keys.sorted().enumerated().map { "<span style=\"color:\(colours[$0.offset % colours.count])\">■ \(esc($0.element))</span>" }.joined(separator: " ") + "</p>"
    }
}

struct PageContext {
    var status: StatusResponse?
    var supervisorDownSince: Date?
    var csrf: String
    var author: String
}

enum Pages {
    static let nav = [("/", "Overview"), ("/trades", "Trades"), ("/strategies", "Strategies"), ("/orders", "Orders"), ("/events", "Events"), ("/alerts", "Alerts"), ("/system", "System")]

    static func layout(_ title: String, _ ctx: PageContext, _ body: String) -> String {
        var banners = ""
        if ctx.status == nil {
            banners += "<div class=banner id=banner-supervisor>SUPERVISOR UNREACHABLE since \(HTML.age(ctx.supervisorDownSince.map(isoString))) — no figures shown</div>"
        }
        if let e = ctx.status?.engine, !e.reachable {
            banners += "<div class=banner id=banner-engine>ENGINE UNREACHABLE: \(HTML.esc(e.error ?? "no answer")) — no trading figures shown</div>"
        }
        if let n = ctx.status?.notifier, !n.reachable {
            banners += "<div class=banner id=banner-notifier>NOTIFIER UNREACHABLE: \(HTML.esc(n.error ?? "no answer")) — alerts wait in their sources</div>"
        }
        banners += "<div class=banner hidden id=banner-live></div>"
        let links = nav.map { "<a href=\"\($0.0)\"\($0.1 == title ? " class=current" : "")>\($0.1)</a>" }.joined()
        return """
        <!doctype html><html lang=en><head><meta charset=utf-8><title>Warden · \(HTML.esc(title))</title>
        <meta name=viewport content="width=device-width, initial-scale=1"><link rel=stylesheet href="/static/app.css"></head>
        <body data-csrf="\(ctx.csrf)"><header><strong>Warden</strong><nav>\(links)</nav>
        <form method=post action="/logout" class=inline><input type=hidden name=csrf value="\(ctx.csrf)"><button>Log out</button></form></header>
        <div id=banners>\(banners)</div><main><h1>\(HTML.esc(title))</h1>\(body)</main><script src="/static/app.js"></script></body></html>
        """
    }

    static func processes(_ s: StatusResponse, csrf: String) -> String {
        HTML.table(["program", "state", "pid", "uptime", "restarts", "heartbeat", "status", ""], s.programs.map { p in
            [HTML.esc(p.name), "<span class=\"state \(p.state)\">\(p.state)</span>", p.pid.map(String.init) ?? "-",
             p.uptime_s.map { NoiseFree.span($0) } ?? "-", String(p.restarts),
             p.last_heartbeat_age_s.map { "\(HTML.ago($0))" + (p.watchdog_sec.map { " (watchdog \(Int($0))s)" } ?? "") } ?? "-",
             HTML.esc(p.status_text ?? p.last_exit?.reason ?? ""),
             HTML.action("/control/restart/\(p.name)", "Restart", confirm: "Restart \(p.name)?", csrf: csrf)]
        }, id: "processes") + "<p class=muted>as of \(HTML.age(isoString(Date())))</p>"
    }

    static func trading(_ e: EngineStatus, csrf: String) -> String {
        var o = "<section id=trading><h2>Trading: <span id=trading-state class=\"ts \(e.trading_state ?? "")\">\(e.trading_state ?? "?")</span></h2>"
        o += "<p>snapshot \(HTML.age(e.snapshot_at)) · <span id=fills>\(e.fills_total ?? 0)</span> fills · storage \(HTML.esc(e.storage ?? "?"))</p>"
        if let d = e.data {
            o += "<p id=data>market data (\(HTML.esc(d.source))): <strong class=\"data \(d.status)\">\(d.status)</strong>, last refresh \(HTML.age(d.last_refresh_at)) · \(d.markets) markets, \(d.stale_markets) stale, \(d.no_book_markets ?? 0) without a book · \(d.rejected_items_total) malformed items rejected</p>"
            if let f = d.feed {
                let up = f.connected == f.connections
                o += "<p id=feed>market WebSocket: <strong class=\"data \(up ? "fresh" : "down")\">\(f.connected)/\(f.connections) connected</strong>, \(f.assets) assets, "
                    + (f.data_age_s.map { "data \(String(format: "%.1f", $0))s old" } ?? "no data yet")
                    + " · \(f.reconnects_total) reconnects · \(f.frozen_total) frozen · \(f.drift_total) drift"
                    + (f.awaiting_snapshot > 0 ? " · \(f.awaiting_snapshot) books awaiting a snapshot" : "") + "</p>"
            }
        }
        if let v = e.venue {
            o += "<p id=venue-line>live venue (<a href=\"/orders\">orders</a>): <strong class=\"data \(v.status == "healthy" ? "fresh" : "down")\">\(v.status)</strong>"
                + (v.problem.map { " — \(HTML.esc($0))" } ?? "") + " · \(v.open_orders) open"
                + (v.unknown_orders > 0 ? " · <strong class=\"data down\">\(v.unknown_orders) UNKNOWN</strong>" : "")
                + " · heartbeat \(v.heartbeat_age_s.map(HTML.ago) ?? "never") · reconciled \(v.reconciled_age_s.map(HTML.ago) ?? "never")</p>"
        }
        let reasons = e.reasons ?? []
        o += reasons.isEmpty ? "<p class=muted>no active reason</p>" : HTML.table(["effect", "reason", "message", "since", "by", "expires"], reasons.map { r in
            [r.effect, HTML.esc(r.code + (r.market_id.map { " [market \($0)]" } ?? "")), HTML.esc(r.message), HTML.age(r.since),
             HTML.esc(r.author ?? r.source), r.expires_at.map { HTML.esc($0) } ?? "-"]
        }, id: "reasons")
        o += "<div class=controls>"
        o += HTML.action("/control/pause", "Pause", confirm: "Pause trading?", csrf: csrf, fields: "<input name=reason placeholder=reason required>")
        o += HTML.action("/control/resume", "Resume", confirm: "Resume trading?", csrf: csrf)
        o += HTML.action("/control/kill-switch/on", "Kill switch on", confirm: "Turn the kill switch ON (no strategy orders)?", csrf: csrf, danger: true)
        o += HTML.action("/control/kill-switch/off", "Kill switch off", confirm: "Turn the kill switch off?", csrf: csrf)
        o += HTML.action("/control/reduce-only/on", "Reduce-only on", confirm: "Allow exits only?", csrf: csrf)
        o += HTML.action("/control/reduce-only/off", "Reduce-only off", confirm: "Allow entries again?", csrf: csrf)
        o += HTML.action("/control/halt-reset", "Halt reset", confirm: "Reset the drawdown halt?", csrf: csrf)
        o += HTML.action("/control/flatten", "Flatten all", confirm: "Sell every position at the book?", csrf: csrf, danger: true)
        return o + "</div></section>"
    }

    static func accounts(_ list: [AccountInfo]) -> String {
        HTML.table(["strategy", "equity", "cash", "P&L (net)", "return", "fees", "open", "orders", "fills", "win rate", "max DD", "state"],
                   list.sorted { $0.return_pct > $1.return_pct }.map { a in
            [HTML.esc(a.strategy), HTML.money(a.equity), HTML.money(a.cash), HTML.money(a.realized_pnl), String(format: "%.2f%%", a.return_pct),
             HTML.money(a.fees), String(a.open_positions), String(a.open_orders ?? 0), String(a.fills), a.win_rate.map { String(format: "%.0f%%", $0 * 100) } ?? "-",
             HTML.money(a.max_drawdown), a.enabled ? "enabled" : "<strong>DISABLED</strong>: \(HTML.esc(a.disabled_reason ?? ""))"]
        }, id: "accounts")
    }

    static func bounded<T>(_ items: [T], total: Int, limit: Int, what: String) -> (shown: [T], caption: String) {
        let shown = Array(items.prefix(limit))
        return (shown, "<p class=bounded>last \(shown.count) of \(total) \(what)</p>")
    }
}

/// Durations as the pages show them.
enum NoiseFree {
    static func span(_ s: Double) -> String {
        let t = Int(s)
        if t < 60 { return "\(t)s" }
        if t < 3600 { return "\(t / 60)m \(t % 60)s" }
        if t < 86_400 { return "\(t / 3600)h \(t % 3600 / 60)m" }
        return "\(t / 86_400)d \(t % 86_400 / 3600)h"
    }
}
