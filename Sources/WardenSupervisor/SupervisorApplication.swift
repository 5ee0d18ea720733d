// The supervisor's process, built from its configuration: the instance lock, subreaping, containment, the notify
// sockets, links to the programs that offer a socket, control.sock and the supervision loop. `warden` is argument
// parsing and configuration loading around `SupervisorApplication.run`.
import CWardenOS
import Foundation
public import Logging
import Synchronization
import WardenIPC
public import WardenKit

public enum SupervisorApplication {
    /// Runs until shutdown. Failures to start are `StartFailure`s with warden's exit codes: 75 another instance
    /// holds the lock, 73 directories or sockets unusable, 78 containment impossible as configured, 71 a service
    /// failed; a non-zero result of the supervision (70: a critical program went FATAL) is passed on too.
    public static func run(config cfg: WardenConfiguration, logger: Logger) async throws {
        // As the systemd unit's UMask=0027: log files and what the programs create are not world-readable.
        umask(0o027)
        let paths = WardenPaths.resolve(cfg)
        do {
            try paths.createDirectories()
        } catch {
            throw StartFailure(code: 73, "\(error)")
        }
        let lockFD = warden_lock_file(paths.lockFile)
        if lockFD < 0 {
            let holder = (try? String(contentsOfFile: paths.lockFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let msg = errno == EWOULDBLOCK
                ? "another warden (pid \(holder ?? "unknown")) is running on \(paths.runtimeDir); refusing to start"
                : "cannot open lock file \(paths.lockFile): \(String(cString: strerror(errno)))"
            throw StartFailure(code: 75, msg)
        }
        let pidText = "\(getpid())\n"
        _ = ftruncate(lockFD, 0)
        _ = pidText.withCString { pwrite(lockFD, $0, strlen($0), 0) }

        if warden_set_subreaper() != 0 {
            logger.warning("PR_SET_CHILD_SUBREAPER failed; orphaned grandchildren will not be reaped here")
        }
        signal(SIGPIPE, SIG_IGN)

        // Each program in a cgroup of its own when one can be had; else its descendants followed (we are their subreaper).
        let containment: Containment
        do {
            containment = try Containment(preference: cfg.supervisor.containment, instanceKey: paths.instanceKey,
                                          runtimeDir: paths.runtimeDir)
        } catch {
            throw StartFailure(code: 78, "\(error)")
        }
        logger.notice("containment: \(containment.why)")
        let supervisor = Supervisor(config: cfg, paths: paths, logger: logger, containment: containment)
        let (inputs, sink) = AsyncStream<SupervisorInputService.Input>.makeStream()
        ChildReaper.shared.start { pid, status in sink.yield(.exited(pid, status)) }
        let receiver: NotifyReceiver
        do {
            receiver = try NotifyReceiver(path: paths.notifySocket, logger: logger)
        } catch {
            throw StartFailure(code: 73, "\(error)")
        }
        receiver.start(onMessage: { sink.yield(.notify($0)) }, onReject: { sink.yield(.rejected($0, $1)) })
        // Programs running as another user cannot reach notify.sock in the 0700 runtime directory: each gets one.
        let ownReceivers: [NotifyReceiver]
        do {
            ownReceivers = try NotifyReceiver.perProgram(cfg.programs, paths: paths, logger: logger)
        } catch {
            throw StartFailure(code: 73, "\(error)")
        }
        for r in ownReceivers { r.start(onMessage: { sink.yield(.notify($0)) }, onReject: { sink.yield(.rejected($0, $1)) }) }
        let addedReceivers = Mutex<[NotifyReceiver]>([])
        await supervisor.setNotifySocketOpener { spec in
            for r in try NotifyReceiver.perProgram([spec], paths: paths, logger: logger) {
                r.start(onMessage: { sink.yield(.notify($0)) }, onReject: { sink.yield(.rejected($0, $1)) })
                addedReceivers.withLock { $0.append(r) }
            }
        }
        let socketStats = IPCStatsCounter()
        // A program that offers a role and a socket gets a standing link for status and forwarded requests.
        let links = ProgramLink.all(cfg, paths: paths, logger: logger)
        let server = IPCServer(path: paths.controlSocket, role: "control",
                               handler: ControlHandler(supervisor: supervisor, socketStats: socketStats, links: links),
                               publisher: supervisor.publisher, allowedUIDs: cfg.supervisor.allowedUIDs.map { UInt32($0) },
                               stats: socketStats, logger: logger)
        let main = SupervisorService(supervisor: supervisor)
        // Graceful shutdown runs in reverse: the supervisor stops its programs while control.sock still answers.
        do {
            try await ProcessBootstrap.run([
                IPCServerService(server: server),
                SupervisorInputService(supervisor: supervisor, inputs: inputs),
                ReloadSignalService(supervisor: supervisor, logger: logger),
            ] + links.map { ClientLinkService(client: $0.client) } + [main], logger: logger)
        } catch {
            logger.critical("service failed; stopping", metadata: ["error": "\(error)"])
            if main.result == 0 { throw StartFailure(code: 71, "") }
        }
        receiver.stop()
        for r in ownReceivers + addedReceivers.withLock({ $0 }) { r.stop() }
        NotifyReceiver.removePerProgram(await supervisor.config.programs + cfg.programs, paths: paths)
        unlink(paths.controlSocket)
        unlink(paths.notifySocket)
        if main.result != 0 { throw StartFailure(code: main.result, "") }
    }
}
