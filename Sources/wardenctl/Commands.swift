// The subcommands of wardenctl.
import ArgumentParser
import Foundation
import WardenIPC
import WardenKit

struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the supervisor and every program.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        let d = common.duration
        let status = try await common.withClient { try await $0.call("status", Empty(), as: StatusResponse.self, timeout: d) }
        if common.json { try printJSON(status); return }
        print(StatusTable.render(status))
    }
}

/// The market WebSocket on `wardenctl status`: one line, and a line per connection that is not up.
enum FeedLines {
    static func render(_ f: FeedInfo) -> String {
        var out = "market ws: \(f.connected)/\(f.connections) connected · \(f.assets) assets · "
            + (f.data_age_s.map { String(format: "data %.1fs old", $0) } ?? "no data yet")
            + " · \(f.reconnects_total) reconnects · \(f.frozen_total) frozen · \(f.drift_total) drift"
            + (f.awaiting_snapshot > 0 ? " · \(f.awaiting_snapshot) books awaiting a snapshot" : "") + "\n"
        for s in f.shards ?? [] where s.state != "connected" {
            out += "  ws#\(s.id) \(s.state.uppercased()) (\(s.assets) assets, attempt \(s.attempts))\(s.last_error.map { ": \($0)" } ?? "")\n"
        }
        if f.frozen_total > 0 || f.drift_total > 0, let d = f.last_drift { out += "  last drift: \(d)\n" }
        return out
    }
}

enum StatusTable {
    static func render(_ s: StatusResponse) -> String {
        var out = "warden \(s.supervisor.version) · pid \(s.supervisor.pid) · up \(age(s.supervisor.uptime_s)) · \(s.supervisor.status_text)\n"
        if let c = s.supervisor.control_socket,
           c.connections_refused_total + c.hello_timeouts_total + c.backpressure_pauses_total + c.rejected_frames_total > 0 {
            out += "control.sock: \(c.connections_open) connections · refused \(c.connections_refused_total) (over the cap) · "
                + "\(c.hello_timeouts_total) without hello · \(c.backpressure_pauses_total) reads paused (unread answers) · "
                + "\(c.rejected_frames_total) bad frames\n"
        }
        if let c = s.supervisor.containment { out += "containment: \(c)\n" }
        if let st = s.storage {
            out += String(format: "state dir %@ · %.1f%% space, %.1f%% inodes free (measured %@ ago)\n",
                          st.path, st.free_percent, st.free_inodes_percent, age(st.measured_age_s))
        }
        if let e = s.engine {
            if e.reachable {
                out += "trading \(e.trading_state ?? "?") · data \(e.data?.status ?? "?")\(e.data?.age_s.map { String(format: " (%.0fs old)", $0) } ?? "") · \(e.fills_total ?? 0) fills · storage \(e.storage ?? "?") (as of \(e.snapshot_at ?? "?"))\n"
                if let d = e.data, let n = d.no_book_markets, n > 0 {
                    out += "NO BOOK for \(n) of \(d.markets) markets (not traded until the CLOB answers a book for every outcome): "
                        + (d.no_book ?? []).prefix(10).joined(separator: ", ") + (n > 10 ? ", …" : "") + "\n"
                }
                if let f = e.data?.feed { out += FeedLines.render(f) }
                if let v = e.venue { out += VenueLines.render(v) }
                if let d = e.data, let now = d.rejected_now, now > 0 {
                    out += "market data rejected now: \(now) items (\(d.rejected_items_total) since start)\n"
                    for r in d.rejections ?? [] { out += "  \(r.count) × \(r.reason) (e.g. \(r.example))\n" }
                }
                for r in e.reasons ?? [] {
                    out += "  \(r.effect) \(r.code)\(r.market_id.map { " [market \($0)]" } ?? ""): \(r.message) (since \(r.since)\(r.author.map { ", by \($0)" } ?? ""))\n"
                }
            } else {
                out += "ENGINE UNREACHABLE: \(e.error ?? "unknown") — no trading figures shown\n"
            }
        }
        if let n = s.notifier {
            if n.reachable, n.error == nil {
                out += "alerts: queue \(n.queue_depth ?? 0)\(n.oldest_pending_age_s.map { " (oldest \(age($0)))" } ?? "") · "
                out += (n.channels ?? []).map { c in
                    "\(c.name) \(c.state)" + (c.state == "ok" ? "" : c.last_error.map { " (\($0))" } ?? "")
                }.joined(separator: " · ")
                out += "\n"
            } else {
                out += "NOTIFIER UNREACHABLE: \(n.error ?? "unknown") — alerts wait in the engine and supervisor until it is back\n"
            }
        }
        if s.programs.isEmpty { return out + "no programs configured" }
        var rows = [["PROGRAM", "STATE", "PID", "UPTIME", "RESTARTS", "HEARTBEAT", "RSS", "FDS", "DETAIL"]]
        for p in s.programs {
            var detail = p.status_text ?? ""
            if p.state != "RUNNING", let e = p.last_exit {
                detail = "last exit: \(e.reason) at \(e.at)" + (e.status_text.map { " · last STATUS: \($0)" } ?? "")
                    + (e.errno.map { " · ERRNO=\($0)" } ?? "")
            }
            if let n = p.next_start_in_s { detail = "next start in \(age(n)); " + detail }
            if let l = p.listen { detail += (detail.isEmpty ? "" : " · ") + "listening on " + l.joined(separator: ", ") }
            if let n = p.fds_stored { detail += (detail.isEmpty ? "" : " · ") + "\(n) fd\(n == 1 ? "" : "s") stored" }
            let hb: String
            if let a = p.last_heartbeat_age_s { hb = "\(age(a)) ago" + (p.watchdog_sec.map { " /\(age($0))" } ?? "") }
            else { hb = "-" }
            rows.append([p.name + (p.critical ? "*" : ""), p.state, p.pid.map(String.init) ?? "-",
                         p.uptime_s.map(age) ?? "-", String(p.restarts), hb,
                         p.rss_bytes.map { "\($0 / 1_048_576) MB" } ?? "-", p.fds.map(String.init) ?? "-", detail])
        }
        let widths = (0..<rows[0].count - 1).map { c in rows.map { $0[c].count }.max()! }
        for r in rows {
            var line = ""
            for (i, cell) in r.enumerated() {
                line += i < widths.count ? cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) : cell
            }
            out += line + "\n"
        }
        return out + "(* critical: its FATAL stops warden)"
    }

    static func age(_ s: Double) -> String {
        if s < 10 { return String(format: "%.1fs", s) }
        if s < 120 { return "\(Int(s))s" }
        if s < 7200 { return "\(Int(s) / 60)m\(String(format: "%02d", Int(s) % 60))s" }
        if s < 172_800 { return "\(Int(s) / 3600)h\(String(format: "%02d", Int(s) % 3600 / 60))m" }
        return "\(Int(s) / 86400)d\(Int(s) % 86400 / 3600)h"
    }
}

struct ProgramArgument: ParsableArguments {
    @Argument(help: "Program name, as configured.") var program: String
}

protocol ProgramVerb: AsyncParsableCommand {
    static var verb: String { get }
    var common: CommonOptions { get }
    var target: ProgramArgument { get }
}

extension ProgramVerb {
    func run() async throws {
        let (d, verb, program) = (common.duration, Self.verb, target.program)
        let r = try await common.withClient {
            try await $0.call(verb, ProgramRequest(program: program), as: ProgramActionResponse.self, timeout: d)
        }
        if common.json { try printJSON(r) } else { print("\(r.program): \(r.message)") }
    }
}

struct Start: ProgramVerb {
    static let configuration = CommandConfiguration(abstract: "Start a program (also after FATAL).")
    static let verb = "start"
    @OptionGroup var common: CommonOptions
    @OptionGroup var target: ProgramArgument
}

struct Stop: ProgramVerb {
    static let configuration = CommandConfiguration(abstract: "Stop a program (SIGTERM, then SIGKILL after stop_timeout).")
    static let verb = "stop"
    @OptionGroup var common: CommonOptions
    @OptionGroup var target: ProgramArgument
}

struct Restart: ProgramVerb {
    static let configuration = CommandConfiguration(abstract: "Stop and start a program.")
    static let verb = "restart"
    @OptionGroup var common: CommonOptions
    @OptionGroup var target: ProgramArgument
}

struct Logs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show a program's recent output; --follow for new lines.")
    @OptionGroup var common: CommonOptions
    @OptionGroup var target: ProgramArgument
    @Option(name: .shortAndLong, help: "Number of lines.") var n = 50
    @Flag(name: .long, help: "Keep printing new lines.") var follow = false

    func validate() throws {
        guard n >= 0 && n <= 100_000 else { throw ValidationError("-n must be between 0 and 100000, got \(n)") }
    }

    func run() async throws {
        let (d, program, lines, json, follow) = (common.duration, target.program, n, common.json, follow)
        try await common.withClient { client in
            let r = try await client.call("logs", LogsRequest(program: program, lines: lines), as: LogsResponse.self, timeout: d)
            if json && !follow { try printJSON(r); return }
            if !json && r.lines.count < r.held { print("-- last \(r.lines.count) of \(r.held) lines held --") }
            for l in r.lines { json ? try printJSONLine(l) : print("\(l.at) \(l.stream) \(l.text)") }
            guard follow else { return }
            try await followTopic(client, ControlTopic.log, noun: "lines", json: json,
                                  accept: { (l: LogLine) in l.program == program }, render: { "\($0.at) \($0.stream) \($0.text)" })
        }
    }
}

struct Events: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show lifecycle events; --follow for new ones.")
    @OptionGroup var common: CommonOptions
    @Option(name: .shortAndLong, help: "Number of events.") var n = 50
    @Flag(name: .long, help: "Keep printing new events.") var follow = false

    func validate() throws {
        guard n >= 0 && n <= 1_000_000 else { throw ValidationError("-n must be between 0 and 1000000, got \(n)") }
    }

    static func line(_ e: LifecycleEvent) -> String {
        "\(e.at) \(e.severity.uppercased().padding(toLength: 8, withPad: " ", startingAt: 0)) \((e.program ?? "warden").padding(toLength: 10, withPad: " ", startingAt: 0)) \(e.kind): \(e.message)"
    }

    func run() async throws {
        let (d, limit, json, follow) = (common.duration, n, common.json, follow)
        try await common.withClient { client in
            let r = try await client.call("events", EventsRequest(limit: limit), as: EventsResponse.self, timeout: d)
            if json && !follow { try printJSON(r); return }
            if !json && r.events.count < r.held { print("-- last \(r.events.count) of \(r.held) events held --") }
            for e in r.events { json ? try printJSONLine(e) : print(Self.line(e)) }
            guard follow else { return }
            try await followTopic(client, ControlTopic.events, noun: "events", json: json,
                                  accept: { (_: LifecycleEvent) in true }, render: Self.line)
        }
    }
}

/// Prints a topic's new events until interrupted, saying so on gaps, disconnects and restarts.
func followTopic<T: Codable & Sendable>(_ client: IPCClient, _ topic: String, noun: String, json: Bool,
                                        accept: (T) -> Bool, render: (T) -> String) async throws {
    try await client.subscribeConfirmed(SubscribeRequest(topics: [topic]))
    FileHandle.standardError.write(Data("-- following \(noun) (Ctrl-C to stop) --\n".utf8))
    for await ev in client.events {
        switch ev {
        case .event(let f):
            guard let b = try? f.body(as: EventBody<T>.self), accept(b.data) else { continue }
            json ? try printJSONLine(b.data) : print(render(b.data))
            fflush(nil)
        case .gap(let g):
            print("-- gap: \(g.to_seq - g.from_seq + 1) \(noun) not delivered (\(g.reason)) --")
        case .disconnected(let why):
            FileHandle.standardError.write(Data("wardenctl: disconnected (\(why)); reconnecting\n".utf8))
        case .connected(_, let restarted):
            if restarted { print("-- warden restarted --") }
        }
    }
}

struct Reload: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-read the configuration and restart only changed programs (as SIGHUP); with a PROGRAM, send it its reload_signal and follow RELOADING=1 … READY=1.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "A program to reload (its reload_signal) instead of the configuration.") var program: String?
    func run() async throws {
        let d = common.duration
        if let program {
            let r = try await common.withClient { try await $0.call("reload_program", ProgramRequest(program: program), as: ProgramActionResponse.self, timeout: d) }
            if common.json { try printJSON(r); return }
            print("\(r.program): \(r.message) (follow it with `wardenctl events`)")
            return
        }
        let r = try await common.withClient { try await $0.call("reload", Empty(), as: ReloadResponse.self, timeout: d) }
        if common.json { try printJSON(r); return }
        print("added: \(r.added.joined(separator: ", "))\nremoved: \(r.removed.joined(separator: ", "))\nchanged: \(r.changed.joined(separator: ", "))\nunchanged: \(r.unchanged.joined(separator: ", "))")
        for line in r.sections ?? [] { print("section \(line)") }
    }
}

struct Shutdown: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop every program in reverse order, then warden itself.")
    @OptionGroup var common: CommonOptions
    func run() async throws {
        let d = common.duration
        let r = try await common.withClient { try await $0.call("shutdown", Empty(), as: ProgramActionResponse.self, timeout: d) }
        if common.json { try printJSON(r) } else { print(r.message) }
    }
}

struct Version: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print wardenctl's version and the supervisor's.")
    @OptionGroup var common: CommonOptions
    func run() async throws {
        struct Both: Encodable { var wardenctl: String; var supervisor: String?; var supervisor_error: String? }
        var both = Both(wardenctl: wardenVersion, supervisor: nil, supervisor_error: nil)
        let d = common.duration
        do {
            both.supervisor = try await common.withClient { try await $0.call("version", Empty(), as: VersionResponse.self, timeout: d) }.version
        } catch let e as CLIError {
            both.supervisor_error = e.message
            if common.json { try printJSON(both) } else { print("wardenctl \(wardenVersion)") }
            throw e
        }
        if common.json { try printJSON(both) } else { print("wardenctl \(wardenVersion)\nwarden \(both.supervisor ?? "?")") }
    }
}

/// The live venue in `wardenctl status`: its health, heartbeat and reconciliation ages, unknown and foreign orders.
enum VenueLines {
    static func render(_ v: VenueInfo) -> String {
        func ago(_ s: Double?) -> String { s.map { String(format: "%.0fs ago", $0) } ?? "never" }
        var out = "live venue \(v.name): \(v.status.uppercased())" + (v.problem.map { " (\($0))" } ?? "")
            + " · heartbeat \(ago(v.heartbeat_age_s)) · reconciled \(ago(v.reconciled_age_s)) · \(v.open_orders) open orders"
            + " · strategies \(v.strategies.joined(separator: ", "))\n"
        if let u = v.user_channel { out += "  user channel \(u)" + (v.user_channel_age_s.map { String(format: " (last frame %.0fs ago)", $0) } ?? "") + "\n" }
        if v.unknown_orders > 0 { out += "  \(v.unknown_orders) live orders UNKNOWN (answer lost; never re-sent; `wardenctl orders`)\n" }
        if v.foreign_orders > 0 { out += "  \(v.foreign_orders) open orders on the wallet are not Warden's (reported, never adopted)\n" }
        if let e = v.reconcile_error { out += "  reconciliation failing: \(e)\n" }
        if let n = v.trades_settling, n > 0 {
            out += "  \(n) live trades not yet confirmed on chain" + ((v.trades_retrying ?? 0) > 0 ? ", \(v.trades_retrying!) RETRYING" : "") + " (`wardenctl orders`)\n"
        }
        if let low = v.ip_budget_remaining?.filter({ $0.value < 100 }), !low.isEmpty {
            out += "  per-IP budget nearly spent: " + low.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value) left" }.joined(separator: ", ") + "\n"
        }
        return out
    }
}
