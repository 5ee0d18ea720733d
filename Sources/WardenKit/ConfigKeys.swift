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
        declared(SupervisorSettings.self) + registered.flatMap(\.declared)
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
        return out
    }

    /// An environment variable whose name says it may hold a secret.
    public static func mayBeSecret(_ name: String) -> Bool {
        let n = name.uppercased()
        return Credentials.isSecretBearing(n) || ["SECRET", "TOKEN", "KEY", "PASS", "CREDENTIAL", "URL", "AUTH", "DSN"].contains { n.contains($0) }
    }
}
