// The notifier's services, built from its configuration: the outbox, the channels, the intakes from the engine and
// the supervisor, delivery, and notifier.sock. `warden-notifier` is argument parsing around `ProgramMain.run`.
import Foundation
public import Logging
public import ServiceLifecycle
import WardenHTTP
import WardenIPC
public import WardenKit

public enum NotifierApplication {
    public static var configSections: [SectionRegistration] { NotifierSettings.configSections }

    public static func build(config cfg: WardenConfiguration, paths: WardenPaths, logger: Logger) throws -> [any Service] {
        let outbox: Outbox
        do { outbox = try Outbox.open(path: paths.stateDir + "/notifier.db") } catch {
            // Without its outbox the notifier could only lose alerts: it stops, loudly, and the supervisor says so.
            throw StartFailure(code: 1, "notifier.db unusable: \(error)")
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
        return [
            IPCServerService(server: server),
            EngineIntakeService(notifier: notifier, client: engine, logger: logger),
            SupervisorIntakeService(notifier: notifier, client: supervisor, logger: logger),
            DeliveryLoopService(notifier: notifier, server: server, engine: engine, supervisor: supervisor, logger: logger),
        ]
    }
}
