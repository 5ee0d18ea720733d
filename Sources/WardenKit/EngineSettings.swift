// The engine's section of warden.yaml (`engine:`), with defaults; read strictly by ConfigLoader.

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
    public init() {}

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
