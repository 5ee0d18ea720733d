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
        if let liveTimes { services.append(LiveVenueService(engine: engine, times: liveTimes)) }
        return services
    }

    /// The live venue for `engine.live.strategies`: the key and API credentials by credential name, the funder checked,
    /// the venue's clock compared with ours. Anything wrong stops the start naming what (live trading is never
    /// silently replaced by paper).
    static func attachLive(_ e: EngineSettings, engine: TradingEngine, journal: Journal?, strategies: [any Strategy],
                           logger: Logger) async throws -> LiveTimes {
        let l = e.live
        let names = Set(strategies.map(\.name))
        for s in l.strategies where !names.contains(s) {
            throw StartFailure(code: 78, "engine.live.strategies: `\(s)` is not an enabled strategy (enabled: \(names.sorted().joined(separator: ", ")))")
        }
        guard let keyText = Credentials.value(l.keyCredential) else {
            throw StartFailure(code: 78, "live trading needs the private key: credential `\(l.keyCredential)` not found (\(Credentials.whereToPut(l.keyCredential)))")
        }
        let key: SigningKey
        do { key = try SigningKey(hex: keyText) } catch { throw StartFailure(code: 78, "credential `\(l.keyCredential)`: \(error)") }
        var funder: EthAddress?
        if let f = l.funder {
            do { funder = try EthAddress(f) } catch { throw StartFailure(code: 78, "engine.live.funder: \(error)") }
        }
        guard let signatureType = SignatureType(rawValue: l.signatureType) else {
            throw StartFailure(code: 78, "engine.live.signature_type: \(l.signatureType) is not 0, 1 or 2")
        }
        switch (signatureType, funder) {
        case (.eoa, let f?) where f != key.address:
            throw StartFailure(code: 78, "engine.live.funder: signature type 0 (EOA) trades the key's own address \(key.address), not \(f)")
        case (.proxy, nil), (.safe, nil):
            throw StartFailure(code: 78, "engine.live.funder: signature type \(l.signatureType) needs the address holding the funds")
        default: break
        }
        let url = l.clobURL ?? e.clobURL
        let credentials: ClobCredentials
        if let text = Credentials.value(l.apiCredential) {
            do { credentials = try ClobAnswers.credentials(Data(text.utf8)) } catch {
                throw StartFailure(code: 78, "credential `\(l.apiCredential)`: not API credentials JSON {\"apiKey\",\"secret\",\"passphrase\"}: \(error)")
            }
        } else {
            do { credentials = try await ClobClient.deriveCredentials(baseURL: url, key: key) } catch {
                throw StartFailure(code: 78, "live trading: API credentials could not be derived from the key at \(url): \(error)")
            }
        }
        let client = ClobClient(baseURL: url, key: key, credentials: credentials, timeout: e.requestTimeout)
        // Preflight of the venue: its clock, and the API key (a heartbeat is an authenticated call that changes nothing).
        do {
            let skew = abs(Double(try await client.serverTime()) - Date().timeIntervalSince1970)
            if skew > e.maxClockSkew.seconds {
                throw StartFailure(code: 78, String(format: "live trading: clock skew against the venue %.0f s is over preflight.max_clock_skew", skew))
            }
            _ = try await client.heartbeat(previous: "")
        } catch let f as StartFailure { throw f } catch {
            throw StartFailure(code: 78, "live trading: venue preflight failed at \(url): \(error)")
        }
        func cap(_ v: Double, _ k: String) throws -> Micros {
            guard let m = Fixed.from(v), m >= 0 else { throw StartFailure(code: 78, "engine.live.\(k): \(v) is not a usable amount") }
            return m
        }
        let caps = LiveCaps(perOrder: try cap(l.maxOrder, "max_order"), perMarket: try cap(l.maxMarket, "max_market"), perDay: try cap(l.maxDay, "max_day"))
        let venue = LiveVenue(config: LiveVenueConfig(clobURL: url, key: key, credentials: credentials, signatureType: signatureType, funder: funder,
                                                      timeout: e.requestTimeout),
                              recordOrderID: { id, orderID in try journal?.setVenueOrder(id, orderID: orderID, state: .pending, note: "") })
        var times = LiveTimes()
        times.heartbeatEvery = l.heartbeat
        times.heartbeatBound = max(3 * l.heartbeat.seconds, 10)
        times.reconcileEvery = l.reconcile
        await engine.attachLive(venue, strategies: Set(l.strategies), caps: caps, times: times)
        logger.notice("LIVE TRADING on \(url) for \(l.strategies.joined(separator: ", ")) as \(funder ?? key.address) (signature type \(l.signatureType)); caps per order \(l.maxOrder), per market \(l.maxMarket), per UTC day \(l.maxDay)")
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
