// What control.sock asks of the supervisor: status, start/stop/restart, logs, events, reload.
import Foundation
public import Logging
public import WardenIPC
public import WardenKit

extension Supervisor {
    public func status() -> StatusResponse {
        let now = MonotonicInstant.now()
        let wallNow = Date()
        func wallTime(_ m: MonotonicInstant) -> String { isoString(wallNow.addingTimeInterval(-(now - m).seconds)) }
        let list = order.compactMap { name -> ProgramStatus? in
            guard let rt = programs[name] else { return nil }
            let m = rt.machine
            let lastExit = m.lastExit.map { e -> LastExitInfo in
                var info = LastExitInfo(code: e.status.code, signal: e.status.signal.map(signalName), at: wallTime(e.at), reason: e.reason)
                info.status_text = rt.lastExitStatusText
                info.errno = rt.lastExitErrno
                return info
            }
            var next: Double?
            if m.state == .BACKOFF, let b = m.backoffUntil { next = (b - now).seconds }
            if m.state == .FATAL, let r = m.fatalRetryAt { next = (r - now).seconds }
            return ProgramStatus(
                name: name, state: m.state.rawValue, pid: m.pid, ready: m.ready, since: wallTime(m.since),
                uptime_s: m.pid != nil ? m.startedAt.map { (now - $0).seconds } : nil,
                restarts: m.restarts, last_exit: lastExit,
                last_heartbeat_age_s: m.pid != nil ? m.lastHeartbeat.map { (now - $0).seconds } : nil,
                watchdog_sec: m.watchdog?.seconds, status_text: rt.statusText,
                rss_bytes: rt.rssBytes, fds: rt.fds, critical: m.spec.critical, next_start_in_s: next,
                listen: held[name].map { $0.listening.isEmpty ? nil : $0.boundFrom.map(\.description) } ?? nil,
                fds_stored: held[name].map { $0.stored.isEmpty ? nil : $0.stored.count } ?? nil)
        }
        var storageNow = storage
        storageNow?.measured_age_s = (now - storageMeasuredAt).seconds
        let info = SupervisorInfo(pid: getpid(), version: wardenVersion, started_at: isoString(startedAt),
                                  uptime_s: (now - startedMono).seconds, boot_id: processBootID,
                                  config: config.file, status_text: statusText())
        var withCounts = info
        withCounts.notify_rejected_total = notifyRejected
        withCounts.containment = containment.why
        withCounts.loop_passes = loopPasses
        return StatusResponse(supervisor: withCounts, programs: list, storage: storageNow)
    }

    func requireProgram(_ name: String) throws -> ProgramRuntime {
        guard let rt = programs[name] else {
            throw IPCError(.notFound, "no program named `\(name)` (configured: \(order.joined(separator: ", ")))")
        }
        return rt
    }

    public func control(_ verb: String, program name: String, by who: String) throws -> ProgramActionResponse {
        _ = try requireProgram(name)
        if shutdownQueue != nil { throw IPCError(.failed, "the supervisor is shutting down") }
        let event: ChildEvent
        switch verb {
        case "start": event = .start(by: who)
        case "stop": event = .stop(by: who)
        case "restart": event = .restart(by: who)
        case "reload":
            let m = programs[name]!.machine
            guard m.spec.reloadSignal != nil else {
                throw IPCError(.invalid, "program `\(name)` has no reload_signal: it can be restarted, not reloaded")
            }
            guard m.state == .RUNNING, m.pid != nil else { throw IPCError(.failed, "program `\(name)` is \(m.state.rawValue), not RUNNING: nothing to reload") }
            event = .reload(by: who)
        default: throw IPCError(.unknownType, "unknown program command \(verb)")
        }
        programs[name]?.initialStartDone = true
        feed(name, event)
        let m = programs[name]!.machine
        return ProgramActionResponse(program: name, state: m.state.rawValue, message: "\(verb) requested; now \(m.state.rawValue)")
    }

    public func logs(_ name: String, lines: Int) throws -> LogsResponse {
        _ = try requireProgram(name)
        let (tail, held) = logSink.tail(name, lines)
        return LogsResponse(program: name, held: held, lines: tail)
    }

    /// The newest `limit` events, as many as fit in one answer (well inside the frame limit).
    public func recentEvents(_ limit: Int) -> EventsResponse {
        var out: [LifecycleEvent] = []
        var bytes = 0
        for e in events.suffix(max(0, limit)).reversed() {
            bytes += e.message.utf8.count + 200
            if bytes > 768 * 1024 { break }
            out.append(e)
        }
        return EventsResponse(held: events.count, events: out.reversed())
    }

    /// Re-reads the configuration; restarts only programs whose definition changed.
    public func reload() async throws -> ReloadResponse {
        let fresh: WardenConfiguration
        do {
            fresh = try await ConfigLoader.load(path: config.file)
        } catch {
            record(kind: "reload-failed", severity: .warning, program: nil, message: "configuration not reloaded: \(error)")
            throw IPCError(.invalid, "\(error)")
        }
        var added: [String] = [], removed: [String] = [], changed: [String] = [], unchanged: [String] = []
        let now = MonotonicInstant.now()
        for name in order where fresh.program(named: name) == nil {
            removed.append(name)
            programs[name]?.removed = true
            feed(name, .stop(by: "reload: removed"))
        }
        for spec in fresh.programs {
            // A program running as another user needs its own notify socket before it starts.
            if let path = NotifyReceiver.socketPath(for: spec, paths: paths), !FileManager.default.fileExists(atPath: path),
               let open = openOwnNotifySocket {
                do { try open(spec) } catch {
                    record(kind: "reload-failed", severity: .warning, program: spec.name, message: "no notify socket for \(spec.name): \(error)")
                }
            }
            if var rt = programs[spec.name], !rt.removed {
                if rt.machine.spec == spec { unchanged.append(spec.name); continue }
                changed.append(spec.name)
                rt.machine.update(spec: spec)
                programs[spec.name] = rt
                if rt.machine.pid != nil || rt.machine.state == .BACKOFF { feed(spec.name, .restart(by: "reload")) }
            } else {
                added.append(spec.name)
                programs[spec.name] = ProgramRuntime(spec: spec, now: now)
            }
        }
        // A role's section (engine:, notifier:, dashboard:) is read by that program at its start: a change is
        // applied by restarting the program of that name, never left to some later restart in silence.
        var sections: [String] = []
        for section in fresh.sections.changedSections(from: config.sections) {
            guard let reader = fresh.program(offering: section), let rt = programs[reader.name], !rt.removed else {
                sections.append("\(section): changed; no program offering `\(section)` (offers.role) is configured, so nothing reads it")
                continue
            }
            let name = reader.name
            if changed.contains(name) || added.contains(name) {
                sections.append("\(section): changed; applied by the restart of `\(name)`")
            } else if rt.machine.pid != nil || rt.machine.state == .BACKOFF {
                changed.append(name)
                unchanged.removeAll { $0 == name }
                feed(name, .restart(by: "reload: the \(section) section changed"))
                sections.append("\(section): changed; `\(name)` restarted to apply it")
                record(kind: "reload", severity: .warning, program: name,
                       message: "reload: the \(section) section changed; \(name) restarted to apply it")
            } else {
                sections.append("\(section): changed; `\(name)` is \(rt.machine.state.rawValue) and reads it at its next start")
            }
        }
        if fresh.supervisor != config.supervisor {
            sections.append("supervisor: changed; takes effect at the next start of warden (restart warden to apply it)")
            record(kind: "reload", severity: .warning, program: nil,
                   message: "supervisor settings changed; they take effect at the next start of warden")
        }
        order = fresh.programs.map(\.name) + removed
        var kept = fresh
        kept.supervisor = config.supervisor
        config = kept
        record(kind: "reload", severity: .info, program: nil,
               message: "configuration reloaded: added [\(added.joined(separator: ", "))], removed [\(removed.joined(separator: ", "))], changed [\(changed.joined(separator: ", "))]"
                + (sections.isEmpty ? "" : "; " + sections.joined(separator: "; ")))
        wake()  // added programs start at the loop's next pass
        return ReloadResponse(added: added, removed: removed, changed: changed, unchanged: unchanged, sections: sections)
    }

    /// Drops removed programs once they have stopped.
    func pruneRemoved() {
        for name in order where programs[name]?.removed == true && programs[name]?.machine.pid == nil {
            programs[name] = nil
            held[name]?.closeListening()
            _ = held[name]?.flush()
            held[name] = nil
            order.removeAll { $0 == name }
        }
    }
}

/// Routes control.sock requests to the supervisor; `engine.*` and `notifier.*` requests are forwarded to
/// engine.sock and notifier.sock, so `wardenctl` needs one socket only.
/// A standing link to a program that offers a role and a socket (`offers:` in its configuration).
public struct ProgramLink: Sendable {
    public let role: String
    public let program: String
    public let socket: String
    public let client: IPCClient

    /// A link for every configured program that offers a role and a socket.
    public static func all(_ config: WardenConfiguration, paths: WardenPaths, logger: Logger) -> [ProgramLink] {
        config.programs.compactMap { spec in
            guard let role = spec.offers.role, let socket = spec.offers.socket else { return nil }
            return ProgramLink(role: role, program: spec.name, socket: socket,
                               client: IPCClient(path: paths.runtimeDir + "/" + socket, role: "supervisor", logger: logger,
                                                 backoffInitial: .milliseconds(100), backoffMax: .seconds(2)))
        }
    }
}

public struct ControlHandler: IPCRequestHandler {
    let supervisor: Supervisor
    let socketStats: IPCStatsCounter
    let links: [ProgramLink]
    public init(supervisor: Supervisor, socketStats: IPCStatsCounter, links: [ProgramLink] = []) {
        self.supervisor = supervisor
        self.socketStats = socketStats
        self.links = links
    }

    func link(_ role: String) -> ProgramLink? { links.first { $0.role == role } }

    /// A link that is still connecting (its program just became ready) gets a moment before it is called unreachable.
    static func connected(_ link: IPCClient, within: Duration = .seconds(2)) async -> Bool {
        if link.isConnected { return true }
        guard within > .zero else { return false }
        return (try? await link.waitConnected(timeout: within)) != nil
    }

    /// How long `status` waits for a link: a moment when its program is ready (the link is catching up), else not at all.
    static func linkWait(_ program: ProgramStatus?) -> Duration {
        program?.state == "RUNNING" && program?.ready == true ? .milliseconds(500) : .zero
    }

    /// The engine's snapshot, or why it cannot be had; never old numbers presented as current.
    func engineStatus(_ program: ProgramStatus?) async -> EngineStatus? {
        guard let link = link("engine") else { return nil }
        let engine = link.client
        guard await Self.connected(engine, within: Self.linkWait(program)) else {
            return EngineStatus(reachable: false, error: "\(link.socket) not connected\(engine.lastError.map { ": \($0)" } ?? "")")
        }
        do {
            return EngineStatus(reachable: true, snapshot: try await engine.call("snapshot", Empty(), as: EngineSnapshot.self, timeout: .seconds(2)))
        } catch {
            return EngineStatus(reachable: false, error: "\(error)")
        }
    }

    /// The notifier's queue and channels, or why they cannot be had.
    func notifierStatus(_ program: ProgramStatus?) async -> NotifierStatusInfo? {
        guard let link = link("notifier") else { return nil }
        let notifier = link.client
        guard await Self.connected(notifier, within: Self.linkWait(program)) else {
            return NotifierStatusInfo(unreachable: "\(link.socket) not connected\(notifier.lastError.map { ": \($0)" } ?? "")")
        }
        do {
            var s = try await notifier.call("status", Empty(), as: NotifierStatusInfo.self, timeout: .seconds(2))
            s.reachable = true
            return s
        } catch {
            return NotifierStatusInfo(unreachable: "\(error)")
        }
    }

    /// Sends `type` (without its `role.` prefix) to the socket of the program offering the role, and returns its
    /// answer as it is.
    func forward(role: String, _ frame: Frame) async throws -> JSONValue {
        guard let program = link(role) else { throw IPCError(.notFound, "no program offering `\(role)` (offers.role with offers.socket) is configured") }
        let link = program.client
        guard await Self.connected(link) else {
            throw IPCError(.unreachable, "the \(role) (`\(program.program)`) is not reachable on \(program.socket)\(link.lastError.map { " (\($0))" } ?? "")")
        }
        let body = try frame.body(as: JSONValue.self)
        let answer = try await link.request(String(frame.head.type.dropFirst(role.count + 1)), body,
                                            timeout: frame.head.deadline(defaultMS: 10_000))
        return try answer.body(as: JSONValue.self)
    }

    /// Reads (here and forwarded) run at once; commands, here and forwarded, one after another in the order sent.
    public func ordering(of type: String) -> RequestOrdering {
        ["status", "logs", "events", "version", "engine.snapshot", "engine.positions", "engine.equity", "engine.trades", "engine.markets", "engine.orders",
         "notifier.status"].contains(type) ? .concurrent : .ordered
    }

    public func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        let who = "wardenctl uid \(peer.uid) pid \(peer.pid)"
        switch frame.head.type {
        case "status":
            var s = await supervisor.status()
            s.supervisor.control_socket = socketStats.snapshot
            s.engine = await engineStatus(link("engine").flatMap { l in s.programs.first { $0.name == l.program } })
            s.notifier = await notifierStatus(link("notifier").flatMap { l in s.programs.first { $0.name == l.program } })
            return s
        case let type where type.hasPrefix("engine."):
            return try await forward(role: "engine", frame)
        case let type where type.hasPrefix("notifier."):
            return try await forward(role: "notifier", frame)
        case "start", "stop", "restart", "reload_program":
            let req = try frame.body(as: ProgramRequest.self)
            if let a = req.author { try InputLimits.check(author: a) }
            let verb = frame.head.type == "reload_program" ? "reload" : frame.head.type
            return try await supervisor.control(verb, program: req.program, by: req.author.map { "\($0) (\(who))" } ?? who)
        case "logs":
            let req = try frame.body(as: LogsRequest.self)
            return try await supervisor.logs(req.program, lines: req.lines)
        case "events":
            return await supervisor.recentEvents(try frame.body(as: EventsRequest.self).limit)
        case "reload":
            return try await supervisor.reload()
        case "shutdown":
            await supervisor.beginShutdown(reason: "requested by \(who)")
            return ProgramActionResponse(program: "*", state: "STOPPING", message: "shutting down")
        case "version":
            return VersionResponse(version: wardenVersion)
        default:
            throw IPCError(.unknownType, "unknown request `\(frame.head.type)` on control.sock")
        }
    }
}
