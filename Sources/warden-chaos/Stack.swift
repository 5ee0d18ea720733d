// The whole Warden stack in a fresh temporary tree: the real `warden` supervising the notifier, engine and
// dashboard, trading on the loopback Polymarket fake and alerting to the loopback Telegram fake. The runner
// reads it the way an operator does: `wardenctl status --json`, the dashboard's /api/state and /metrics, and
// what reached the alert channel.
import Foundation
import Logging
import Synchronization
import WardenCore
import WardenFakes
import WardenHTTP
import WardenIPC
import WardenTestKit

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// What a scenario changes in the stack's configuration.
struct StackOptions {
    var engine = ""            // extra YAML under `engine:` (two-space indented keys)
    var notifier = ""          // extra YAML under `notifier:`
    var supervisor = ""        // extra YAML under `supervisor:`
    var programs = ""          // extra programs (two-space indented)
    var engineWatchdog = "5s"
    var notifierWatchdog = "3s"
    var dashboardWatchdog = "3s"
    var engineEnv: [String: String] = [:]
    var engineProgram = ""     // extra keys of the engine program (four-space indented)
    var tmpfsStateMB: Int?     // the state directory on a tmpfs of this size (root only)
    var dailyLoss = "100000"   // engine.risk.daily_loss
    /// mean_reversion trades live on a CLOB trading fake beside the market fake (issue 14's rows); `liveExtra`: more
    /// keys under `engine.live` (four-space indented).
    var live = false
    var liveExtra = ""
}

/// The throwaway key the live scenarios sign with (orders go to the loopback CLOB fake only).
let chaosLiveKey = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"

final class Stack: @unchecked Sendable {
    let bin: String
    let root: String
    let market: PolymarketFake
    let channels: AlertChannelFake
    /// The CLOB trading fake of a live scenario, its liquidity following the market fake's books.
    let clob: ClobFake?
    private var clobFeed: Task<Void, Never>?
    let dashPort: Int
    private(set) var options: StackOptions
    private(set) var warden: WardenProcess?
    private let http = CurlEngine()
    /// Every fill a subscriber of engine.sock was told about, across restarts (one reconnecting client).
    let told = Ledger()
    private var subscriber: [Task<Void, Never>] = []
    private var mounted = false

    var configPath: String { root + "/etc/warden.yaml" }
    var runtimeDir: String { root + "/var/run" }
    var stateDir: String { root + "/var/lib" }
    var controlSocket: String { runtimeDir + "/control.sock" }

    static func start(bin: String, work: String, name: String, seed: Int, options: StackOptions = StackOptions()) async throws -> Stack {
        let market = try await PolymarketFake.start(.demo(seed: UInt64(seed)))
        let channels = try await AlertChannelFake.start()
        let root = work + "/" + name
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/var/lib", withIntermediateDirectories: true)
        var clob: ClobFake?
        if options.live {
            clob = try await ClobFake.start(markets: FakeScenario.demo(seed: UInt64(seed)).markets.map {
                ClobFake.Market(tokens: [$0.yesToken, $0.noToken], tickSize: Fixed.parse($0.tick) ?? 10_000)
            })
        }
        let stack = Stack(bin: bin, root: root, market: market, channels: channels, clob: clob, dashPort: try freePort(), options: options)
        if let clob {
            stack.clobFeed = Task {
                while !Task.isCancelled {
                    for b in market.currentBooks() { clob.setBook(token: b.token, bids: b.bids, asks: b.asks) }
                    try? await Task.sleep(for: .milliseconds(200))
                }
            }
        }
        if let mb = options.tmpfsStateMB {
            let r = try await Tool.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(mb)m", "tmpfs", stack.stateDir])
            guard r.code == 0 else { throw ChaosError("tmpfs mount failed: \(r.err)") }
            stack.mounted = true
        }
        try stack.writeConfig()
        try stack.startWarden()
        stack.subscribeFills()
        return stack
    }

    private init(bin: String, root: String, market: PolymarketFake, channels: AlertChannelFake, clob: ClobFake?, dashPort: Int, options: StackOptions) {
        self.bin = bin
        self.root = root
        self.market = market
        self.channels = channels
        self.clob = clob
        self.dashPort = dashPort
        self.options = options
    }

    func writeConfig() throws {
        let notifierEnv = "{WARDEN_SECRET_TELEGRAM_TOKEN: \"\(channels.token)\", WARDEN_SECRET_TELEGRAM_CHAT_ID: \"42\"}"
        var env = options.engineEnv
        if clob != nil { env["WARDEN_SECRET_POLYMARKET_PRIVATE_KEY"] = chaosLiveKey }
        let engineEnv = env.isEmpty ? "{}" : "{" + env.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }.joined(separator: ", ") + "}"
        let live = clob.map { """
          strategies:
            mean_reversion: {window: 5, z_entry: 1.0}
          live:
            strategies: [mean_reversion]
            clob_url: \($0.baseURL)
            heartbeat: 1s
            reconcile: 1s
        \(options.liveExtra)
        """ } ?? ""
        let yaml = """
        supervisor:
          tick: 10ms
          resource_interval: 200ms
          journald: off
          log_level: info
        \(options.supervisor)
        engine:
          gamma_url: \(market.baseURL)
          clob_url: \(market.baseURL)
          cycle: 200ms
          book_refresh: 300ms
          discovery_interval: 5s
          stale_data_after: 2s
          stale_market_after: 5s
          request_timeout: 1s
          connect_timeout: 500ms
          backup_interval: 1h
          # The market WebSocket, time-compressed: frozen after 3 s of silence, paused after 3 failed attempts.
          ws:
            ping_interval: 2s
            silent_after: 3s
            reconnect: {base: 200ms, multiplier: 2, cap: 1s, jitter: 0.2, max_attempts: 3, stable_after: 10s}
          health:
            cooldown: 2s
          # The faults are the subject, not the risk limits: short cool-downs keep the strategies trading
          # through hundreds of restarts.
          risk:
            loss_streak_cooldown: 20s
            daily_loss: \(options.dailyLoss)
        \(live)
        \(options.engine)
        notifier:
          coalesce_window: 5s
          backoff: {initial: 200ms, max: 2s}
          request_timeout: 2s
          channels:
            telegram:
              kind: telegram
              api_url: \(channels.baseURL)
              min_severity: info
              min_interval: 0s
              per_minute: 600
        \(options.notifier)
        dashboard:
          port: \(dashPort)
        programs:
        \(StackYAML.entry(.notifier, bin + "/warden-notifier"))
            watchdog_sec: \(options.notifierWatchdog)
            stop_timeout: 2s
            env: \(notifierEnv)
        \(StackYAML.entry(.engine, bin + "/warden-engine"))
            critical: true
            watchdog_sec: \(options.engineWatchdog)
            start_timeout: 30s
        \(env.isEmpty ? "" : "    env: \(engineEnv)\n")\(options.engineProgram)
        \(StackYAML.entry(.dashboard, bin + "/warden-dashboard"))
            listen: ["127.0.0.1:\(dashPort)"]
            after: [engine]
            watchdog_sec: \(options.dashboardWatchdog)
            stop_timeout: 2s
        \(options.programs)
        """
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Changes the options and rewrites the configuration (the caller reloads).
    func update(_ change: (inout StackOptions) -> Void) throws {
        change(&options)
        try writeConfig()
    }

    /// Adds a program to the configuration (the caller reloads).
    func addProgram(_ yaml: String) throws {
        options.programs += yaml + "\n"
        try writeConfig()
    }

    func startWarden(env extra: [String: String] = [:]) throws {
        warden = try WardenProcess(executable: bin + "/warden", arguments: ["--config", configPath], env: extra,
                                   output: root + "/warden.out", append: true)
    }

    var wardenPID: Int32 { warden?.pid ?? 0 }

    /// SIGKILL to the supervisor only, then waits for it to be gone.
    func killWarden() async {
        guard let w = warden else { return }
        w.signal(SIGKILL)
        _ = await w.waitExit(within: .seconds(10))
    }

    private func subscribeFills() {
        let client = IPCClient(path: runtimeDir + "/engine.sock", role: "chaos", logger: Logger(label: "chaos"),
                               backoffInitial: .milliseconds(50), backoffMax: .milliseconds(300))
        client.subscribe(SubscribeRequest(topics: [EngineTopic.trades]))
        let told = self.told
        subscriber = [
            Task { await client.run() },
            Task {
                for await event in client.events {
                    guard case .event(let frame) = event, let body = try? frame.body(as: EventBody<TradeInfo>.self) else { continue }
                    // By the trades topic's seq (one per fill; a live order may fill in several trades).
                    told.withLock { $0.append("\(body.seq) \(body.data.intent_id)") }
                }
            },
        ]
    }

    // MARK: - What an operator sees

    func ctl(_ args: [String], limit: Duration = .seconds(30)) async throws -> Tool.Result {
        try await Tool.run(bin + "/wardenctl", ["--socket", controlSocket] + args, limit: limit)
    }

    /// `wardenctl status --json`; nil while the supervisor does not answer.
    func status() async -> StatusResponse? {
        guard let r = try? await ctl(["status", "--json", "--timeout", "3"], limit: .seconds(10)), r.code == 0 else { return nil }
        return try? JSONDecoder().decode(StatusResponse.self, from: Data(r.out.utf8))
    }

    var token: String? {
        (try? String(contentsOfFile: stateDir + "/dashboard.token", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private func get(_ path: String) async -> (status: Int, body: String)? {
        guard let token else { return nil }
        let req = HTTPRequest(url: "http://127.0.0.1:\(dashPort)\(path)", headers: [("Authorization", "Bearer \(token)")],
                              connectTimeout: .seconds(1), timeout: .seconds(3))
        guard let r = try? await http.perform(req) else { return nil }
        return (r.status, String(decoding: r.body, as: UTF8.self))
    }

    /// The dashboard's /api/state; nil while the dashboard (or the supervisor behind it) does not answer.
    func apiState() async -> StatusResponse? {
        guard let r = await get("/api/state"), r.status == 200 else { return nil }
        return try? JSONDecoder().decode(StatusResponse.self, from: Data(r.body.utf8))
    }

    func metrics() async -> Metrics? {
        guard let r = await get("/metrics"), r.status == 200 else { return nil }
        return Metrics(text: r.body)
    }

    /// Texts the Telegram fake accepted, in order.
    var channelTexts: [String] { channels.received.map(\.text) }

    // MARK: - Waiting

    func program(_ s: StatusResponse?, _ name: String) -> ProgramStatus? { s?.programs.first { $0.name == name } }

    /// Waits until every named program is RUNNING and ready; returns the last status.
    @discardableResult
    func waitReady(_ names: [String] = ["notifier", "engine", "dashboard"], within: Duration = .seconds(60)) async throws -> StatusResponse {
        try await until("\(names.joined(separator: ", ")) RUNNING and ready", within: within) {
            guard let s = await status() else { return nil }
            return names.allSatisfy({ n in self.program(s, n).map { $0.state == "RUNNING" && $0.ready } ?? false }) ? s : nil
        }
    }

    /// Waits until the engine trades: fresh data, ACTIVE, and at least one more fill told to the subscriber.
    func waitTrading(within: Duration = .seconds(60)) async throws {
        let before = told.withLock { $0.count }
        try await until("the engine ACTIVE on fresh data with a new fill", within: within) { () -> Bool? in
            guard let e = await status()?.engine, e.trading_state == "ACTIVE", e.data?.status == "fresh" else { return nil }
            return told.withLock { $0.count } > before ? true : nil
        }
    }

    func stop() async {
        for t in subscriber { t.cancel() }
        await warden?.stop(grace: .seconds(20))
        await market.stop()
        await channels.stop()
        clobFeed?.cancel()
        await clob?.stop()
        if mounted { _ = try? await Tool.run("/bin/umount", ["-l", stateDir]) }
    }
}

/// Intent ids of fills, appended by the subscriber task, read by the checks.
final class Ledger: Sendable {
    private let m = Mutex<[String]>([])
    func withLock<T>(_ body: (inout [String]) -> T) -> T { m.withLock { body(&$0) } }
}

/// Polls `condition` until it gives a value, or throws naming `what` at the bound.
@discardableResult
func until<T>(_ what: @autoclosure () -> String, within limit: Duration, every: Duration = .milliseconds(100),
              _ condition: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let v = try await condition() { return v }
        if ContinuousClock.now >= deadline { throw ChaosError("timed out after \(limit) waiting for: \(what())") }
        try await Task.sleep(for: every)
    }
}


/// A Prometheus text page, read the way a scraper would.
struct Metrics {
    var text: String
    /// The value of the first sample of `name` carrying every given label.
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(name + "{") || line.hasPrefix(name + " ") {
            guard labels.allSatisfy({ line.contains("\($0.key)=\"\($0.value)\"") }),
                  let v = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
            return v
        }
        return nil
    }
}

/// Runs executables with a bound, capturing their output through files (never a pipe left unread).
enum Tool {
    struct Result { var code: Int32; var out: String; var err: String }

    static func run(_ exe: String, _ args: [String], env: [String: String] = [:], limit: Duration = .seconds(30)) async throws -> Result {
        do {
            let r = try await BoundedRun.run(exe, args, env: env, limit: limit)
            return Result(code: r.code, out: r.out, err: r.err)
        } catch let t as RunTimeout {
            throw ChaosError(t.description)
        }
    }
}

/// True while `pid` exists and is not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}
