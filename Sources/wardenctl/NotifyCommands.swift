// wardenctl's alert commands: forwarded by the supervisor to notifier.sock.
import ArgumentParser
import Foundation
import WardenDashboard
import WardenIPC
import WardenKit

struct Notify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Alert channels: send a test message, or an operator message.",
                                                    subcommands: [NotifyTest.self, NotifySend.self])
}

struct NotifyTest: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "test",
        abstract: "Send a test message through CHANNEL now and report its answer; success clears a failed channel.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "A channel name from notifier.channels.") var channel: String

    func run() async throws {
        let d = common.duration
        let r = try await common.withClient {
            try await $0.call("notifier.test_channel", TestChannelRequest(channel: channel, author: author()), as: TestChannelResponse.self, timeout: d)
        }
        if common.json { try printJSON(r) } else { print("\(r.channel): \(r.ok ? "ok" : "FAILED") — \(r.detail)") }
        if !r.ok { throw ExitCode(1) }
    }
}

struct NotifySend: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "send", abstract: "Queue an operator message to every channel its severity routes to.")
    @OptionGroup var common: CommonOptions
    @Option(help: "info | warning | critical") var severity = "warning"
    @Argument(help: "The message.") var message: String

    func validate() throws {
        guard ["info", "warning", "critical"].contains(severity) else { throw ValidationError("--severity must be info, warning or critical, not `\(severity)`") }
        guard !message.trimmingCharacters(in: .whitespaces).isEmpty else { throw ValidationError("the message is empty") }
    }

    func run() async throws {
        let d = common.duration
        let r = try await common.withClient {
            try await $0.call("notifier.notify", NotifyRequest(severity: severity, message: message, author: author()), as: NotifyResponse.self, timeout: d)
        }
        if common.json { try printJSON(r) } else { print(r.queued.isEmpty ? "no channel takes \(severity) messages" : "queued for \(r.queued.joined(separator: ", "))") }
    }
}

struct DashboardToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dashboard-token",
        abstract: "Print the dashboard's login token (created by the dashboard at its first start, mode 0600 in the state directory).")
    @Option(name: .long, help: "Configuration file.") var config: String?

    func run() async throws {
        let (cfg, paths) = await loadProgramConfiguration(config, program: "wardenctl", sections: DashboardSettings.configSections)
        let path = paths.stateDir + "/dashboard.token"
        guard let data = FileManager.default.contents(atPath: path), let token = String(data: data, encoding: .utf8) else {
            FileHandle.standardError.write(Data("wardenctl: no readable token at \(path) (has the dashboard started? are you its user?)\n".utf8))
            throw ExitCode(1)
        }
        print(token.trimmingCharacters(in: .whitespacesAndNewlines))
        FileHandle.standardError.write(Data("dashboard: http://\(cfg.dashboard.host):\(cfg.dashboard.port)/\n".utf8))
    }
}
