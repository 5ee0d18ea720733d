// The notifier's long-running parts: alert intake from engine.sock and control.sock, the delivery loop (which
// carries the heartbeat), and notifier.sock's request handler.
import Foundation
public import Logging
public import ServiceLifecycle
public import WardenIPC
import WardenKit

/// Takes one alert, retrying while storage fails (disk full, locked): the stream waits meanwhile, so later
/// alerts queue behind it instead of passing it (the cursor would otherwise skip it until a reconnect).
/// Ends only by success or cancellation.
func takeRetrying(_ notifier: Notifier, _ a: IncomingAlert, logger: Logger) async throws {
    var delay = 0.2
    var first = true
    while true {
        do { _ = try await notifier.take(a); return } catch {
            if first { await notifier.sendUnstored(a, because: error) }
            first = false
            logger.error("\(a.source) alert #\(a.seq) not stored yet (\(error)); retrying in \(delay) s")
            try await Task.sleep(for: .seconds(delay))
            delay = min(delay * 2, 5)
        }
    }
}

/// Pulls the engine's `alerts` topic from the last seq stored, through restarts of either side.
public struct EngineIntakeService: Service {
    let notifier: Notifier
    let client: IPCClient
    let logger: Logger
    public init(notifier: Notifier, client: IPCClient, logger: Logger) { self.notifier = notifier; self.client = client; self.logger = logger }

    public func run() async throws {
        let from = UInt64(try await notifier.lastSeq("engine") + 1)
        client.subscribe(SubscribeRequest(topics: [EngineTopic.alerts], fromSeq: [EngineTopic.alerts: from]))
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            for await item in client.events.cancelOnGracefulShutdown() {
                switch item {
                case .connected: await notifier.setConnected("engine", true)
                case .disconnected: await notifier.setConnected("engine", false)
                case .gap(let g): await notifier.gap(source: "engine", from: Int64(g.from_seq), to: Int64(g.to_seq), reason: g.reason)
                case .event(let frame):
                    do {
                        let body = try frame.body(as: EventBody<EngineEvent>.self)
                        let e = body.data
                        try await takeRetrying(notifier, IncomingAlert(source: "engine", seq: Int64(body.seq), key: e.key, kind: e.kind,
                                                                       severity: e.severity, message: e.message,
                                                                       at: parseISO(e.at) ?? Date(timeIntervalSince1970: body.at), durationS: e.duration_s),
                                           logger: logger)
                    } catch {
                        // Not acknowledged: the cursor did not move, so the next start takes it again from the engine.
                        logger.error("engine alert not taken: \(error)")
                    }
                }
            }
            group.cancelAll()
        }
    }
}

/// Pulls the supervisor's lifecycle events worth telling an operator. The supervisor is the notifier's parent,
/// so one notifier process sees one supervisor boot; a new boot id starts its sequence again from 1.
public struct SupervisorIntakeService: Service {
    let notifier: Notifier
    let client: IPCClient
    let logger: Logger
    public init(notifier: Notifier, client: IPCClient, logger: Logger) { self.notifier = notifier; self.client = client; self.logger = logger }

    public func run() async throws {
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await client.run() }
            var hello: Hello?
            while hello == nil && !Task.isShuttingDownGracefully && !Task.isCancelled {
                hello = try? await client.waitConnected(timeout: .seconds(5))
            }
            guard let hello else { group.cancelAll(); return }
            let from = try await notifier.supervisorCursor(bootID: hello.boot_id)
            client.subscribe(SubscribeRequest(topics: [ControlTopic.events], fromSeq: [ControlTopic.events: UInt64(from)]))
            for await item in client.events.cancelOnGracefulShutdown() {
                switch item {
                case .connected: await notifier.setConnected("supervisor", true)
                case .disconnected: await notifier.setConnected("supervisor", false)
                case .gap(let g): await notifier.gap(source: "supervisor", from: Int64(g.from_seq), to: Int64(g.to_seq), reason: g.reason)
                case .event(let frame):
                    do {
                        let body = try frame.body(as: EventBody<LifecycleEvent>.self)
                        guard Self.worthTelling(body.data) else { continue }
                        try await takeRetrying(notifier, Self.alert(body.data, seq: Int64(body.seq), fallback: Date(timeIntervalSince1970: body.at)),
                                               logger: logger)
                    } catch {
                        logger.error("supervisor event not taken: \(error)")
                    }
                }
            }
            group.cancelAll()
        }
    }

    /// What went wrong (warning, critical), warden's own start, and recoveries; not the routine starts and stops.
    static func worthTelling(_ e: LifecycleEvent) -> Bool {
        e.severity != "info" || ["supervisor-start", "disk-recovered", "recovered"].contains(e.kind)
    }

    static let processKinds: Set<String> = ["crash", "watchdog", "limit", "start-timeout", "kill", "fatal", "recovered"]

    /// Lifecycle events as alerts: one key per program and condition, so restarts coalesce and disk recoveries pair.
    static func alert(_ e: LifecycleEvent, seq: Int64, fallback: Date) -> IncomingAlert {
        let subject = e.program ?? "warden"
        // A program's failures (crash, watchdog, limit, fatal, …) and its recovery share one key, so they pair.
        let condition = e.kind.hasPrefix("disk-") ? "disk" : processKinds.contains(e.kind) ? "process" : e.kind
        // Routine lifecycle (start, ready, stop) is info; what went wrong is its own severity.
        return IncomingAlert(source: "supervisor", seq: seq, key: "\(condition):\(subject)", kind: e.kind, severity: e.severity,
                             message: e.program.map { "\($0): \(e.message)" } ?? e.message, at: parseISO(e.at) ?? fallback)
    }
}

extension Notifier {
    /// Where to resume the supervisor's events: after the stored seq for the same boot, else from 1 (said).
    public func supervisorCursor(bootID: String) throws -> Int64 {
        let stored = try outbox.meta("supervisor_boot")
        try outbox.setMeta("supervisor_boot", bootID)
        if let stored, stored != bootID {
            sourceRestarted("supervisor", why: "warden restarted (boot \(bootID.prefix(8)))")
            return 1
        }
        return try lastSeq("supervisor") + 1
    }
}

/// Delivers, sweeps, and proves progress: WATCHDOG=1 follows each completed round.
public struct DeliveryLoopService: Service {
    let notifier: Notifier
    let server: IPCServer
    let engine: IPCClient
    let supervisor: IPCClient
    let interval: Duration
    let logger: Logger

    public init(notifier: Notifier, server: IPCServer, engine: IPCClient, supervisor: IPCClient, interval: Duration = .milliseconds(200), logger: Logger) {
        self.notifier = notifier; self.server = server; self.engine = engine; self.supervisor = supervisor
        self.interval = interval; self.logger = logger
    }

    public func run() async throws {
        try await server.waitUntilListening()
        await HeartbeatLoop.run(every: interval, logger: logger) {
            await notifier.deliverDue()
            await notifier.sweep { await dailyFigures() }
            return await notifier.statusLine()
        }
    }

    /// The daily digest's figures, each from its owner; what cannot be had is said, not guessed.
    func dailyFigures() async -> String? {
        var parts: [String] = []
        do {
            let s = try await engine.call("snapshot", Empty(), as: EngineSnapshot.self, timeout: .seconds(2))
            let equity = s.accounts.reduce(0) { $0 + $1.equity }, bankroll = s.accounts.reduce(0) { $0 + $1.bankroll }
            let pnl = s.accounts.reduce(0) { $0 + $1.realized_pnl }
            parts.append(String(format: "trading %@, equity %.2f (%+.2f since start, realised %+.2f), %d fills in all", s.trading_state,
                                equity, equity - bankroll, pnl, s.fills_total))
        } catch {
            parts.append("engine figures unavailable (\(error))")
        }
        do {
            let st = try await supervisor.call("status", Empty(), as: StatusResponse.self, timeout: .seconds(2))
            parts.append("warden up \(NoiseControl.span(st.supervisor.uptime_s)), restarts " +
                         st.programs.map { "\($0.name) \($0.restarts)" }.joined(separator: ", "))
        } catch {
            parts.append("supervisor figures unavailable (\(error))")
        }
        return parts.joined(separator: "; ")
    }
}

/// Routes notifier.sock requests.
public struct NotifierHandler: IPCRequestHandler {
    let notifier: Notifier
    public init(notifier: Notifier) { self.notifier = notifier }

    public func ordering(of type: String) -> RequestOrdering { type == "status" ? .concurrent : .ordered }

    public func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        switch frame.head.type {
        case "status": return await notifier.status()
        case "notify":
            let r = try frame.body(as: NotifyRequest.self)
            guard !r.message.trimmingCharacters(in: .whitespaces).isEmpty else { throw IPCError(.invalid, "an empty message") }
            try InputLimits.check(text: r.message, named: "message", limit: InputLimits.message)
            try InputLimits.check(author: r.author)
            return try await notifier.notify(r)
        case "test_channel":
            let r = try frame.body(as: TestChannelRequest.self)
            try InputLimits.check(author: r.author)
            return try await notifier.testChannel(r.channel, author: r.author)
        default:
            throw IPCError(.unknownType, "unknown request `\(frame.head.type)` on notifier.sock")
        }
    }
}
