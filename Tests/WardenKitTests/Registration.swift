// The sections warden registers at start (each program's, each strategy's), registered here the same way so these
// tests read a whole file as warden does.
import WardenDashboard
import WardenEngine
import WardenKit
import WardenNotifier
import WardenSupervisor

let everySection = EngineSettings.configSections + NotifierSettings.configSections + DashboardSettings.configSections
    + ProgramsSection.configSections

extension ConfigLoader {
    /// `load` with every program's sections registered first.
    static func loadAll(path: String, environment: [String: String] = [:]) async throws -> WardenConfiguration {
        register(everySection)
        return try await load(path: path, environment: environment)
    }
}
