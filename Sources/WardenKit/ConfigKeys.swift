// Every key of warden.yaml, declared once per section: name, type and bounds, default (the section's own
// initial value) and the comment `warden config keys` prints. ConfigLoader reads them from here, the
// unknown-key check walks them, and a test holds etc/warden.yaml to them.
import Foundation
import Logging

/// Checks and renderings the sections' declarations share (in every module that declares keys).
public enum ConfigValue {
    /// A problem with a URL that must be http(s) with a host; nil when fine.
    public static func httpURL(_ url: String) -> String? {
        (url.hasPrefix("http://") || url.hasPrefix("https://")) && URLComponents(string: url)?.host?.isEmpty == false
            ? nil : "`\(url)` is not an http(s) URL with a host"
    }

    /// A YAML scalar for a string: quoted when it needs to be.
    public static func quoted(_ s: String) -> String { WardenKit.quoted(s) }

    /// A number without a trailing ".0" when it is whole.
    public static func number(_ d: Double) -> String { WardenKit.number(d) }
}

extension SupervisorSettings: ConfigSection {
    public static let configPath = "supervisor"
    public static var defaults: SupervisorSettings { SupervisorSettings() }
    public static let configKeys: [KeyDeclaration<SupervisorSettings>] = [
        .string("root", \.root, "Base for relative paths, relative to the configuration file's folder"),
        .string("state_dir", \.stateDir, "Databases and the dashboard token (free space is watched); STATE_DIRECTORY wins"),
        .string("runtime_dir", \.runtimeDir, "Sockets and the instance lock (made 0700); RUNTIME_DIRECTORY wins"),
        .string("logs_dir", \.logsDir, "<program>.log files when journald is not used; LOGS_DIRECTORY wins"),
        .oneOf("log_level", \.logLevel, "Log level of warden and its programs"),
        .oneOf("journald", \.journald, "Children's output to journald: auto (when its socket exists), on, off"),
        .int("log_max_bytes", \.logMaxBytes, in: 4096...(1 << 40), "Rotate <program>.log at this size"),
        .int("log_keep_files", \.logKeepFiles, in: 1...100, "Rotated log files kept"),
        .int("log_tail_lines", \.logTailLines, in: 10...100_000, "Lines per program kept in memory for `wardenctl logs`"),
        .duration("resource_interval", \.resourceInterval, in: .milliseconds(100)...(.seconds(3600)),
                  "How often RSS, open fds, free space (and, without cgroups, descendants) are read"),
        .custom("containment", type: "one of: auto, cgroup, subreaper",
                "How programs' processes are held: a cgroup v2 per program when one can be had (auto), required (cgroup), or subreaper tracking",
                read: { s, r, p in r.oneOf(p, ["auto", "cgroup", "subreaper"]).map { s.containment = $0 } }, render: { $0.containment }),
        .double("disk_warn_percent", \.diskWarnPercent, in: 0...100, "Free space or inodes of state_dir below this: warning event"),
        .double("disk_critical_percent", \.diskCriticalPercent, in: 0...100, "Below this: critical event"),
        .int("event_buffer", \.eventBuffer, in: 10...1_000_000, "Lifecycle events kept for `wardenctl events` and replay to subscribers"),
        .custom("allowed_uids", type: "list of integers", "Uids besides warden's own and root allowed on control.sock",
                read: { s, r, p in r.intArray(p).map { s.allowedUIDs = $0 } }, render: { "[" + $0.allowedUIDs.map(String.init).joined(separator: ", ") + "]" }),
        .duration("tick", \.tick, in: .milliseconds(1)...(.seconds(1)),
                  "Shortest pause between two passes of the supervisor's loop (it otherwise sleeps until its next deadline)"),
    ]
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
                }, render: { "[" + $0.command.map(quoted).joined(separator: ", ") + "]" }),
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
                }, render: { "[" + $0.passEnv.map(quoted).joined(separator: ", ") + "]" }),
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
                }, render: { "[" + $0.listen.map { quoted($0.description) }.joined(separator: ", ") + "]" }),
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
                }, render: { $0.preStart.map { "[" + $0.map(quoted).joined(separator: ", ") + "]" } }),
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
                }, render: { $0.offers.socket.map(quoted) }),
    ]

    public static func crossCheck(_ s: ProgramSpec) -> [(key: String, reason: String)] {
        s.offers.socket != nil && s.offers.role == nil ? [("offers.role", "required with offers.socket: the role whose requests the socket answers")] : []
    }
}

/// Every section's declared keys, with full paths: what `warden config keys` prints and the docs test checks.
public struct DeclaredKey: Sendable {
    public var path: String
    public var type: String
    public var defaultValue: String?
    public var doc: String
}

extension ConfigLoader {
    public static func declared<S: ConfigSection>(_ section: S.Type) -> [DeclaredKey] {
        S.configKeys.map { DeclaredKey(path: S.configPath + "." + $0.name, type: $0.type, defaultValue: $0.render(S.defaults), doc: $0.doc) }
    }

    /// Every key of warden.yaml, in the file's order of sections.
    public static var allKeys: [DeclaredKey] {
        declared(SupervisorSettings.self) + registered.flatMap(\.declared) + declared(ProgramSpec.self)
    }

    static func keyTree<S: ConfigSection>(_ section: S.Type) -> KeyTree { KeyTree(S.configKeys.map(\.name)) }
}

extension ConfigLoader {
    /// The effective value of every key (names filled in), in the order of `allKeys`; environment values that may
    /// carry a secret are masked.
    public static func effective(_ c: WardenConfiguration) -> [(path: String, value: String)] {
        var out: [(String, String)] = []
        func add<S: ConfigSection>(_ s: S, _ prefix: String) {
            for key in S.configKeys where !key.name.contains("<") {
                if let v = key.render(s) { out.append((prefix + "." + key.name, v)) }
            }
        }
        add(c.supervisor, "supervisor")
        for reg in registered { if let v = c.sections.values[reg.path] { out += reg.render(v) } }
        for p in c.programs {
            add(p, "programs.\(p.name)")
            for (k, v) in p.env.sorted(by: { $0.key < $1.key }) {
                out.append(("programs.\(p.name).env.\(k)", mayBeSecret(k) ? "\"****\" (masked)" : quoted(v)))
            }
        }
        return out
    }

    /// An environment variable whose name says it may hold a secret.
    static func mayBeSecret(_ name: String) -> Bool {
        let n = name.uppercased()
        return ProgramSpec.isSecretBearing(n) || ["SECRET", "TOKEN", "KEY", "PASS", "CREDENTIAL", "URL", "AUTH", "DSN"].contains { n.contains($0) }
    }
}
