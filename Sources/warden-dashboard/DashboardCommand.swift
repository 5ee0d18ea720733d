// `warden-dashboard`: the operator's browser UI (run by warden). It owns no data: it asks the three sockets.
import ArgumentParser
import WardenDashboard
import WardenIPC
import WardenKit

@main
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "warden-dashboard",
        abstract: "Warden's dashboard on 127.0.0.1:8787 (dashboard.host/port): live, authenticated, honest about age.", version: wardenVersion)

    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, as set by warden).") var config: String?

    func run() async throws {
        do {
            try await ProgramMain.run(program: "warden-dashboard", label: "dashboard", configPath: config,
                                      sections: DashboardApplication.configSections, build: DashboardApplication.build)
        } catch let f as StartFailure { throw ExitCode(f.code) }
    }
}
