// Where a program's processes are held, so that none of them outlives its program: a cgroup v2 per program
// when one can be had (delegated by systemd, or a writable cgroup2 mount when run as root), else the
// descendants of each main process followed through /proc (warden is their subreaper) and recorded on disk,
// so a new warden can clear what a killed one left.
import CWardenOS
import Foundation
import WardenKit

/// One process left over, as told in events.
public struct Leftover: Sendable, Equatable, Codable, CustomStringConvertible {
    public var pid: Int32
    /// The kernel's start time (clock ticks since boot): the pid is the same process only with the same start time.
    public var start: UInt64
    public var comm: String
    public var description: String { "\(pid) (\(comm))" }
}

public final class Containment: @unchecked Sendable {
    public enum Mode: String, Sendable { case cgroup, subreaper }
    public let mode: Mode
    /// The cgroup directory holding one sub-directory per program (cgroup mode).
    public let base: String?
    /// Why the mode is what it is (said at start and on status).
    public let why: String
    private let ledgerPath: String
    /// Controllers enabled for the programs' cgroups (`memory`, `pids`) where delegated: limits are then the
    /// kernel's (memory.max, pids.max) and usage is the whole program's (memory.current, pids.current).
    public private(set) var controllers: Set<String> = []
    private let lock = NSLock()
    /// Subreaper mode: the descendants seen of each program's main process.
    private var tracked: [String: [Int32: Leftover]] = [:]

    private func locked<T>(_ body: () -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body()
    }

    /// Subreaper tracking, always available (what a supervisor built without a choice uses).
    public init(subreaperIn runtimeDir: String) {
        ledgerPath = runtimeDir + "/descendants.json"
        (mode, base, why) = (.subreaper, nil, "subreaper: descendants followed through /proc")
    }

    /// Why the descendants could not be recorded for a successor (nil: they were); the supervisor says it once.
    public var ledgerProblem: String? { locked { ledgerError } }
    private var ledgerError: String?

    /// `preference`: auto (cgroup when possible), cgroup (required: fails if none) or subreaper.
    public init(preference: String, instanceKey: String, runtimeDir: String) throws {
        ledgerPath = runtimeDir + "/descendants.json"
        if preference == "subreaper" {
            (mode, base, why) = (.subreaper, nil, "subreaper: chosen in configuration (supervisor.containment)")
            return
        }
        if let found = Self.findCgroupBase(instanceKey: instanceKey) {
            (mode, base, why) = (.cgroup, found.path, found.why)
            controllers = Self.enableControllers(in: found.path)
            return
        }
        if preference == "cgroup" {
            throw WardenError(.configuration, "supervisor.containment is cgroup, but no writable cgroup v2 hierarchy was found (need Delegate=yes under systemd, or root with a cgroup2 mount)")
        }
        (mode, base, why) = (.subreaper, nil, "subreaper: no writable cgroup v2 hierarchy (run under systemd with Delegate=yes, or as root, for cgroups)")
    }

    /// cgroup mode over an existing cgroup directory (tests use a directory shaped like one).
    init(cgroupBase: String, runtimeDir: String) {
        ledgerPath = runtimeDir + "/descendants.json"
        (mode, base, why) = (.cgroup, cgroupBase, "cgroup: \(cgroupBase)")
        controllers = Self.enableControllers(in: cgroupBase)
    }

    public var summary: String { mode == .cgroup ? "cgroup \(base ?? "")" : "subreaper (descendants followed through /proc)" }

    /// Which of `memory` and `pids` the base offers, enabled for its children (cgroup.subtree_control).
    static func enableControllers(in base: String) -> Set<String> {
        guard let offered = try? String(contentsOfFile: base + "/cgroup.controllers", encoding: .utf8) else { return [] }
        var enabled: Set<String> = []
        for c in ["memory", "pids"] where offered.split(whereSeparator: \.isWhitespace).contains(Substring(c)) {
            if write("+\(c)", to: base + "/cgroup.subtree_control") { enabled.insert(c) }
        }
        return enabled
    }

    /// Said at start: what the limits are measured and enforced by.
    public var limitsNote: String {
        guard mode == .cgroup else { return "limits measured from /proc for each main process (no cgroup)" }
        if controllers.isEmpty { return "no memory or pids controller delegated: limits measured from /proc for each main process, not enforced by the kernel" }
        return "controllers \(controllers.sorted().joined(separator: ", ")): limits enforced by the kernel for each whole program"
    }

    // MARK: - cgroup v2

    static func cgroup2Mount() -> String? {
        guard let info = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) else { return nil }
        for line in info.split(separator: "\n") {
            // … mount-point … - cgroup2 cgroup2 rw,…
            let halves = line.components(separatedBy: " - ")
            guard halves.count == 2, halves[1].hasPrefix("cgroup2 ") else { continue }
            let fields = halves[0].split(separator: " ")
            if fields.count > 4 { return String(fields[4]) }
        }
        return nil
    }

    static func ownCgroup() -> String? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("0::") { return String(line.dropFirst(3)) }
        return nil
    }

    static func findCgroupBase(instanceKey: String) -> (path: String, why: String)? {
        guard let mount = cgroup2Mount(), let own = ownCgroup() else { return nil }
        let fm = FileManager.default
        let ownPath = own == "/" ? mount : mount + own
        // Delegated by systemd (Delegate=yes): our own cgroup is ours; warden moves itself into a leaf of it.
        if ProcessInfo.processInfo.environment["INVOCATION_ID"] != nil, own != "/", access(ownPath + "/cgroup.procs", W_OK) == 0 {
            let leaf = ownPath + "/supervisor"
            try? fm.createDirectory(atPath: leaf, withIntermediateDirectories: true)
            if Self.write("\(getpid())", to: leaf + "/cgroup.procs") {
                return (ownPath, "cgroup: delegated by systemd (\(ownPath)); warden itself in \(leaf)")
            }
        }
        // Run by hand as root: a sub-tree of the writable mount, named after this instance's tree.
        guard geteuid() == 0 else { return nil }
        let base = ownPath + "/warden-" + instanceKey
        do { try fm.createDirectory(atPath: base, withIntermediateDirectories: true) } catch { return nil }
        let probe = base + "/probe-\(getpid())"
        guard (try? fm.createDirectory(atPath: probe, withIntermediateDirectories: false)) != nil else { return nil }
        let usable = access(probe + "/cgroup.procs", W_OK) == 0
        rmdir(probe)
        return usable ? (base, "cgroup: \(base) (root, writable cgroup2 mount)") : nil
    }

    static func write(_ text: String, to path: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return text.withCString { Foundation.write(fd, $0, strlen($0)) } == text.utf8.count
    }

    /// The program's cgroup, created if needed, with its limits (memory.max from `rss_mb`, pids.max from `pids`;
    /// "max" when unset, so a limit removed by reload is lifted); the spawner clones the child into it. Throws
    /// (cgroup mode only) when it cannot be had, so the caller can say the program runs uncontained.
    public func prepare(_ program: String, limits: ResourceLimits = ResourceLimits()) throws -> String? {
        guard mode == .cgroup, let base else { return nil }
        let dir = base + "/prog-" + program
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        guard access(dir + "/cgroup.procs", W_OK) == 0 else {
            throw WardenError.posix("cgroup \(dir) not writable")
        }
        if controllers.contains("memory") {
            let value = limits.rssMB.map { String(UInt64($0) * 1_048_576) } ?? "max"
            guard Self.write(value, to: dir + "/memory.max") else { throw WardenError.posix("write \(dir)/memory.max") }
        }
        if controllers.contains("pids") {
            guard Self.write(limits.pids.map(String.init) ?? "max", to: dir + "/pids.max") else { throw WardenError.posix("write \(dir)/pids.max") }
        }
        return dir + "/cgroup.procs"
    }

    /// The whole program's resident memory: memory.current without its page cache (`file` of memory.stat, which
    /// the kernel reclaims before it would kill); nil without the memory controller.
    public func memoryBytes(_ program: String) -> UInt64? {
        guard controllers.contains("memory"), let dir = base.map({ $0 + "/prog-" + program }),
              let current = Self.readNumber(dir + "/memory.current") else { return nil }
        let file = Self.readKeyed(dir + "/memory.stat")["file"] ?? 0
        return current > file ? current - file : 0
    }

    /// Processes and threads in the program's cgroup (pids.current); nil without the pids controller.
    public func taskCount(_ program: String) -> Int? {
        guard controllers.contains("pids"), let base else { return nil }
        return Self.readNumber(base + "/prog-" + program + "/pids.current").map { Int($0) }
    }

    /// How many times the kernel's OOM killer has killed in the program's cgroup (memory.events `oom_kill`).
    public func oomKills(_ program: String) -> UInt64? {
        guard controllers.contains("memory"), let base else { return nil }
        return Self.readKeyed(base + "/prog-" + program + "/memory.events")["oom_kill"]
    }

    static func readNumber(_ path: String) -> UInt64? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        return UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    static func readKeyed(_ path: String) -> [String: UInt64] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let v = UInt64(parts[1]) { out[String(parts[0])] = v }
        }
        return out
    }

    func members(_ program: String) -> [Int32] {
        guard let base, let text = try? String(contentsOfFile: base + "/prog-" + program + "/cgroup.procs", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { Int32($0) }
    }

    // MARK: - What is left of a program

    /// Kills every process of `program` but `except` (its live main process, if any), and returns them.
    /// cgroup: the members of its cgroup. Subreaper: the descendants seen of its main, still the same processes.
    public func killLeftovers(_ program: String, except: Int32? = nil) -> [Leftover] {
        var victims: [Leftover] = []
        switch mode {
        case .cgroup:
            for _ in 0..<50 {
                let now = members(program).filter { $0 != except }
                if now.isEmpty { break }
                for pid in now {
                    if !victims.contains(where: { $0.pid == pid }), let p = Self.process(pid) { victims.append(p) }
                    _ = kill(pid, SIGKILL)
                }
                usleep(2000)
            }
        case .subreaper:
            let known = locked { tracked.removeValue(forKey: program) ?? [:] }
            for p in known.values where p.pid != except {
                guard let now = Self.process(p.pid), now.start == p.start else { continue }
                victims.append(now)
                _ = kill(p.pid, SIGKILL)
            }
            saveLedger()
        }
        return victims.sorted { $0.pid < $1.pid }
    }

    /// Subreaper mode: notes every descendant of each program's main process now, and the orphans reparented to
    /// warden (a double fork leaves them here), known by the `WARDEN_PROGRAM` every program's environment carries.
    /// Called at each resource check.
    public func follow(mains: [String: Int32]) {
        guard mode == .subreaper else { return }
        var found: [String: [Int32: Leftover]] = [:]
        func walk(_ root: Int32, into program: String) {
            var queue = [root]
            var n = 0
            while let pid = queue.popLast(), n < 10_000 {
                for child in Self.children(of: pid) where found[program]?[child] == nil {
                    if let p = Self.process(child) { found[program, default: [:]][child] = p }
                    queue.append(child)
                    n += 1
                }
            }
        }
        for (name, main) in mains { walk(main, into: name) }
        let mainPIDs = Set(mains.values)
        for child in Self.children(of: getpid()) where !mainPIDs.contains(child) {
            guard let name = Self.programOf(child), let p = Self.process(child) else { continue }
            found[name, default: [:]][child] = p
            walk(child, into: name)
        }
        let changed = locked { () -> Bool in
            var changed = false
            for (name, now) in found {
                // Keep those seen before that still live (an orphan may have left the tree we walked).
                var all = (tracked[name] ?? [:]).filter { Self.process($0.key)?.start == $0.value.start }
                let before = Set(all.keys)
                all.merge(now) { _, new in new }
                if Set(all.keys) != before { changed = true }
                tracked[name] = all
            }
            return changed
        }
        if changed { saveLedger() }
    }

    /// The program `pid` belongs to: its cgroup (cgroup mode), else the `WARDEN_PROGRAM` of its environment.
    public func program(of pid: Int32) -> String? {
        if mode == .cgroup, let base, let text = try? String(contentsOfFile: "/proc/\(pid)/cgroup", encoding: .utf8) {
            for line in text.split(separator: "\n") where line.hasPrefix("0::") {
                let path = String(line.dropFirst(3))
                guard let mount = Self.cgroup2Mount() else { break }
                let full = path == "/" ? mount : mount + path
                if full.hasPrefix(base + "/prog-") { return String(full.dropFirst((base + "/prog-").count)).split(separator: "/").first.map(String.init) }
                return nil
            }
        }
        return Self.programOf(pid)
    }

    /// The `WARDEN_PROGRAM` of a process's environment (set by warden for each program, inherited below it).
    static func programOf(_ pid: Int32) -> String? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return nil }
        for entry in data.split(separator: 0) where entry.starts(with: Array("WARDEN_PROGRAM=".utf8)) {
            return String(decoding: entry.dropFirst("WARDEN_PROGRAM=".utf8.count), as: UTF8.self)
        }
        return nil
    }

    /// At start: what a previous warden (killed, so it could not clean up) left in its programs' cgroups, or in
    /// the descendants it recorded, is killed and returned per program.
    public func clearPredecessor() -> [String: [Leftover]] {
        var out: [String: [Leftover]] = [:]
        switch mode {
        case .cgroup:
            guard let base, let dirs = try? FileManager.default.contentsOfDirectory(atPath: base) else { return [:] }
            for d in dirs where d.hasPrefix("prog-") {
                let name = String(d.dropFirst("prog-".count))
                let killed = killLeftovers(name)
                if !killed.isEmpty { out[name] = killed }
            }
        case .subreaper:
            guard let data = FileManager.default.contents(atPath: ledgerPath),
                  let old = try? JSONDecoder().decode([String: [Leftover]].self, from: data) else { return [:] }
            for (name, list) in old {
                var killed: [Leftover] = []
                for p in list {
                    guard let now = Self.process(p.pid), now.start == p.start else { continue }
                    _ = kill(p.pid, SIGKILL)
                    killed.append(now)
                }
                if !killed.isEmpty { out[name] = killed }
            }
            unlink(ledgerPath)
        }
        return out
    }

    /// At a clean exit: empty program cgroups removed (and the instance's sub-tree when warden made it).
    public func tearDown(programs: [String]) {
        guard mode == .cgroup, let base else { return }
        for p in programs { rmdir(base + "/prog-" + p) }
        if base.contains("/warden-") { rmdir(base) }
    }

    private func saveLedger() {
        let snapshot = locked { tracked.mapValues { Array($0.values) } }
        do {
            try JSONEncoder().encode(snapshot).write(to: URL(fileURLWithPath: ledgerPath), options: .atomic)
            locked { ledgerError = nil }
        } catch {
            locked { ledgerError = "\(ledgerPath): \(error)" }
        }
    }

    // MARK: - /proc

    static func children(of pid: Int32) -> [Int32] {
        guard let tasks = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task") else { return [] }
        var out: [Int32] = []
        for t in tasks {
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/task/\(t)/children") else { continue }
            out += String(decoding: data, as: UTF8.self).split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return out
    }

    /// The process `pid` with its start time and name (nil: gone, or a zombie).
    static func process(_ pid: Int32) -> Leftover? {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/stat") else { return nil }
        let text = String(decoding: data, as: UTF8.self)
        guard let open = text.firstIndex(of: "("), let close = text.lastIndex(of: ")") else { return nil }
        let comm = String(text[text.index(after: open)..<close])
        let rest = text[text.index(after: close)...].split(separator: " ")
        // rest[0] is the state; the start time is field 22 of stat, rest[19].
        guard rest.count > 19, rest[0] != "Z", let start = UInt64(rest[19]) else { return nil }
        return Leftover(pid: pid, start: start, comm: comm)
    }
}
