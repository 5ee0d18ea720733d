// Configuration loading: every bad value names its key path; durations; environment overrides.
import Foundation
import Testing
@testable import WardenKit
import WardenSupervisor
import WardenEngine
import WardenNotifier
import WardenDashboard
import Logging

private func write(_ yaml: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wk-\(UUID().uuidString)/etc")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let file = dir.appendingPathComponent("warden.yaml")
    try yaml.write(to: file, atomically: true, encoding: .utf8)
    return file.path
}

private func issues(_ yaml: String, env: [String: String] = [:]) async throws -> [String] {
    do {
        _ = try await ConfigLoader.loadAll(path: try write(yaml), environment: env)
        return []
    } catch let e as ConfigurationError {
        return e.issues.map(\.description)
    }
}

@Suite("Configuration")
struct ConfigLoaderTests {
    @Test("a full program definition loads with its values")
    func loadsProgram() async throws {
        let c = try await ConfigLoader.loadAll(path: try write("""
        supervisor:
          log_level: debug
        programs:
          notifier:
            command: [warden-notifier]
          engine:
            command: [warden-engine, --paper]
            env: {MODE: paper}
            after: [notifier]
            critical: true
            watchdog_sec: 250ms
            backoff: {initial: 50ms, max: 5m, multiplier: 3, jitter: 0.1}
            intensity: {max_restarts: 7, window: 2m}
            limits: {rss_mb: 300, fds: 512}
            pre_start: [warden-engine, preflight]
        """), environment: [:])
        #expect(c.programs.map(\.name) == ["notifier", "engine"])
        let e = try #require(c.program(named: "engine"))
        #expect(e.command == ["warden-engine", "--paper"])
        #expect(e.env == ["MODE": "paper"])
        #expect(e.watchdogSec == .milliseconds(250))
        #expect(e.backoff.max == .seconds(300))
        #expect(e.backoff.multiplier == 3)
        #expect(e.intensity.maxRestarts == 7)
        #expect(e.limits.rssMB == 300)
        #expect(e.preStart == ["warden-engine", "preflight"])
        #expect(c.supervisor.logLevel == .debug)
    }

    @Test("an unknown key is named with its path and a suggestion")
    func unknownKey() async throws {
        let found = try await issues("programs:\n  engine:\n    command: [x]\n    watchdog: 5s\n")
        #expect(found.contains { $0.hasPrefix("programs.engine.watchdog: unknown key") && $0.contains("watchdog_sec") })
    }

    @Test("engine keys: replay needs its file, a tag id must be numeric, replay_speed is bounded")
    func engineKeys() async throws {
        let found = try await issues("engine:\n  source: replay\n  replay_speed: 0\n  filters:\n    tag_ids: [\"politics\"]\nprograms: {}\n")
        #expect(found.contains { $0.hasPrefix("engine.replay_file: required when source is replay") })
        #expect(found.contains { $0.hasPrefix("engine.replay_speed:") })
        #expect(found.contains { $0.hasPrefix("engine.filters.tag_ids: `politics` is not a numeric Gamma tag id") })
    }

    @Test("engine.ws: its keys load; bad ones are named with their path (unknown, out of range, not a ws URL, base over cap)")
    func webSocketKeys() async throws {
        let c = try await ConfigLoader.loadAll(path: try write("""
        engine:
          clob_url: http://127.0.0.1:18080
          ws:
            assets_per_connection: 250
            silent_after: 45s
            reconnect: {base: 500ms, multiplier: 3, cap: 30s, jitter: 0.1, max_attempts: 4, stable_after: 2m}
        programs: {}
        """))
        #expect(c.engine.ws.assetsPerConnection == 250 && c.engine.ws.silentAfter == .seconds(45))
        #expect(c.engine.ws.reconnectBase == .milliseconds(500) && c.engine.ws.reconnectMaxAttempts == 4 && c.engine.ws.stableAfter == .seconds(120))
        #expect(c.engine.wsURL == "ws://127.0.0.1:18080/ws/market", "a CLOB elsewhere than Polymarket's gets its own host's channel")
        #expect(EngineSettings().wsURL == "wss://ws-subscriptions-clob.polymarket.com/ws/market")
        let found = try await issues("""
        engine:
          ws:
            assets_per_connection: 501
            url: http://example.invalid/ws
            reconnect: {base: 2m, cap: 1m, max_attempt: 3}
        programs: {}
        """)
        #expect(found.contains { $0.hasPrefix("engine.ws.assets_per_connection: 501") })
        #expect(found.contains { $0.hasPrefix("engine.ws.url: `http://example.invalid/ws` is not a ws(s) URL") })
        #expect(found.contains { $0.hasPrefix("engine.ws.reconnect.base: must not exceed reconnect.cap") })
        #expect(found.contains { $0.hasPrefix("engine.ws.reconnect.max_attempt: unknown key") && $0.contains("max_attempts") })
    }

    @Test("a wrong type is named with its path")
    func wrongType() async throws {
        let found = try await issues("programs:\n  engine:\n    command: [x]\n    critical: maybe\n    limits: {rss_mb: lots}\n")
        #expect(found.contains { $0.hasPrefix("programs.engine.critical: expected true or false") })
        #expect(found.contains { $0.hasPrefix("programs.engine.limits.rss_mb: expected an integer") })
    }

    @Test("out-of-range values and bad durations are refused")
    func outOfRange() async throws {
        let found = try await issues("""
        supervisor:
          disk_warn_percent: 150
        programs:
          engine:
            command: [x]
            watchdog_sec: 10 parsecs
            backoff: {jitter: 3}
            after: [ghost]
        """)
        #expect(found.contains { $0.hasPrefix("supervisor.disk_warn_percent: 150.0 is out of range") })
        #expect(found.contains { $0.hasPrefix("programs.engine.watchdog_sec: `10 parsecs` is not a duration") })
        #expect(found.contains { $0.hasPrefix("programs.engine.backoff.jitter:") })
        #expect(found.contains { $0.hasPrefix("programs.engine.after: names `ghost`") })
    }

    @Test("a missing command is required")
    func missingCommand() async throws {
        #expect(try await issues("programs:\n  engine:\n    critical: true\n").contains { $0.hasPrefix("programs.engine.command: required") })
    }

    @Test("WARDEN_ environment variables override the file")
    func environmentOverride() async throws {
        let path = try write("programs:\n  engine:\n    command: [x]\n    watchdog_sec: 5s\n")
        let c = try await ConfigLoader.loadAll(path: path, environment: ["WARDEN_PROGRAMS_ENGINE_WATCHDOG_SEC": "9s",
                                                                      "WARDEN_SUPERVISOR_LOG_LEVEL": "warning"])
        #expect(c.program(named: "engine")?.watchdogSec == .seconds(9))
        #expect(c.supervisor.logLevel == .warning)
        let bad = try await issues("programs:\n  engine:\n    command: [x]\n", env: ["WARDEN_PROGRAMS_ENGINE_CRITICAL": "sometimes"])
        #expect(bad.contains { $0.hasPrefix("programs.engine.critical:") })
    }

    @Test("what a program offers is declared, never inferred from its name: one program per role, a socket needs its role")
    func offers() async throws {
        let c = try await ConfigLoader.loadAll(path: try write("""
        programs:
          trader:
            command: [x]
            offers: {role: engine, socket: trader.sock}
          alerts:
            command: [x]
            offers: {role: notifier, socket: alerts.sock}
          engine:
            command: [x]
        """))
        #expect(c.program(offering: "engine")?.name == "trader" && c.program(offering: "engine")?.offers.socket == "trader.sock")
        #expect(c.program(offering: "notifier")?.name == "alerts")
        #expect(c.program(named: "engine")?.offers == ProgramSpec.Offers(), "a program called engine offers nothing it does not declare")
        let found = try await issues("""
        programs:
          a:
            command: [x]
            offers: {role: engine, socket: a.sock}
          b:
            command: [x]
            offers: {role: engine}
          c:
            command: [x]
            offers: {socket: c.sock}
          d:
            command: [x]
            offers: {role: trader, socket: ../d}
        """)
        #expect(found.contains { $0.hasPrefix("programs.b.offers.role: `engine` is already the role of `a`") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("programs.c.offers.role: required with offers.socket") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("programs.d.offers.role: `trader` is not one of: engine, notifier, dashboard") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("programs.d.offers.socket: `../d` is not a socket file name") }, "\(found)")
    }

    @Test("a start-order cycle is refused")
    func cycle() async throws {
        let found = try await issues("programs:\n  a:\n    command: [x]\n    after: [b]\n  b:\n    command: [x]\n    after: [a]\n")
        #expect(found.contains { $0.contains("cycle") })
    }

    @Test("durations as operators write them")
    func durations() {
        #expect(Duration.parse(config: "250ms") == .milliseconds(250))
        #expect(Duration.parse(config: "10s") == .seconds(10))
        #expect(Duration.parse(config: "5m") == .seconds(300))
        #expect(Duration.parse(config: "1.5s") == .milliseconds(1500))
        #expect(Duration.parse(config: "7") == .seconds(7))
        #expect(Duration.parse(config: "-1s") == nil)
        #expect(Duration.parse(config: "soon") == nil)
    }

    @Test("paths resolve against the configuration root, systemd directories win")
    func paths() async throws {
        let path = try write("programs: {}\n")
        let c = try await ConfigLoader.loadAll(path: path, environment: [:])
        let root = URL(fileURLWithPath: path).deletingLastPathComponent().deletingLastPathComponent().path
        let local = WardenPaths.resolve(c, environment: [:])
        #expect(local.stateDir == root + "/var/lib")
        #expect(local.controlSocket == root + "/var/run/control.sock")
        let sd = WardenPaths.resolve(c, environment: ["STATE_DIRECTORY": "/var/lib/warden", "RUNTIME_DIRECTORY": "/run/warden:/run/other"])
        #expect(sd.stateDir == "/var/lib/warden")
        #expect(sd.runtimeDir == "/run/warden")
    }
}
