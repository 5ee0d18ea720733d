// wardenctl's trading commands: forwarded by the supervisor to engine.sock.
import ArgumentParser
import Foundation
import WardenIPC
import WardenKit

/// Who is acting, recorded with every command.
func author() -> String {
    let user = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
    return "\(user) via wardenctl"
}

/// Sends `engine.<type>` through the supervisor and prints the engine's answer.
func engineCommand<B: Encodable & Sendable>(_ common: CommonOptions, _ type: String, _ body: B) async throws {
    let d = common.duration
    let r = try await common.withClient { try await $0.call("engine." + type, body, as: CommandResponse.self, timeout: d) }
    if common.json { try printJSON(r) } else { print("\(r.message) (trading state: \(r.trading_state))") }
}

enum OnOff: String, ExpressibleByArgument, CaseIterable { case on, off }

struct Pause: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Pause trading (stored: survives restarts) until `resume`.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Why; shown on every surface.") var reason = "paused by operator"
    @Option(name: .customLong("for"), help: "Resume by itself after this long (e.g. 30m).") var duration: String?

    func validate() throws {
        if let duration, Duration.parse(config: duration) == nil { throw ValidationError("--for `\(duration)` is not a duration (e.g. 30m)") }
    }
    func run() async throws {
        try await engineCommand(common, "pause", PauseRequest(reason: reason, author: author(), expires_in_s: duration.flatMap { Duration.parse(config: $0)?.seconds }))
    }
}

struct Resume: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lift an operator pause.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await engineCommand(common, "resume", AuthorRequest(author: author())) }
}

struct KillSwitch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill-switch", abstract: "Stop all strategy orders (stored) — on or off.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "on | off") var state: OnOff
    func run() async throws { try await engineCommand(common, "kill_switch", SwitchRequest(on: state == .on, author: author())) }
}

struct ReduceOnly: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "reduce-only", abstract: "Allow exits only (stored) — on or off.")
    @OptionGroup var common: CommonOptions
    @Argument(help: "on | off") var state: OnOff
    func run() async throws { try await engineCommand(common, "reduce_only", SwitchRequest(on: state == .on, author: author())) }
}

struct HaltReset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "halt-reset", abstract: "Clear a drawdown halt; drawdown is measured from now on.")
    @OptionGroup var common: CommonOptions
    func run() async throws { try await engineCommand(common, "halt_reset", AuthorRequest(author: author())) }
}

struct Flatten: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Sell every position (or one market's) at the book, whatever the trading state.")
    @OptionGroup var common: CommonOptions
    @Option(help: "Only this market id.") var market: String?
    func run() async throws { try await engineCommand(common, "flatten", FlattenRequest(market_id: market, author: author())) }
}

struct Positions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open positions per strategy, with marks.")
    @OptionGroup var common: CommonOptions
    func run() async throws {
        let d = common.duration
        let r = try await common.withClient { try await $0.call("engine.positions", Empty(), as: PositionsResponse.self, timeout: d) }
        if common.json { try printJSON(r); return }
        if r.positions.isEmpty { print("no open positions"); return }
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        print("STRATEGY         MARKET    TOKEN                   SHARES      AVG      COST     MARK")
        for p in r.positions {
            print(pad(p.strategy, 16) + " " + pad(p.market_id, 9) + " " + pad(String(p.token_id.prefix(20)), 20)
                  + String(format: " %9.2f  %7.4f %9.2f ", p.shares, p.average_price, p.cost) + (p.mark.map { String(format: "%8.4f", $0) } ?? "       -"))
        }
    }
}

struct Markets: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Every market followed: no book, stale, awaiting a snapshot, with the age of its books.")
    @OptionGroup var common: CommonOptions
    @Option(help: "At most this many rows (the worst first).") var limit = 100
    func run() async throws {
        let d = common.duration
        let r = try await common.withClient { try await $0.call("engine.markets", EquityRequest(limit: limit), as: MarketsResponse.self, timeout: d) }
        if common.json { try printJSON(r); return }
        if r.markets.isEmpty { print("no markets followed (as of \(r.at))"); return }
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        func secs(_ v: Double?) -> String { v.map { String(format: "%.1fs", $0) } ?? "-" }
        print(pad("MARKET", 10) + " " + pad("STATE", 18) + " " + pad("BOOK AGE", 9) + " " + pad("UNCHANGED", 10) + " " + pad("FEED", 18) + " DRIFT  QUESTION")
        for m in r.markets {
            print(pad(m.id + (m.held ? "*" : ""), 10) + " " + pad(m.state.uppercased() == "OK" ? "ok" : m.state.uppercased(), 18) + " "
                  + pad(secs(m.book_age_s), 9) + " " + pad(secs(m.unchanged_s), 10) + " " + pad(m.feed, 18) + " " + pad(String(m.drift), 6) + " " + m.question)
        }
        print("\(r.markets.count) of \(r.total) markets (* held) as of \(r.at)")
    }
}

struct Orders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open orders: live ones with their venue state (UNKNOWN first), paper ones resting; the live venue's health.")
    @OptionGroup var common: CommonOptions
    func run() async throws {
        let d = common.duration
        let r = try await common.withClient { try await $0.call("engine.orders", Empty(), as: OrdersResponse.self, timeout: d) }
        if common.json { try printJSON(r); return }
        func pad(_ s: String, _ n: Int) -> String { s.padding(toLength: max(n, s.count), withPad: " ", startingAt: 0) }
        func secs(_ v: Double?) -> String { v.map { String(format: "%.0fs ago", $0) } ?? "never" }
        if let v = r.venue {
            print("live venue \(v.name): \(v.status.uppercased())" + (v.problem.map { " — \($0)" } ?? ""))
            print("  strategies: \(v.strategies.joined(separator: ", ")); heartbeat \(secs(v.heartbeat_age_s)); reconciled \(secs(v.reconciled_age_s))"
                  + (v.reconcile_error.map { " (failing: \($0))" } ?? "") + (v.rate_limit_remaining.map { "; rate budget \($0) left" } ?? ""))
            if v.unknown_orders > 0 { print("  \(v.unknown_orders) orders UNKNOWN: sent, answer lost; never re-sent; reconciliation finds or rules them out") }
            if v.foreign_orders > 0 { print("  \(v.foreign_orders) open orders on the wallet are not Warden's (reported, never adopted)") }
        } else {
            print("no live venue configured (every strategy trades on paper)")
        }
        if let s = r.shadow {
            print("shadow mode for \(s.strategies.joined(separator: ", ")): \(s.signed_total) orders signed since the start, none sent; newest:")
            for o in s.newest { print("  \(o.at) \(o.intent_id) \(o.order_id)\n    \(o.body)") }
        }
        if let e = r.read_error { print("NOT SHOWN: \(e)") }
        if let settling = r.settling, !settling.isEmpty {
            let total = max(r.venue?.trades_settling ?? 0, settling.count)
            print("\(total) live trades booked, not yet confirmed on chain (a matched trade can still fail, and is then voided)"
                  + (total > settling.count ? "; the oldest \(settling.count):" : ":"))
            for t in settling {
                print("  \(pad(t.status, 9)) \(pad(t.intent_id, 18)) \(pad(t.strategy, 16)) \(pad(t.side, 4)) "
                      + String(format: "%.2f @ %.4f", t.shares, t.price) + "  booked \(t.booked_at)  trade \(t.trade_id.prefix(24))")
            }
        }
        let rows = (r.venue?.orders ?? []) + r.paper
        if rows.isEmpty { print("no open orders (as of \(r.at))"); return }
        let head: [String] = [pad("STATE", 9), pad("INTENT", 18), pad("STRATEGY", 16), pad("SIDE", 4), pad("PRICE", 7), pad("FILLED/SIZE", 14),
                              pad("MARKET", 10), pad("SINCE", 20), pad("KIND", 4), "VENUE ID / NOTE"]
        print(head.joined(separator: " "))
        for o in rows {
            let state: String = o.state == "unknown" ? "UNKNOWN" : o.note == "paper" ? "paper" : o.state
            let venueID: String = o.order_id.map { String($0.prefix(18)) + "…" } ?? ""
            let note: String = o.note.isEmpty || o.note == "paper" ? "" : " " + o.note
            let cells: [String] = [pad(state, 9), pad(o.intent_id, 18), pad(o.strategy, 16), pad(o.side, 4), pad(String(format: "%.4f", o.price), 7),
                                   pad(String(format: "%.2f/%.2f", o.filled, o.shares), 14), pad(o.market_id, 10), pad(o.since, 20),
                                   pad(o.kind ?? "", 4), venueID + note]
            print(cells.joined(separator: " "))
        }
        print("\(rows.count) open orders as of \(r.at)")
    }
}

struct Trades: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Recent fills, newest first; --csv streams the whole history.")
    @OptionGroup var common: CommonOptions
    @Option(help: "How many (ignored with --csv, which exports everything).") var limit = 20
    @Flag(help: "Every fill as CSV, oldest last.") var csv = false

    func validate() throws { guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1…10000, got \(limit)") } }

    func run() async throws {
        let (d, limit, csv, json) = (common.duration, limit, csv, common.json)
        try await common.withClient { client in
            if csv {
                print(TradeInfo.csvHeader, terminator: "")
                var before: Int64?
                var printed = 0
                var total = 0
                repeat {
                    let page = try await client.call("engine.trades", TradesRequest(limit: 1000, before_id: before), as: TradesResponse.self, timeout: d)
                    total = page.total
                    for t in page.trades { print(t.csvRow(time: isoTime), terminator: "") }
                    printed += page.trades.count
                    before = page.trades.last?.id
                    if page.trades.isEmpty { break }
                } while before != nil
                if printed != total { FileHandle.standardError.write(Data("wardenctl: exported \(printed) of \(total) trades (history changed during export)\n".utf8)) }
                return
            }
            let page = try await client.call("engine.trades", TradesRequest(limit: limit), as: TradesResponse.self, timeout: d)
            if json { try printJSON(page); return }
            print("-- last \(page.trades.count) of \(page.total) trades --")
            for t in page.trades {
                print("\(isoTime(t.at))  \(t.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)) \(t.side.padding(toLength: 4, withPad: " ", startingAt: 0)) \(t.shares) of \(t.token_id) (market \(t.market_id)) at \(t.price), fee \(t.fee)")
            }
        }
    }
}

/// Unix seconds as every surface shows times (WardenKit's ISO-8601 UTC).
func isoTime(_ t: Double) -> String { isoString(Date(timeIntervalSince1970: t)) }

struct Strategies: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Leaderboard: P&L, return, win rate, max drawdown, trades per strategy.")
    @OptionGroup var common: CommonOptions
    func run() async throws {
        let d = common.duration
        let s = try await common.withClient { try await $0.call("status", Empty(), as: StatusResponse.self, timeout: d) }
        guard let e = s.engine else { throw CLIError(code: 1, message: "no engine program is configured") }
        guard e.reachable, let accounts = e.accounts else { throw CLIError(code: 1, message: "engine unreachable: \(e.error ?? "unknown")") }
        if common.json { try printJSON(accounts); return }
        print("as of \(e.snapshot_at ?? "?")")
        print("STRATEGY           EQUITY    P&L(net)  RETURN  WIN RATE  MAX DD  FILLS  ORDERS  STATE")
        for a in accounts.sorted(by: { $0.return_pct > $1.return_pct }) {
            let win = (a.win_rate.map { String(format: "%.0f%%", $0 * 100) } ?? "-")
            print(a.strategy.padding(toLength: 16, withPad: " ", startingAt: 0)
                  + String(format: " %9.2f %10.2f %6.2f%% ", a.equity, a.realized_pnl, a.return_pct)
                  + String(repeating: " ", count: max(0, 8 - win.count)) + win
                  + String(format: " %7.2f %6d %7d  ", a.max_drawdown, a.fills, a.open_orders ?? 0) + (a.enabled ? "enabled" : "DISABLED: \(a.disabled_reason ?? "")"))
        }
    }
}

struct PreflightCmd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preflight",
        abstract: "Run the engine's preflight and the notifier's channel checks now (exit 1 on a failure).")
    @Option(name: .long, help: "Configuration file.") var config: String?
    func run() async throws {
        let dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        var worst: Int32 = 0
        for tool in ["warden-engine", "warden-notifier"] {
            let p = Process()
            p.executableURL = dir.appendingPathComponent(tool)
            p.arguments = ["preflight"] + (config.map { ["--config", $0] } ?? [])
            print("== \(tool) preflight")
            try p.run()
            // Every check inside has its own timeout; this bound is for a preflight that hangs regardless.
            let deadline = ContinuousClock.now + .seconds(120)
            while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if p.isRunning {
                kill(p.processIdentifier, SIGKILL)
                print("\(tool) preflight did not finish within 120 s; killed")
                worst = 1
                continue
            }
            if p.terminationStatus == 78 { throw ExitCode(2) }
            if p.terminationStatus != 0 { worst = 1 }
        }
        if worst != 0 { throw ExitCode(worst) }
    }
}
