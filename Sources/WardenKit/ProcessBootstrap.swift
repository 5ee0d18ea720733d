// The one way every Warden process runs its services: a ServiceGroup with graceful SIGTERM/SIGINT.
import Foundation
public import Logging
public import ServiceLifecycle
import UnixSignals

public enum ProcessBootstrap {
    /// Files this process creates (databases, backups, tokens) are readable by its user only (0600), whatever
    /// umask it was started with (outside systemd often 022, which made the databases 0644).
    public static func privateFiles() { umask(0o077) }

    /// Runs `services` until SIGTERM/SIGINT or until one of them ends; any ending shuts the group down.
    public static func run(_ services: [any Service], logger: Logger) async throws {
        let configured = services.map {
            ServiceGroupConfiguration.ServiceConfiguration(
                service: $0,
                successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var config = ServiceGroupConfiguration(services: configured, logger: logger)
        config.gracefulShutdownSignals = [.sigterm, .sigint]
        let group = ServiceGroup(configuration: config)
        try await group.run()
    }
}

/// A program could not start: said on standard error and in its log, and the process exits with `code`
/// (78 EX_CONFIG for what its configuration or files say, 1 for a store it cannot use).
public struct StartFailure: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public init(code: Int32, _ message: String) { self.code = code; self.message = message }
    public var description: String { message }
}

/// The shape of every Warden program's `run`: the role's module builds its services from its configuration (an
/// `…Application.build`, as hummingbird's `buildApplication`), and this runs them. A main is argument parsing
/// around one call of `ProgramMain.run`.
public enum ProgramMain {
    /// Arms parent-death, makes files private, loads the configuration with `sections` registered (an invalid one
    /// exits 78 naming every bad key), starts logging, creates the directories, builds and runs the services.
    public static func run(program: String, label: String, configPath: String?, sections: [SectionRegistration],
                           build: (WardenConfiguration, WardenPaths, Logger) async throws -> [any Service]) async throws {
        ParentDeath.arm()
        ProcessBootstrap.privateFiles()
        let (cfg, paths) = await loadProgramConfiguration(configPath, program: program, sections: sections)
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        let logger = Logger(label: label)
        try paths.createDirectories()
        let services: [any Service]
        do { services = try await build(cfg, paths, logger) } catch let failure as StartFailure {
            logger.critical("\(failure.message)")
            FileHandle.standardError.write(Data("\(program): \(failure.message)\n".utf8))
            throw failure
        }
        try await ProcessBootstrap.run(services, logger: logger)
    }
}
