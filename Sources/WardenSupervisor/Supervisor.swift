// The supervisor: runs each program's state machine against real processes, sockets and clocks.
import CWardenOS
import Foundation
public import Logging
public import WardenIPC
import ServiceLifecycle
public import WardenKit

public actor Supervisor {
    public internal(set) var config: WardenConfiguration
    public let paths: WardenPaths
    let logger: Logger
    public nonisolated let publisher: EventPublisher
    let logSink: LogSink
    let spawner = ProcessSpawner()
    /// Where each program's processes are held (cgroup or subreaper tracking).
    public nonisolated let containment: Containment
    /// Binds and starts the notify socket of a program with `user:` (set by warden's main; a reload that adds
    /// or changes such a program calls it before the program starts).
    var openOwnNotifySocket: (@Sendable (ProgramSpec) throws -> Void)?

    public func setNotifySocketOpener(_ f: @escaping @Sendable (ProgramSpec) throws -> Void) { openOwnNotifySocket = f }
    let systemd = SystemdNotifier()
    var programs: [String: ProgramRuntime] = [:]
    var order: [String] = []
    var events: [LifecycleEvent] = []
    var pidToProgram: [Int32: String] = [:]
    /// Listening sockets bound for programs and the fds they stored, passed at each start.
    var held: [String: HeldDescriptors] = [:]
    var preStartWaiters: [Int32: CheckedContinuation<ExitStatus, Never>] = [:]
    /// Running pre_start commands by pid: with `notify_access: exec` (or all) their STATUS= counts.
    var preStartPIDs: [Int32: String] = [:]
    var unclaimedExits: [Int32: ExitStatus] = [:]
    let startedAt = Date()
    let startedMono = MonotonicInstant.now()
    var lastTick = MonotonicInstant.now()
    var lastBoot = BootClock.nanoseconds()
    var lastWall = Date()
    var lastResourceCheck = MonotonicInstant(nanoseconds: 0)
    var lastWatchdogPing = MonotonicInstant(nanoseconds: 0)
    var readySent = false
    var lastStatusText = ""
    var storage: StorageInfo?
    var storageLevel = 0  // 0 ok, 1 warn, 2 critical
    var storageMeasuredAt = MonotonicInstant.now()
    var shutdownQueue: [String]?
    var shutdownDeadline: MonotonicInstant?
    var exitCode: Int32 = 0
    var finished = false
    var notifyRejected: UInt64 = 0
    var rejectedSinceEvent = 0
    var lastLedgerProblem: String?
    var lastRejectedEvent: MonotonicInstant?
    /// The last sd_notify failure towards our own supervisor, logged once until it works again.
    var systemdNotifyError: String?
    /// What the supervisor is doing and since when, read by a thread of its own that says when it is stuck.
    public nonisolated let progress = LoopProgress()
    /// The loop's sleep (cancelled by `wake()`) and when it planned to wake.
    var sleeper: Task<Void, Never>?
    var plannedWake: MonotonicInstant?
    /// Passes of the loop since start (status shows them: an idle warden barely runs).
    public internal(set) var loopPasses: UInt64 = 0
    /// Messages from pids not (yet) known: a child may send READY=1 before its spawn is recorded.
    var pendingNotify: [(message: NotifyMessage, at: MonotonicInstant, program: String?)] = []

    public init(config: WardenConfiguration, paths: WardenPaths, logger: Logger, containment: Containment? = nil) {
        self.containment = containment ?? Containment(subreaperIn: paths.runtimeDir)
        self.config = config
        self.paths = paths
        self.logger = logger
        self.publisher = EventPublisher(retainPerTopic: config.supervisor.eventBuffer)
        self.logSink = LogSink(settings: config.supervisor, logsDir: paths.logsDir, publisher: publisher)
        let now = MonotonicInstant.now()
        for spec in config.programs {
            programs[spec.name] = ProgramRuntime(spec: spec, now: now)
            order.append(spec.name)
        }
    }

    // MARK: - Inputs from threads

    /// A child (or an orphaned descendant) exited.
    public func childExited(pid: Int32, status: ExitStatus) {
        progress.enter("child exit \(pid)")
        defer { progress.leave() }
        if let waiter = preStartWaiters.removeValue(forKey: pid) {
            waiter.resume(returning: status)
            return
        }
        guard let name = pidToProgram.removeValue(forKey: pid) else {
            unclaimedExits[pid] = status
            if unclaimedExits.count > 512 { unclaimedExits.removeAll() }
            return
        }
        // Killed by the kernel at memory.max (the cgroup's OOM killer): said as such, not as a bare SIGKILL.
        if let before = programs[name]?.oomKillsAtStart, let after = containment.oomKills(name), after > before {
            record(kind: "oom", severity: .warning, program: name,
                   message: "the kernel's OOM killer killed \(after - before) process\(after - before == 1 ? "" : "es") at memory.max"
                       + (programs[name]?.machine.spec.limits.rssMB.map { " (limits.rss_mb \($0) MB)" } ?? ""))
            programs[name]?.oomKillsAtStart = after
        }
        // What the main process leaves behind (workers, double-forked daemons) dies with it, before any restart:
        // a leftover holding the port or lock would make every new start fail.
        let left = containment.killLeftovers(name)
        if !left.isEmpty {
            record(kind: "leftovers", severity: .warning, program: name,
                   message: "killed \(left.count) process\(left.count == 1 ? "" : "es") left by the exited main process \(pid): "
                       + left.prefix(20).map(\.description).joined(separator: ", ") + (left.count > 20 ? ", …" : ""))
        }
        feed(name, .exited(status))
    }

    // MARK: - Driving state machines

    func feed(_ name: String, _ event: ChildEvent) {
        guard var rt = programs[name] else { return }
        wake()
        let now = MonotonicInstant.now()
        let actions = rt.machine.handle(event, now: now, jitterUnit: Double.random(in: -1...1))
        if case .exited = event {
            rt.warned = []; rt.rssBytes = nil; rt.fds = nil
            // The last STATUS= and ERRNO= stay with the exit (status and events show them).
            rt.lastExitStatusText = rt.statusText; rt.lastExitErrno = rt.lastErrno
            rt.statusText = nil; rt.lastErrno = nil
        }
        programs[name] = rt
        // A program stopped (not restarting) gives up its fd store, as under systemd.
        if rt.machine.state == .STOPPED, rt.machine.pid == nil, let n = held[name]?.flush(), n > 0 {
            record(kind: "fd-store", severity: .info, program: name, message: "\(n) stored fd\(n == 1 ? "" : "s") closed: \(name) was stopped")
        }
        perform(actions, for: name)
    }

    func perform(_ actions: [ChildAction], for name: String) {
        for action in actions {
            switch action {
            case .spawn:
                guard var rt = programs[name] else { continue }
                rt.generation += 1
                programs[name] = rt
                let generation = rt.generation
                let spec = rt.machine.spec
                Task { await self.launch(spec, generation: generation) }
            case .signal(let requested):
                guard let rt = programs[name], let pid = rt.machine.pid else { continue }
                let spec = rt.machine.spec
                // The machine asks for TERM to stop; the program may want another stop signal.
                let sig = requested == SIGTERM ? spec.stopSignal : requested
                // SIGABRT goes to the main pid (for its core dump). The stop signal to the group, or to the main
                // process only (mixed, process); SIGKILL to the group except in process mode.
                let toGroup = sig != SIGABRT && (spec.killMode == .group || (sig == SIGKILL && spec.killMode == .mixed))
                if !toGroup || kill(-pid, sig) != 0 { _ = kill(pid, sig) }
            case .signalMain(let sig):
                if let pid = programs[name]?.machine.pid { _ = kill(pid, sig) }
            case .abort:
                guard let pid = programs[name]?.machine.pid else { continue }
                if ResourceProbe.isStopped(pid) {
                    if kill(-pid, SIGKILL) != 0 { _ = kill(pid, SIGKILL) }
                } else {
                    _ = kill(pid, SIGABRT)
                }
            case .emit(let kind, let severity, let message):
                // An exit carries what the process last said of itself (STATUS=, ERRNO=).
                var text = message
                if kind == "exit" || kind == "crash", let rt = programs[name] {
                    if let st = rt.lastExitStatusText { text += " · last STATUS: \(st)" }
                    if let e = rt.lastExitErrno { text += " · ERRNO=\(e)" }
                }
                record(kind: kind, severity: severity, program: name, message: text)
            case .escalate(let reason):
                record(kind: "escalate", severity: .critical, program: name, message: "stopping all programs and exiting: \(reason)")
                beginShutdown(reason: reason, exitCode: 70)
            }
        }
    }

    func record(kind: String, severity: Severity, program: String?, message full: String) {
        // A message carries text from programs (a pre_start's output, STATUS=): kept to 8 KiB, so every event
        // fits in a frame with room to spare.
        let message = full.utf8.count > 8192 ? String(decoding: Array(full.utf8.prefix(8192)), as: UTF8.self) + " … [cut]" : full
        let event = LifecycleEvent(at: isoNow(), kind: kind, severity: severity.rawValue, program: program, message: message)
        events.append(event)
        if events.count > config.supervisor.eventBuffer { events.removeFirst(events.count - config.supervisor.eventBuffer) }
        publisher.publish(ControlTopic.events, event)
        var meta: Logger.Metadata = ["event": "\(kind)"]
        if let program { meta["program"] = "\(program)" }
        switch severity {
        case .info: logger.info("\(message)", metadata: meta)
        case .warning: logger.warning("\(message)", metadata: meta)
        case .critical: logger.critical("\(message)", metadata: meta)
        }
    }

    // MARK: - Spawning

    /// Runs pre_start, then spawns the program; reports the outcome to its state machine.
    func launch(_ spec: ProgramSpec, generation: Int) async {
        do {
            if let pre = spec.preStart {
                try await runPreStart(spec, pre)
            }
            let argv = try resolveCommand(spec.command)
            // Sockets of `listen:` are bound once and kept across restarts; with the stored fds they are passed
            // as fds 3, 4, … Duplicates go to the spawn (the originals may be flushed while it runs).
            try held[spec.name, default: HeldDescriptors()].bind(spec, root: paths.root)
            let pass = held[spec.name]?.passed ?? []
            let dups = pass.map { fcntl($0.fd, F_DUPFD_CLOEXEC, 3) }
            defer { for fd in dups where fd >= 0 { close(fd) } }
            if dups.contains(where: { $0 < 0 }) { throw WardenError.posix("dup the fds passed to \(spec.name)") }
            var env = childEnvironment(spec)
            env.merge(HeldDescriptors.environment(pass)) { _, new in new }
            var procs: String?
            do { procs = try containment.prepare(spec.name, limits: spec.limits) } catch {
                // Started all the same (availability first), but said: its descendants are not held this time.
                record(kind: "containment", severity: .warning, program: spec.name,
                       message: "started outside its cgroup: \(error); what it leaves behind may outlive it")
            }
            let child = try await spawner.spawn(argv: argv, env: env,
                                                cwd: spec.workingDir.map { WardenPaths.absolute($0, against: paths.root) } ?? paths.root,
                                                cgroupProcs: procs, identity: try ProgramIdentity.resolve(spec), passFDs: dups)
            guard let rt = programs[spec.name], rt.generation == generation, !rt.removed else {
                _ = kill(-child.pid, SIGKILL)  // superseded while spawning
                PipeReader.start(fd: child.stdout, program: spec.name, stream: "stdout", sink: logSink)
                PipeReader.start(fd: child.stderr, program: spec.name, stream: "stderr", sink: logSink)
                return
            }
            pidToProgram[child.pid] = spec.name
            programs[spec.name]?.oomKillsAtStart = containment.oomKills(spec.name)
            PipeReader.start(fd: child.stdout, program: spec.name, stream: "stdout", sink: logSink)
            PipeReader.start(fd: child.stderr, program: spec.name, stream: "stderr", sink: logSink)
            feed(spec.name, .spawned(pid: child.pid))
            settlePendingNotify(registered: child.pid)
            if let status = unclaimedExits.removeValue(forKey: child.pid) {
                pidToProgram[child.pid] = nil
                feed(spec.name, .exited(status))
            }
        } catch {
            guard programs[spec.name]?.generation == generation else { return }
            feed(spec.name, .spawnFailed(reason: "\(error)"))
        }
    }

    func runPreStart(_ spec: ProgramSpec, _ command: [String]) async throws {
        let argv = try resolveCommand(command)
        let child = try await spawner.spawn(argv: argv, env: childEnvironment(spec, forPreStart: true), cwd: paths.root)
        let output = OutputCollector()
        output.collect(child.stdout)
        output.collect(child.stderr)
        let status: ExitStatus
        if let early = unclaimedExits.removeValue(forKey: child.pid) {
            status = early
        } else {
            let pid = child.pid
            preStartPIDs[pid] = spec.name
            defer { preStartPIDs[pid] = nil }
            settlePendingNotify(registered: pid)  // what it said before its pid was known
            let timeout = spec.preStartTimeout
            let killer = Task {
                try await Task.sleep(for: timeout)
                _ = kill(-pid, SIGKILL)
            }
            status = await withCheckedContinuation { preStartWaiters[pid] = $0 }
            killer.cancel()
        }
        let text = output.text(waitingUpTo: .milliseconds(500))
        record(kind: "pre-start", severity: status.isSuccess ? .info : .warning, program: spec.name,
               message: "pre_start \(command.joined(separator: " ")) → \(status.text)\(text.isEmpty ? "" : ": \(text)")")
        guard status.isSuccess else {
            throw WardenError(.refused, "pre_start failed (\(status.text))\(text.isEmpty ? "" : ": " + text)")
        }
    }

    /// A bare name resolves next to `warden`'s own binary, then on PATH; a relative path against the root.
    func resolveCommand(_ command: [String]) throws -> [String] {
        var argv = command
        let exe = argv[0]
        if exe.hasPrefix("/") { return argv }
        if exe.contains("/") {
            argv[0] = URL(fileURLWithPath: paths.root + "/" + exe).standardizedFileURL.path
            return argv
        }
        let ownDir = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent().path
        var candidates = [ownDir + "/" + exe]
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin").split(separator: ":") {
            candidates.append("\(dir)/\(exe)")
        }
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else {
            throw WardenError(.notFound, "executable `\(exe)` not found next to warden (\(ownDir)) or on PATH")
        }
        argv[0] = found
        return argv
    }

    func childEnvironment(_ spec: ProgramSpec, forPreStart: Bool = false) -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        // Secrets of warden's own environment (systemd's credentials, WARDEN_SECRET_*) reach only the programs
        // whose `pass_env` names them.
        for k in env.keys where ProgramSpec.isSecretBearing(k) && !spec.passes(k) { env[k] = nil }
        for k in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"] {
            env[k] = nil
        }
        env["WARDEN_SUPERVISOR_PID"] = String(getpid())
        env["WARDEN_PROGRAM"] = spec.name
        env["WARDEN_CONFIG"] = config.file
        env["STATE_DIRECTORY"] = paths.stateDir
        env["RUNTIME_DIRECTORY"] = paths.runtimeDir
        env["LOGS_DIRECTORY"] = paths.logsDir
        if !forPreStart || spec.notifyAccess != .main {
            env["NOTIFY_SOCKET"] = NotifyReceiver.socketPath(for: spec, paths: paths) ?? paths.notifySocket
        }
        if !forPreStart {
            if let w = spec.watchdogSec { env["WATCHDOG_USEC"] = String(w.microseconds) }
        }
        for (k, v) in spec.env { env[k] = v }
        return env
    }

    // MARK: - The loop

    /// Runs until shutdown completes; returns the process exit code.
    public func run() async -> Int32 {
        record(kind: "supervisor-start", severity: .info, program: nil,
               message: "warden \(wardenVersion) started (pid \(getpid()), \(order.count) programs, config \(config.file)); containment: \(containment.why); \(containment.limitsNote)")
        for name in order where programs[name]?.machine.spec.limits.pids != nil && !containment.controllers.contains("pids") {
            record(kind: "containment", severity: .warning, program: name,
                   message: "limits.pids is not enforced: no pids controller is delegated to warden's cgroup (\(containment.mode.rawValue) mode)")
        }
        // A warden killed before us could not stop its programs' descendants: what it left is cleared now.
        for (name, left) in containment.clearPredecessor().sorted(by: { $0.key < $1.key }) {
            record(kind: "leftovers", severity: .warning, program: name,
                   message: "killed \(left.count) process\(left.count == 1 ? "" : "es") of \(name) left by a previous warden: "
                       + left.prefix(20).map(\.description).joined(separator: ", ") + (left.count > 20 ? ", …" : ""))
        }
        progress.watch(logger: logger)
        while !finished {
            if Task.isShuttingDownGracefully && shutdownQueue == nil {
                beginShutdown(reason: "received SIGTERM or SIGINT")
            }
            progress.enter("tick")
            tick()
            if finished { break }
            // Asleep until the next deadline (a start timeout, a backoff, a heartbeat due, a resource check,
            // systemd's watchdog), or until an input (an exit, a notify message, a command) wakes it. At least
            // `tick` between passes (bursts coalesce), at most a second (pauses are measured against the plan).
            let now = MonotonicInstant.now()
            let until = min(max(nextDeadline(now), now + config.supervisor.tick), now + Self.longestSleep)
            plannedWake = until
            progress.enter("asleep", until: until)
            let sleeper = Task { _ = try? await Task.sleep(for: until - now) }
            self.sleeper = sleeper
            await sleeper.value
            self.sleeper = nil
            loopPasses += 1
        }
        progress.stop()
        tellSystemd("STOPPING") { try $0.stopping() }
        for name in held.keys { held[name]?.closeListening(); _ = held[name]?.flush() }
        containment.tearDown(programs: order)
        publisher.finishAll()
        return exitCode
    }

    /// The loop never sleeps longer than this: a pause of warden itself is measured against its plan.
    static let longestSleep: Duration = .seconds(1)

    /// Ends the loop's sleep now: something changed that may move the next deadline.
    func wake() { sleeper?.cancel() }

    /// The earliest moment the loop has work: a program's timer, the resource check, systemd's watchdog ping,
    /// a held notify message expiring.
    func nextDeadline(_ now: MonotonicInstant) -> MonotonicInstant {
        var next = lastResourceCheck + config.supervisor.resourceInterval
        for name in order { if let d = programs[name]?.machine.nextDeadline() { next = min(next, d) } }
        if let interval = systemd.watchdogInterval() { next = min(next, lastWatchdogPing + interval / 4) }
        if let oldest = pendingNotify.first?.at { next = min(next, oldest + .seconds(2)) }
        // A dependency still starting holds its dependents until its start timeout.
        for name in order {
            guard let m = programs[name]?.machine, m.state == .STARTING, let s = m.startedAt else { continue }
            next = min(next, max(now, s + m.spec.startTimeout + .milliseconds(1)))
        }
        return next
    }

    func tick() {
        let now = MonotonicInstant.now()
        let boot = BootClock.nanoseconds()
        let wall = Date()
        detectPauses(now: now, boot: boot, wall: wall)
        lastTick = now
        lastBoot = boot
        lastWall = wall

        if shutdownQueue == nil { startDueInOrder(now) }
        for name in order {
            guard var rt = programs[name] else { continue }
            let actions = rt.machine.handle(.tick, now: now, jitterUnit: Double.random(in: -1...1))
            programs[name] = rt
            perform(actions, for: name)
        }
        if now - lastResourceCheck >= config.supervisor.resourceInterval {
            lastResourceCheck = now
            checkResources()
        }
        settlePendingNotify(now: now)
        pruneRemoved()
        advanceShutdown(now)
        talkToSystemd(now)
    }

    /// A long gap between ticks (SIGSTOP, overload) or boot-time gaining on monotonic (suspend):
    /// nothing could heartbeat meanwhile, so no watchdog counts it.
    func detectPauses(now: MonotonicInstant, boot: UInt64, wall: Date) {
        let mono = now - lastTick
        let bootDelta = Duration.nanoseconds(Int64(boot &- lastBoot))
        // Late against the planned wake-up by more than a second (or a tick's 50-fold): warden did not run.
        let late = plannedWake.map { now - $0 } ?? .zero
        let threshold = max(Duration.seconds(1), config.supervisor.tick * 50)
        let suspended = bootDelta - mono
        var pause: Duration = .zero
        if suspended > .seconds(1) {
            pause = bootDelta
            record(kind: "suspend", severity: .warning, program: nil,
                   message: "system was suspended for about \(suspended.short); heartbeats re-armed")
        } else if late > threshold {
            pause = mono
            record(kind: "stall", severity: .warning, program: nil,
                   message: "supervisor did not run for \(mono.short) (stopped or starved); heartbeats re-armed")
        }
        if pause > .zero {
            for name in order {
                guard var rt = programs[name] else { continue }
                _ = rt.machine.handle(.resumedAfterPause(pause), now: now)
                programs[name] = rt
            }
        }
        let wallDelta = wall.timeIntervalSince(lastWall)
        let step = wallDelta - bootDelta.seconds
        if abs(step) > 2 {
            record(kind: "clock-step", severity: .warning, program: nil,
                   message: String(format: "wall clock stepped %@%.1fs; timers use the monotonic clock and are unaffected", step > 0 ? "+" : "", step))
        }
    }

    /// Starts autostart programs whose `after` dependencies are ready (or whose start timeout passed).
    func startDueInOrder(_ now: MonotonicInstant) {
        for name in order {
            guard let rt = programs[name], !rt.initialStartDone, rt.machine.spec.autostart else { continue }
            let waiting = rt.machine.spec.after.filter { dep in
                guard let d = programs[dep] else { return false }
                if d.machine.ready { return false }
                if !d.machine.spec.autostart { return false }
                if [.FATAL, .EXITED, .BACKOFF].contains(d.machine.state) { return false }
                if d.machine.state == .STARTING, let s = d.machine.startedAt, now - s > d.machine.spec.startTimeout { return false }
                return true
            }
            guard waiting.isEmpty else { continue }
            programs[name]?.initialStartDone = true
            feed(name, .start(by: "autostart"))
        }
    }

    func checkResources() {
        containment.follow(mains: programs.compactMapValues { $0.machine.pid })
        let ledger = containment.ledgerProblem
        if ledger != lastLedgerProblem {
            lastLedgerProblem = ledger
            if let ledger {
                record(kind: "containment", severity: .warning, program: nil,
                       message: "descendants not recorded (\(ledger)): a warden started after this one is killed cannot clear them")
            }
        }
        for name in order {
            guard var rt = programs[name], let pid = rt.machine.pid else { continue }
            // The whole program from its cgroup where the controller is delegated, else the main process.
            rt.rssBytes = containment.memoryBytes(name) ?? ResourceProbe.rssBytes(pid)
            rt.fds = ResourceProbe.openFDs(pid)
            let limits = rt.machine.spec.limits
            var exceeded: String?
            if let maxTasks = limits.pids, let tasks = containment.taskCount(name) {
                if tasks >= maxTasks { exceeded = "\(tasks) processes and threads reached limit \(maxTasks) (pids.max)" }
                else if tasks * 10 >= maxTasks * 8, !rt.warned.contains("pids") {
                    rt.warned.insert("pids")
                    record(kind: "limit-warning", severity: .warning, program: name,
                           message: "\(tasks) processes and threads is over 80 % of limit \(maxTasks)")
                }
            }
            if let mb = limits.rssMB, let rss = rt.rssBytes {
                let limit = UInt64(mb) * 1024 * 1024
                if rss >= limit { exceeded = "RSS \(rss / 1_048_576) MB reached limit \(mb) MB" }
                else if rss * 10 >= limit * 8, !rt.warned.contains("rss") {
                    rt.warned.insert("rss")
                    record(kind: "limit-warning", severity: .warning, program: name,
                           message: "RSS \(rss / 1_048_576) MB is over 80 % of limit \(mb) MB")
                }
            }
            if let maxFDs = limits.fds, let fds = rt.fds {
                if fds >= maxFDs { exceeded = exceeded ?? "\(fds) open fds reached limit \(maxFDs)" }
                else if fds * 10 >= maxFDs * 8, !rt.warned.contains("fds") {
                    rt.warned.insert("fds")
                    record(kind: "limit-warning", severity: .warning, program: name,
                           message: "\(fds) open fds is over 80 % of limit \(maxFDs)")
                }
            }
            programs[name] = rt
            if let exceeded { feed(name, .limitExceeded(reason: exceeded)) }
        }
        if let free = ResourceProbe.freeSpace(paths.stateDir) {
            storageMeasuredAt = MonotonicInstant.now()
            storage = StorageInfo(path: paths.stateDir, free_percent: free.bytesPercent, free_inodes_percent: free.inodesPercent, measured_age_s: 0)
            let worst = min(free.bytesPercent, free.inodesPercent)
            let level = worst < config.supervisor.diskCriticalPercent ? 2 : worst < config.supervisor.diskWarnPercent ? 1 : 0
            if level != storageLevel {
                let text = String(format: "state directory %@: %.1f%% space, %.1f%% inodes free", paths.stateDir, free.bytesPercent, free.inodesPercent)
                switch level {
                case 2: record(kind: "disk-critical", severity: .critical, program: nil, message: "disk critically low: \(text)")
                case 1: record(kind: "disk-low", severity: .warning, program: nil, message: "disk low: \(text)")
                default: record(kind: "disk-recovered", severity: .info, program: nil, message: "disk space recovered: \(text)")
                }
                storageLevel = level
            }
        }
    }

    func talkToSystemd(_ now: MonotonicInstant) {
        if !readySent && shutdownQueue == nil {
            let settled = order.allSatisfy { name in
                guard let m = programs[name]?.machine, m.spec.autostart else { return true }
                if m.ready || [.FATAL, .EXITED, .BACKOFF].contains(m.state) { return true }
                if let s = m.startedAt, now - s > m.spec.startTimeout { return true }
                return false
            }
            if settled && order.allSatisfy({ programs[$0]?.initialStartDone == true || programs[$0]?.machine.spec.autostart == false }) {
                readySent = true
                tellSystemd("READY") { try $0.ready(status: self.statusText()) }
                record(kind: "supervisor-ready", severity: .info, program: nil, message: "all programs started: \(statusText())")
            }
        }
        if let interval = systemd.watchdogInterval(), now - lastWatchdogPing >= interval / 4 {
            lastWatchdogPing = now
            tellSystemd("WATCHDOG") { try $0.watchdog() }
        }
        let text = statusText()
        if text != lastStatusText {
            lastStatusText = text
            tellSystemd("STATUS") { try $0.status(text) }
        }
    }

    /// Sends to systemd's NOTIFY_SOCKET; a failure is logged (once until it works again), since a
    /// missing WATCHDOG=1 gets warden killed by systemd.
    func tellSystemd(_ what: String, _ send: (SystemdNotifier) throws -> Void) {
        do {
            try send(systemd)
            if systemdNotifyError != nil {
                logger.info("sd_notify to systemd works again")
                systemdNotifyError = nil
            }
        } catch {
            if systemdNotifyError == nil {
                logger.error("sd_notify \(what) to systemd failed", metadata: ["error": "\(error)"])
            }
            systemdNotifyError = "\(error)"
        }
    }

    func statusText() -> String {
        if order.isEmpty { return "no programs configured" }
        let running = order.filter { programs[$0]?.machine.state == .RUNNING }.count
        var parts = ["\(running)/\(order.count) running"]
        for name in order {
            guard let m = programs[name]?.machine, m.state != .RUNNING else { continue }
            parts.append("\(name) \(m.state.rawValue)")
        }
        if shutdownQueue != nil { parts.insert("stopping", at: 0) }
        return parts.joined(separator: " · ")
    }

    // MARK: - Shutdown

    /// Stops every program in reverse start order, then ends `run()` with `exitCode`.
    public func beginShutdown(reason: String, exitCode code: Int32 = 0) {
        guard shutdownQueue == nil else { return }
        exitCode = code
        record(kind: "supervisor-stop", severity: code == 0 ? .info : .critical, program: nil, message: "shutting down: \(reason)")
        tellSystemd("STOPPING") { try $0.stopping() }
        shutdownQueue = order.reversed()
        wake()
    }

    func advanceShutdown(_ now: MonotonicInstant) {
        guard var queue = shutdownQueue else { return }
        while let name = queue.first {
            guard let rt = programs[name] else { queue.removeFirst(); continue }
            let state = rt.machine.state
            if [.STOPPED, .EXITED, .FATAL].contains(state) && rt.machine.pid == nil {
                queue.removeFirst()
                continue
            }
            if state != .STOPPING {
                feed(name, .stop(by: "shutdown"))
            }
            break
        }
        shutdownQueue = queue
        if queue.isEmpty { finished = true }
    }
}

/// Collects a short command's output (bounded) from pipes on threads of its own.
final class OutputCollector: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    private var open = 0

    func collect(_ fd: Int32) {
        lock.lock(); open += 1; lock.unlock()
        let t = Thread { [self] in
            var buf = [UInt8](repeating: 0, count: 4096)
            while true {
                let n = read(fd, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                lock.lock()
                if data.count < 4096 { data.append(contentsOf: buf[0..<min(n, 4096 - data.count)]) }
                lock.unlock()
            }
            close(fd)
            lock.lock(); open -= 1; lock.unlock()
        }
        t.start()
    }

    /// The output so far, one line, after waiting a little for the pipes to close.
    func text(waitingUpTo limit: Duration) -> String {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            lock.lock(); let o = open; lock.unlock()
            if o == 0 { break }
            usleep(5000)
        }
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " | ")
    }
}

/// What the supervisor's actor is doing, for a watcher thread that says (in the log, once per stall) when the loop
/// has not come round for 5 s: a stuck supervisor is named with the step it is stuck in, not only noticed.
public final class LoopProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var phase = "starting"
    private var since = MonotonicInstant.now()
    /// When the loop means to wake (while asleep).
    private var until: MonotonicInstant?
    private var outer: (phase: String, since: MonotonicInstant, until: MonotonicInstant?)?
    private var stopped = false

    func enter(_ what: String, until: MonotonicInstant? = nil) {
        lock.lock(); defer { lock.unlock() }
        if until == nil, phase == "asleep" { outer = (phase, since, self.until) }  // an input handled while asleep
        phase = what; since = .now(); self.until = until
    }

    /// Back to what it was doing before an input arrived.
    func leave() {
        lock.lock(); defer { lock.unlock() }
        if let o = outer { (phase, since, until) = o; outer = nil }
    }

    func stop() { lock.lock(); stopped = true; lock.unlock() }

    /// How late the loop is: past its planned wake-up while asleep, else time in the current step.
    func late(now: MonotonicInstant) -> (phase: String, late: Duration)? {
        lock.lock(); defer { lock.unlock() }
        if stopped { return nil }
        if let until { return (phase, now - until) }
        return (phase, now - since)
    }

    func watch(logger: Logger) {
        let t = Thread { [self] in
            var said = false
            var last = MonotonicInstant.now()
            var graceUntil = last
            while true {
                sleep(1)
                let now = MonotonicInstant.now()
                // This thread slept far longer than asked: the whole process was stopped or starved (SIGSTOP,
                // suspend), not the loop alone; the loop gets time to come round before anything is said.
                if now - last > .seconds(3) { graceUntil = now + .seconds(6) }
                last = now
                guard now >= graceUntil else { continue }
                guard let (phase, late) = self.late(now: now) else { return }
                if late > .seconds(5), !said {
                    said = true
                    logger.critical("supervisor loop stuck for \(late.short) in step `\(phase)`: no restarts, heartbeats or commands are handled meanwhile")
                } else if late <= .seconds(5), said {
                    said = false
                    logger.notice("supervisor loop running again")
                }
            }
        }
        t.name = "warden-loop-watch"
        t.start()
    }
}
