// The one way every Warden process runs its services: a ServiceGroup with graceful SIGTERM/SIGINT.
import Foundation
import Logging
import ServiceLifecycle
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
