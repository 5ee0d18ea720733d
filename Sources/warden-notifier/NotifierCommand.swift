// `warden-notifier`: the alert pipeline process (run by warden), and its channel preflight.
import ArgumentParser
import Foundation
import Logging
import WardenHTTP
import WardenIPC
import WardenKit
import WardenNotifier

@main
struct NotifierCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-notifier", abstract: "Warden's alert pipeline: engine and supervisor alerts to Telegram, webhooks and the log.",
        version: wardenVersion, subcommands: [Run.self, Preflight.self], defaultSubcommand: Run.self)
}

struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, as set by warden).")
    var config: String?

    func load() async throws -> (WardenConfiguration, WardenPaths) { await loadProgramConfiguration(config, program: "warden-notifier", sections: NotifierApplication.configSections) }
}

struct Preflight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check every channel's credentials (Telegram getMe, webhook URL present); exit 1 when one fails.")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let (cfg, _) = try await options.load()
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        var retry = RetryPolicy()
        retry.maxAttempts = 1
        let results = await Notifier.preflight(cfg.notifier, http: HTTPClient(retry: retry), logger: Logger(label: "notifier"))
        for r in results { print("\(r.ok ? "OK   " : "FAIL ") channel \(r.name): \(r.detail)") }
        if results.contains(where: { !$0.ok }) { throw ExitCode(1) }
    }
}

struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the notifier (the default).")
    @OptionGroup var options: CommonOptions

    func run() async throws {
        do {
            try await ProgramMain.run(program: "warden-notifier", label: "notifier", configPath: options.config,
                                      sections: NotifierApplication.configSections, build: NotifierApplication.build)
        } catch let f as StartFailure { throw ExitCode(f.code) }
    }
}
