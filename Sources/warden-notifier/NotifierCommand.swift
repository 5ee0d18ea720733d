// `warden-notifier`: the alert pipeline process (run by warden), and its channel preflight.
import ArgumentParser
import Foundation
import Logging
import WardenHTTP
import WardenIPC
import WardenKit
import WardenNotifier

@main
struct NotifierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-notifier", abstract: "Warden's alert pipeline: engine and supervisor alerts to Telegram, webhooks and the log.",
        version: wardenVersion, subcommands: [Run.self, Preflight.self], defaultSubcommand: Run.self)
}

struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, as set by warden).")
    var config: String?

    func load() async throws -> (WardenConfiguration, WardenPaths) { await loadProgramConfiguration(config, program: "warden-notifier") }
}

struct Preflight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every channel's credentials (Telegram getMe, webhook URL present); exit 1 when one fails.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (cfg, _) = try await options.load()
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        var retry = RetryPolicy()
        retry.maxAttempts = 1
        let results = await Notifier.preflight(cfg.notifier, http: HTTPClient(retry: retry), logger: Logger(label: "notifier"))
        for r in results { print("\(r.ok ? "OK   " : "FAIL ") channel \(r.name): \(r.detail)") }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the notifier (the default).")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        ParentDeath.arm()
        ProcessBootstrap.privateFiles()
        let (cfg, paths) = try await options.load()
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        let logger = Logger(label: "notifier")
        try paths.createDirectories()
        let outbox: Outbox
        do { outbox = try Outbox.open(path: paths.stateDir + "/notifier.db") } catch {
            // Without its outbox the notifier could only lose alerts: it stops, loudly, and the supervisor says so.
            logger.critical("notifier.db unusable: \(error)")
            throw ExitCode(1)
        }
        var retry = RetryPolicy()
        retry.maxAttempts = 1  // the outbox retries, with the channel's own Retry-After
        // A channel that comes back is probed within 5 s; the outbox's own backoff does the rest.
        var breaker = CircuitBreaker.Settings()
        breaker.openSeconds = 5
        let notifier = try Notifier(settings: cfg.notifier, outbox: outbox, http: HTTPClient(retry: retry, breaker: breaker), logger: logger)
        let engine = IPCClient(path: paths.runtimeDir + "/engine.sock", role: "notifier", logger: logger,
                               backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        let supervisor = IPCClient(path: paths.controlSocket, role: "notifier", logger: logger,
                                   backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        let server = IPCServer(path: paths.runtimeDir + "/notifier.sock", role: "notifier", handler: NotifierHandler(notifier: notifier),
                               publisher: EventPublisher(retainPerTopic: 1), allowedUIDs: cfg.supervisor.allowedUIDs.map { UInt32($0) },
                               logger: logger)
        try await ProcessBootstrap.run([
            IPCServerService(server: server),
            EngineIntakeService(notifier: notifier, client: engine, logger: logger),
            SupervisorIntakeService(notifier: notifier, client: supervisor, logger: logger),
            DeliveryLoopService(notifier: notifier, server: server, engine: engine, supervisor: supervisor, logger: logger),
        ], logger: logger)
    }
}
