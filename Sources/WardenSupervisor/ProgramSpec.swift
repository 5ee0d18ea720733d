// One supervised program (`programs.<name>`), declared here in the module that runs programs: its settings with
// their keys, defaults, bounds and comments, and the `programs` section that reads them by name (file order, names
// checked, `env`, `after` references and their cycles, one program per role). Registered by warden.
import Foundation
public import WardenKit

/// How a program proves it is ready.
public enum ReadinessMode: String, Sendable, Equatable, CaseIterable {
    /// Wait for `READY=1` over the notify socket (Warden's own programs).
    case notify
    /// Ready as soon as it has been spawned (programs that do not speak sd_notify).
    case spawn
}

/// When a program that exited is started again.
/// Who gets the stop signal: the main process's group (default), the main process only with SIGKILL to the
/// rest at the timeout (systemd's mixed), or the main process only.
public enum KillMode: String, Sendable, Equatable, CaseIterable {
    case group, mixed, process
}

/// Whose sd_notify messages count for a program: its main process only, also its pre_start, or any of its
/// processes (systemd's NotifyAccess=).
public enum NotifyAccess: String, Sendable, Equatable, CaseIterable {
    case main, exec, all
}

public enum RestartMode: String, Sendable, Equatable, CaseIterable {
    case always
    case onFailure = "on-failure"
    case never
}

/// Jittered exponential backoff between restarts of a program that was not stable.
public struct BackoffSettings: Sendable, Equatable {
    public var initial: Duration = .milliseconds(100)
    public var max: Duration = .seconds(30)
    public var multiplier: Double = 2
    /// Fraction of the delay added or removed at random (0.2 = ±20 %).
    public var jitter: Double = 0.2
    public init() {}
}

/// More than `maxRestarts` restarts within `window` makes a program FATAL.
public struct IntensitySettings: Sendable, Equatable {
    public var maxRestarts: Int = 5
    public var window: Duration = .seconds(60)
    public init() {}
}

/// Resource limits: warn at 80 %, restart at 100 % (measured from the program's cgroup where the controllers
/// are delegated, else from /proc for its main process); with the controllers, also enforced by the kernel
/// (memory.max, pids.max) for the whole program.
public struct ResourceLimits: Sendable, Equatable {
    public var rssMB: Int?
    public var fds: Int?
    /// Processes and threads of the whole program (pids.max); needs the pids controller.
    public var pids: Int?
    public init() {}
}

/// One supervised program, as configured under `programs.<name>`.
public struct ProgramSpec: Sendable, Equatable {
    public var name: String
    public var command: [String]
    public var env: [String: String] = [:]
    /// Secret-bearing variables of warden's own environment this program receives (`CREDENTIALS_DIRECTORY`,
    /// `WARDEN_SECRET_*`; a trailing `*` matches a prefix). The others never reach it.
    public var passEnv: [String] = []
    public var after: [String] = []
    public var critical = false
    public var autostart = true
    public var ready: ReadinessMode = .notify
    public var startTimeout: Duration = .seconds(30)
    /// Heartbeat interval; nil means no watchdog.
    public var watchdogSec: Duration?
    public var stopTimeout: Duration = .seconds(10)
    /// Sent to stop (and to restart) the program; SIGKILL follows after `stopTimeout`.
    public var stopSignal: Int32 = SIGTERM
    public var killMode: KillMode = .group
    /// Exit codes that are a clean exit, not a crash (always 0 among them unless listed otherwise).
    public var exitOK: [Int32] = [0]
    public var notifyAccess: NotifyAccess = .main
    /// Sent by `wardenctl reload PROGRAM` (nil: the program cannot be reloaded, only restarted).
    public var reloadSignal: Int32?
    /// A reload (RELOADING=1 … READY=1) not confirmed within this is said as failed.
    public var reloadTimeout: Duration = .seconds(90)
    /// Run as this user (name or uid) and group (default: the user's primary group), with the user's
    /// supplementary groups; warden must be root to use them.
    public var user: String?
    public var group: String?
    /// The file mode creation mask (octal, e.g. 027); nil: warden's own.
    public var umask: Int?
    /// Working directory (default: the configuration root).
    public var workingDir: String?
    /// RLIMIT_NOFILE and RLIMIT_CORE (soft and hard) for the program.
    public var limitNofile: Int?
    public var limitCore: Int?
    /// Sockets warden binds for the program and passes to it (socket activation, LISTEN_FDS): they stay bound
    /// across its restarts, so no connection is refused while it restarts.
    public var listen: [ListenAddress] = []
    /// How many fds the program may keep in warden's fd store (FDSTORE=1); 0 (the default, as systemd's
    /// FileDescriptorStoreMax) refuses them, said as an event.
    public var fdStoreMax = 0
    public var restart: RestartMode = .always
    public var backoff = BackoffSettings()
    public var stableAfter: Duration = .seconds(10)
    public var intensity = IntensitySettings()
    public var cooldown: Duration = .seconds(300)
    public var limits = ResourceLimits()
    public var preStart: [String]?
    public var preStartTimeout: Duration = .seconds(60)
    /// What the program offers (`offers:`): the role it runs (it reads that section, so a change to it restarts
    /// the program; `wardenctl`'s `<role>.…` requests go to it; its status shows in `wardenctl status`) and the
    /// socket in the runtime directory it answers on. Warden knows programs by these, never by their names.
    public var offers = Offers()

    public struct Offers: Sendable, Equatable {
        /// One of `ConfigLoader.roleSections` (engine, notifier, dashboard); nil: an ordinary program.
        public var role: String?
        /// A socket file name in the runtime directory (`engine.sock`) warden keeps a link to.
        public var socket: String?
        public init() {}
    }

    public init(name: String, command: [String]) {
        self.name = name
        self.command = command
    }
}

extension ProgramSpec {
    /// True for variables of warden's environment that carry secrets: a program gets them only through `pass_env`.
    public static func isSecretBearing(_ name: String) -> Bool { Credentials.isSecretBearing(name) }

    /// Whether `pass_env` lets `name` through.
    public func passes(_ name: String) -> Bool {
        passEnv.contains { $0.hasSuffix("*") ? name.hasPrefix($0.dropLast()) : $0 == name }
    }
}

/// A socket `listen:` binds: a numeric host and port, or a Unix socket path.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    case inet(host: String, port: Int)
    case unix(path: String)

    public var description: String {
        switch self {
        case .inet(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): return path
        }
    }

    /// `127.0.0.1:8080`, `[::1]:8080`, `/run/app.sock` or `unix:relative/app.sock` (resolved against the
    /// configuration's root when bound).
    public static func parse(_ text: String) -> Result<ListenAddress, WardenError> {
        let t = text.trimmingCharacters(in: .whitespaces)
        if t.hasPrefix("/") { return .success(.unix(path: t)) }
        if t.hasPrefix("unix:") {
            let rest = String(t.dropFirst(5))
            guard !rest.isEmpty else { return .failure(WardenError(.configuration, "`\(text)`: no path after unix:")) }
            return .success(.unix(path: rest))
        }
        var host: Substring, port: Substring
        if t.hasPrefix("[") {
            guard let close = t.firstIndex(of: "]"), t[t.index(after: close)...].hasPrefix(":") else {
                return .failure(WardenError(.configuration, "`\(text)` is not [IPv6]:port"))
            }
            host = t[t.index(after: t.startIndex)..<close]
            port = t[t.index(close, offsetBy: 2)...]
        } else {
            guard let colon = t.lastIndex(of: ":") else {
                return .failure(WardenError(.configuration, "`\(text)` is neither host:port nor a socket path (/… or unix:…)"))
            }
            host = t[..<colon]; port = t[t.index(after: colon)...]
        }
        guard let p = Int(port), (1...65535).contains(p) else {
            return .failure(WardenError(.configuration, "`\(text)`: port `\(port)` is not 1…65535"))
        }
        var v4 = in_addr(), v6 = in6_addr()
        guard inet_pton(AF_INET, String(host), &v4) == 1 || inet_pton(AF_INET6, String(host), &v6) == 1 else {
            return .failure(WardenError(.configuration, "`\(text)`: host `\(host)` is not a numeric IP address"))
        }
        return .success(.inet(host: String(host), port: p))
    }
}

extension ProgramSpec: ConfigSection {
    public static let configPath = "programs.<name>"
    public static var defaults: ProgramSpec { ProgramSpec(name: "<name>", command: []) }

    static func signal(_ key: String, _ set: @escaping (inout ProgramSpec, Int32) -> Void) -> (inout ProgramSpec, StrictReader, String) -> Void {
        { s, r, p in
            guard let name = r.string(p) else { return }
            let bare = name.uppercased().hasPrefix("SIG") ? String(name.uppercased().dropFirst(3)) : name.uppercased()
            if let sig = stopSignalNames[bare] { set(&s, sig) } else {
                r.fail(p, "`\(name)` is not one of \(stopSignalNames.keys.sorted().joined(separator: ", "))")
            }
        }
    }

    static func signalName(_ sig: Int32) -> String { stopSignalNames.first { $0.value == sig }?.key ?? String(sig) }

    public static let configKeys: [KeyDeclaration<ProgramSpec>] = [
        .custom("command", type: "list of strings (required)", "Executable and arguments; a bare name resolves next to warden, then PATH",
                read: { s, r, p in
                    if let command = r.stringArray(p) {
                        if command.isEmpty || command[0].isEmpty { r.fail(p, "must name an executable") }
                        s.command = command
                    } else {
                        r.fail(p, "required: the executable and its arguments, as a list")
                    }
                }, render: { "[" + $0.command.map(ConfigValue.quoted).joined(separator: ", ") + "]" }),
        .custom("env.<VAR>", type: "string", "Extra environment of the program (secrets belong in credentials, never here)",
                read: { _, _, _ in }, render: { s in s.env.isEmpty ? "{}" : nil }),
        .custom("pass_env", type: "list of variable names (a trailing * matches a prefix)",
                "Secret-bearing variables of warden's environment (CREDENTIALS_DIRECTORY, WARDEN_SECRET_*) this program receives",
                read: { s, r, p in
                    r.stringArray(p).map { names in
                        for n in names where n.isEmpty || n.dropLast(n.hasSuffix("*") ? 1 : 0).contains(where: { !($0.isLetter || $0.isNumber || $0 == "_") }) {
                            r.fail(p, "`\(n)` is not a variable name (letters, digits, _; a trailing * matches a prefix)")
                        }
                        s.passEnv = names
                    }
                }, render: { "[" + $0.passEnv.map(ConfigValue.quoted).joined(separator: ", ") + "]" }),
        .strings("after", \.after, "Start after these programs are ready (or their start_timeout passed)"),
        .bool("critical", \.critical, "FATAL here stops every program and exits warden with 70"),
        .bool("autostart", \.autostart, "Start with warden (false: only by `wardenctl start`)"),
        .oneOf("ready", \.ready, "notify: wait for READY=1 over sd_notify; spawn: ready once started"),
        .duration("start_timeout", \.startTimeout, in: .milliseconds(10)...(.seconds(3600)), "No READY=1 within this: killed, a failed start"),
        .custom("watchdog_sec", type: "duration 0 (off) or 100ms…1h", "WATCHDOG=1 expected at least this often (passed as WATCHDOG_USEC)",
                read: { s, r, p in
                    guard let w = r.duration(p, in: .zero...(.seconds(3600))) else { return }
                    if w == .zero { s.watchdogSec = nil }
                    else if w < .milliseconds(100) { r.fail(p, "must be 0 (off) or at least 100ms, got \(w.short)") }
                    else { s.watchdogSec = w }
                }, render: { $0.watchdogSec?.short ?? "0" }),
        .duration("stop_timeout", \.stopTimeout, in: .milliseconds(10)...(.seconds(3600)), "SIGKILL after the stop signal and this long"),
        .custom("stop_signal", type: "signal: " + stopSignalNames.keys.sorted().joined(separator: ", "), "Sent to stop (and restart) the program",
                read: signal("stop_signal") { $0.stopSignal = $1 }, render: { signalName($0.stopSignal) }),
        .oneOf("kill_mode", \.killMode, "group: the stop signal to the process group; mixed: to the main process, SIGKILL to the group; process: the main process only"),
        .custom("exit_ok", type: "list of exit codes 0…255", "Exit codes that are a clean exit, not a crash",
                read: { s, r, p in
                    guard let codes = r.intArray(p) else { return }
                    if let bad = codes.first(where: { !(0...255).contains($0) }) { r.fail(p, "\(bad) is not an exit code (0…255)") }
                    else { s.exitOK = codes.map(Int32.init) }
                }, render: { "[" + $0.exitOK.map(String.init).joined(separator: ", ") + "]" }),
        .oneOf("notify_access", \.notifyAccess, "Whose sd_notify messages count: main, exec (also pre_start's STATUS=), all"),
        .custom("reload_signal", type: "signal (unset: the program can only be restarted)", "`wardenctl reload PROGRAM` sends this to the main process",
                read: signal("reload_signal") { $0.reloadSignal = $1 }, render: { $0.reloadSignal.map(signalName) }),
        .duration("reload_timeout", \.reloadTimeout, in: .milliseconds(100)...(.seconds(3600)), "A reload not confirmed (RELOADING=1 … READY=1) within this is said as failed"),
        .optionalString("user", \.user, "Run as this user (name or uid; warden must be root)"),
        .optionalString("group", \.group, "Run with this group (default: the user's primary group)"),
        .custom("umask", type: "octal mask, quoted (\"027\")", "File mode creation mask of the program",
                read: { s, r, p in
                    guard let m = r.string(p) else { return }
                    if let v = Int(m, radix: 8), (0...0o777).contains(v) { s.umask = v } else { r.fail(p, "`\(m)` is not an octal mask like 027") }
                }, render: { $0.umask.map { "\"" + String($0, radix: 8) + "\"" } }),
        .optionalString("working_dir", \.workingDir, "Working directory (default: the configuration root)"),
        .optionalInt("limit_nofile", \.limitNofile, in: 16...1_048_576, "RLIMIT_NOFILE (soft and hard)"),
        .optionalInt("limit_core", \.limitCore, in: 0...Int(Int32.max), "RLIMIT_CORE (soft and hard)"),
        .custom("listen", type: "list of addresses (host:port, [IPv6]:port, /path.sock, unix:relative.sock)",
                "Sockets warden binds and passes as LISTEN_FDS (socket activation), held across restarts",
                read: { s, r, p in
                    for (i, text) in (r.stringArray(p) ?? []).enumerated() {
                        switch ListenAddress.parse(text) {
                        case .success(let a):
                            if s.listen.contains(a) { r.fail("\(p)[\(i)]", "`\(text)` is listed twice") } else { s.listen.append(a) }
                        case .failure(let e): r.fail("\(p)[\(i)]", e.message)
                        }
                    }
                }, render: { "[" + $0.listen.map { ConfigValue.quoted($0.description) }.joined(separator: ", ") + "]" }),
        .int("fd_store_max", \.fdStoreMax, in: 0...48, "Fds the program may keep in warden's store (FDSTORE=1); 0 refuses them"),
        .oneOf("restart", \.restart, "always, on-failure or never"),
        .duration("backoff.initial", \.backoff.initial, in: .milliseconds(1)...(.seconds(3600)), "First delay before restarting a program that was not stable"),
        .duration("backoff.max", \.backoff.max, in: .milliseconds(1)...(.seconds(86400)), "Longest delay"),
        .double("backoff.multiplier", \.backoff.multiplier, in: 1...100, "Growth of the delay per restart"),
        .double("backoff.jitter", \.backoff.jitter, in: 0...1, "± this fraction of each delay, at random"),
        .duration("stable_after", \.stableAfter, in: .zero...(.seconds(86400)), "Ready this long = stable: a crash then restarts at once"),
        .int("intensity.max_restarts", \.intensity.maxRestarts, in: 1...100_000, "More restarts than this within the window: FATAL"),
        .duration("intensity.window", \.intensity.window, in: .seconds(1)...(.seconds(86400)), "The window of max_restarts"),
        .duration("cooldown", \.cooldown, in: .seconds(1)...(.seconds(86400 * 7)), "A FATAL non-critical program is retried after this"),
        .optionalInt("limits.rss_mb", \.limits.rssMB, in: 1...1_048_576, "MiB of resident memory: warn at 80 %, restart at 100 % (memory.max where delegated)"),
        .optionalInt("limits.fds", \.limits.fds, in: 8...1_048_576, "Open fds: warn at 80 %, restart at 100 %"),
        .optionalInt("limits.pids", \.limits.pids, in: 1...4_194_304, "Processes and threads of the whole program (pids.max; needs the pids controller)"),
        .custom("pre_start", type: "list of strings (unset by default)", "Run to completion before each start; a failure is a failed start",
                read: { s, r, p in
                    guard let pre = r.stringArray(p) else { return }
                    if pre.isEmpty || pre[0].isEmpty { r.fail(p, "must name an executable") }
                    s.preStart = pre
                }, render: { $0.preStart.map { "[" + $0.map(ConfigValue.quoted).joined(separator: ", ") + "]" } }),
        .duration("pre_start_timeout", \.preStartTimeout, in: .milliseconds(10)...(.seconds(3600)), "pre_start killed after this"),
        .custom("offers.role", type: "one of: " + ConfigLoader.roleSections.joined(separator: ", ") + " (unset by default)",
                "The role this program runs: it reads that section (a change restarts it), gets wardenctl's `<role>.…` requests, shows in `wardenctl status`",
                read: { s, r, p in r.oneOf(p, ConfigLoader.roleSections).map { s.offers.role = $0 } }, render: { $0.offers.role }),
        .custom("offers.socket", type: "socket file name in runtime_dir (unset by default)",
                "The socket it answers requests on; warden keeps a link to it for status and forwarded requests",
                read: { s, r, p in
                    guard let name = r.string(p) else { return }
                    if name.isEmpty || name.contains("/") || !name.hasSuffix(".sock") { r.fail(p, "`\(name)` is not a socket file name like engine.sock") }
                    else { s.offers.socket = name }
                }, render: { $0.offers.socket.map(ConfigValue.quoted) }),
    ]

    public static func crossCheck(_ s: ProgramSpec) -> [(key: String, reason: String)] {
        s.offers.socket != nil && s.offers.role == nil ? [("offers.role", "required with offers.socket: the role whose requests the socket answers")] : []
    }
}

/// The `programs:` section: every program by name, in the order the file lists them.
public struct ProgramsSection: Sendable, Equatable, ConfigSection {
    public var list: [ProgramSpec] = []
    public init() {}

    public static let configPath = "programs"
    public static var defaults: ProgramsSection { ProgramsSection() }
    public static let configKeys: [KeyDeclaration<ProgramsSection>] = []
    public static var nestedKeys: [DeclaredKey] { ConfigLoader.declared(ProgramSpec.self) }
    /// What warden registers: the programs' section.
    public static var configSections: [SectionRegistration] { [.of(ProgramsSection.self)] }

    public static func readMore(into s: inout ProgramsSection, node: ConfigNode, _ r: StrictReader) {
        for name in node.keys("") ?? [] {
            guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
                r.fail(name, "program names are 1-32 of a-z, 0-9, '-', '_', starting with a letter")
                continue
            }
            var spec = ProgramSpec(name: name, command: [])
            ProgramSpec.readDeclared(into: &spec, prefix: name, r)
            if node.has("\(name).env") {
                if let vars = node.keys("\(name).env") {
                    for key in vars {
                        if key.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) == nil {
                            r.fail("\(name).env.\(key)", "not a valid environment variable name")
                        }
                        if !node.isScalar("\(name).env.\(key)") { r.fail("\(name).env.\(key)", "must be a string") }
                        else if let v = r.string("\(name).env.\(key)") { spec.env[key] = v }
                    }
                } else {
                    r.fail("\(name).env", "must be a mapping of variable name to value")
                }
            }
            for problem in ProgramSpec.crossCheck(spec) { r.fail("\(name).\(problem.key)", problem.reason) }
            if spec.backoff.max < spec.backoff.initial {
                r.fail("\(name).backoff.max", "must be at least backoff.initial (\(spec.backoff.initial.short))")
            }
            s.list.append(spec)
        }
    }

    /// `after` names configured programs, never itself, without a cycle; one program per role.
    public static func crossCheck(_ s: ProgramsSection) -> [(key: String, reason: String)] {
        var out: [(String, String)] = []
        var roles: [String: String] = [:]
        for spec in s.list {
            guard let role = spec.offers.role else { continue }
            if let other = roles[role] { out.append(("\(spec.name).offers.role", "`\(role)` is already the role of `\(other)`; one program per role")) }
            else { roles[role] = spec.name }
        }
        let names = Set(s.list.map(\.name))
        for spec in s.list {
            for dep in spec.after where !names.contains(dep) {
                out.append(("\(spec.name).after", "names `\(dep)`, which is not a configured program"))
            }
            if spec.after.contains(spec.name) { out.append(("\(spec.name).after", "a program cannot start after itself")) }
        }
        // A cycle in `after` would deadlock the start order.
        var visiting = Set<String>(), done = Set<String>()
        func visit(_ n: String, _ path: [String]) {
            if done.contains(n) { return }
            if visiting.contains(n) {
                out.append(("\(n).after", "start order has a cycle: \((path + [n]).joined(separator: " → "))"))
                return
            }
            visiting.insert(n)
            for d in s.list.first(where: { $0.name == n })?.after ?? [] where names.contains(d) && d != n { visit(d, path + [n]) }
            visiting.remove(n)
            done.insert(n)
        }
        for spec in s.list { visit(spec.name, []) }
        return out
    }

    /// Each program's keys, then its environment (values that may carry a secret masked).
    public static func renderMore(_ s: ProgramsSection) -> [(String, String)] {
        s.list.flatMap { p -> [(String, String)] in
            ProgramSpec.configKeys.filter { !$0.name.contains("<") }.compactMap { k in k.value(in: p).map { ("programs.\(p.name).\(k.name)", $0) } }
                + p.env.sorted { $0.key < $1.key }.map { k, v in
                    ("programs.\(p.name).env.\(k)", ConfigLoader.mayBeSecret(k) ? "\"****\" (masked)" : ConfigValue.quoted(v))
                }
        }
    }
}

extension WardenConfiguration {
    /// Programs in the order the file lists them (none in a process that did not register `programs`).
    public var programs: [ProgramSpec] {
        get { sections.get(ProgramsSection.self).list }
        set { var s = ProgramsSection(); s.list = newValue; sections.set(s) }
    }

    public func program(named name: String) -> ProgramSpec? { programs.first { $0.name == name } }

    /// The program that runs `role` (`offers.role`), if one is configured.
    public func program(offering role: String) -> ProgramSpec? { programs.first { $0.offers.role == role } }
}
