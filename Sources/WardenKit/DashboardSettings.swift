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
    static let dashboardKeys: Set<String> = ["host", "port", "session_ttl", "login_attempts_per_minute", "list_limit"]

    static func readDashboard(into d: inout DashboardSettings, _ r: StrictReader) {
        let p = "dashboard"
        if let host = r.string("\(p).host") {
            if host.isEmpty || host.contains("/") || host.contains(" ") { r.fail("\(p).host", "`\(host)` is not a host name or address") } else { d.host = host }
        }
        r.int("\(p).port", in: 1...65_535).map { d.port = $0 }
        r.duration("\(p).session_ttl", in: .seconds(60)...(.seconds(30 * 86_400))).map { d.sessionTTL = $0 }
        r.int("\(p).login_attempts_per_minute", in: 1...1000).map { d.loginAttemptsPerMinute = $0 }
        r.int("\(p).list_limit", in: 5...10_000).map { d.listLimit = $0 }
    }
}
