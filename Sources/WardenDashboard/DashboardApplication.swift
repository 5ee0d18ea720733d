// The dashboard's services, built from its configuration: the HTTP listener (its own, or the socket warden holds for
// it), the links to the three sockets, and a heartbeat that proves the listener answers. `warden-dashboard` is
// argument parsing around `ProgramMain.run`.
import Foundation
public import Logging
public import ServiceLifecycle
import Synchronization
import WardenHTTP
import WardenIPC
public import WardenKit

public enum DashboardApplication {
    public static var configSections: [SectionRegistration] { DashboardSettings.configSections }

    public static func build(config cfg: WardenConfiguration, paths: WardenPaths, logger: Logger) throws -> [any Service] {
        let token: String
        do { token = try Auth.loadOrCreateToken(at: paths.stateDir + "/dashboard.token") } catch {
            throw StartFailure(code: 1, "dashboard token unusable: \(error)")
        }
        let d = cfg.dashboard
        let hub = Hub(runtimeDir: paths.runtimeDir, logger: logger)
        let auth = Auth(token: token, ttl: d.sessionTTL, attemptsPerMinute: d.loginAttemptsPerMinute, logger: logger)
        let listening = ListeningFlag()
        let connections = ConnectionGauge()
        raiseOpenFileLimit(logger: logger)
        let server = DashboardServer(hub: hub, auth: auth, settings: d, connections: connections, logger: logger)
        let listener: any Service
        var port = d.port
        if let passed = PassedSocket.fromEnvironment() {
            // Socket activation (`listen:` in warden's program entry): warden keeps the socket bound while this
            // process restarts, so no connection is refused meanwhile.
            if passed.port != d.port { logger.warning("the socket passed by warden (\(passed.address)) is not dashboard.port \(d.port); serving on it") }
            port = passed.port
            listener = InheritedListener(socket: passed, server: server) { listening.set() }
            logger.notice("dashboard on http://\(passed.address), a socket held by warden (token in \(paths.stateDir)/dashboard.token)")
        } else {
            listener = NamedListener(app: server.application { listening.set() }, address: "\(d.host):\(d.port)", logger: logger)
            logger.notice("dashboard on http://\(d.host):\(d.port) (token in \(paths.stateDir)/dashboard.token)")
        }
        return [
            listener,
            LinkPump(hub: hub),
            ListenerHeartbeat(url: "http://\(d.host == "0.0.0.0" ? "127.0.0.1" : d.host):\(port)/healthz", hub: hub, listening: listening,
                              connections: connections, logger: logger),
        ]
    }
}

final class ListeningFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

/// Runs the HTTP application; a failure to listen names the address (a port clash said as "address already in
/// use" alone does not tell the operator which setting to change).
struct NamedListener<App: Service>: Service {
    let app: App
    let address: String
    let logger: Logger
    func run() async throws {
        do {
            try await app.run()
        } catch {
            let text = "\(error)"
            if text.contains("Address already in use") || text.contains("errno: 98") {
                logger.critical("cannot listen on \(address): the address is already in use (dashboard.host/dashboard.port)")
                throw WardenError(.io, "cannot listen on \(address): address already in use; another process has this port (change dashboard.port)")
            }
            logger.critical("the HTTP listener on \(address) failed: \(error)")
            throw error
        }
    }
}

/// Keeps the three links up and feeds their streams to the browsers.
struct LinkPump: Service {
    let hub: Hub
    func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            for link in [hub.control, hub.engine, hub.notifier] { group.addTask { await link.run() } }
            group.addTask { await hub.pump(hub.engine, name: "engine", topics: [EngineTopic.activity, EngineTopic.trades, EngineTopic.state]) }
            group.addTask { await hub.pump(hub.control, name: "supervisor", topics: [ControlTopic.events]) }
            group.addTask { await hub.pump(hub.notifier, name: "notifier", topics: []) }
            try await gracefulShutdown()
            hub.closeAllStreams()
            group.cancelAll()
        }
    }
}

/// WATCHDOG=1 only after the listener answered /healthz over real HTTP (libcurl), so a wedged server is restarted.
struct ListenerHeartbeat: Service {
    let url: String
    let hub: Hub
    let listening: ListeningFlag
    let connections: ConnectionGauge
    let logger: Logger
    func run() async throws {
        var retry = RetryPolicy()
        retry.maxAttempts = 1
        let http = HTTPClient(retry: retry)
        await HeartbeatLoop.run(every: .seconds(2), logger: logger) {
            guard listening.isSet else { return nil }
            do {
                let r = try await http.send(HTTPRequest(url: url, connectTimeout: .seconds(1), timeout: .seconds(3)))
                guard r.status == 200 else { return nil }
            } catch {
                // At its connection cap the server is flooded, not wedged: a restart would not help (the flood
                // comes back) and would drop every operator's page. Say so instead.
                let open = connections.open
                if open >= DashboardServer.maxConnections - 1 {
                    logger.warning("own /healthz waits behind a flood: \(open) connections open (cap \(DashboardServer.maxConnections))")
                    return "SATURATED: \(open) connections open (cap \(DashboardServer.maxConnections)) · \(hub.clientCount) live clients"
                }
                logger.warning("own /healthz did not answer: \(error)")
                return nil
            }
            return "\(hub.clientCount) live clients · supervisor \(hub.since("supervisor") == nil ? "ok" : "unreachable") · engine \(hub.since("engine") == nil ? "ok" : "unreachable")"
        }
    }
}

/// Lifts the soft open-file limit to the hard one (at most 65,536): the HTTP server's connection cap, not the
/// default 1024 fds, is what bounds a flood.
func raiseOpenFileLimit(logger: Logger) {
    var r = rlimit()
    guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) == 0 else { return }
    let want = min(r.rlim_max, 65_536)
    guard r.rlim_cur < want else { return }
    r.rlim_cur = want
    if setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &r) != 0 { logger.warning("could not raise the open-file limit to \(want)") }
}
