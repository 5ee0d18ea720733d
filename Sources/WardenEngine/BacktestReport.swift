// A backtest's report: report.md (the same recording and settings give the same bytes) and a self-contained
// report.html (inline SVG charts with time and value axes, no script from anywhere).
import Foundation
public import WardenCore
import WardenIPC
import WardenKit

/// One strategy's figures over a backtest.
public struct StrategyFigures: Sendable, Equatable {
    public var strategy: String
    public var bankroll: Micros
    public var finalEquity: Micros
    public var netPnL: Micros { finalEquity - bankroll }
    public var returnPct: Double { Double(netPnL) / Double(max(bankroll, 1)) * 100 }
    public var maxDrawdown: Micros
    public var maxDrawdownPct: Double
    public var fees: Micros
    public var fills: Int
    public var winRate: Double?
    /// Time-weighted average of what was held, at cost.
    public var averageExposure: Micros
    /// Fraction of the run with any position open.
    public var timeInMarket: Double
}

public enum BacktestReport {
    /// Each strategy's figures; a fill whose amounts cannot be read (a damaged journal) is an error naming it,
    /// never counted as zero.
    public static func figures(_ r: BacktestResult) throws -> [StrategyFigures] {
        try r.accounts.map { a in
            let samples = r.equity[a.strategy] ?? []
            let final = samples.last?.equity ?? a.cash + a.exposure
            var peak = a.bankroll, dd: Micros = 0, ddPct = 0.0
            for (_, e) in samples {
                peak = max(peak, e)
                if peak - e > dd { dd = peak - e }
                ddPct = max(ddPct, Double(peak - e) / Double(max(peak, 1)) * 100)
            }
            let (exposure, inMarket) = try holding(a.strategy, r)
            let closed = a.wins + a.losses
            return StrategyFigures(strategy: a.strategy, bankroll: a.bankroll, finalEquity: final, maxDrawdown: dd, maxDrawdownPct: ddPct, fees: a.fees,
                                   fills: r.fills.filter { $0.strategy == a.strategy }.count,
                                   winRate: closed > 0 ? Double(a.wins) / Double(closed) : nil, averageExposure: exposure, timeInMarket: inMarket)
        }
    }

    /// What a strategy held at cost over time, from its fills and settlements: the time-weighted average and the
    /// fraction of the run with anything held.
    static func holding(_ strategy: String, _ r: BacktestResult) throws -> (Micros, Double) {
        enum Step { case fill(TradeInfo), settle(String) }
        var steps: [(at: Double, step: Step)] = r.fills.filter { $0.strategy == strategy }.map { ($0.at, .fill($0)) }
        steps += r.settlements.filter { $0.strategy == strategy }.map { ($0.at.timeIntervalSince1970, .settle($0.market)) }
        steps.sort { $0.at < $1.at }
        var shares: [String: Micros] = [:], cost: [String: Micros] = [:], market: [String: String] = [:]
        let start = r.start.timeIntervalSince1970, end = max(r.end.timeIntervalSince1970, start + 1)
        var last = start, area = 0.0, held = 0.0
        func advance(to t: Double) {
            let dt = max(0, min(t, end) - last)
            let total = cost.values.reduce(0, +)
            area += Double(total) * dt
            if total > 0 { held += dt }
            last = max(last, min(t, end))
        }
        for (at, step) in steps {
            advance(to: at)
            switch step {
            case .fill(let f):
                guard let n = Fixed.parse(f.shares), let notional = Fixed.parse(f.notional) else {
                    throw WardenError(.io, "fill \(f.id) of \(f.strategy) in the backtest journal: shares `\(f.shares)` or notional `\(f.notional)` is not an amount")
                }
                market[f.token_id] = f.market_id
                if f.side == "buy" {
                    shares[f.token_id, default: 0] += n
                    cost[f.token_id, default: 0] += notional
                } else if let h = shares[f.token_id], h > 0 {
                    let released = n >= h ? cost[f.token_id] ?? 0 : (cost[f.token_id] ?? 0) * n / h
                    shares[f.token_id] = max(0, h - n)
                    cost[f.token_id] = max(0, (cost[f.token_id] ?? 0) - released)
                }
            case .settle(let m):
                for (token, id) in market where id == m { shares[token] = nil; cost[token] = nil }
            }
        }
        advance(to: end)
        let span = end - start
        return (Micros(area / span), held / span)
    }

    /// Dollars to the cent (the journal keeps the exact micro-dollars).
    static func money(_ m: Micros) -> String { String(format: "%.2f", Double(m) / 1e6) }
    static func time(_ d: Date) -> String { isoFormat(d) }
    static func isoFormat(_ d: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        return f.string(from: d)
    }

    /// The figures table's rows, best return first (ties by name).
    static func rows(_ figures: [StrategyFigures]) -> [[String]] {
        figures.sorted { ($0.returnPct, $1.strategy) > ($1.returnPct, $0.strategy) }.map { f in
            [f.strategy, money(f.netPnL), String(format: "%.2f%%", f.returnPct), "\(money(f.maxDrawdown)) (\(String(format: "%.2f%%", f.maxDrawdownPct)))",
             money(f.fees), String(f.fills), f.winRate.map { String(format: "%.0f%%", $0 * 100) } ?? "-", money(f.averageExposure),
             String(format: "%.1f%%", f.timeInMarket * 100)]
        }
    }

    static let header = ["strategy", "net P&L", "return", "max drawdown", "fees", "fills", "win rate", "avg exposure", "time in market"]

    public static func markdown(_ r: BacktestResult, fillsShown: Int = 200) throws -> String {
        let figures = try figures(r)
        var o = "# Backtest report\n\n"
        o += "- Recording: `\((r.data as NSString).lastPathComponent)`\n"
        o += "- From \(time(r.start)) to \(time(r.end)) (\(String(format: "%.1f", r.end.timeIntervalSince(r.start) / 3600)) h), \(r.cycles) cycles\n"
        o += "- Settings: " + r.settings.map { "\($0.0) \($0.1)" }.joined(separator: ", ") + "\n"
        o += "- Strategies: " + (r.accounts.isEmpty ? "none enabled" : r.accounts.map(\.strategy).joined(separator: ", ")) + "\n\n"
        for w in r.warnings { o += "> Warning: \(w)\n\n" }
        o += "## Strategies\n\n| " + header.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: header.count) + "\n"
        for row in rows(figures) { o += "| " + row.joined(separator: " | ") + " |\n" }
        o += "\nNet P&L is the final equity (positions marked at the best bid) minus the bankroll; fees are included in it.\n\n"
        if !r.engineSaid.isEmpty {
            o += "## What the engine said (warnings and worse)\n\n"
            for e in r.engineSaid { o += "- \(e.level) ×\(e.count): \(e.message)\n" }
            o += "\n"
        }
        let shown = r.fills.prefix(fillsShown)
        o += "## Fills (\(r.fills.count <= fillsShown ? "all \(r.fills.count)" : "first \(shown.count) of \(r.fills.count)"))\n\n"
        o += "| time | strategy | market | token | side | shares | price | fee |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n"
        for f in shown {
            o += "| \(time(Date(timeIntervalSince1970: f.at))) | \(f.strategy) | \(f.market_id) | \(f.token_id) | \(f.side) | \(f.shares) | \(f.price) | \(f.fee) |\n"
        }
        return o
    }

    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
            .replacingOccurrences(of: "\"", with: "&quot;")
    }

    static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]

    /// An SVG line chart: one line per series, a time axis and a value axis, each with ticks and labels.
    static func chart(id: String, title: String, series: [(name: String, points: [(Date, Double)])], start: Date, end: Date, unit: String) -> String {
        let w = 820.0, h = 260.0, left = 70.0, right = 150.0, top = 24.0, bottom = 36.0
        let values = series.flatMap { $0.points.map(\.1) }
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if hi - lo < 1e-9 { lo -= 1; hi += 1 }
        let t0 = start.timeIntervalSince1970, t1 = max(end.timeIntervalSince1970, t0 + 1)
        func x(_ d: Date) -> Double { left + (d.timeIntervalSince1970 - t0) / (t1 - t0) * (w - left - right) }
        func y(_ v: Double) -> Double { top + (hi - v) / (hi - lo) * (h - top - bottom) }
        var o = "<svg id=\"\(id)\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" role=\"img\" aria-label=\"\(esc(title))\">\n"
        o += "<text x=\"\(left)\" y=\"16\" font-size=\"13\" font-weight=\"bold\">\(esc(title))</text>\n"
        o += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(h - bottom)\" x2=\"\(w - right)\" y2=\"\(h - bottom)\" stroke=\"#444\"/>\n"
        o += "<line class=\"axis\" x1=\"\(left)\" y1=\"\(top)\" x2=\"\(left)\" y2=\"\(h - bottom)\" stroke=\"#444\"/>\n"
        let long = t1 - t0 > 2 * 86400
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = long ? "MM-dd HH:mm" : "HH:mm:ss"
        for i in 0...4 {
            let t = Date(timeIntervalSince1970: t0 + (t1 - t0) * Double(i) / 4)
            let px = x(t)
            o += "<line x1=\"\(fmt(px))\" y1=\"\(h - bottom)\" x2=\"\(fmt(px))\" y2=\"\(h - bottom + 4)\" stroke=\"#444\"/>"
            o += "<text class=\"tick-x\" x=\"\(fmt(px))\" y=\"\(h - bottom + 16)\" font-size=\"10\" text-anchor=\"middle\">\(f.string(from: t))</text>\n"
            let v = lo + (hi - lo) * Double(i) / 4
            let py = y(v)
            o += "<line x1=\"\(left - 4)\" y1=\"\(fmt(py))\" x2=\"\(w - right)\" y2=\"\(fmt(py))\" stroke=\"#ddd\"/>"
            o += "<text class=\"tick-y\" x=\"\(left - 6)\" y=\"\(fmt(py + 3))\" font-size=\"10\" text-anchor=\"end\">\(String(format: "%.2f", v))\(unit)</text>\n"
        }
        o += "<text x=\"\(fmt((left + w - right) / 2))\" y=\"\(h - 4)\" font-size=\"10\" text-anchor=\"middle\">time (UTC)</text>\n"
        for (i, s) in series.enumerated() {
            let c = colours[i % colours.count]
            let pts = s.points.map { "\(fmt(x($0.0))),\(fmt(y($0.1)))" }.joined(separator: " ")
            o += "<polyline class=\"series\" data-strategy=\"\(esc(s.name))\" fill=\"none\" stroke=\"\(c)\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            o += "<rect x=\"\(w - right + 10)\" y=\"\(top + Double(i) * 16)\" width=\"10\" height=\"10\" fill=\"\(c)\"/>"
            o += "<text x=\"\(w - right + 24)\" y=\"\(top + Double(i) * 16 + 9)\" font-size=\"11\">\(esc(s.name))</text>\n"
        }
        return o + "</svg>\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    public static func html(_ r: BacktestResult, fillsShown: Int = 500) throws -> String {
        let figures = try figures(r)
        let names = r.accounts.map(\.strategy)
        let equity = names.map { n in (n, (r.equity[n] ?? []).map { ($0.at, Fixed.double($0.equity)) }) }
        let drawdown = names.map { n -> (String, [(Date, Double)]) in
            var peak = Fixed.double(r.accounts.first { $0.strategy == n }?.bankroll ?? 0)
            return (n, (r.equity[n] ?? []).map { s in
                let e = Fixed.double(s.equity)
                peak = max(peak, e)
                return (s.at, peak > 0 ? -(peak - e) / peak * 100 : 0)
            })
        }
        var o = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Backtest report</title>
        <style>body{font-family:system-ui,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}
        td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}td:first-child,th:first-child{text-align:left}
        .meta{font-size:13px;color:#444}.warn{color:#a40}</style></head><body>
        <h1>Backtest report</h1>

        """
        o += "<p class=\"meta\">Recording <code>\(esc((r.data as NSString).lastPathComponent))</code>, from \(time(r.start)) to \(time(r.end)), \(r.cycles) cycles. "
        o += "Settings: " + esc(r.settings.map { "\($0.0) \($0.1)" }.joined(separator: ", ")) + ".</p>\n"
        for w in r.warnings { o += "<p class=\"warn\">Warning: \(esc(w))</p>\n" }
        o += "<h2>Strategies</h2>\n<table id=\"figures\"><tr>" + header.map { "<th>\(esc($0))</th>" }.joined() + "</tr>\n"
        for row in rows(figures) { o += "<tr>" + row.map { "<td>\(esc($0))</td>" }.joined() + "</tr>\n" }
        o += "</table>\n<h2>Equity</h2>\n" + chart(id: "equity", title: "Equity per strategy (dollars)", series: equity, start: r.start, end: r.end, unit: "")
        o += "<h2>Drawdown</h2>\n" + chart(id: "drawdown", title: "Drawdown from peak (%)", series: drawdown, start: r.start, end: r.end, unit: "%")
        if !r.engineSaid.isEmpty {
            o += "<h2>What the engine said (warnings and worse)</h2>\n<ul id=\"said\">\n"
            for e in r.engineSaid { o += "<li>\(esc(e.level)) ×\(e.count): \(esc(e.message))</li>\n" }
            o += "</ul>\n"
        }
        let shown = r.fills.prefix(fillsShown)
        o += "<h2>Fills (\(r.fills.count <= fillsShown ? "all \(r.fills.count)" : "first \(shown.count) of \(r.fills.count)"))</h2>\n"
        o += "<table id=\"fills\"><tr><th>time</th><th>strategy</th><th>market</th><th>token</th><th>side</th><th>shares</th><th>price</th><th>fee</th></tr>\n"
        for f in shown {
            o += "<tr><td>\(time(Date(timeIntervalSince1970: f.at)))</td><td>\(esc(f.strategy))</td><td>\(esc(f.market_id))</td><td>\(esc(f.token_id))</td>"
            o += "<td>\(esc(f.side))</td><td>\(esc(f.shares))</td><td>\(esc(f.price))</td><td>\(esc(f.fee))</td></tr>\n"
        }
        return o + "</table>\n</body></html>\n"
    }

    /// A sweep's ranking: one row per run, best total net P&L first, with each strategy's net P&L.
    public static func sweep(_ runs: [(combo: [String: String], folder: String, result: BacktestResult)]) throws -> String {
        let keys = Array(Set(runs.flatMap(\.combo.keys))).sorted()
        let names = Array(Set(runs.flatMap { $0.result.accounts.map(\.strategy) })).sorted()
        let rows = try runs.map { r -> (total: Micros, cells: [String]) in
            let f = try figures(r.result)
            let total = f.reduce(Micros(0)) { $0 + $1.netPnL }
            let worst = f.map(\.maxDrawdownPct).max() ?? 0
            var cells = [r.folder] + keys.map { r.combo[$0] ?? "" } + [money(total), String(format: "%.2f%%", worst)]
            cells += names.map { n in f.first { $0.strategy == n }.map { money($0.netPnL) } ?? "-" }
            cells.append(String(r.result.fills.count))
            return (total, cells)
        }.sorted { ($0.total, $1.cells[0]) > ($1.total, $0.cells[0]) }
        var o = "# Backtest sweep\n\n"
        if let first = runs.first?.result {
            o += "- Recording: `\((first.data as NSString).lastPathComponent)`, from \(time(first.start)) to \(time(first.end))\n"
        }
        o += "- \(runs.count) runs over " + keys.joined(separator: ", ") + "; each run's report is in its folder\n\n"
        let header = ["rank", "run"] + keys + ["net P&L (all)", "worst max DD"] + names.map { "\($0) net" } + ["fills"]
        o += "| " + header.joined(separator: " | ") + " |\n|" + String(repeating: " --- |", count: header.count) + "\n"
        for (i, r) in rows.enumerated() { o += "| \(i + 1) | " + r.cells.joined(separator: " | ") + " |\n" }
        return o
    }
}
