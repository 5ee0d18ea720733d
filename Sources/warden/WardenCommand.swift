// `warden`: the supervisor. Loads the configuration, takes the instance lock, serves control.sock and notify.sock.
import ArgumentParser
import CWardenOS
import Foundation
import Synchronization
import Logging
import WardenIPC
import WardenKit
import WardenStrategies
import WardenSupervisor

@main
struct WardenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden",
        abstract: "Supervises Warden's programs: spawns, watchdogs and restarts them.",
        version: wardenVersion,
        subcommands: [RunCommand.self, ConfigCommand.self],
        defaultSubcommand: RunCommand.self)
}

/// `warden [--config FILE] [--check-config]`: the supervisor itself (the default subcommand).
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the supervisor (the default: `warden --config FILE` is `warden run --config FILE`).")

    @Option(name: .long, help: "Configuration file (default: $WARDEN_CONFIG, else etc/warden.yaml of this checkout, else /etc/warden/warden.yaml).")
    var config: String?

    @Flag(name: .long, help: "Validate the configuration and exit.")
    var checkConfig = false

    /// Exit codes: 78 invalid configuration, 75 another instance holds the lock, 73 directories unusable.
    func run() async throws {
        let path = config ?? WardenPaths.defaultConfigFile()
        let cfg: WardenConfiguration
        do {
            cfg = try await ConfigLoader.loadRegistered(path: path)
        } catch {
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(78)
        }
        if checkConfig {
            print("configuration OK: \(cfg.file) (\(cfg.programs.count) programs: \(cfg.programs.map(\.name).joined(separator: ", ")))")
            return
        }
        WardenLogging.bootstrap(level: cfg.supervisor.logLevel)
        let logger = Logger(label: "warden")
        // As the systemd unit's UMask=0027: log files and what the programs create are not world-readable.
        umask(0o027)
        let paths = WardenPaths.resolve(cfg)
        do {
            try paths.createDirectories()
        } catch {
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(73)
        }
        let lockFD = warden_lock_file(paths.lockFile)
        if lockFD < 0 {
            let holder = (try? String(contentsOfFile: paths.lockFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
            let msg = errno == EWOULDBLOCK
                ? "another warden (pid \(holder ?? "unknown")) is running on \(paths.runtimeDir); refusing to start"
                : "cannot open lock file \(paths.lockFile): \(String(cString: strerror(errno)))"
            FileHandle.standardError.write(Data("warden: \(msg)\n".utf8))
            throw ExitCode(75)
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
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(78)
        }
        logger.notice("containment: \(containment.why)")
        let supervisor = Supervisor(config: cfg, paths: paths, logger: logger, containment: containment)
        let (inputs, sink) = AsyncStream<SupervisorInputService.Input>.makeStream()
        ChildReaper.shared.start { pid, status in sink.yield(.exited(pid, status)) }
        let receiver: NotifyReceiver
        do {
            receiver = try NotifyReceiver(path: paths.notifySocket, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(73)
        }
        receiver.start(onMessage: { sink.yield(.notify($0)) }, onReject: { sink.yield(.rejected($0, $1)) })
        // Programs running as another user cannot reach notify.sock in the 0700 runtime directory: each gets one.
        let ownReceivers: [NotifyReceiver]
        do {
            ownReceivers = try NotifyReceiver.perProgram(cfg.programs, paths: paths, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("warden: \(error)\n".utf8))
            throw ExitCode(73)
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
        // A configured `engine` program gets a standing link for status and forwarded commands.
        let engineLink = cfg.program(named: "engine") == nil ? nil
            : IPCClient(path: paths.runtimeDir + "/engine.sock", role: "supervisor", logger: logger,
                        backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        let notifierLink = cfg.program(named: "notifier") == nil ? nil
            : IPCClient(path: paths.runtimeDir + "/notifier.sock", role: "supervisor", logger: logger,
                        backoffInitial: .milliseconds(100), backoffMax: .seconds(2))
        let server = IPCServer(path: paths.controlSocket, role: "control",
                               handler: ControlHandler(supervisor: supervisor, socketStats: socketStats, engine: engineLink,
                                                       notifier: notifierLink),
                               publisher: supervisor.publisher, allowedUIDs: cfg.supervisor.allowedUIDs.map { UInt32($0) },
                               stats: socketStats, logger: logger)
        let main = SupervisorService(supervisor: supervisor)
        // Graceful shutdown runs in reverse: the supervisor stops its programs while control.sock still answers.
        do {
            try await ProcessBootstrap.run([
                IPCServerService(server: server),
                SupervisorInputService(supervisor: supervisor, inputs: inputs),
                ReloadSignalService(supervisor: supervisor, logger: logger),
                ClientLinkService(client: engineLink),
                ClientLinkService(client: notifierLink),
                main,
            ], logger: logger)
        } catch {
            logger.critical("service failed; stopping", metadata: ["error": "\(error)"])
            if main.result == 0 { throw ExitCode(71) }
        }
        receiver.stop()
        for r in ownReceivers + addedReceivers.withLock({ $0 }) { r.stop() }
        NotifyReceiver.removePerProgram(await supervisor.config.programs + cfg.programs, paths: paths)
        unlink(paths.controlSocket)
        unlink(paths.notifySocket)
        if main.result != 0 { throw ExitCode(main.result) }
    }
}
