// What the supervisor knows about one program beyond its state machine: readings and resolved command.
import WardenKit

struct ProgramRuntime {
    var machine: ChildStateMachine
    var statusText: String?
    var lastErrno: Int32?
    /// STATUS= and ERRNO= of the process that last exited.
    var lastExitStatusText: String?
    var lastExitErrno: Int32?
    var rssBytes: UInt64?
    var fds: Int?
    /// Limits already warned about (80 %) for the current process, so each warning is said once.
    var warned: Set<String> = []
    var initialStartDone = false
    /// Bumped per spawn; a spawn result from an older generation is stale.
    var generation = 0
    var removed = false
    /// The cgroup's OOM-kill count when the current process started (memory controller only).
    var oomKillsAtStart: UInt64?

    init(spec: ProgramSpec, now: MonotonicInstant) {
        machine = ChildStateMachine(spec: spec, now: now)
    }
}
