// Messages of engine.sock: snapshot, streams (state, activity, trades, alerts), history, commands.

import Foundation

public enum EngineTopic {
    public static let state = "state"
    public static let activity = "activity"
    public static let trades = "trades"
    public static let alerts = "alerts"
}

public struct ReasonInfo: Codable, Sendable, Equatable {
    public var code: String
    public var source: String
    public var effect: String
    public var since: String
    public var expires_at: String?
    public var message: String
    public var author: String?
    public var market_id: String?
    public init(code: String, source: String, effect: String, since: String, expires_at: String?, message: String, author: String?, market_id: String?) {
        self.code = code; self.source = source; self.effect = effect; self.since = since; self.expires_at = expires_at
        self.message = message; self.author = author; self.market_id = market_id
    }
}

public struct DataInfo: Codable, Sendable, Equatable {
    public var source: String
    /// fresh | stale | down
    public var status: String
    public var last_refresh_at: String?
    public var age_s: Double?
    public var markets: Int
    public var stale_markets: Int
    /// Distinct (item, reason) rejections since start, each counted once while it persists.
    public var rejected_items_total: Int
    /// Items rejected by the latest discovery and book refresh.
    public var rejected_now: Int?
    /// Every distinct reason of what is rejected now, with how many items and one example.
    public var rejections: [RejectionSummary]?
    /// Open markets without a book for one of their outcomes at the last refresh ("no book"), and their ids
    /// (at most 100).
    public var no_book_markets: Int?
    public var no_book: [String]?
    /// The market WebSocket (absent: REST only).
    public var feed: FeedInfo?
    public init(source: String, status: String, last_refresh_at: String?, age_s: Double?, markets: Int, stale_markets: Int,
                rejected_items_total: Int, rejected_now: Int? = nil, rejections: [RejectionSummary]? = nil) {
        self.source = source; self.status = status; self.last_refresh_at = last_refresh_at; self.age_s = age_s
        self.markets = markets; self.stale_markets = stale_markets; self.rejected_items_total = rejected_items_total
        self.rejected_now = rejected_now; self.rejections = rejections
    }
}

/// The market WebSocket: its connections, data age and what went wrong with it.
public struct FeedInfo: Codable, Sendable, Equatable {
    public var url: String
    public var connections: Int
    public var connected: Int
    public var assets: Int
    /// Age of the oldest connection's last data (nil: no data yet).
    public var data_age_s: Double?
    public var reconnects_total: Int
    /// Connections found open and silent while their markets moved, and closed.
    public var frozen_total: Int
    /// Books whose deltas disagreed with the next snapshot of the same version.
    public var drift_total: Int
    public var deltas_total: Int
    public var books_total: Int
    /// Deltas dropped because their book had not been snapshotted since its connection came up.
    public var dropped_untrusted_total: Int
    /// Tokens waiting for that snapshot now.
    public var awaiting_snapshot: Int
    public var last_drift: String?
    public var shards: [FeedShardInfo]?
    public init(url: String, connections: Int, connected: Int, assets: Int, reconnects_total: Int, frozen_total: Int, drift_total: Int,
                deltas_total: Int, books_total: Int, dropped_untrusted_total: Int, awaiting_snapshot: Int) {
        self.url = url; self.connections = connections; self.connected = connected; self.assets = assets
        self.reconnects_total = reconnects_total; self.frozen_total = frozen_total; self.drift_total = drift_total
        self.deltas_total = deltas_total; self.books_total = books_total; self.dropped_untrusted_total = dropped_untrusted_total
        self.awaiting_snapshot = awaiting_snapshot
    }
}

public struct FeedShardInfo: Codable, Sendable, Equatable {
    public var id: Int
    /// connecting | connected | waiting | down (past max attempts) | stopped
    public var state: String
    public var assets: Int
    public var data_age_s: Double?
    public var connected_for_s: Double?
    public var reconnects: Int
    public var attempts: Int
    public var last_error: String?
    public init(id: Int, state: String, assets: Int, data_age_s: Double?, connected_for_s: Double?, reconnects: Int, attempts: Int, last_error: String?) {
        self.id = id; self.state = state; self.assets = assets; self.data_age_s = data_age_s; self.connected_for_s = connected_for_s
        self.reconnects = reconnects; self.attempts = attempts; self.last_error = last_error
    }
}

/// `markets` on engine.sock (`wardenctl markets`): every market followed, with the age of its data.
/// `engine.orders`: every open order — paper ones resting on the simulated book, live ones with their venue state
/// (unknown ones first) — and the live venue's health.
public struct OrdersResponse: Codable, Sendable, Equatable {
    public var venue: VenueInfo?
    public var paper: [LiveOrderInfo]
    public var at: String
    /// Shadow mode, when strategies are in it.
    public var shadow: ShadowInfo?
    /// Live trades booked and not yet CONFIRMED on chain (MATCHED, MINED, RETRYING), oldest first: a matched trade
    /// can still fail at settlement, and is then voided.
    public var settling: [SettlingTradeInfo]?
    /// What of the journal could not be read for this answer (the settling trades, the shadow orders): said, never
    /// shown as empty.
    public var read_error: String?
    public init(venue: VenueInfo?, paper: [LiveOrderInfo], at: String) { self.venue = venue; self.paper = paper; self.at = at }
}

/// A live trade booked as a fill whose settlement the venue has not confirmed yet.
public struct SettlingTradeInfo: Codable, Sendable, Equatable {
    public var trade_id: String
    public var intent_id: String
    public var strategy: String
    public var side: String
    public var shares: Double
    public var price: Double
    /// MATCHED, MINED or RETRYING, as the venue said last.
    public var status: String
    public var booked_at: String
    public init(trade_id: String, intent_id: String, strategy: String, side: String, shares: Double, price: Double, status: String, booked_at: String) {
        self.trade_id = trade_id; self.intent_id = intent_id; self.strategy = strategy; self.side = side; self.shares = shares; self.price = price
        self.status = status; self.booked_at = booked_at
    }
}

/// Shadow mode: paper strategies whose orders are also signed for the live venue and journaled, never sent.
public struct ShadowInfo: Codable, Sendable, Equatable {
    public var strategies: [String]
    /// Orders signed since the engine started.
    public var signed_total: Int
    /// The newest signed orders, newest first.
    public var newest: [ShadowOrderInfo]
    public init(strategies: [String], signed_total: Int, newest: [ShadowOrderInfo]) { self.strategies = strategies; self.signed_total = signed_total; self.newest = newest }
}

public struct ShadowOrderInfo: Codable, Sendable, Equatable {
    public var intent_id: String
    public var order_id: String
    /// The JSON body of POST /order it would have been (the API key left as `<api key>`).
    public var body: String
    public var at: String
    public init(intent_id: String, order_id: String, body: String, at: String) { self.intent_id = intent_id; self.order_id = order_id; self.body = body; self.at = at }
}

public struct MarketsResponse: Codable, Sendable, Equatable {
    public var markets: [MarketRow]
    public var total: Int
    public var at: String
    public init(markets: [MarketRow], total: Int, at: String) { self.markets = markets; self.total = total; self.at = at }
}

public struct MarketRow: Codable, Sendable, Equatable {
    public var id: String
    public var question: String
    /// ok | no book | stale | awaiting snapshot | closed | not accepting orders
    public var state: String
    /// Age of the oldest outcome book, by our observation time.
    public var book_age_s: Double?
    /// How long the oldest outcome book's content has not changed (by its hash).
    public var unchanged_s: Double?
    /// Where its books come from: `ws+rest` (WebSocket connection id) or `rest`.
    public var feed: String
    public var drift: Int
    public var held: Bool
    public init(id: String, question: String, state: String, book_age_s: Double?, unchanged_s: Double?, feed: String, drift: Int, held: Bool) {
        self.id = id; self.question = question; self.state = state; self.book_age_s = book_age_s; self.unchanged_s = unchanged_s
        self.feed = feed; self.drift = drift; self.held = held
    }
}

/// One reason market data is being rejected: how many items, and one of them.
public struct RejectionSummary: Codable, Sendable, Equatable {
    public var reason: String
    public var count: Int
    public var example: String
    public init(reason: String, count: Int, example: String) { self.reason = reason; self.count = count; self.example = example }
}

public struct AccountInfo: Codable, Sendable, Equatable {
    public var strategy: String
    public var bankroll: Double
    public var cash: Double
    public var equity: Double
    public var realized_pnl: Double
    public var fees: Double
    public var open_positions: Int
    public var fills: Int
    public var win_rate: Double?
    public var max_drawdown: Double
    public var return_pct: Double
    public var enabled: Bool
    public var disabled_reason: String?
    /// Orders of this strategy resting on the venue's book now.
    public var open_orders: Int?
    public init(strategy: String, bankroll: Double, cash: Double, equity: Double, realized_pnl: Double, fees: Double, open_positions: Int,
                fills: Int, win_rate: Double?, max_drawdown: Double, return_pct: Double, enabled: Bool, disabled_reason: String?,
                open_orders: Int? = nil) {
        self.open_orders = open_orders
        self.strategy = strategy; self.bankroll = bankroll; self.cash = cash; self.equity = equity; self.realized_pnl = realized_pnl
        self.fees = fees; self.open_positions = open_positions; self.fills = fills; self.win_rate = win_rate
        self.max_drawdown = max_drawdown; self.return_pct = return_pct; self.enabled = enabled; self.disabled_reason = disabled_reason
    }
}

/// One market-data host as the API health guard sees it.
public struct HostInfo: Codable, Sendable, Equatable {
    public var host: String
    public var requests: Int
    public var failures: Int
    public var rate_limited: Int
    public var error_rate: Double
    public var rate_limit_usage: Double
    public var circuit: String
    public var latency_p50_ms: Double
    public var latency_p99_ms: Double
    public var last_error: String?
    public init(host: String, requests: Int, failures: Int, rate_limited: Int, error_rate: Double, rate_limit_usage: Double,
                circuit: String, latency_p50_ms: Double, latency_p99_ms: Double, last_error: String?) {
        self.host = host; self.requests = requests; self.failures = failures; self.rate_limited = rate_limited
        self.error_rate = error_rate; self.rate_limit_usage = rate_limit_usage; self.circuit = circuit
        self.latency_p50_ms = latency_p50_ms; self.latency_p99_ms = latency_p99_ms; self.last_error = last_error
    }
}

/// Cumulative histogram of engine cycle durations: `counts[i]` cycles took at most `bounds_s[i]` seconds.
public struct CycleHistogram: Codable, Sendable, Equatable {
    public static let bounds: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    public var bounds_s: [Double] = CycleHistogram.bounds
    public var counts: [Int] = Array(repeating: 0, count: CycleHistogram.bounds.count)
    public var count = 0
    public var sum_s = 0.0
    public init() {}
    public mutating func record(_ seconds: Double) {
        for i in bounds_s.indices where seconds <= bounds_s[i] { counts[i] += 1 }
        count += 1
        sum_s += seconds
    }
}

public struct EquityRequest: Codable, Sendable {
    public var limit: Int
    public init(limit: Int) { self.limit = limit }
}

public struct EquityPoint: Codable, Sendable, Equatable {
    public var at: Double
    public var equity: Double
    public init(at: Double, equity: Double) { self.at = at; self.equity = equity }
}

/// Per strategy, its recorded equity, oldest first.
public struct EquityResponse: Codable, Sendable {
    public var series: [String: [EquityPoint]]
    public init(series: [String: [EquityPoint]]) { self.series = series }
}

public struct EngineSnapshot: Codable, Sendable {
    /// Market-data hosts (absent for a replay).
    public var hosts: [HostInfo]?
    public var cycle_histogram: CycleHistogram?
    public var trading_state: String
    public var reasons: [ReasonInfo]
    public var data: DataInfo
    public var accounts: [AccountInfo]
    public var fills_total: Int
    public var storage: String
    public var cycles: Int
    public var last_cycle_ms: Double
    public var at: String
    /// The live venue (absent when every strategy trades on paper).
    public var venue: VenueInfo?
    public init(trading_state: String, reasons: [ReasonInfo], data: DataInfo, accounts: [AccountInfo], fills_total: Int,
                storage: String, cycles: Int, last_cycle_ms: Double, at: String) {
        self.trading_state = trading_state; self.reasons = reasons; self.data = data; self.accounts = accounts
        self.fills_total = fills_total; self.storage = storage; self.cycles = cycles; self.last_cycle_ms = last_cycle_ms; self.at = at
    }
}

/// The live venue's state: whether new orders may go, the heartbeat's and reconciliation's ages, its orders.
public struct VenueInfo: Codable, Sendable, Equatable {
    public var name: String
    /// "healthy", or "unhealthy" with `problem` (no new live orders).
    public var status: String
    public var problem: String?
    public var strategies: [String]
    public var heartbeat_age_s: Double?
    public var reconciled_age_s: Double?
    public var reconcile_error: String?
    public var unknown_orders: Int
    public var open_orders: Int
    /// Open orders on the wallet that are not Warden's (reported, never adopted).
    public var foreign_orders: Int
    public var rate_limit_remaining: Int?
    /// Entries refused before signing by a cap, since the start.
    public var caps_refused_total: Int?
    /// Live fills voided because their trade FAILED at settlement, since the start.
    public var fills_voided_total: Int?
    /// Live trades booked and not yet confirmed on chain; of them, RETRYING (settlement in trouble).
    public var trades_settling: Int?
    public var trades_retrying: Int?
    /// Per-IP calls left per endpoint class (post_order, cancel_order, balance_allowance, api_key, general), counted
    /// on our side against the venue's published limits.
    public var ip_budget_remaining: [String: Int]?
    /// The user channel: "connected" or "down: why"; nil when there is none.
    public var user_channel: String?
    public var user_channel_age_s: Double?
    public var orders: [LiveOrderInfo]
    public init(name: String, status: String, problem: String?, strategies: [String], heartbeat_age_s: Double?, reconciled_age_s: Double?,
                reconcile_error: String?, unknown_orders: Int, open_orders: Int, foreign_orders: Int, rate_limit_remaining: Int?, orders: [LiveOrderInfo]) {
        self.name = name; self.status = status; self.problem = problem; self.strategies = strategies; self.heartbeat_age_s = heartbeat_age_s
        self.reconciled_age_s = reconciled_age_s; self.reconcile_error = reconcile_error; self.unknown_orders = unknown_orders
        self.open_orders = open_orders; self.foreign_orders = foreign_orders; self.rate_limit_remaining = rate_limit_remaining; self.orders = orders
    }
}

/// One open (or unknown) live order.
public struct LiveOrderInfo: Codable, Sendable, Equatable {
    public var intent_id: String
    public var order_id: String?
    public var strategy: String
    public var market_id: String
    public var token_id: String
    public var side: String
    public var price: Double
    public var shares: Double
    public var filled: Double
    /// pending, live or unknown.
    public var state: String
    public var since: String
    public var note: String
    /// The order's kind as sent: IOC/FAK, FOK, GTC or GTD (with its expiry), post-only.
    public var kind: String?
    public init(intent_id: String, order_id: String?, strategy: String, market_id: String, token_id: String, side: String, price: Double,
                shares: Double, filled: Double, state: String, since: String, note: String) {
        self.intent_id = intent_id; self.order_id = order_id; self.strategy = strategy; self.market_id = market_id; self.token_id = token_id
        self.side = side; self.price = price; self.shares = shares; self.filled = filled; self.state = state; self.since = since; self.note = note
    }
}

/// An alert or activity item. `key` is stable per condition so a notifier can coalesce and pair recoveries.
public struct EngineEvent: Codable, Sendable, Equatable {
    public var key: String
    public var kind: String
    public var severity: String
    public var message: String
    public var at: String
    /// For a recovery: how long the condition lasted.
    public var duration_s: Double?
    public init(key: String, kind: String, severity: String, message: String, at: String, duration_s: Double? = nil) {
        self.key = key; self.kind = kind; self.severity = severity; self.message = message; self.at = at; self.duration_s = duration_s
    }
}

public struct PositionInfo: Codable, Sendable, Equatable {
    public var strategy: String
    public var market_id: String
    public var token_id: String
    public var shares: Double
    public var average_price: Double
    public var cost: Double
    public var mark: Double?
    public init(strategy: String, market_id: String, token_id: String, shares: Double, average_price: Double, cost: Double, mark: Double?) {
        self.strategy = strategy; self.market_id = market_id; self.token_id = token_id; self.shares = shares
        self.average_price = average_price; self.cost = cost; self.mark = mark
    }
}

public struct PositionsResponse: Codable, Sendable { public var positions: [PositionInfo]; public init(positions: [PositionInfo]) { self.positions = positions } }

public struct TradeInfo: Codable, Sendable, Equatable {
    public var id: Int64
    public var intent_id: String
    public var strategy: String
    public var market_id: String
    public var token_id: String
    public var side: String
    public var shares: String
    public var price: String
    public var notional: String
    public var fee: String
    public var at: Double
    public init(id: Int64, intent_id: String, strategy: String, market_id: String, token_id: String, side: String, shares: String,
                price: String, notional: String, fee: String, at: Double) {
        self.id = id; self.intent_id = intent_id; self.strategy = strategy; self.market_id = market_id; self.token_id = token_id
        self.side = side; self.shares = shares; self.price = price; self.notional = notional; self.fee = fee; self.at = at
    }
}

extension TradeInfo {
    /// One CSV format for every export (wardenctl and the dashboard): header, then one row per fill.
    public static let csvHeader = "id,intent_id,strategy,market_id,token_id,side,shares,price,notional,fee,at\n"
    /// `at` is given as Unix seconds here; `time` renders it (both exports use ISO-8601 UTC).
    public func csvRow(time: (Double) -> String) -> String {
        [String(id), intent_id, strategy, market_id, token_id, side, shares, price, notional, fee, time(at)]
            .map(CSV.field).joined(separator: ",") + "\n"
    }
}

public struct TradesRequest: Codable, Sendable {
    public var limit: Int
    public var before_id: Int64?
    public init(limit: Int, before_id: Int64? = nil) { self.limit = limit; self.before_id = before_id }
}

public struct TradesResponse: Codable, Sendable {
    public var trades: [TradeInfo]
    public var total: Int
    public init(trades: [TradeInfo], total: Int) { self.trades = trades; self.total = total }
}

public struct PauseRequest: Codable, Sendable {
    public var reason: String
    public var author: String
    public var expires_in_s: Double?
    public init(reason: String, author: String, expires_in_s: Double? = nil) { self.reason = reason; self.author = author; self.expires_in_s = expires_in_s }
}

public struct SwitchRequest: Codable, Sendable {
    public var on: Bool
    public var author: String
    public init(on: Bool, author: String) { self.on = on; self.author = author }
}

public struct AuthorRequest: Codable, Sendable {
    public var author: String
    public init(author: String) { self.author = author }
}

public struct FlattenRequest: Codable, Sendable {
    public var market_id: String?
    public var author: String
    public init(market_id: String?, author: String) { self.market_id = market_id; self.author = author }
}

public struct CommandResponse: Codable, Sendable {
    public var trading_state: String
    public var message: String
    public init(trading_state: String, message: String) { self.trading_state = trading_state; self.message = message }
}

/// RFC 4180 fields for exports that end up in spreadsheets.
public enum CSV {
    /// A field quoted when it holds a comma, quote, CR or LF (quotes doubled); text a spreadsheet would run as a
    /// formula (starting with =, +, -, @, tab or CR) is prefixed with ' and quoted, so it is shown, not evaluated.
    /// Plain numbers ("-1.5") stay as they are.
    public static func field(_ s: String) -> String {
        var v = s
        if let first = v.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first), Double(v) == nil {
            v = "'" + v
        }
        let needsQuotes = v != s || v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" })
            || v.unicodeScalars.contains { $0 == "\n" || $0 == "\r" }
        guard needsQuotes else { return v }
        return "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
