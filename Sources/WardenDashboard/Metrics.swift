// /metrics: the whole stack in Prometheus text (swift-prometheus), every sample labelled with its program.
// Built per scrape from what each process reports over its socket; a process that does not answer is
// `warden_up{program=…} 0`, never its last numbers.
import Foundation
import Prometheus
import WardenIPC

enum StackMetrics {
    static func render(_ status: StatusResponse?, dashboardClients: Int, http: (open: Int, bearerFailures: UInt64)? = nil) -> String {
        let r = PrometheusCollectorRegistry()
        func gauge(_ name: String, _ help: String, _ labels: [(String, String)], _ v: Double) {
            r.makeGauge(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).set(v)
        }
        func counter(_ name: String, _ help: String, _ labels: [(String, String)], _ v: Int) {
            r.makeCounter(descriptor: MetricNameDescriptor(metricName: name, unitName: "", helpText: help), labels: labels).increment(by: Int64(max(0, v)))
        }
        gauge("warden_up", "1 when the program answered this scrape, else 0", [("program", "supervisor")], status == nil ? 0 : 1)
        gauge("warden_dashboard_sse_clients", "Browsers following the live stream", [("program", "dashboard")], Double(dashboardClients))
        if let h = http {
            gauge("warden_http_connections_open", "HTTP connections open on the dashboard (capped)", [("program", "dashboard")], Double(h.open))
            counter("warden_http_wrong_bearer_total", "Requests refused for a wrong bearer token", [("program", "dashboard")], Int(clamping: h.bearerFailures))
        }
        guard let s = status else { return r.emitToString() }
        if let c = s.supervisor.control_socket {
            let l = [("program", "supervisor"), ("socket", "control")]
            gauge("warden_ipc_connections_open", "Connections open on the socket", l, Double(c.connections_open))
            counter("warden_ipc_connections_refused_total", "Connections refused over the socket's cap", l, Int(clamping: c.connections_refused_total))
            counter("warden_ipc_hello_timeouts_total", "Connections closed for want of a hello", l, Int(clamping: c.hello_timeouts_total))
            counter("warden_ipc_backpressure_pauses_total", "Times reading a connection paused on unread answers", l, Int(clamping: c.backpressure_pauses_total))
            counter("warden_ipc_rejected_frames_total", "Malformed frames rejected", l, Int(clamping: c.rejected_frames_total))
        }
        gauge("warden_uptime_seconds", "Seconds since the program started", [("program", "supervisor")], s.supervisor.uptime_s)
        for p in s.programs {
            let l = [("program", p.name)]
            counter("warden_restarts_total", "Restarts of the program by the supervisor", l, p.restarts)
            gauge("warden_program_running", "1 when the program is RUNNING and ready", l, p.state == "RUNNING" && p.ready ? 1 : 0)
            if let a = p.last_heartbeat_age_s { gauge("warden_heartbeat_age_seconds", "Seconds since the program's last WATCHDOG=1", l, a) }
            if let b = p.rss_bytes { gauge("warden_resident_memory_bytes", "Resident set size", l, Double(b)) }
            if let f = p.fds { gauge("warden_open_fds", "Open file descriptors", l, Double(f)) }
            if let u = p.uptime_s { gauge("warden_uptime_seconds", "Seconds since the program started", l, u) }
        }
        if let st = s.storage {
            gauge("warden_state_dir_free_ratio", "Free space of the state directory (0..1)", [("program", "supervisor")], st.free_percent / 100)
            gauge("warden_state_dir_free_inodes_ratio", "Free inodes of the state directory (0..1)", [("program", "supervisor")], st.free_inodes_percent / 100)
        }
        if let e = s.engine {
            let l = [("program", "engine")]
            gauge("warden_up", "1 when the program answered this scrape, else 0", l, e.reachable ? 1 : 0)
            if e.reachable {
                counter("warden_fills_total", "Paper fills recorded in the journal", l, e.fills_total ?? 0)
                for state in ["ACTIVE", "REDUCING", "PAUSED", "HALTED"] {
                    gauge("warden_trading_state", "1 for the engine's current trading state", l + [("state", state)], e.trading_state == state ? 1 : 0)
                }
                gauge("warden_trading_reasons", "Active reasons restricting trading", l, Double(e.reasons?.count ?? 0))
                // Which reasons, by code (a stale market is one reason per market, so the value is a count).
                for (code, n) in Dictionary(grouping: e.reasons ?? [], by: \.code).mapValues(\.count).sorted(by: { $0.key < $1.key }) {
                    gauge("warden_trading_reason_active", "Active reasons restricting trading, by code", l + [("code", code)], Double(n))
                }
                if let age = e.data?.age_s { gauge("warden_market_data_age_seconds", "Seconds since the last successful market-data refresh", l, age) }
                counter("warden_market_items_rejected_total", "Malformed market-data items rejected (each once while it persists)", l, e.data?.rejected_items_total ?? 0)
                gauge("warden_markets_no_book", "Open markets without a book for one of their outcomes", l, Double(e.data?.no_book_markets ?? 0))
                if let f = e.data?.feed {
                    gauge("warden_ws_connections", "Market WebSocket connections", l, Double(f.connections))
                    gauge("warden_ws_connected", "Market WebSocket connections up", l, Double(f.connected))
                    if let age = f.data_age_s { gauge("warden_ws_data_age_seconds", "Age of the oldest connection's last data", l, age) }
                    counter("warden_ws_reconnects_total", "Market WebSocket disconnects followed by a reconnect attempt", l, f.reconnects_total)
                    counter("warden_ws_frozen_total", "Market WebSocket connections found open and silent while their markets moved", l, f.frozen_total)
                    counter("warden_book_drift_total", "Books whose deltas disagreed with the next snapshot of the same version", l, f.drift_total)
                    counter("warden_ws_deltas_total", "Book level changes applied from the market WebSocket", l, f.deltas_total)
                    gauge("warden_ws_books_awaiting_snapshot", "Books not trusted until a snapshot after their connection came up", l, Double(f.awaiting_snapshot))
                }
                gauge("warden_market_items_rejected_now", "Market-data items rejected by the latest refreshes", l, Double(e.data?.rejected_now ?? 0))
                if let v = e.venue {
                    gauge("warden_venue_healthy", "1 when the live venue takes new orders (heartbeat accepted, nothing refusing)", l, v.status == "healthy" ? 1 : 0)
                    if let a = v.heartbeat_age_s { gauge("warden_venue_heartbeat_age_seconds", "Seconds since the venue last accepted a heartbeat", l, a) }
                    if let a = v.reconciled_age_s { gauge("warden_venue_reconciled_age_seconds", "Seconds since orders and trades were last reconciled", l, a) }
                    gauge("warden_venue_orders_unknown", "Live orders whose outcome is unknown (answer lost; never re-sent)", l, Double(v.unknown_orders))
                    gauge("warden_venue_orders_open", "Live orders open (pending, on the book, unknown)", l, Double(v.open_orders))
                    gauge("warden_venue_orders_foreign", "Open orders on the wallet that are not Warden's", l, Double(v.foreign_orders))
                    if let u = v.user_channel { gauge("warden_venue_user_channel_up", "1 while the venue's user channel is connected", l, u == "connected" ? 1 : 0) }
                    if let c = v.fills_voided_total { counter("warden_venue_fills_voided_total", "Live fills voided: their trade FAILED at settlement", l, c) }
                    if let c = v.caps_refused_total { counter("warden_venue_caps_refused_total", "Live entries refused before signing by a cap", l, c) }
                    if let r = v.rate_limit_remaining { gauge("warden_venue_rate_limit_remaining", "Per-signer budget left, from Poly-RateLimit-Remaining", l, Double(r)) }
                    for (endpoint, left) in (v.ip_budget_remaining ?? [:]).sorted(by: { $0.key < $1.key }) {
                        gauge("warden_venue_ip_budget_remaining", "Per-IP calls left in the tightest window of the venue's limit, per endpoint class", l + [("endpoint", endpoint)], Double(left))
                    }
                    if let n = v.trades_settling { gauge("warden_venue_trades_settling", "Live trades booked and not yet confirmed on chain", l, Double(n)) }
                    if let n = v.trades_retrying { gauge("warden_venue_trades_retrying", "Live trades whose settlement the venue is retrying", l, Double(n)) }
                }
                for a in e.accounts ?? [] {
                    gauge("warden_equity_dollars", "Paper equity per strategy", l + [("strategy", a.strategy)], a.equity)
                    gauge("warden_realized_pnl_dollars", "Realised P&L net of fees per strategy", l + [("strategy", a.strategy)], a.realized_pnl)
                }
            }
        }
        if let n = s.notifier {
            let l = [("program", "notifier")]
            gauge("warden_up", "1 when the program answered this scrape, else 0", l, n.reachable && n.error == nil ? 1 : 0)
            if n.reachable {
                gauge("warden_alert_queue_depth", "Messages waiting for a channel", l, Double(n.queue_depth ?? 0))
                counter("warden_alerts_delivered_total", "Messages a channel accepted", l, n.delivered_total ?? 0)
                counter("warden_alert_delivery_failures_total", "Messages given up or refused for good", l, n.failed_total ?? 0)
                for c in n.channels ?? [] {
                    for state in ["ok", "retrying", "failed"] {
                        gauge("warden_alert_channel_state", "1 for each channel's current state", l + [("channel", c.name), ("state", state)], c.state == state ? 1 : 0)
                    }
                }
            }
        }
        return r.emitToString()
    }

    /// The engine's cycle durations as a Prometheus histogram (cumulative buckets, +Inf = count, sum, count).
    static func cycles(_ engine: EngineStatus?) -> String {
        guard let h = engine?.cycle_histogram, engine?.reachable == true else { return "" }
        let name = "warden_engine_cycle_duration_seconds"
        var o = "# HELP \(name) Duration of one engine cycle (data, risk, strategies, fills, journal)\n# TYPE \(name) histogram\n"
        for (bound, count) in zip(h.bounds_s, h.counts) { o += "\(name)_bucket{program=\"engine\",le=\"\(bound)\"} \(count)\n" }
        o += "\(name)_bucket{program=\"engine\",le=\"+Inf\"} \(h.count)\n\(name)_sum{program=\"engine\"} \(h.sum_s)\n\(name)_count{program=\"engine\"} \(h.count)\n"
        return o
    }

    /// Per-host API figures come from the engine's snapshot.
    static func hosts(_ engine: EngineStatus?) -> String {
        guard let hosts = engine?.hosts, !hosts.isEmpty else { return "" }
        let r = PrometheusCollectorRegistry()
        for h in hosts {
            let l = [("program", "engine"), ("host", h.host)]
            r.makeCounter(descriptor: MetricNameDescriptor(metricName: "warden_http_requests_total", unitName: "", helpText: "Market API requests per host"), labels: l).increment(by: Int64(h.requests))
            r.makeCounter(descriptor: MetricNameDescriptor(metricName: "warden_http_errors_total", unitName: "", helpText: "Failed market API requests per host"), labels: l).increment(by: Int64(h.failures))
            r.makeCounter(descriptor: MetricNameDescriptor(metricName: "warden_http_rate_limited_total", unitName: "", helpText: "429 answers per host"), labels: l).increment(by: Int64(h.rate_limited))
            r.makeGauge(descriptor: MetricNameDescriptor(metricName: "warden_http_error_ratio", unitName: "", helpText: "Error rate over the last 30 s (0..1)"), labels: l).set(h.error_rate)
            r.makeGauge(descriptor: MetricNameDescriptor(metricName: "warden_http_rate_limit_usage_ratio", unitName: "", helpText: "Rate-limit usage of the busiest bucket (0..1)"), labels: l).set(h.rate_limit_usage)
            r.makeGauge(descriptor: MetricNameDescriptor(metricName: "warden_http_latency_p99_seconds", unitName: "", helpText: "p99 latency of recent requests"), labels: l).set(h.latency_p99_ms / 1000)
        }
        return r.emitToString()
    }
}
