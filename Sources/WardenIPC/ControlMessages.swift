// Messages of control.sock: status, program control, logs, lifecycle events, shutdown, reload.

public struct SupervisorInfo: Codable, Sendable {
    public var pid: Int32
    public var version: String
    public var started_at: String
    public var uptime_s: Double
    public var boot_id: String
    public var config: String
    public var status_text: String
    /// Frames rejected and peers refused on control.sock since start.
    public var control_socket: IPCServerStats?
    /// Datagrams dropped on notify.sock (no credentials, oversize, NUL, not a main pid).
    public var notify_rejected_total: UInt64?
    /// How programs' processes are held: `cgroup <path>` or `subreaper …`, and why.
    public var containment: String?
    /// Passes of the supervisor's loop since start: it sleeps until its next deadline, so an idle warden
    /// makes few (a handful a second, from resource checks).
    public var loop_passes: UInt64?
    public init(pid: Int32, version: String, started_at: String, uptime_s: Double, boot_id: String, config: String, status_text: String) {
        self.pid = pid; self.version = version; self.started_at = started_at; self.uptime_s = uptime_s
        self.boot_id = boot_id; self.config = config; self.status_text = status_text
    }
}

public struct LastExitInfo: Codable, Sendable {
    public var code: Int32?
    public var signal: String?
    public var at: String
    public var reason: String
    /// The last STATUS= and ERRNO= the process sent before it exited.
    public var status_text: String?
    public var errno: Int32?
    public init(code: Int32?, signal: String?, at: String, reason: String) {
        self.code = code; self.signal = signal; self.at = at; self.reason = reason
    }
}

public struct ProgramStatus: Codable, Sendable {
    public var name: String
    public var state: String
    public var pid: Int32?
    public var ready: Bool
    public var since: String
    public var uptime_s: Double?
    public var restarts: Int
    public var last_exit: LastExitInfo?
    public var last_heartbeat_age_s: Double?
    public var watchdog_sec: Double?
    public var status_text: String?
    public var rss_bytes: UInt64?
    public var fds: Int?
    public var critical: Bool
    public var next_start_in_s: Double?
    /// Sockets warden holds bound for the program (`listen:`).
    public var listen: [String]?
    /// Fds the program keeps in warden's fd store (FDSTORE=1).
    public var fds_stored: Int?
    public init(name: String, state: String, pid: Int32?, ready: Bool, since: String, uptime_s: Double?, restarts: Int,
                last_exit: LastExitInfo?, last_heartbeat_age_s: Double?, watchdog_sec: Double?, status_text: String?,
                rss_bytes: UInt64?, fds: Int?, critical: Bool, next_start_in_s: Double?,
                listen: [String]? = nil, fds_stored: Int? = nil) {
        self.name = name; self.state = state; self.pid = pid; self.ready = ready; self.since = since
        self.uptime_s = uptime_s; self.restarts = restarts; self.last_exit = last_exit
        self.last_heartbeat_age_s = last_heartbeat_age_s; self.watchdog_sec = watchdog_sec
        self.status_text = status_text; self.rss_bytes = rss_bytes; self.fds = fds; self.critical = critical
        self.next_start_in_s = next_start_in_s
        self.listen = listen; self.fds_stored = fds_stored
    }
}

/// Free space of the state directory, as last measured.
public struct StorageInfo: Codable, Sendable {
    public var path: String
    public var free_percent: Double
    public var free_inodes_percent: Double
    public var measured_age_s: Double
    public init(path: String, free_percent: Double, free_inodes_percent: Double, measured_age_s: Double) {
        self.path = path; self.free_percent = free_percent; self.free_inodes_percent = free_inodes_percent
        self.measured_age_s = measured_age_s
    }
}

public struct StatusResponse: Codable, Sendable {
    public var supervisor: SupervisorInfo
    public var programs: [ProgramStatus]
    public var storage: StorageInfo?
    /// Present when an `engine` program is configured.
    public var engine: EngineStatus?
    /// Present when a `notifier` program is configured.
    public var notifier: NotifierStatusInfo?
    public init(supervisor: SupervisorInfo, programs: [ProgramStatus], storage: StorageInfo?) {
        self.supervisor = supervisor; self.programs = programs; self.storage = storage
    }
}

public struct ProgramRequest: Codable, Sendable {
    public var program: String
    /// Who asked, when it is not the socket peer itself (the dashboard names its session's operator).
    public var author: String?
    public init(program: String, author: String? = nil) { self.program = program; self.author = author }
}

public struct ProgramActionResponse: Codable, Sendable {
    public var program: String
    public var state: String
    public var message: String
    public init(program: String, state: String, message: String) {
        self.program = program; self.state = state; self.message = message
    }
}

public struct LogsRequest: Codable, Sendable {
    public var program: String
    public var lines: Int
    public init(program: String, lines: Int) { self.program = program; self.lines = lines }
}

public struct LogLine: Codable, Sendable {
    public var program: String
    public var at: String
    public var stream: String
    public var text: String
    public init(program: String, at: String, stream: String, text: String) {
        self.program = program; self.at = at; self.stream = stream; self.text = text
    }
}

public struct LogsResponse: Codable, Sendable {
    public var program: String
    /// Lines held in memory for this program in all (the response may carry fewer).
    public var held: Int
    public var lines: [LogLine]
    public init(program: String, held: Int, lines: [LogLine]) { self.program = program; self.held = held; self.lines = lines }
}

/// A lifecycle event of the supervisor: published on the `events` topic.
public struct LifecycleEvent: Codable, Sendable {
    public var at: String
    public var kind: String
    public var severity: String
    public var program: String?
    public var message: String
    public init(at: String, kind: String, severity: String, program: String?, message: String) {
        self.at = at; self.kind = kind; self.severity = severity; self.program = program; self.message = message
    }
}

public struct EventsRequest: Codable, Sendable {
    public var limit: Int
    public init(limit: Int) { self.limit = limit }
}

public struct EventsResponse: Codable, Sendable {
    public var held: Int
    public var events: [LifecycleEvent]
    public init(held: Int, events: [LifecycleEvent]) { self.held = held; self.events = events }
}

public struct ReloadResponse: Codable, Sendable {
    public var added: [String]
    public var removed: [String]
    public var changed: [String]
    public var unchanged: [String]
    /// What happened to each changed section that is not a program (engine, notifier, dashboard, supervisor):
    /// which program was restarted to apply it, or what it waits for.
    public var sections: [String]?
    public init(added: [String], removed: [String], changed: [String], unchanged: [String], sections: [String]? = nil) {
        self.added = added; self.removed = removed; self.changed = changed; self.unchanged = unchanged; self.sections = sections
    }
}

public struct VersionResponse: Codable, Sendable {
    public var version: String
    public var `protocol`: Int
    public init(version: String) { self.version = version; self.protocol = wardenProtocolVersion }
}

/// Topics published on control.sock.
public enum ControlTopic {
    public static let events = "events"
    public static let log = "log"
}
