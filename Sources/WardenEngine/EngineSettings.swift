// The engine's section of warden.yaml (`engine:`): its keys with their defaults, bounds and comments, declared once
// here in the module that reads them, and read strictly by WardenKit's ConfigLoader once registered.
import Foundation
public import WardenCore
import WardenPolymarket
public import WardenKit
import WardenStrategies

public struct EngineSettings: Sendable, Equatable {
    public enum Source: String, Sendable, CaseIterable { case live, replay }
    public var source: Source = .live
    public var gammaURL = "https://gamma-api.polymarket.com"
    public var clobURL = "https://clob.polymarket.com"
    /// Recorded books (JSON lines) for `source: replay`.
    public var replayFile: String?
    /// Recorded seconds played per real second.
    public var replaySpeed = 1.0
    public var cycle: Duration = .seconds(2)
    public var bookRefresh: Duration = .seconds(5)
    public var discoveryInterval: Duration = .seconds(600)
    public var staleMarketAfter: Duration = .seconds(60)
    public var staleDataAfter: Duration = .seconds(30)
    public var requestTimeout: Duration = .seconds(10)
    public var connectTimeout: Duration = .seconds(3)
    public var liquidityMin: Double?
    public var volumeMin: Double?
    public var endWithinHours: Double?
    /// Gamma tag ids (`tag_id`, repeatable): only markets carrying one of them.
    public var tagIDs: [String] = []
    /// `engine.fee_rates`: taker rates per fee category over the published ones (`crypto: 0.072`, …).
    public var feeRates: [String: Double] = [:]
    public var maxMarkets = 200
    public var healthErrorRate = 0.2
    public var healthRateLimitUsage = 0.9
    public var healthCooldown: Duration = .seconds(300)
    public var bankroll = 1000.0
    public var slippage = 0.02
    public var maxDrawdown = 0.2
    public var dailyLoss = 100.0
    public var maxExposurePerMarket = 200.0
    public var maxTotalExposure = 800.0
    public var maxOpenPositions = 20
    public var lossStreak = 3
    public var lossStreakCooldown: Duration = .seconds(3600)
    public var strategyErrorsMax = 5
    public var strategyErrorsWindow: Duration = .seconds(600)
    public var backupInterval: Duration = .seconds(3600)
    public var backupsKeep = 5
    public var equityInterval: Duration = .seconds(60)
    public var preflightBlocks = true
    public var minFreePercent = 5.0
    public var minFDs = 1024
    public var maxClockSkew: Duration = .seconds(5)
    /// `engine.ws`: the CLOB market WebSocket between REST snapshots.
    public var ws = WebSocketSettings()
    /// `engine.live`: strategies trading on Polymarket's CLOB with real money (none by default).
    public var live = LiveSettings()
    public init() {}

    /// The user channel: Polymarket's when the trading endpoint is Polymarket's, else the same host's `/ws/user`.
    public var userChannelURL: String {
        if let u = live.userWS { return u }
        let clob = live.clobURL ?? clobURL
        if clob == EngineSettings().clobURL { return "wss://ws-subscriptions-clob.polymarket.com/ws/user" }
        var base = clob.hasSuffix("/") ? String(clob.dropLast()) : clob
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst("https://".count) }
        else if base.hasPrefix("http://") { base = "ws://" + base.dropFirst("http://".count) }
        return base + "/ws/user"
    }

    /// Polymarket's market channel when the CLOB is Polymarket's; otherwise (a proxy, the loopback fake) the same
    /// host's `/ws/market`, so a test never mixes a fake CLOB with the real feed.
    public var wsURL: String {
        if let u = ws.url { return u }
        if clobURL == EngineSettings().clobURL { return "wss://ws-subscriptions-clob.polymarket.com/ws/market" }
        var base = clobURL.hasSuffix("/") ? String(clobURL.dropLast()) : clobURL
        if base.hasPrefix("https://") { base = "wss://" + base.dropFirst("https://".count) }
        else if base.hasPrefix("http://") { base = "ws://" + base.dropFirst("http://".count) }
        return base + "/ws/market"
    }
}

/// `engine.live:` keys. Secrets are named, never written here: the private key and the API credentials are read from
/// systemd credentials or `WARDEN_SECRET_<NAME>` (WardenKit's Credentials).
public struct LiveSettings: Sendable, Equatable {
    /// Strategies whose orders go to the live venue; every other one trades on paper.
    public var strategies: [String] = []
    /// Shadow mode: strategies that trade on paper while each order they would send live is built and signed with the
    /// configured key and journaled (nothing is sent), so signatures and sizes can be checked before going live.
    public var shadow: [String] = []
    /// The CLOB trading endpoint (nil: `engine.clob_url`).
    public var clobURL: String?
    /// The user channel (nil: derived from the trading endpoint; see `userChannelURL`).
    public var userWS: String?
    public var keyCredential = "polymarket_private_key"
    /// JSON `{"apiKey","secret","passphrase"}`; when absent the credentials are derived from the key (L1) at start.
    public var apiCredential = "polymarket_api"
    /// 0 EOA, 1 proxy, 2 Gnosis safe.
    public var signatureType = 0
    /// The address holding the funds (required for signature types 1 and 2; for 0 it must be the key's own).
    public var funder: String?
    /// Caps in dollars of notional (price × shares) for entries; refused before signing when exceeded.
    public var maxOrder = 10.0
    public var maxMarket = 50.0
    public var maxDay = 100.0
    public var heartbeat: Duration = .seconds(5)
    public var reconcile: Duration = .seconds(30)
    public init() {}
}

/// `engine.ws:` keys (seed 004's reconnect knobs included).
public struct WebSocketSettings: Sendable, Equatable {
    public var enabled = true
    /// nil: derived from `clob_url` (see `EngineSettings.wsURL`).
    public var url: String?
    /// Assets per connection (the server sends no snapshots past 500).
    public var assetsPerConnection = 500
    public var pingInterval: Duration = .seconds(10)
    /// An open connection that delivers nothing this long while REST shows its books moving is frozen.
    public var silentAfter: Duration = .seconds(30)
    public var customFeatures = true
    public var reconnectBase: Duration = .seconds(1)
    public var reconnectMultiplier = 2.0
    public var reconnectCap: Duration = .seconds(60)
    /// ± this fraction of each delay, at random.
    public var reconnectJitter = 0.2
    /// Failed attempts in a row before the global pause (attempts go on at the cap).
    public var reconnectMaxAttempts = 10
    /// A connection up this long resets the attempt count.
    public var stableAfter: Duration = .seconds(60)
    public init() {}
}

extension EngineSettings: ConfigSection {
    public static let configPath = "engine"
    public static var defaults: EngineSettings { EngineSettings() }
    public static let configKeys: [KeyDeclaration<EngineSettings>] = [
        .oneOf("source", \.source, "live (Polymarket's APIs) or replay (a recording); never switched automatically"),
        .string("gamma_url", \.gammaURL, "Polymarket Gamma (market discovery)", check: ConfigValue.httpURL),
        .string("clob_url", \.clobURL, "Polymarket CLOB (order books)", check: ConfigValue.httpURL),
        .optionalString("replay_file", \.replayFile, "The recording played by source: replay, relative to the root"),
        .double("replay_speed", \.replaySpeed, in: 0.01...10_000, "Recorded seconds played per real second"),
        .duration("cycle", \.cycle, in: .milliseconds(50)...(.seconds(600)), "One engine cycle (data, risk, strategies, fills)"),
        .duration("book_refresh", \.bookRefresh, in: .milliseconds(100)...(.seconds(3600)), "How often order books are refreshed through POST /books"),
        .duration("discovery_interval", \.discoveryInterval, in: .seconds(1)...(.seconds(86400)), "How often the market list is re-read"),
        .duration("stale_market_after", \.staleMarketAfter, in: .milliseconds(100)...(.seconds(86400)), "A book unchanged this long pauses its market's entries"),
        .duration("stale_data_after", \.staleDataAfter, in: .milliseconds(100)...(.seconds(86400)), "No successful refresh this long pauses entries everywhere"),
        .duration("request_timeout", \.requestTimeout, in: .milliseconds(100)...(.seconds(300)), "Total timeout of every API call"),
        .duration("connect_timeout", \.connectTimeout, in: .milliseconds(100)...(.seconds(60)), "Connect timeout of every API call"),
        .custom("fee_rates.<category>", type: "number 0…0.5", "Taker fee rate of a fee category, over Polymarket's published ones",
                read: { _, _, _ in }, render: { _ in nil }),
        .bool("ws.enabled", \.ws.enabled, "The CLOB market WebSocket between REST snapshots (false: REST only)"),
        .custom("ws.url", type: "ws(s) URL (default: from clob_url)", "The market channel's URL",
                read: { s, r, p in
                    guard let url = r.string(p) else { return }
                    if (url.hasPrefix("ws://") || url.hasPrefix("wss://")), URLComponents(string: url)?.host?.isEmpty == false { s.ws.url = url }
                    else { r.fail(p, "`\(url)` is not a ws(s) URL with a host") }
                }, render: { $0.ws.url.map(ConfigValue.quoted) }),
        .int("ws.assets_per_connection", \.ws.assetsPerConnection, in: 1...500, "Assets per connection (no snapshots past 500)"),
        .duration("ws.ping_interval", \.ws.pingInterval, in: .seconds(1)...(.seconds(60)), "The text PING on each connection"),
        .duration("ws.silent_after", \.ws.silentAfter, in: .seconds(1)...(.seconds(3600)), "Silent this long while REST shows movement: frozen, reconnected"),
        .bool("ws.custom_features", \.ws.customFeatures, "Ask for market_resolved events"),
        .duration("ws.reconnect.base", \.ws.reconnectBase, in: .milliseconds(10)...(.seconds(600)), "First reconnect delay"),
        .double("ws.reconnect.multiplier", \.ws.reconnectMultiplier, in: 1...10, "Growth of the delay per attempt"),
        .duration("ws.reconnect.cap", \.ws.reconnectCap, in: .milliseconds(10)...(.seconds(3600)), "Longest delay"),
        .double("ws.reconnect.jitter", \.ws.reconnectJitter, in: 0...0.9, "± this fraction of each delay"),
        .int("ws.reconnect.max_attempts", \.ws.reconnectMaxAttempts, in: 1...1_000_000, "Failures in a row before entries pause globally"),
        .duration("ws.reconnect.stable_after", \.ws.stableAfter, in: .seconds(1)...(.seconds(86400)), "Up this long resets the attempt count"),
        .custom("live.strategies", type: "list of strategy names", "Strategies that trade live on Polymarket's CLOB (real money); the others trade on paper",
                read: { s, r, p in r.stringArray(p).map { s.live.strategies = $0 } },
                render: { "[" + $0.live.strategies.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }),
        .custom("live.shadow", type: "list of strategy names", "Strategies that trade on paper while every order they would send live is signed and journaled, never sent",
                read: { s, r, p in r.stringArray(p).map { s.live.shadow = $0 } },
                render: { "[" + $0.live.shadow.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }),
        .custom("live.clob_url", type: "http(s) URL (default: clob_url)", "The CLOB trading endpoint",
                read: { s, r, p in
                    guard let url = r.string(p) else { return }
                    if let problem = ConfigValue.httpURL(url) { r.fail(p, problem) } else { s.live.clobURL = url }
                }, render: { $0.live.clobURL.map(ConfigValue.quoted) }),
        .custom("live.user_ws_url", type: "ws(s) URL (default: from live.clob_url)", "The user channel (order and trade events of the account)",
                read: { s, r, p in
                    guard let url = r.string(p) else { return }
                    if (url.hasPrefix("ws://") || url.hasPrefix("wss://")), URLComponents(string: url)?.host?.isEmpty == false { s.live.userWS = url }
                    else { r.fail(p, "`\(url)` is not a ws(s) URL with a host") }
                }, render: { $0.live.userWS.map(ConfigValue.quoted) }),
        .string("live.key_credential", \.live.keyCredential, "Credential name of the hex private key that signs orders (never the key itself)"),
        .string("live.api_credential", \.live.apiCredential, "Credential name of the API credentials JSON (derived from the key when absent)"),
        .int("live.signature_type", \.live.signatureType, in: 0...2, "0 EOA, 1 proxy, 2 Gnosis safe"),
        .optionalString("live.funder", \.live.funder, "Address holding the funds (signature types 1 and 2)"),
        .double("live.max_order", \.live.maxOrder, in: 0...1e9, "Largest entry order, dollars of notional (0: no cap)"),
        .double("live.max_market", \.live.maxMarket, in: 0...1e9, "Most held plus open in one market, dollars (0: no cap)"),
        .double("live.max_day", \.live.maxDay, in: 0...1e9, "Most entry notional sent per UTC day, dollars (0: no cap)"),
        .duration("live.heartbeat", \.live.heartbeat, in: .seconds(1)...(.seconds(30)), "Heartbeat to the venue (its cancel-on-disconnect)"),
        .duration("live.reconcile", \.live.reconcile, in: .seconds(1)...(.seconds(3600)), "Orders and trades read back and compared with the journal"),
        .optionalDouble("filters.liquidity_min", \.liquidityMin, in: 0...1e12, "Only markets with at least this liquidity"),
        .optionalDouble("filters.volume_min", \.volumeMin, in: 0...1e12, "Only markets with at least this volume"),
        .optionalDouble("filters.end_within_hours", \.endWithinHours, in: 0.01...87600, "Only markets ending within this many hours"),
        .custom("filters.tag_ids", type: "list of numeric strings", "Only markets with one of these Gamma tag ids",
                read: { s, r, p in
                    r.stringArray(p).map { ids in
                        for id in ids where Int(id) == nil { r.fail(p, "`\(id)` is not a numeric Gamma tag id") }
                        s.tagIDs = ids
                    }
                }, render: { "[" + $0.tagIDs.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }),
        .int("filters.max_markets", \.maxMarkets, in: 1...100_000, "At most this many markets are tracked"),
        .double("health.error_rate", \.healthErrorRate, in: 0.01...1, "API error rate (last 30 s) that pauses entries"),
        .double("health.rate_limit_usage", \.healthRateLimitUsage, in: 0.1...1, "Rate-limit usage that pauses entries"),
        .duration("health.cooldown", \.healthCooldown, in: .seconds(1)...(.seconds(86400)), "How long the health pause lasts"),
        .double("paper.bankroll", \.bankroll, in: 1...1e9, "Starting cash of each strategy's paper sub-account (dollars)"),
        .double("paper.slippage", \.slippage, in: 0...0.5, "Worst price accepted beyond the best level, per share"),
        .double("risk.max_drawdown", \.maxDrawdown, in: 0.01...1, "Drawdown from peak equity that HALTs trading"),
        .double("risk.daily_loss", \.dailyLoss, in: 0...1e9, "Loss since the start of the UTC day that stops entries"),
        .double("risk.max_exposure_per_market", \.maxExposurePerMarket, in: 0...1e9, "Cost of open positions allowed per market"),
        .double("risk.max_total_exposure", \.maxTotalExposure, in: 0...1e9, "Cost of open positions allowed in all"),
        .int("risk.max_open_positions", \.maxOpenPositions, in: 1...100_000, "Open positions allowed"),
        .int("risk.loss_streak", \.lossStreak, in: 1...1000, "Losses in a row that stop a strategy's entries for the cooldown"),
        .duration("risk.loss_streak_cooldown", \.lossStreakCooldown, in: .zero...(.seconds(86400 * 7)), "That cooldown"),
        .int("strategy_errors.max", \.strategyErrorsMax, in: 1...10_000, "Errors within the window that disable a strategy"),
        .duration("strategy_errors.window", \.strategyErrorsWindow, in: .seconds(1)...(.seconds(86400)), "That window"),
        .duration("backup_interval", \.backupInterval, in: .seconds(1)...(.seconds(86400 * 7)), "Online backups of engine.db"),
        .int("backups_keep", \.backupsKeep, in: 1...1000, "Newest backups kept"),
        .duration("equity_interval", \.equityInterval, in: .seconds(1)...(.seconds(86400)), "How often each strategy's equity is recorded"),
        .bool("preflight.block", \.preflightBlocks, "A preflight failure blocks the start (false: warns only)"),
        .double("preflight.min_free_percent", \.minFreePercent, in: 0...100, "Free space of the state directory required"),
        .int("preflight.min_fds", \.minFDs, in: 16...1_048_576, "Open-file limit required"),
        .duration("preflight.max_clock_skew", \.maxClockSkew, in: .milliseconds(100)...(.seconds(3600)), "Clock skew against the APIs allowed"),
    ]

    /// `fee_rates`: category → taker rate, for fee-enabled markets that give only their `feeType` (categories are
    /// Polymarket's, so any name is taken; the published rates are the defaults).
    public static func readMore(into s: inout EngineSettings, node: ConfigNode, _ r: StrictReader) {
        for category in node.keys("fee_rates") ?? [] {
            r.double("fee_rates.\(category)", in: 0...0.5).map { s.feeRates[category.lowercased()] = $0 }
        }
    }

    public static func crossCheck(_ e: EngineSettings) -> [(key: String, reason: String)] {
        var out: [(String, String)] = []
        if e.source == .replay && e.replayFile == nil { out.append(("replay_file", "required when source is replay")) }
        if e.ws.reconnectBase > e.ws.reconnectCap { out.append(("ws.reconnect.base", "must not exceed reconnect.cap (\(e.ws.reconnectCap))")) }
        return out
    }

    public static func renderMore(_ e: EngineSettings) -> [(String, String)] {
        e.feeRates.sorted { $0.key < $1.key }.map { ("engine.fee_rates.\($0.key)", ConfigValue.number($0.value)) }
    }
}

extension WardenConfiguration {
    /// The `engine:` section (its defaults in a process that did not register it).
    public var engine: EngineSettings {
        get { sections.get(EngineSettings.self) }
        set { sections.set(newValue) }
    }
}

extension EngineSettings {
    /// The sections the engine reads: its own and every strategy's (`engine.strategies.<name>`).
    public static var configSections: [SectionRegistration] { [.of(EngineSettings.self)] + StrategyRegistry.sections }
}

/// The engine's money settings in micro-units, built from the section with an error naming the key when one is not
/// a usable amount (never a silent default, never a crash).
public struct TradingLimits: Sendable, Equatable {
    public var risk: RiskLimits
    /// Starting cash of each strategy's paper sub-account.
    public var bankroll: Micros
    /// Worst price accepted beyond the best level, per share.
    public var slippage: Micros

    public init(_ e: EngineSettings) throws {
        func amount(_ value: Double, _ key: String) throws -> Micros {
            guard let m = Fixed.from(value), m >= 0 else {
                throw ConfigurationError(file: "(engine settings)", issues: [ConfigIssue(keyPath: "engine." + key, reason: "\(value) is not a usable amount")])
            }
            return m
        }
        var r = RiskLimits()
        r.maxDrawdownFraction = e.maxDrawdown
        r.dailyLossLimit = try amount(e.dailyLoss, "risk.daily_loss")
        r.maxExposurePerMarket = try amount(e.maxExposurePerMarket, "risk.max_exposure_per_market")
        r.maxTotalExposure = try amount(e.maxTotalExposure, "risk.max_total_exposure")
        r.maxOpenPositions = e.maxOpenPositions
        r.lossStreak = e.lossStreak
        r.lossStreakCooldown = e.lossStreakCooldown.seconds
        risk = r
        bankroll = try amount(e.bankroll, "paper.bankroll")
        guard bankroll > 0 else {
            throw ConfigurationError(file: "(engine settings)", issues: [ConfigIssue(keyPath: "engine.paper.bankroll", reason: "must be above 0")])
        }
        slippage = try amount(e.slippage, "paper.slippage")
    }
}
