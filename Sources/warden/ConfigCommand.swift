// `warden config keys` and `warden config show`: every key with its type, default and comment, from the same
// declarations the strict check uses; and the effective configuration (defaults, file and environment merged).
import ArgumentParser
import Foundation
import WardenKit
import WardenDashboard
import WardenEngine
import WardenNotifier
import WardenSupervisor

struct ConfigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Explain or show the configuration.",
        subcommands: [Keys.self, Show.self])

    struct Keys: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every key of warden.yaml with its type, default and comment (`<name>` stands for any name).")

        func run() throws {
            var out = ""
            ConfigLoader.register(ConfigLoader.everySection)
            for key in ConfigLoader.allKeys {
                out += "\(key.path)  (\(key.type)\(key.defaultValue.map { "; default \($0)" } ?? ""))\n    \(key.doc)\n"
            }
            print(out, terminator: "")
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The effective configuration: defaults, the file and WARDEN_… environment overrides merged; secrets masked.")

        @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, else etc/warden.yaml of this checkout, else /etc/warden/warden.yaml).")
        var config: String?

        func run() async throws {
            let path = config ?? WardenPaths.defaultConfigFile()
            let cfg: WardenConfiguration
            do { cfg = try await ConfigLoader.loadRegistered(path: path) } catch {
                FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
                throw ExitCode(78)
            }
            print("# effective configuration of \(cfg.file)")
            print(ConfigLoader.effective(cfg).map { "\($0.path): \($0.value)" }.joined(separator: "\n"))
        }
    }
}

extension ConfigLoader {
    /// Every program's sections, in the order `warden config keys` lists them.
    static var everySection: [SectionRegistration] {
        EngineApplication.configSections + NotifierApplication.configSections + DashboardApplication.configSections
            + ProgramsSection.configSections
    }

    /// Loads with every section warden knows of registered first (each program's), so the check covers the whole
    /// file: warden refuses a mistake anywhere in it before any program starts.
    static func loadRegistered(path: String) async throws -> WardenConfiguration {
        register(everySection)
        return try await load(path: path)
    }
}
