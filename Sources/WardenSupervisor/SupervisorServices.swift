// The supervisor's long-running parts as swift-service-lifecycle Services, for ProcessBootstrap.
public import Logging
public import ServiceLifecycle
import Synchronization
import UnixSignals
public import WardenIPC

/// Runs the supervisor's loop. Graceful shutdown (SIGTERM/SIGINT) stops the programs in reverse
/// order first; the loop's end (shutdown or escalation) ends the whole group.
public final class SupervisorService: Service {
    let supervisor: Supervisor
    let exitCode: Mutex<Int32>

    public init(supervisor: Supervisor) {
        self.supervisor = supervisor
        self.exitCode = Mutex(0)
    }

    public func run() async throws {
        let code = await supervisor.run()
        exitCode.withLock { $0 = code }
    }

    /// The code `warden` exits with once the group has ended.
    public var result: Int32 { exitCode.withLock { $0 } }
}

/// Feeds child exits and notify datagrams (from their threads) into the supervisor, in order.
public struct SupervisorInputService: Service {
    public enum Input: Sendable {
        case exited(Int32, ExitStatus)
        case notify(NotifyMessage)
        case rejected(NotifyRejection, Int32?)
    }
    let supervisor: Supervisor
    let inputs: AsyncStream<Input>

    public init(supervisor: Supervisor, inputs: AsyncStream<Input>) {
        self.supervisor = supervisor
        self.inputs = inputs
    }

    public func run() async throws {
        for await input in inputs.cancelOnGracefulShutdown() {
            switch input {
            case .exited(let pid, let status): await supervisor.childExited(pid: pid, status: status)
            case .notify(let m): await supervisor.notified(m)
            case .rejected(let why, let pid): await supervisor.notifyRejected(why, pid: pid)
            }
        }
    }
}

/// SIGHUP re-reads the configuration (a failed reload is recorded as an event by `reload()`).
public struct ReloadSignalService: Service {
    let supervisor: Supervisor
    let logger: Logger
    public init(supervisor: Supervisor, logger: Logger) {
        self.supervisor = supervisor
        self.logger = logger
    }
    public func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            do {
                _ = try await supervisor.reload()
            } catch {
                logger.warning("reload on SIGHUP failed; the running configuration stays", metadata: ["error": "\(error)"])
            }
        }
    }
}

/// Keeps a client link (the engine's socket) connected until graceful shutdown; nothing when absent.
public struct ClientLinkService: Service {
    let client: IPCClient?
    public init(client: IPCClient?) { self.client = client }
    public func run() async throws {
        guard let client else {
            try await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown { await client.run() }
    }
}
