// The dashboard's section, declared in WardenDashboard: its defaults, its bounds, and the errors it names.
import Testing
import WardenDashboard
import WardenKit
import WardenTestKit

@Suite("Dashboard section")
struct DashboardSettingsTests {
    @Test("nothing written: the declared defaults (loopback, port 8787, 12 h sessions)")
    func defaults() async throws {
        let c = try await ConfigFixture.load("programs: {}\n", sections: DashboardApplication.configSections)
        #expect(c.dashboard == DashboardSettings())
        #expect(c.dashboard.host == "127.0.0.1" && c.dashboard.port == 8787 && c.dashboard.sessionTTL == .seconds(12 * 3600))
    }

    @Test("values are read; out-of-range, wrong types, bad hosts and unknown keys are named with their paths, all at once")
    func bounds() async throws {
        let c = try await ConfigFixture.load("dashboard:\n  host: 0.0.0.0\n  port: 9000\n  list_limit: 100\n",
                                             sections: DashboardApplication.configSections)
        #expect(c.dashboard.host == "0.0.0.0" && c.dashboard.port == 9000 && c.dashboard.listLimit == 100)
        let found = try await ConfigFixture.problems("""
        dashboard:
          host: "a b"
          port: 70000
          session_ttl: 10s
          login_attempts_per_minute: many
          list_limt: 5
        """, sections: DashboardApplication.configSections)
        #expect(found.contains { $0.hasPrefix("dashboard.host: `a b` is not a host name") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("dashboard.port: 70000 is out of range 1…65535") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("dashboard.session_ttl: 10s is out of range") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("dashboard.login_attempts_per_minute: expected an integer") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("dashboard.list_limt: unknown key (did you mean `list_limit`?)") }, "\(found)")
    }
}
