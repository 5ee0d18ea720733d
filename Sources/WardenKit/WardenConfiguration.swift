// The validated configuration of a Warden installation: supervisor settings and program specs.
import Foundation
public import Logging

/// How a program proves it is ready.
public enum ReadinessMode: String, Sendable, Equatable, CaseIterable {
    /// Wait for `READY=1` over the notify socket (Warden's own programs).
    case notify
    /// Ready as soon as it has been spawned (programs that do not speak sd_notify).
    case spawn
}

/// When a program that exited is started again.
/// Who gets the stop signal: the main process's group (default), the main process only with SIGKILL to the
/// rest at the timeout (systemd's mixed), or the main process only.
public enum KillMode: String, Sendable, Equatable, CaseIterable {
    case group, mixed, process
}

/// Signals a program may name as its stop signal (what real daemons want: postgres INT, php-fpm QUIT, haproxy USR1).
public let stopSignalNames: [String: Int32] = ["TERM": SIGTERM, "INT": SIGINT, "QUIT": SIGQUIT, "HUP": SIGHUP,
                                               "USR1": SIGUSR1, "USR2": SIGUSR2, "WINCH": SIGWINCH]

/// Whose sd_notify messages count for a program: its main process only, also its pre_start, or any of its
/// processes (systemd's NotifyAccess=).
public enum NotifyAccess: String, Sendable, Equatable, CaseIterable {
    case main, exec, all
}

public enum RestartMode: String, Sendable, Equatable, CaseIterable {
    case always
    case onFailure = "on-failure"
    case never
}

/// Whether child log lines go to journald.
public enum JournaldMode: String, Sendable, Equatable, CaseIterable {
    case auto, on, off
}

/// Jittered exponential backoff between restarts of a program that was not stable.
public struct BackoffSettings: Sendable, Equatable {
    public var initial: Duration = .milliseconds(100)
    public var max: Duration = .seconds(30)
    public var multiplier: Double = 2
    /// Fraction of the delay added or removed at random (0.2 = ±20 %).
    public var jitter: Double = 0.2
    public init() {}
}

/// More than `maxRestarts` restarts within `window` makes a program FATAL.
public struct IntensitySettings: Sendable, Equatable {
    public var maxRestarts: Int = 5
    public var window: Duration = .seconds(60)
    public init() {}
}

/// Resource limits: warn at 80 %, restart at 100 % (measured from the program's cgroup where the controllers
/// are delegated, else from /proc for its main process); with the controllers, also enforced by the kernel
/// (memory.max, pids.max) for the whole program.
public struct ResourceLimits: Sendable, Equatable {
    public var rssMB: Int?
    public var fds: Int?
    /// Processes and threads of the whole program (pids.max); needs the pids controller.
    public var pids: Int?
    public init() {}
}

/// One supervised program, as configured under `programs.<name>`.
public struct ProgramSpec: Sendable, Equatable {
    public var name: String
    public var command: [String]
    public var env: [String: String] = [:]
    /// Secret-bearing variables of warden's own environment this program receives (`CREDENTIALS_DIRECTORY`,
    /// `WARDEN_SECRET_*`; a trailing `*` matches a prefix). The others never reach it.
    public var passEnv: [String] = []
    public var after: [String] = []
    public var critical = false
    public var autostart = true
    public var ready: ReadinessMode = .notify
    public var startTimeout: Duration = .seconds(30)
    /// Heartbeat interval; nil means no watchdog.
    public var watchdogSec: Duration?
    public var stopTimeout: Duration = .seconds(10)
    /// Sent to stop (and to restart) the program; SIGKILL follows after `stopTimeout`.
    public var stopSignal: Int32 = SIGTERM
    public var killMode: KillMode = .group
    /// Exit codes that are a clean exit, not a crash (always 0 among them unless listed otherwise).
    public var exitOK: [Int32] = [0]
    public var notifyAccess: NotifyAccess = .main
    /// Sent by `wardenctl reload PROGRAM` (nil: the program cannot be reloaded, only restarted).
    public var reloadSignal: Int32?
    /// A reload (RELOADING=1 … READY=1) not confirmed within this is said as failed.
    public var reloadTimeout: Duration = .seconds(90)
    /// Run as this user (name or uid) and group (default: the user's primary group), with the user's
    /// supplementary groups; warden must be root to use them.
    public var user: String?
    public var group: String?
    /// The file mode creation mask (octal, e.g. 027); nil: warden's own.
    public var umask: Int?
    /// Working directory (default: the configuration root).
    public var workingDir: String?
    /// RLIMIT_NOFILE and RLIMIT_CORE (soft and hard) for the program.
    public var limitNofile: Int?
    public var limitCore: Int?
    /// Sockets warden binds for the program and passes to it (socket activation, LISTEN_FDS): they stay bound
    /// across its restarts, so no connection is refused while it restarts.
    public var listen: [ListenAddress] = []
    /// How many fds the program may keep in warden's fd store (FDSTORE=1); 0 (the default, as systemd's
    /// FileDescriptorStoreMax) refuses them, said as an event.
    public var fdStoreMax = 0
    public var restart: RestartMode = .always
    public var backoff = BackoffSettings()
    public var stableAfter: Duration = .seconds(10)
    public var intensity = IntensitySettings()
    public var cooldown: Duration = .seconds(300)
    public var limits = ResourceLimits()
    public var preStart: [String]?
    public var preStartTimeout: Duration = .seconds(60)
    /// What the program offers (`offers:`): the role it runs (it reads that section, so a change to it restarts
    /// the program; `wardenctl`'s `<role>.…` requests go to it; its status shows in `wardenctl status`) and the
    /// socket in the runtime directory it answers on. Warden knows programs by these, never by their names.
    public var offers = Offers()

    public struct Offers: Sendable, Equatable {
        /// One of `ConfigLoader.roleSections` (engine, notifier, dashboard); nil: an ordinary program.
        public var role: String?
        /// A socket file name in the runtime directory (`engine.sock`) warden keeps a link to.
        public var socket: String?
        public init() {}
    }

    public init(name: String, command: [String]) {
        self.name = name
        self.command = command
    }
}

/// Settings of the supervisor itself, under `supervisor:`.
public struct SupervisorSettings: Sendable, Equatable {
    /// Base for relative paths, relative to the configuration file's folder.
    public var root = ".."
    public var stateDir = "var/lib"
    public var runtimeDir = "var/run"
    public var logsDir = "var/log"
    public var logLevel: Logger.Level = .info
    public var journald: JournaldMode = .auto
    public var logMaxBytes = 10 * 1024 * 1024
    public var logKeepFiles = 3
    public var logTailLines = 1000
    public var resourceInterval: Duration = .seconds(2)
    public var diskWarnPercent = 10.0
    public var diskCriticalPercent = 5.0
    public var eventBuffer = 2000
    public var allowedUIDs: [Int] = []
    public var tick: Duration = .milliseconds(20)
    /// How programs' processes are held: auto (a cgroup v2 per program when one can be had, else subreaper
    /// tracking), cgroup (required), subreaper.
    public var containment = "auto"
    public init() {}
}

/// A whole, validated configuration.
public struct WardenConfiguration: Sendable, Equatable {
    /// Absolute path of the file it was read from.
    public var file: String
    public var supervisor = SupervisorSettings()
    /// The sections declared by the roles' modules and registered in this process (`engine`, each strategy's,
    /// `notifier`, `dashboard`); each module reads its own through an accessor of its own (`config.engine`).
    public var sections = RegisteredSections()
    /// Programs in the order the file lists them.
    public var programs: [ProgramSpec] = []

    public init(file: String) { self.file = file }

    public func program(named name: String) -> ProgramSpec? { programs.first { $0.name == name } }

    /// The program that runs `role` (`offers.role`), if one is configured.
    public func program(offering role: String) -> ProgramSpec? { programs.first { $0.offers.role == role } }
}

extension ProgramSpec {
    /// True for variables of warden's environment that carry secrets: a program gets them only through `pass_env`.
    public static func isSecretBearing(_ name: String) -> Bool {
        name == "CREDENTIALS_DIRECTORY" || name.hasPrefix("WARDEN_SECRET_")
    }

    /// Whether `pass_env` lets `name` through.
    public func passes(_ name: String) -> Bool {
        passEnv.contains { $0.hasSuffix("*") ? name.hasPrefix($0.dropLast()) : $0 == name }
    }
}

/// A socket `listen:` binds: a numeric host and port, or a Unix socket path.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case inet(host: String, port: Int)
    case unix(path: String)

    public var description: String {
        switch self {
        case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        }
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `/run/app.sock` or `unix:relative/app.sock` (resolved against the
    /// configuration's root when bound).
    public static func parse(_ text: String) -> Result<ListenAddress, WardenError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("/") { return .success(.unix(path: t)) }
        if t.hasPrefix("unix:") {
            let rest = String(t.dropFirst(5))
            guard !rest.isEmpty else { return .failure(WardenError(.configuration, "`\(text)`: no path after unix:")) }
            return .success(.unix(path: rest))
        }
        var host: Substring, port: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]"), t[t.index(after: close)...].hasPrefix(":") else {
                return .failure(WardenError(.configuration, "`\(text)` is not [IPv6]:port"))
            }
            host = t[t.index(after: t.startIndex)..<close]
            port = t[t.index(close, offsetBy: 2)...]
        } else {
            guard let colon = t.lastIndex(of: ":") else {
                return .failure(WardenError(.configuration, "`\(text)` is neither host:port nor a socket path (/… or unix:…)"))
            }
            host = t[..<colon]; port = t[t.index(after: colon)...]
        }
        guard let p = Int(port), (1...65535).contains(p) else {
            return .failure(WardenError(.configuration, "`\(text)`: port `\(port)` is not 1…65535"))
        }
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, String(host), &v4) == 1 || inet_pton(AF_INET6, String(host), &v6) == 1 else {
            return .failure(WardenError(.configuration, "`\(text)`: host `\(host)` is not a numeric IP address"))
        }
        return .success(.inet(host: String(host), port: p))
    }
}
