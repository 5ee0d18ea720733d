// The dashboard's section of warden.yaml (`dashboard:`): keys, defaults, bounds and comments declared once here in the
// module that reads them; read strictly by WardenKit's ConfigLoader once registered.
public import WardenKit

public struct DashboardSettings: Sendable, Equatable {
    /// Loopback by default: put a reverse proxy with TLS in front to reach it from elsewhere.
    public var host = "127.0.0.1"
    public var port = 8787
    /// A session lasts this long after login.
    public var sessionTTL: Duration = .seconds(12 * 3600)
    /// Failed logins allowed per client address per minute; more are refused with 429.
    public var loginAttemptsPerMinute = 5
    /// Rows a page shows before it says "last N of M".
    public var listLimit = 50
    public init() {}
}

extension DashboardSettings: ConfigSection {
    public static let configPath = "dashboard"
    public static var defaults: DashboardSettings { DashboardSettings() }
    public static let configKeys: [KeyDeclaration<DashboardSettings>] = [
        .string("host", \.host, "Address the dashboard listens on (loopback: put a TLS reverse proxy in front)") { host in
            host.isEmpty || host.contains("/") || host.contains(" ") ? "`\(host)` is not a host name or address" : nil
        },
        .int("port", \.port, in: 1...65_535, "TCP port the dashboard listens on"),
        .duration("session_ttl", \.sessionTTL, in: .seconds(60)...(.seconds(30 * 86_400)), "A login lasts this long"),
        .int("login_attempts_per_minute", \.loginAttemptsPerMinute, in: 1...1000, "Failed logins per client address per minute before 429"),
        .int("list_limit", \.listLimit, in: 5...10_000, "Rows a page lists before it says \"last N of M\""),
    ]
}

extension WardenConfiguration {
    /// The `dashboard:` section (its defaults in a process that did not register it).
    public var dashboard: DashboardSettings {
        get { sections.get(DashboardSettings.self) }
        set { sections.set(newValue) }
    }
}

extension DashboardSettings {
    /// The sections the dashboard reads.
    public static var configSections: [SectionRegistration] { [.of(DashboardSettings.self)] }
}
