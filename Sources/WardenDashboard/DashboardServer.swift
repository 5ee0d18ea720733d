// The dashboard's HTTP side (Hummingbird 2): login, pages, live stream, controls, exports, /api and /metrics.
// /healthz is open; everything else needs a session (or, for /api and /metrics, the bearer token); every POST
// needs the session's CSRF token and a same-origin request.
import Foundation
public import Hummingbird
import HummingbirdCore
public import Logging
import NIOCore
import Synchronization
import WardenIPC
import WardenKit

public struct DashboardServer: Sendable {
    let hub: Hub
    let auth: Auth
    let settings: DashboardSettings
    let logger: Logger
    /// Open HTTP connections (read by the heartbeat: a server at its cap is saturated, not wedged).
    public let connections: ConnectionGauge

    public init(hub: Hub, auth: Auth, settings: DashboardSettings, connections: ConnectionGauge = ConnectionGauge(), logger: Logger) {
        self.hub = hub; self.auth = auth; self.settings = settings; self.logger = logger; self.connections = connections
    }

    public struct Context: RequestContext {
        public var coreContext: CoreRequestContextStorage
        public let remote: String
        public init(source: ApplicationRequestContextSource) {
            coreContext = .init(source: source)
            remote = source.channel.remoteAddress?.ipAddress ?? "unknown"
        }
    }

    /// The application, a Service for the process's ServiceGroup; `onListening` runs once it accepts.
    public func application(onListening: @escaping @Sendable () async -> Void) -> some ApplicationProtocol {
        let router = self.router()
        // Bounded: at most `maxConnections` open (more wait in the backlog), and a connection that sends no
        // complete request within `idleTimeout` (half-open, slow headers, idle keep-alive) is closed.
        return Application(router: router,
                           server: .http1(configuration: .init(idleTimeout: .seconds(Int64(Self.idleTimeoutSeconds)))),
                           configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "warden",
                                                availableConnectionsDelegate: ConnectionCap(gauge: connections, limit: Self.maxConnections)),
                           onServerRunning: { _ in await onListening() }, logger: logger)
    }

    /// Every route behind the Host check; served by `application` (bound by address) or by an
    /// `InheritedListener` (a socket passed by warden).
    public func router() -> Router<Context> {
        let router = Router(context: Context.self)
        router.add(middleware: HostCheck(policy: HostPolicy(configured: settings.host), logger: logger))
        routes(router)
        return router
    }

    /// Connections served at once; further ones wait in the listen backlog.
    public static let maxConnections = 2048
    /// A connection with no complete request for this long is closed.
    public static let idleTimeoutSeconds = 15
    /// Live streams one session may hold open (tabs); one more is refused with 429.
    public static let streamsPerSession = 16

    // MARK: - Helpers

    static func html(_ body: String, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) -> Response {
        var h = headers
        h[.contentType] = "text/html; charset=utf-8"
        h[.cacheControl] = "no-store"
        h[.contentSecurityPolicy] = "default-src 'self'; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
        h[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: status, headers: h, body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func text(_ body: String, type: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: type, .cacheControl: "no-store"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func redirect(_ to: String, cookie: String? = nil) -> Response {
        var h: HTTPFields = [.location: to]
        if let cookie { h[.setCookie] = cookie }
        return Response(status: .seeOther, headers: h)
    }

    /// nil when the request has a session or the right bearer token; else the refusal (401, or 429 past the
    /// per-address limit of wrong tokens).
    func authorize(_ req: Request, _ ctx: Context, json: Bool) -> Response? {
        if session(req) != nil { return nil }
        let status: HTTPResponse.Status
        switch auth.bearer(req.headers[.authorization], from: ctx.remote) {
        case .ok: return nil
        case .none, .wrong: status = .unauthorized
        case .limited: status = .tooManyRequests
        }
        let word = status == .unauthorized ? "unauthorized" : "too many wrong tokens; wait a minute"
        return json ? Self.text(#"{"error":"\#(word)"}"#, type: "application/json", status: status)
                    : Self.text(word + "\n", type: "text/plain", status: status)
    }

    func session(_ req: Request) -> Auth.Session? {
        auth.session(req.cookies[Auth.cookieName]?.value)
    }

    /// The request's form fields; a malformed body is a 400 naming what is wrong.
    static func form(_ req: Request, _ ctx: Context) async throws -> [String: String] {
        let buffer = try await req.body.collect(upTo: 64 * 1024)
        do {
            return try FormDecoding.decode(buffer.readableBytesView)
        } catch {
            throw HTTPError(.badRequest, message: "malformed form body: \(error)")
        }
    }

    /// Same-origin POST from a page of this dashboard with its session's CSRF token; else 403 and nothing changes.
    func checkPost(_ req: Request, _ form: [String: String]) -> (Auth.Session?, Response?) {
        guard let s = session(req) else { return (nil, Self.html(Self.loginPage("Log in first."), status: .unauthorized)) }
        if let origin = req.headers[.origin], origin != "null" {
            let host = req.head.authority ?? ""
            guard origin == "http://\(host)" || origin == "https://\(host)" else {
                logger.warning("cross-site POST refused", metadata: ["origin": "\(origin)", "path": "\(req.uri.path)"])
                return (nil, Self.html("<p>Cross-site request refused.</p>", status: .forbidden))
            }
        }
        guard let offered = form["csrf"], Auth.same(offered, s.csrf) else {
            logger.warning("POST without a valid CSRF token refused", metadata: ["path": "\(req.uri.path)"])
            return (nil, Self.html("<p>Missing or wrong CSRF token: reload the page and try again.</p>", status: .forbidden))
        }
        return (s, nil)
    }

    static func loginPage(_ message: String = "") -> String {
        """
        <!doctype html><html lang=en><head><meta charset=utf-8><title>Warden · Log in</title><link rel=stylesheet href="/static/app.css"></head>
        <body><main><h1>Warden</h1><p>\(HTML.esc(message))</p>
        <form method=post action="/login"><label>Token <input type=password name=token id=token autocomplete=current-password required></label>
        <button id=login>Log in</button></form><p class=muted>The token is in the state directory; <code>wardenctl dashboard-token</code> prints it.</p></main></body></html>
        """
    }

    // MARK: - Routes

    func routes(_ router: Router<Context>) {
        router.get("/healthz") { _, _ in Self.text("ok\n", type: "text/plain; charset=utf-8") }
        router.get("/static/app.css") { _, _ in Self.text(Assets.css, type: "text/css; charset=utf-8") }
        router.get("/static/app.js") { _, _ in Self.text(Assets.js, type: "text/javascript; charset=utf-8") }
        router.get("/login") { _, _ in Self.html(Self.loginPage()) }
        router.post("/login") { req, ctx in
            let form = try await Self.form(req, ctx)
            switch auth.login(form["token"] ?? "", from: ctx.remote) {
            case .ok(let s):
                logger.notice("dashboard login", metadata: ["session": "\(s.id.prefix(8))", "from": "\(ctx.remote)"])
                return Self.redirect("/", cookie: auth.cookie(for: s))
            case .wrong:
                logger.warning("dashboard login refused: wrong token", metadata: ["from": "\(ctx.remote)"])
                return Self.html(Self.loginPage("Wrong token."), status: .unauthorized)
            case .limited:
                logger.warning("dashboard login refused: too many attempts", metadata: ["from": "\(ctx.remote)"])
                return Self.html(Self.loginPage("Too many attempts; wait a minute."), status: .tooManyRequests)
            }
        }
        router.post("/logout") { req, ctx in
            let (s, refusal) = checkPost(req, try await Self.form(req, ctx))
            if let refusal { return refusal }
            guard let s else { return Self.html(Self.loginPage("Log in first."), status: .unauthorized) }
            auth.logout(s.id)
            hub.closeStreams(session: s.id)
            return Self.redirect("/login", cookie: "\(Auth.cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
        }
        for (path, title) in Pages.nav {
            router.get(RouterPath(path)) { req, _ in try await page(req, title: title) }
        }
        router.get("/events/stream") { req, _ in
            guard let s = session(req) else { return Self.html(Self.loginPage(), status: .unauthorized) }
            guard hub.streamCount(session: s.id) < Self.streamsPerSession else {
                return Self.text("too many live streams for this session (at most \(Self.streamsPerSession))\n", type: "text/plain", status: .tooManyRequests)
            }
            return stream(session: s.id)
        }
        router.get("/trades.csv") { req, ctx in
            if let refused = authorize(req, ctx, json: false) { return refused }
            return csv()
        }
        router.get("/api/state") { req, ctx in
            if let refused = authorize(req, ctx, json: true) { return refused }
            guard let json = await hub.statusAnswer().json else {
                return Self.text(#"{"error":"supervisor unreachable","since":"\#(hub.since("supervisor").map(isoString) ?? "")"}"#, type: "application/json", status: .serviceUnavailable)
            }
            return Self.text(json, type: "application/json")
        }
        router.get("/metrics") { req, ctx in
            if let refused = authorize(req, ctx, json: false) { return refused }
            let s = await hub.status()
            return Self.text(StackMetrics.render(s, dashboardClients: hub.clientCount, http: (connections.open, auth.bearerFailuresTotal)) + StackMetrics.hosts(s?.engine) + StackMetrics.cycles(s?.engine),
                             type: "text/plain; version=0.0.4; charset=utf-8")
        }
        router.post("/control/:action") { req, ctx in try await control(req, ctx, ctx.parameters.get("action") ?? "", arg: nil) }
        router.post("/control/:action/:arg") { req, ctx in
            try await control(req, ctx, ctx.parameters.get("action") ?? "", arg: ctx.parameters.get("arg"))
        }
    }

    // MARK: - Pages

    func page(_ req: Request, title: String) async throws -> Response {
        guard let session = session(req) else { return Self.html(Self.loginPage(), status: .unauthorized) }
        let status = await hub.status()
        let ctx = PageContext(status: status, supervisorDownSince: hub.since("supervisor"), csrf: session.csrf, author: session.author)
        var body = ""
        if let flash = req.uri.queryParameters.get("done") { body += "<p class=flash id=flash>\(HTML.esc(flash))</p>" }
        if let s = status {
            body += try await content(title, s, req, csrf: session.csrf)
        }
        return Self.html(Pages.layout(title, ctx, body))
    }

    func content(_ title: String, _ s: StatusResponse, _ req: Request, csrf: String) async throws -> String {
        let limit = settings.listLimit
        let engineUp = s.engine?.reachable == true
        switch title {
        case "Overview":
            var o = Pages.processes(s, csrf: csrf)
            if let e = s.engine, e.reachable {
                o += "<div data-from=engine>" + Pages.trading(e, csrf: csrf)
                o += "<h2>Accounts</h2>" + Pages.accounts(e.accounts ?? [])
                do {
                    let eq = try await hub.engine.call("equity", EquityRequest(limit: 500), as: EquityResponse.self, timeout: .seconds(2))
                    o += "<h2>Equity</h2>" + HTML.chart(eq.series)
                } catch {
                    o += "<h2>Equity</h2><p class=banner>equity history unavailable: \(HTML.esc("\(error)"))</p>"
                }
                let positions: PositionsResponse?
                do { positions = try await hub.engine.call("positions", Empty(), as: PositionsResponse.self, timeout: .seconds(2)) } catch {
                    positions = nil
                    o += "<h2>Open positions</h2><p class=banner>positions unavailable: \(HTML.esc("\(error)"))</p>"
                }
                if let p = positions {
                    let (shown, caption) = Pages.bounded(p.positions, total: p.positions.count, limit: limit, what: "open positions")
                    o += "<h2>Open positions</h2>" + caption + HTML.table(["strategy", "market", "token", "shares", "avg price", "cost", "mark"], shown.map {
                        [HTML.esc($0.strategy), HTML.esc($0.market_id), HTML.esc($0.token_id), String(format: "%.2f", $0.shares),
                         String(format: "%.4f", $0.average_price), HTML.money($0.cost), $0.mark.map { String(format: "%.4f", $0) } ?? "unmarked"]
                    }, id: "positions")
                }
                o += "</div>"
            }
            return o + "<h2>Live fills</h2><ul class=feed id=live></ul>"
        case "Trades":
            guard engineUp else { return "" }
            let before = req.uri.queryParameters.get("before").flatMap { Int64($0) }
            let page = try await hub.engine.call("trades", TradesRequest(limit: limit, before_id: before), as: TradesResponse.self, timeout: .seconds(5))
            var o = "<p><a href=\"/trades.csv\" id=export>Export every trade as CSV</a></p>"
            o += "<p class=bounded id=trades-caption>last \(page.trades.count) of \(page.total) trades\(before.map { " before #\($0)" } ?? "")</p>"
            o += HTML.table(["#", "time", "strategy", "side", "shares", "price", "notional", "fee", "market", "token"], page.trades.map { t in
                [String(t.id), isoString(Date(timeIntervalSince1970: t.at)), HTML.esc(t.strategy), t.side, t.shares, t.price, t.notional, t.fee,
                 HTML.esc(t.market_id), HTML.esc(t.token_id)]
            }, id: "trades")
            if let last = page.trades.last, page.trades.count == limit { o += "<p><a href=\"/trades?before=\(last.id)\">older</a></p>" }
            return o + "<h2>Live</h2><ul class=feed id=live></ul>"
        case "Strategies":
            guard let e = s.engine, e.reachable else { return "" }
            var o = "<div data-from=engine><p>snapshot \(HTML.age(e.snapshot_at))</p>" + Pages.accounts(e.accounts ?? [])
            do {
                let eq = try await hub.engine.call("equity", EquityRequest(limit: 1000), as: EquityResponse.self, timeout: .seconds(2))
                for name in eq.series.keys.sorted() { o += "<h2>\(HTML.esc(name))</h2>" + HTML.chart([name: eq.series[name]!]) }
            } catch {
                o += "<p class=banner>equity history unavailable: \(HTML.esc("\(error)"))</p>"
            }
            return o + "</div>"
        case "Orders":
            guard engineUp else { return "" }
            let r = try await hub.engine.call("orders", Empty(), as: OrdersResponse.self, timeout: .seconds(3))
            var o = "<div data-from=engine><p>as of \(HTML.age(r.at))</p>"
            if let e = r.read_error { o += "<p class=banner id=orders-read-error>not shown: \(HTML.esc(e))</p>" }
            if let v = r.venue {
                let state = v.status == "healthy" ? "ok" : "failing"
                o += "<h2>Live venue</h2><p id=venue>\(HTML.esc(v.name)): <strong class=\"state \(state)\">\(v.status.uppercased())</strong>"
                    + (v.problem.map { " — \(HTML.esc($0))" } ?? "")
                    + " · strategies \(HTML.esc(v.strategies.joined(separator: ", "))) · heartbeat \(v.heartbeat_age_s.map(HTML.ago) ?? "never")"
                    + " · reconciled \(v.reconciled_age_s.map(HTML.ago) ?? "never")"
                    + (v.rate_limit_remaining.map { " · rate budget \($0) left" } ?? "") + "</p>"
                if v.unknown_orders > 0 {
                    o += "<p class=banner id=unknown-orders>\(v.unknown_orders) live orders UNKNOWN: sent, answer lost; never re-sent; reconciliation finds them or rules them out</p>"
                }
                if v.foreign_orders > 0 { o += "<p class=banner id=foreign-orders>\(v.foreign_orders) open orders on the wallet are not Warden's (reported, never adopted)</p>" }
                if let e = v.reconcile_error { o += "<p class=banner id=reconcile-error>reconciliation failing: \(HTML.esc(e))</p>" }
            } else {
                o += "<p class=muted id=venue>no live venue configured: every strategy trades on paper</p>"
            }
            let rows = (r.venue?.orders ?? []) + r.paper
            o += "<h2>Open orders</h2><p class=bounded>\(rows.count) open orders</p>"
            o += HTML.table(["state", "intent", "strategy", "side", "price", "filled / size", "market", "since", "kind", "venue id", "note"], rows.prefix(limit).map { x in
                let state = x.note == "paper" ? "paper" : x.state == "unknown" ? "UNKNOWN" : x.state
                return ["<strong class=\"state \(x.state == "unknown" ? "failing" : "ok")\">\(state)</strong>", HTML.esc(x.intent_id), HTML.esc(x.strategy), x.side,
                        String(format: "%.4f", x.price), String(format: "%.2f / %.2f", x.filled, x.shares), HTML.esc(x.market_id), HTML.esc(x.since),
                        HTML.esc(x.kind ?? ""), HTML.esc(x.order_id.map { String($0.prefix(18)) + "…" } ?? ""), HTML.esc(x.note == "paper" ? "" : x.note)]
            }, id: "orders")
            if let settling = r.settling, !settling.isEmpty {
                let total = max(r.venue?.trades_settling ?? 0, settling.count)
                o += "<h2>Settling</h2><p class=bounded>\(total) live trades booked, not yet confirmed on chain (a matched trade can still fail, and is then voided)"
                    + (total > min(settling.count, limit) ? "; the oldest \(min(settling.count, limit)) shown" : "") + "</p>"
                o += HTML.table(["settlement", "intent", "strategy", "side", "shares", "price", "booked", "trade"], settling.prefix(limit).map { t in
                    ["<strong class=\"state \(t.status == "RETRYING" ? "failing" : "ok")\">\(HTML.esc(t.status))</strong>", HTML.esc(t.intent_id), HTML.esc(t.strategy),
                     t.side, String(format: "%.2f", t.shares), String(format: "%.4f", t.price), HTML.esc(t.booked_at), HTML.esc(String(t.trade_id.prefix(24)))]
                }, id: "settling")
            }
            return o + "</div>"
        case "Events":
            let ev = try await hub.control.call("events", EventsRequest(limit: limit), as: EventsResponse.self, timeout: .seconds(3))
            var o = "<h2>Engine activity (live)</h2><ul class=feed id=activity></ul>"
            o += "<h2>Lifecycle</h2><p class=bounded>last \(ev.events.count) of \(ev.held) events held by the supervisor</p><ul class=feed id=lifecycle>"
            o += ev.events.reversed().map { "<li>\(HTML.esc($0.at)) [\($0.severity)] \(HTML.esc(($0.program.map { "\($0): " } ?? "") + $0.message))</li>" }.joined()
            return o + "</ul>"
        case "Alerts":
            guard let n = s.notifier else { return "<p class=muted>no notifier configured</p>" }
            guard n.reachable, n.error == nil else { return "" }
            var o = "<p>as of \(HTML.age(isoString(Date())))</p><p id=queue>queue \(n.queue_depth ?? 0)\(n.oldest_pending_age_s.map { ", oldest waiting \(NoiseFree.span($0))" } ?? "") · \(n.alerts_total ?? 0) alerts taken · \(n.delivered_total ?? 0) delivered · \(n.failed_total ?? 0) failed</p>"
            o += HTML.table(["channel", "kind", "state", "pending", "last success", "last error"], (n.channels ?? []).map {
                [HTML.esc($0.name), $0.kind, "<strong class=\"state \($0.state)\">\($0.state)</strong>", String($0.pending), HTML.age($0.last_success_at), HTML.esc($0.last_error ?? "")]
            }, id: "channels")
            o += HTML.table(["source", "connected", "last seq", "gaps"], (n.intake ?? []).map { [$0.source, $0.connected ? "yes" : "NO", String($0.last_seq), String($0.gaps_total)] })
            return o
        case "System":
            var o = "<p>warden \(HTML.esc(s.supervisor.version)) pid \(s.supervisor.pid), up \(NoiseFree.span(s.supervisor.uptime_s)), started \(HTML.esc(s.supervisor.started_at))</p>"
            if let st = s.storage {
                o += "<p id=storage>state dir \(HTML.esc(st.path)): \(String(format: "%.1f", st.free_percent))% space, \(String(format: "%.1f", st.free_inodes_percent))% inodes free (measured \(NoiseFree.span(st.measured_age_s)) ago)</p>"
            }
            o += HTML.table(["program", "RSS", "fds", "heartbeat", "restarts", "last exit"], s.programs.map {
                [HTML.esc($0.name), $0.rss_bytes.map { "\($0 / 1_048_576) MB" } ?? "-", $0.fds.map(String.init) ?? "-",
                 $0.last_heartbeat_age_s.map(HTML.ago) ?? "-", String($0.restarts), HTML.esc($0.last_exit.map { "\($0.reason) at \($0.at)" } ?? "")]
            }, id: "resources")
            if let d = s.engine?.data {
                o += "<h2>Markets without a book</h2><p id=no-book>\(d.no_book_markets ?? 0) of \(d.markets) markets had no book for one of their outcomes at the last refresh; they are not traded</p>"
                if let ids = d.no_book, !ids.isEmpty {
                    o += "<ul class=feed id=no-book-list>" + ids.map { "<li>market \(HTML.esc($0))</li>" }.joined() + "</ul>"
                }
                if let f = d.feed {
                    o += "<h2>Market WebSocket</h2><p id=feed-detail>\(HTML.esc(f.url)) · \(f.deltas_total) level changes and \(f.books_total) books applied · \(f.dropped_untrusted_total) dropped before a snapshot · \(f.reconnects_total) reconnects · \(f.frozen_total) frozen · \(f.drift_total) drift</p>"
                    o += HTML.table(["connection", "state", "assets", "data age", "up for", "reconnects", "attempt", "last error"], (f.shards ?? []).map {
                        ["ws#\($0.id)", "<strong class=\"state \($0.state == "connected" ? "ok" : "failing")\">\($0.state)</strong>", String($0.assets),
                         $0.data_age_s.map { String(format: "%.1fs", $0) } ?? "-", $0.connected_for_s.map(NoiseFree.span) ?? "-",
                         String($0.reconnects), String($0.attempts), HTML.esc($0.last_error ?? "")]
                    }, id: "feed-shards")
                    if let drift = f.last_drift { o += "<p class=muted id=last-drift>last drift: \(HTML.esc(drift))</p>" }
                }
                do {
                    let rows = try await hub.engine.call("markets", EquityRequest(limit: limit), as: MarketsResponse.self, timeout: .seconds(2))
                    o += "<h2>Markets</h2><p class=bounded>\(rows.markets.count) of \(rows.total) markets, the worst first (book age by our observation; unchanged by its hash)</p>"
                    o += HTML.table(["market", "state", "book age", "unchanged for", "feed", "drift", "question"], rows.markets.map {
                        [HTML.esc($0.id) + ($0.held ? " (held)" : ""), "<strong class=\"state \($0.state == "ok" ? "ok" : "failing")\">\(HTML.esc($0.state))</strong>",
                         $0.book_age_s.map { String(format: "%.1fs", $0) } ?? "-", $0.unchanged_s.map { String(format: "%.1fs", $0) } ?? "-",
                         HTML.esc($0.feed), String($0.drift), HTML.esc($0.question)]
                    }, id: "markets")
                } catch {
                    o += "<h2>Markets</h2><p class=banner>market list unavailable: \(HTML.esc("\(error)"))</p>"
                }
                o += "<h2>Rejected market data</h2><p id=rejected-now>\(d.rejected_now ?? 0) items rejected now · \(d.rejected_items_total) since start (each counted once while it persists)</p>"
                if let groups = d.rejections, !groups.isEmpty {
                    o += HTML.table(["items", "reason", "example"], groups.map { [String($0.count), HTML.esc($0.reason), HTML.esc($0.example)] }, id: "rejections")
                }
            }
            if let hosts = s.engine?.hosts {
                o += "<h2>Market APIs</h2>" + HTML.table(["host", "circuit", "requests", "errors", "error rate (30 s)", "rate-limit usage", "p99", "last error"], hosts.map {
                    [HTML.esc($0.host), $0.circuit, String($0.requests), String($0.failures), String(format: "%.0f%%", $0.error_rate * 100),
                     String(format: "%.0f%%", $0.rate_limit_usage * 100), String(format: "%.0f ms", $0.latency_p99_ms), HTML.esc($0.last_error ?? "")]
                }, id: "hosts")
            }
            return o
        default:
            return ""
        }
    }

    // MARK: - Live stream and export

    func stream(session: String) -> Response {
        let (_, events) = hub.subscribe(session: session)
        let down = ["supervisor", "engine", "notifier"].compactMap { name in hub.since(name).map { (name, $0) } }
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
            for (name, since) in down {
                try await writer.write(ByteBuffer(string: Hub.frame("link", #"{"link":"\#(name)","up":false,"since":"\#(isoString(since))"}"#)))
            }
            for await message in events { try await writer.write(ByteBuffer(string: message)) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    /// Every trade, newest first (as `wardenctl trades --csv`), written page by page as the engine answers, so the
    /// export never holds the history in memory; a failure mid-way ends the file with a line saying so, never a
    /// silently short export.
    func csv() -> Response {
        let engine = hub.engine
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: TradeInfo.csvHeader))
            var before: Int64?
            var written = 0, total = 0
            do {
                while true {
                    let page = try await engine.call("trades", TradesRequest(limit: 1000, before_id: before), as: TradesResponse.self, timeout: .seconds(10))
                    total = max(total, page.total)
                    if page.trades.isEmpty { break }
                    try await writer.write(ByteBuffer(string: page.trades.map { $0.csvRow(time: { isoString(Date(timeIntervalSince1970: $0)) }) }.joined()))
                    written += page.trades.count
                    before = page.trades.last?.id
                }
                if written < total { try await writer.write(ByteBuffer(string: "# history changed during the export: \(written) of \(total) rows\n")) }
            } catch {
                try await writer.write(ByteBuffer(string: "# EXPORT INCOMPLETE after \(written) rows: \(error)\n"))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/csv; charset=utf-8", .contentDisposition: "attachment; filename=\"warden-trades.csv\"",
                                               .cacheControl: "no-store"], body: body)
    }

    // MARK: - Controls

    func control(_ req: Request, _ ctx: Context, _ action: String, arg: String?) async throws -> Response {
        let form = try await Self.form(req, ctx)
        let (s, refusal) = checkPost(req, form)
        if let refusal { return refusal }
        guard form["confirmed"] == "yes" else { return Self.html("<p>Not confirmed; nothing done.</p>", status: .badRequest) }
        let who = "\(s!.author) via dashboard"
        let result: String
        do {
            switch (action, arg) {
            case ("pause", nil):
                let reason = (form["reason"] ?? "").trimmingCharacters(in: .whitespaces)
                guard !reason.isEmpty else { return Self.html("<p>A pause needs a reason.</p>", status: .badRequest) }
                result = try await engineCommand("pause", PauseRequest(reason: reason, author: who))
            case ("resume", nil): result = try await engineCommand("resume", AuthorRequest(author: who))
            case ("halt-reset", nil): result = try await engineCommand("halt_reset", AuthorRequest(author: who))
            case ("flatten", nil): result = try await engineCommand("flatten", FlattenRequest(market_id: form["market"].flatMap { $0.isEmpty ? nil : $0 }, author: who))
            case ("kill-switch", "on"), ("kill-switch", "off"):
                result = try await engineCommand("kill_switch", SwitchRequest(on: arg == "on", author: who))
            case ("reduce-only", "on"), ("reduce-only", "off"):
                result = try await engineCommand("reduce_only", SwitchRequest(on: arg == "on", author: who))
            case ("restart", let program?):
                let r = try await hub.control.call("restart", ProgramRequest(program: program, author: who), as: ProgramActionResponse.self, timeout: .seconds(5))
                result = r.message
            default:
                return Self.html("<p>Unknown action.</p>", status: .notFound)
            }
        } catch {
            logger.warning("dashboard action \(action) failed: \(error)")
            return Self.html(Pages.layout("Overview", PageContext(status: nil, supervisorDownSince: hub.since("supervisor"), csrf: s!.csrf, author: who),
                                          "<p class=banner>\(HTML.esc(action)) failed: \(HTML.esc("\(error)"))</p><p><a href=\"/\">back</a></p>"),
                             status: .badGateway)
        }
        hub.invalidateStatus()
        logger.notice("dashboard action \(action)\(arg.map { " \($0)" } ?? "") by \(who): \(result)")
        let done = "\(action)\(arg.map { " \($0)" } ?? ""): \(result)".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        return Self.redirect("/?done=\(done)")
    }

    /// Through the supervisor, as wardenctl's commands go, so every surface records the same author.
    func engineCommand<B: Encodable & Sendable>(_ type: String, _ body: B) async throws -> String {
        let r = try await hub.control.call("engine." + type, body, as: CommandResponse.self, timeout: .seconds(10))
        return "\(r.message) (trading state: \(r.trading_state))"
    }
}

/// Refuses a request whose Host is not an IP literal or an allowed name (421), before any route runs.
struct HostCheck<Context: RequestContext>: RouterMiddleware {
    let policy: HostPolicy
    let logger: Logger
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard policy.allows(request.head.authority) else {
            logger.warning("request refused: unexpected Host header", metadata: ["host": "\(String((request.head.authority ?? "").prefix(80)))"])
            return Response(status: .misdirectedRequest, headers: [.contentType: "text/plain; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(string: "this dashboard does not answer to that host name\n")))
        }
        return try await next(request, context)
    }
}

/// Open connections of the HTTP server.
public final class ConnectionGauge: Sendable {
    private let box = Mutex(0)
    public init() {}
    public var open: Int { box.withLock { $0 } }
    func opened() { box.withLock { $0 += 1 } }
    func closed() { box.withLock { $0 -= 1 } }
}

/// Hummingbird's accept gate: past `limit` open connections it stops accepting (they wait in the backlog)
/// until one closes; the idle timeout closes those that never send a request.
struct ConnectionCap: AvailableConnectionsDelegate {
    let gauge: ConnectionGauge
    let limit: Int
    mutating func connectionOpened() { gauge.opened() }
    mutating func connectionClosed() { gauge.closed() }
    func isAcceptingNewConnections() -> Bool { gauge.open < limit }
}
