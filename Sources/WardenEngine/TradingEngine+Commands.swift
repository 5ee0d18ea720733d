// What engine.sock asks of the engine: its snapshot, positions, history, and operator commands.
public import Foundation
import WardenKit
import WardenCore
public import WardenIPC
import WardenHTTP

extension TradingEngine {
    public func snapshot(_ now: Date = Date()) -> EngineSnapshot {
        let m = marks()
        let reasons = core.control.reasons.map {
            ReasonInfo(code: $0.code.rawValue, source: $0.source.rawValue, effect: $0.effect.rawValue, since: isoString($0.since),
                       expires_at: $0.expiresAt.map(isoString), message: $0.message, author: $0.author, market_id: $0.marketID)
        }
        let age = lastRefreshOK.map { now.timeIntervalSince($0) }
        let status = lastRefreshFailed != nil ? "down" : (age.map { $0 <= settings.staleDataAfter.seconds } ?? false) ? "fresh" : "stale"
        var data = DataInfo(source: source.name, status: status, last_refresh_at: lastRefreshOK.map(isoString), age_s: age,
                            markets: markets.count, stale_markets: core.control.reasons.filter { $0.code == .marketStale }.count,
                            rejected_items_total: rejectedItems, rejected_now: rejections.current, rejections: rejections.summary())
        data.no_book_markets = noBookMarkets.count
        data.no_book = Array(noBookMarkets.prefix(100))
        data.feed = feedInfo(now)
        let accountInfos = core.accounts.values.sorted { $0.strategy < $1.strategy }.map { a -> AccountInfo in
            let equity = a.equity(marks: m)
            let h = core.health[a.strategy]
            let closed = a.wins + a.losses
            return AccountInfo(strategy: a.strategy, bankroll: Fixed.double(a.bankroll), cash: Fixed.double(a.cash), equity: Fixed.double(equity),
                               realized_pnl: Fixed.double(a.realizedPnL - a.fees), fees: Fixed.double(a.fees), open_positions: a.openPositions,
                               fills: a.fills, win_rate: closed > 0 ? Double(a.wins) / Double(closed) : nil,
                               max_drawdown: Fixed.double(a.maxDrawdown),
                               return_pct: Double(equity - a.bankroll) / Double(max(a.bankroll, 1)) * 100,
                               enabled: h?.isDisabled != true, disabled_reason: h?.disabledReason,
                               open_orders: core.openOrders.filter { $0.intent.strategy == a.strategy }.count)
        }
        // The journal's count is the truth; the in-memory one (same fills, applied after each commit) stands in
        // only while the journal cannot be read, and storage says so in the same snapshot.
        let fills = (try? journal?.fillCount()) ?? nil
        var snap = EngineSnapshot(trading_state: core.control.effective.rawValue, reasons: reasons, data: data, accounts: accountInfos,
                                  fills_total: fills ?? core.accounts.values.reduce(0) { $0 + $1.fills },
                                  storage: storageProblem.map { "degraded: \($0)" } ?? (journal == nil ? "unusable" : "ok"),
                                  cycles: cycles, last_cycle_ms: lastCycleMS, at: isoString(now))
        snap.cycle_histogram = cycleHistogram
        snap.venue = venueInfo(now)
        snap.hosts = source.hostStats().map {
            HostInfo(host: $0.host, requests: $0.requests, failures: $0.failures, rate_limited: $0.rateLimited, error_rate: $0.recentErrorRate,
                     rate_limit_usage: $0.rateLimitUsage, circuit: $0.circuit, latency_p50_ms: $0.latencyP50Ms, latency_p99_ms: $0.latencyP99Ms,
                     last_error: $0.lastError)
        }
        return snap
    }

    /// One line for STATUS=, e.g. `ACTIVE · data 4s old · 7 open · equity 1012.40`.
    public func statusLine() -> String {
        let s = snapshot()
        let age = s.data.age_s.map { "data \(Int($0))s old" } ?? "no data yet"
        let open = s.accounts.reduce(0) { $0 + $1.open_positions }
        let equity = s.accounts.reduce(0.0) { $0 + $1.equity }
        var line = "\(s.trading_state) · \(age) · \(open) open · equity \(String(format: "%.2f", equity))"
        if let top = core.control.reasons.max(by: { $0.effect < $1.effect }), s.trading_state != "ACTIVE" { line += " · \(top.code)" }
        if let v = s.venue {
            line += " · live \(v.status)"
            if v.unknown_orders > 0 { line += " · \(v.unknown_orders) orders UNKNOWN" }
        }
        return line
    }

    public func positions() -> PositionsResponse {
        let m = marks()
        return PositionsResponse(positions: core.accounts.values.flatMap { a in
            a.positions.values.map { p in
                PositionInfo(strategy: a.strategy, market_id: p.marketID, token_id: p.tokenID, shares: Fixed.double(p.shares),
                             average_price: Fixed.double(p.averagePrice), cost: Fixed.double(p.costBasis), mark: m[p.tokenID].map(Fixed.double))
            }
        }.sorted { ($0.strategy, $0.market_id, $0.token_id) < ($1.strategy, $1.market_id, $1.token_id) })
    }

    public func equity(limit: Int) throws -> EquityResponse {
        guard let journal else { throw IPCError(.failed, "journal unusable: no equity history") }
        var series: [String: [EquityPoint]] = [:]
        for name in core.accounts.keys.sorted() {
            series[name] = try journal.equityHistory(strategy: name, limit: max(1, min(limit, 5000))).map { EquityPoint(at: $0.at, equity: Fixed.double($0.equity)) }
        }
        return EquityResponse(series: series)
    }

    public func trades(limit: Int, beforeID: Int64?) throws -> TradesResponse {
        guard let journal else { throw IPCError(.failed, "journal unusable: no trade history") }
        let page = try journal.trades(limit: max(1, min(limit, 2000)), beforeID: beforeID)  // 2,000 rows stay well inside one frame
        return TradesResponse(trades: page.rows, total: page.total)
    }

    func reply(_ message: String) -> CommandResponse { CommandResponse(trading_state: core.control.effective.rawValue, message: message) }

    /// Performs an operator command on the core; the reply is the core's (or what stopped it).
    func command(_ input: EngineCore.Input, otherwise: String) -> CommandResponse {
        let now = clock()
        return reply(perform(core.handle(input, at: now), now: now) ?? otherwise)
    }

    public func pause(reason: String, author: String, expiresIn: Double?) -> CommandResponse {
        command(.pause(reason: reason, author: author, expiresIn: expiresIn), otherwise: "paused by \(author)")
    }

    public func resume(author: String) -> CommandResponse {
        command(.resume(author: author), otherwise: "resumed by \(author)")
    }

    public func killSwitch(on: Bool, author: String) -> CommandResponse {
        if on {
            // Every open order off the book at once, not at the next cycle.
            perform(core.handle(.cancelAll(reason: "kill switch by \(author)"), at: clock()), now: clock())
        }
        return command(.operatorSwitch(.killSwitch, on: on, author: author, what: "kill switch"), otherwise: "kill switch")
    }

    public func reduceOnly(on: Bool, author: String) -> CommandResponse {
        command(.operatorSwitch(.reduceOnly, on: on, author: author, what: "reduce-only"), otherwise: "reduce-only")
    }

    /// Clears a drawdown halt and starts measuring drawdown from the current equity.
    public func haltReset(author: String) -> CommandResponse {
        command(.haltReset(author: author), otherwise: "halt reset by \(author)")
    }

    /// Sells every position (in one market, or all) at the book, whatever the trading state.
    public func flatten(marketID: String?, author: String) -> CommandResponse {
        command(.flatten(marketID: marketID, author: author, observations), otherwise: "flatten done")
    }
}

extension TradingEngine {
    /// An alert from outside the cycle (start-up facts such as a fresh journal).
    public func note(key: String, message: String) {
        emit(key: key, kind: .startup, severity: .warning, message: message)
    }
}
