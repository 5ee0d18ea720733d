// The engine's services, built from its configuration: the journal, the market data source (live or replay, chosen
// in configuration, never switched), the market WebSocket, the strategies, the trading engine, engine.sock and the
// cycle. `warden-engine run` is argument parsing around `ProgramMain.run`.
import Foundation
public import Logging
public import ServiceLifecycle
import WardenCore
import WardenHTTP
import WardenIPC
public import WardenKit
import WardenStrategies
import WardenPolymarket

public enum EngineApplication {
    /// The engine's section and each strategy's (`engine.strategies.<name>`).
    public static var configSections: [SectionRegistration] { EngineSettings.configSections }

    public static func build(config cfg: WardenConfiguration, paths: WardenPaths, logger: Logger) async throws -> [any Service] {
        let e = cfg.engine
        var journal: Journal?
        var journalProblem: String?
        let dbPath = paths.stateDir + "/engine.db"
        var freshJournal = false
        do {
            let (j, report) = try Journal.open(path: dbPath, backupsDir: paths.stateDir + "/backups")
            journal = j
            freshJournal = report.createdFresh
        } catch {
            // Not fatal: the engine runs, refuses to trade, and every surface says why.
            journalProblem = "\(error)"
            logger.critical("journal unusable; trading refused", metadata: ["error": "\(error)"])
        }
        let source: any MarketDataSource
        switch e.source {
        case .live:
            source = liveSource(e)
        case .replay:
            // Chosen in configuration only; a replay that cannot be read stops the start, it never falls back to live.
            let file = WardenPaths.absolute(e.replayFile ?? "", against: paths.root)
            do {
                let replay = try ReplayMarketData(path: file, speed: e.replaySpeed)
                for w in replay.warnings { logger.warning("\(w)") }
                source = replay
            } catch {
                throw StartFailure(code: 78, "\(error)")
            }
            logger.notice("market data source: replay of \(file) at \(e.replaySpeed)x")
        }
        let hooks: EngineTestHooks
        do { hooks = try EngineTestHooks.fromEnvironment() } catch { throw StartFailure(code: 78, "\(error)") }
        if !hooks.names.isEmpty { logger.warning("TEST HOOKS ACTIVE: \(hooks.names.joined(separator: ", ")) (from \(EngineTestHooks.variable))") }
        let publisher = EventPublisher(retainPerTopic: 5000)
        // `source: live` follows the CLOB market channel between REST snapshots unless `ws.enabled: false`.
        let stream = e.source == .live && e.ws.enabled ? MarketStream(settings: MarketStream.Settings(e), logger: logger) : nil
        if let stream { logger.notice("market WebSocket: \(stream.url), \(e.ws.assetsPerConnection) assets per connection") }
        let strategies: [any Strategy]
        do { strategies = try StrategyRegistry.build(cfg.sections) } catch {
            throw StartFailure(code: 78, "invalid strategy configuration: \(error)")
        }
        logger.notice("strategies: \(strategies.isEmpty ? "none enabled" : strategies.map(\.name).joined(separator: ", "))")
        let engine: TradingEngine
        do {
            engine = try TradingEngine(settings: e, journal: journal, journalProblem: journalProblem, source: source,
                                       publisher: publisher, stateDir: paths.stateDir, logger: logger, strategies: strategies,
                                       hooks: hooks, stream: stream)
        } catch {
            throw StartFailure(code: 78, "\(error)")
        }
        if !e.live.shadow.isEmpty {
            let names = Set(strategies.map(\.name))
            for s in e.live.shadow where !names.contains(s) {
                throw StartFailure(code: 78, "engine.live.shadow: `\(s)` is not an enabled strategy (enabled: \(names.sorted().joined(separator: ", ")))")
            }
            if let both = e.live.shadow.first(where: { e.live.strategies.contains($0) }) {
                throw StartFailure(code: 78, "engine.live.shadow: `\(both)` trades live already (engine.live.strategies); shadow mode is for paper strategies")
            }
            do { await engine.setShadow(try LiveSetup.signer(e), strategies: Set(e.live.shadow)) } catch {
                throw StartFailure(code: 78, "\(error)")
            }
            logger.notice("SHADOW MODE for \(e.live.shadow.joined(separator: ", ")): paper fills; every order is also signed for the live venue and journaled, never sent")
        }
        var liveTimes: LiveTimes?
        if !e.live.strategies.isEmpty {
            let times = try await attachLive(e, engine: engine, journal: journal, strategies: strategies, logger: logger)
            liveTimes = times
        }
        do {
            try await engine.recover()
            try await engine.replayPersistedAlerts(retain: 5000)
        } catch {
            throw StartFailure(code: 1, "recovery failed: \(error)")
        }
        if freshJournal {
            await engine.note(key: "journal_created", message: "no journal at \(dbPath): started a fresh one")
        }
        let server = IPCServer(path: paths.runtimeDir + "/engine.sock", role: "engine", handler: EngineHandler(engine: engine),
                               publisher: publisher, allowedUIDs: cfg.supervisor.allowedUIDs.map { UInt32($0) }, logger: logger)
        var services: [any Service] = [IPCServerService(server: server),
                                       EngineLoopService(engine: engine, interval: e.cycle, server: server, logger: logger),
                                       EngineTimerService(engine: engine, equityEvery: e.equityInterval, backupEvery: e.backupInterval,
                                                          backupsKeep: e.backupsKeep, logger: logger)]
        if let stream { services.append(MarketFeedService(stream: stream, engine: engine)) }
        if let liveTimes {
            services.append(LiveVenueService(engine: engine, times: liveTimes))
            if let channel = await engine.userChannel { services.append(LiveUserChannelService(engine: engine, channel: channel)) }
        }
        return services
    }

    /// The live venue for `engine.live.strategies`, set up and checked as preflight does (LiveSetup); anything wrong
    /// stops the start naming what (live trading is never silently replaced by paper).
    static func attachLive(_ e: EngineSettings, engine: TradingEngine, journal: Journal?, strategies: [any Strategy],
                           logger: Logger) async throws -> LiveTimes {
        let names = Set(strategies.map(\.name))
        for s in e.live.strategies where !names.contains(s) {
            throw StartFailure(code: 78, "engine.live.strategies: `\(s)` is not an enabled strategy (enabled: \(names.sorted().joined(separator: ", ")))")
        }
        var config: LiveVenueConfig
        do { config = try await LiveSetup.config(e) } catch { throw StartFailure(code: 78, "\(error)") }
        // After a 503 cancel-only, new orders try again after 6 heartbeats (30 s by default).
        config.refusedRetry = 6 * e.live.heartbeat.seconds
        if let failed = await LiveSetup.checks(config, e).first(where: { $0.outcome == .fail }) {
            throw StartFailure(code: 78, "live venue preflight: \(failed.name): \(failed.detail)")
        }
        let caps: LiveCaps
        do { caps = try LiveSetup.caps(e.live) } catch { throw StartFailure(code: 78, "\(error)") }
        let venue = LiveVenue(config: config, recordOrderID: { id, orderID in try journal?.setVenueOrder(id, orderID: orderID, state: .pending, note: "") })
        let times = LiveSetup.times(e.live)
        await engine.attachLive(venue, strategies: Set(e.live.strategies), caps: caps, times: times,
                                userChannel: UserChannel(url: e.userChannelURL, credentials: config.credentials, ping: e.live.heartbeat, logger: logger))
        logger.notice("LIVE TRADING on \(config.clobURL) for \(e.live.strategies.joined(separator: ", ")) as \(config.funder ?? config.key.address) (signature type \(config.signatureType.rawValue)); caps per order \(e.live.maxOrder), per market \(e.live.maxMarket), per UTC day \(e.live.maxDay)")
        return times
    }

    /// The live Polymarket source with the documented rate limits and a breaker that reopens within the staleness bound.
    public static func liveSource(_ e: EngineSettings) -> LiveMarketData {
        let gammaHost = URLComponents(string: e.gammaURL)?.host ?? ""
        let clobHost = URLComponents(string: e.clobURL)?.host ?? ""
        var breaker = CircuitBreaker.Settings()
        breaker.openSeconds = min(60, max(2, e.staleDataAfter.components.seconds == 0 ? 5 : Double(e.staleDataAfter.components.seconds)))
        let http = HTTPClient(limits: PolymarketClient.documentedLimits(gammaHost: gammaHost, clobHost: clobHost), breaker: breaker)
        var filters = MarketFilters()
        filters.liquidityMin = e.liquidityMin
        filters.volumeMin = e.volumeMin
        filters.endWithinHours = e.endWithinHours
        filters.tagIDs = e.tagIDs
        filters.maxMarkets = e.maxMarkets
        var client = PolymarketClient(http: http, gammaURL: e.gammaURL, clobURL: e.clobURL,
                                      timeout: e.requestTimeout, connectTimeout: e.connectTimeout)
        client.fees = CategoryFeeRates(e.feeRates)
        return LiveMarketData(client: client, filters: filters)
    }
}
