// The validated configuration of a Warden installation: the supervisor's section (paths and logging every process
// reads) and the sections each module declares and registers (the programs, the engine, the notifier, …).
import Foundation
public import Logging

/// Signals a program may name as its stop signal (what real daemons want: postgres INT, php-fpm QUIT, haproxy USR1).
public let stopSignalNames: [String: Int32] = ["TERM": SIGTERM, "INT": SIGINT, "QUIT": SIGQUIT, "HUP": SIGHUP,
                                               "USR1": SIGUSR1, "USR2": SIGUSR2, "WINCH": SIGWINCH]

/// Whether child log lines go to journald.
public enum JournaldMode: String, Sendable, Equatable, CaseIterable {
    case auto, on, off
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
    /// The sections declared by the modules that read them and registered in this process (`programs` by the
    /// supervisor's, `engine` and each strategy's, `notifier`, `dashboard`); each module reads its own through an
    /// accessor of its own (`config.programs`, `config.engine`).
    public var sections = RegisteredSections()

    public init(file: String) { self.file = file }
}
