// Where Warden keeps state, sockets and logs: from configuration and systemd's *_DIRECTORY, never the cwd.
public import Foundation

/// Resolved absolute directories of one installation.
public struct WardenPaths: Sendable, Equatable {
    public var configFile: String
    public var root: String
    public var stateDir: String
    public var runtimeDir: String
    public var logsDir: String

    public var controlSocket: String { runtimeDir + "/control.sock" }
    public var notifySocket: String { runtimeDir + "/notify.sock" }
    public var lockFile: String { runtimeDir + "/warden.lock" }

    /// Resolves relative paths against the configuration root (itself relative to the config file's
    /// folder); systemd's STATE_DIRECTORY, RUNTIME_DIRECTORY and LOGS_DIRECTORY win when set.
    public static func resolve(_ config: WardenConfiguration,
                               environment: [String: String] = ProcessInfo.processInfo.environment) -> WardenPaths {
        let configDir = (config.file as NSString).deletingLastPathComponent
        let root = absolute(config.supervisor.root, against: configDir)
        func pick(_ env: String, _ configured: String) -> String {
            // systemd passes a colon-separated list when several directories are configured.
            if let v = environment[env], let first = v.split(separator: ":").first, first.hasPrefix("/") {
                return String(first)
            }
            return absolute(configured, against: root)
        }
        return WardenPaths(configFile: config.file, root: root,
                           stateDir: pick("STATE_DIRECTORY", config.supervisor.stateDir),
                           runtimeDir: pick("RUNTIME_DIRECTORY", config.supervisor.runtimeDir),
                           logsDir: pick("LOGS_DIRECTORY", config.supervisor.logsDir))
    }

    public static func absolute(_ path: String, against base: String) -> String {
        let full = path.hasPrefix("/") ? path : base + "/" + path
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    /// Creates the directories: state and logs 0750, the runtime directory (sockets) 0700.
    public func createDirectories() throws {
        for (dir, mode) in [(stateDir, 0o750), (runtimeDir, 0o700), (logsDir, 0o750)] {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            } catch {
                throw WardenError(.io, "cannot create directory \(dir)", cause: error as NSError)
            }
            // Made private whatever the umask (outside systemd it is often 022): the state holds the journal,
            // the dashboard token and the alert queue.
            if chmod(dir, mode_t(mode)) != 0 {
                throw WardenError.posix("chmod \(String(mode, radix: 8)) \(dir)")
            }
        }
    }

    /// The default configuration file: $WARDEN_CONFIG, else `etc/warden.yaml` found upward from
    /// the executable's folder (a source checkout), else /etc/warden/warden.yaml.
    public static func defaultConfigFile(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let c = environment["WARDEN_CONFIG"], !c.isEmpty { return c }
        // /proc/self/exe, not argv[0]: argv can be empty (e.g. under some LD_PRELOAD shims) or a bare name.
        var dir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            let candidate = dir.appendingPathComponent("etc/warden.yaml").path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            dir.deleteLastPathComponent()
        }
        return "/etc/warden/warden.yaml"
    }

    /// A short stable name for this tree (its cgroup sub-tree is `warden-<key>`): FNV-1a of the root path.
    public var instanceKey: String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in root.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return String(h, radix: 16)
    }
}
