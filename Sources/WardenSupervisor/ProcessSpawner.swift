// Spawns children from one long-lived thread (the death signal follows the forking thread) and reaps them.
public import CWardenOS
import Foundation
import Synchronization
import WardenKit

/// A spawned child with the read ends of its output pipes.
public struct SpawnedChild: Sendable {
    public var pid: Int32
    public var stdout: Int32
    public var stderr: Int32
}

/// Who a program runs as, resolved from its configuration (names looked up in the parent, never after fork).
public struct ProgramIdentity: Sendable, Equatable {
    public var uid: uid_t?
    public var gid: gid_t?
    public var groups: [gid_t] = []
    public var umask: Int?
    public var limitNofile: Int?
    public var limitCore: Int?

    public init(uid: uid_t? = nil, gid: gid_t? = nil, groups: [gid_t] = [], umask: Int? = nil, limitNofile: Int? = nil, limitCore: Int? = nil) {
        self.uid = uid; self.gid = gid; self.groups = groups; self.umask = umask; self.limitNofile = limitNofile; self.limitCore = limitCore
    }

    public var isDefault: Bool { uid == nil && gid == nil && umask == nil && limitNofile == nil && limitCore == nil }

    /// Resolves `user` and `group` (names or numbers); the user's primary group and supplementary groups too.
    public static func resolve(_ spec: ProgramSpec) throws -> ProgramIdentity {
        var id = ProgramIdentity(umask: spec.umask, limitNofile: spec.limitNofile, limitCore: spec.limitCore)
        if let user = spec.user {
            var pw = passwd(), result: UnsafeMutablePointer<passwd>?
            var buf = [CChar](repeating: 0, count: 16_384)
            if let n = UInt32(user) {
                getpwuid_r(n, &pw, &buf, buf.count, &result)
            } else {
                getpwnam_r(user, &pw, &buf, buf.count, &result)
            }
            guard result != nil else {
                if let n = UInt32(user) { id.uid = n; return id }
                throw WardenError(.configuration, "programs.\(spec.name).user: no user `\(user)` on this host")
            }
            id.uid = pw.pw_uid
            id.gid = pw.pw_gid
            var count: Int32 = 64
            var list = [gid_t](repeating: 0, count: Int(count))
            if getgrouplist(pw.pw_name, pw.pw_gid, &list, &count) < 0 {
                list = [gid_t](repeating: 0, count: Int(count))
                _ = getgrouplist(pw.pw_name, pw.pw_gid, &list, &count)
            }
            id.groups = Array(list.prefix(Int(max(0, count))))
        }
        if let group = spec.group {
            var gr = Glibc.group(), result: UnsafeMutablePointer<Glibc.group>?
            var buf = [CChar](repeating: 0, count: 16_384)
            if let n = UInt32(group) { id.gid = n } else {
                getgrnam_r(group, &gr, &buf, buf.count, &result)
                guard result != nil else { throw WardenError(.configuration, "programs.\(spec.name).group: no group `\(group)` on this host") }
                id.gid = gr.gr_gid
            }
            if !id.groups.contains(id.gid!) { id.groups.append(id.gid!) }
        }
        if (id.uid != nil || id.gid != nil) && geteuid() != 0 && (id.uid != geteuid() || id.gid != getegid()) {
            throw WardenError(.configuration, "programs.\(spec.name): user/group need warden to run as root")
        }
        return id
    }
}

/// Forks and execs on a dedicated thread that lives as long as the supervisor, so PR_SET_PDEATHSIG
/// fires only when the supervisor itself dies.
public final class ProcessSpawner: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [() -> Void] = []
    private var thread: Thread?

    public init() {
        let t = Thread { [unowned self] in self.loop() }
        t.name = "warden-spawner"
        t.start()
        thread = t
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }

    /// Spawns `argv[0]` (an absolute path) with `env` in `cwd`, output captured through pipes.
    /// `cgroupProcs`: the program's `cgroup.procs`, which the child joins before it execs.
    /// `passFDs` become the child's fds 3, 4, … (the caller keeps its own and closes them when it likes); with
    /// them, a `LISTEN_PID` in `env` is set to the child's own pid.
    public func spawn(argv: [String], env: [String: String], cwd: String, cgroupProcs: String? = nil,
                      identity: ProgramIdentity = ProgramIdentity(), passFDs: [Int32] = []) async throws -> SpawnedChild {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<SpawnedChild, any Error>) in
            condition.lock()
            jobs.append { c.resume(with: Result { try Self.spawnNow(argv: argv, env: env, cwd: cwd, cgroupProcs: cgroupProcs, identity: identity, passFDs: passFDs) }) }
            condition.signal()
            condition.unlock()
        }
    }

    private static func spawnNow(argv: [String], env: [String: String], cwd: String, cgroupProcs: String?,
                                 identity: ProgramIdentity, passFDs: [Int32]) throws -> SpawnedChild {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard warden_pipe_cloexec(&out) == 0 else { throw WardenError.posix("pipe") }
        guard warden_pipe_cloexec(&err) == 0 else {
            close(out[0]); close(out[1])
            throw WardenError.posix("pipe")
        }
        var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let entries = env.sorted { $0.key < $1.key }
        var cEnv: [UnsafeMutablePointer<CChar>?] = entries.map { strdup("\($0.key)=\($0.value)") } + [nil]
        // LISTEN_PID's value (a 20-digit placeholder) is overwritten by the child with its own pid.
        let listenPIDSlot = passFDs.isEmpty ? -1 : Int32(entries.firstIndex { $0.key == "LISTEN_PID" } ?? -1)
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        var pid: pid_t = 0
        let groups = identity.groups.map { UInt32($0) }
        let r = groups.withUnsafeBufferPointer { g -> Int32 in
            var ident = warden_identity(uid: identity.uid.map { Int($0) } ?? -1, gid: identity.gid.map { Int($0) } ?? -1,
                                        groups: g.baseAddress, ngroups: Int32(g.count), umask: identity.umask ?? -1,
                                        limit_nofile: identity.limitNofile ?? -1, limit_core: identity.limitCore ?? -1)
            return passFDs.withUnsafeBufferPointer { fds in
                identity.isDefault
                    ? warden_spawn(argv[0], &cArgs, &cEnv, cwd, out[1], err[1], cgroupProcs, nil, fds.baseAddress, Int32(fds.count), listenPIDSlot, &pid)
                    : warden_spawn(argv[0], &cArgs, &cEnv, cwd, out[1], err[1], cgroupProcs, &ident, fds.baseAddress, Int32(fds.count), listenPIDSlot, &pid)
            }
        }
        let spawnErrno = errno
        close(out[1]); close(err[1])
        guard r == 0 else {
            close(out[0]); close(err[0])
            throw WardenError.posix("exec \(argv[0])", errno: spawnErrno)
        }
        ChildReaper.shared.noteSpawn()
        return SpawnedChild(pid: pid, stdout: out[0], stderr: err[0])
    }
}

/// Reaps every child (ours and, as subreaper, orphaned descendants) on a dedicated thread and
/// reports exits of registered pids.
public final class ChildReaper: @unchecked Sendable {
    public static let shared = ChildReaper()
    private let condition = NSCondition()
    private var hasChildren = false
    private var started = false
    private let handler = Mutex<(@Sendable (Int32, ExitStatus) -> Void)?>(nil)

    /// Installs the exit callback and starts the reaping thread (once).
    public func start(onExit: @escaping @Sendable (Int32, ExitStatus) -> Void) {
        handler.withLock { $0 = onExit }
        condition.lock()
        defer { condition.unlock() }
        guard !started else { return }
        started = true
        let t = Thread { [unowned self] in self.loop() }
        t.name = "warden-reaper"
        t.start()
    }

    func noteSpawn() {
        condition.lock()
        hasChildren = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while !hasChildren { condition.wait() }
            condition.unlock()
            var kind: Int32 = 0, value: Int32 = 0, core: Int32 = 0
            let pid = warden_wait_any(&kind, &value, &core)
            if pid < 0 {
                if errno == ECHILD {
                    condition.lock()
                    hasChildren = false
                    condition.unlock()
                }
                continue
            }
            let status = kind == 0 ? ExitStatus.exited(value) : ExitStatus(code: nil, signal: value, coreDumped: core != 0)
            handler.withLock { $0 }?(pid, status)
        }
    }
}
