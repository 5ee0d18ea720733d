// The dashboard's section of warden.yaml (`dashboard:`), with defaults; read strictly by ConfigLoader.

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

extension ConfigLoader {
    static func readDashboard(into d: inout DashboardSettings, _ r: StrictReader) {
        DashboardSettings.readDeclared(into: &d, prefix: "dashboard", r)
    }
}
