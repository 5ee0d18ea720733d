// The one way every Warden process runs its services: a ServiceGroup with graceful SIGTERM/SIGINT.
import Logging
import ServiceLifecycle
import UnixSignals

public enum ProcessBootstrap {
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
