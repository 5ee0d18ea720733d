// `warden config keys` and `warden config show`: every key with its type, default and comment, from the same
// declarations the strict check uses; and the effective configuration (defaults, file and environment merged).
import ArgumentParser
import Foundation
import WardenKit

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
            do { cfg = try await ConfigLoader.load(path: path) } catch {
                FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
                throw ExitCode(78)
            }
            print("# effective configuration of \(cfg.file)")
            print(ConfigLoader.effective(cfg).map { "\($0.path): \($0.value)" }.joined(separator: "\n"))
        }
    }
}
