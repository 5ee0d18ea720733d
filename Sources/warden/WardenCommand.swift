// `warden`: the supervisor. Loads the configuration, takes the instance lock, serves control.sock and notify.sock.
import ArgumentParser
import Foundation
import Logging
import WardenIPC
import WardenKit
import WardenSupervisor

@main
struct WardenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden",
        abstract: "Supervises Warden's programs: spawns, watchdogs and restarts them.",
        version: wardenVersion,
        subcommands: [RunCommand.self, ConfigCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// `warden [--config FILE] [--check-config]`: the supervisor itself (the default subcommand).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the supervisor (the default: `warden --config FILE` is `warden run --config FILE`).")

    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, else etc/warden.yaml of this checkout, else /etc/warden/warden.yaml).")
    var config: String?

    @Flag(name: .long, help: "Validate the configuration and exit.")
    var checkConfig = false

    /// Exit codes: 78 invalid configuration, 75 another instance holds the lock, 73 directories unusable.
    func run() async throws {
        let path = config ?? WardenPaths.defaultConfigFile()
        let cfg: WardenConfiguration
        do {
            cfg = try await ConfigLoader.loadRegistered(path: path)
        } catch {
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig {
            print("configuration OK: \(cfg.file) (\(cfg.programs.count) programs: \(cfg.programs.map(\.name).joined(separator: ", ")))")
            return
        }
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        do { try await SupervisorApplication.run(config: cfg, logger: Logger(label: "warden")) } catch let f as StartFailure {
            if !f.message.isEmpty { FileHandle.standardError.write(Data("warden: \(f.message)\n".utf8)) }
            throw ExitCode(f.code)
        }
    }
}
