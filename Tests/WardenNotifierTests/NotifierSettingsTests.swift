// The notifier's section and its channels, declared in WardenNotifier: defaults, bounds, and the errors named.
import Testing
import WardenKit
import WardenNotifier
import WardenTestKit

@Suite("Notifier section")
struct NotifierSettingsTests {
    @Test("nothing written: one log channel, the declared timings, a digest at 08:00, no quiet hours")
    func defaults() async throws {
        let c = try await ConfigFixture.load("programs: {}\n", sections: NotifierApplication.configSections)
        #expect(c.notifier == NotifierSettings())
        #expect(c.notifier.channels.map(\.name) == ["log"] && c.notifier.digestAt == 8 * 60 && c.notifier.quietStart == nil)
    }

    @Test("channels by name with their kind's own limits; quiet hours; every mistake named with its path")
    func channelsAndErrors() async throws {
        let c = try await ConfigFixture.load("""
        notifier:
          quiet_hours: {start: "22:00", end: "07:00"}
          digest_at: "off"
          channels:
            ops: {kind: telegram, min_severity: warning}
            hook: {kind: webhook, format: discord}
        """, sections: NotifierApplication.configSections)
        #expect(c.notifier.channels.map(\.name) == ["ops", "hook"], "the given channels replace the default log channel, in file order")
        #expect(c.notifier.channel(named: "ops")?.maxLength == 4096 && c.notifier.channel(named: "hook")?.maxLength == 2000)
        #expect(c.notifier.channel(named: "ops")?.minSeverity == .warning)
        #expect(c.notifier.quietStart == 22 * 60 && c.notifier.quietEnd == 7 * 60 && c.notifier.digestAt == nil)
        let found = try await ConfigFixture.problems("""
        notifier:
          quiet_hours: {start: "25:00"}
          coalesce_window: 2d
          channels:
            Ops: {kind: log}
            tg: {kind: pigeon}
            hook: {kind: webhook, per_minit: 3}
        """, sections: NotifierApplication.configSections)
        #expect(found.contains { $0.hasPrefix("notifier.quiet_hours.start: `25:00` is not a UTC time of day") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("notifier.coalesce_window: 2d is out of range") || $0.hasPrefix("notifier.coalesce_window: `2d` is not a duration") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("notifier.channels.Ops: channel names are 1-32") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("notifier.channels.tg.kind: `pigeon` is not one of: telegram, webhook, log") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("notifier.channels.hook.per_minit: unknown key (did you mean `per_minute`?)") }, "\(found)")
    }
}
