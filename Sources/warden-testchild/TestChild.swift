// `warden-testchild`: a program whose misbehaviour is chosen by its arguments, for supervisor tests.
import ArgumentParser
import Foundation
import WardenKit
import CWardenOS

@main
struct TestChild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "warden-testchild",
        abstract: "Becomes ready, heartbeats, crashes, hangs, leaks or prints, as told.")

    @Option(help: "Send READY=1 after this many ms.") var readyAfter = 0
    @Flag(help: "Never send READY=1.") var neverReady = false
    @Option(help: "WATCHDOG=1 every N ms (default: half of WATCHDOG_USEC when set).") var heartbeat: Int?
    @Option(help: "Stop heartbeating after N ms (simulates a hung loop).") var stopHeartbeatAfter: Int?
    @Option(help: "Crash after N ms.") var crashAfter: Int?
    @Option(help: "Exit code used by --crash-after.") var exitCode: Int32 = 1
    @Option(help: "Die by this signal number instead of exiting (with --crash-after).") var signal: Int32?
    @Flag(help: "Ignore SIGTERM.") var ignoreSigterm = false
    @Option(help: "Leak this many MiB per second.") var leakMbPerSec: Double = 0
    @Option(help: "Leak this many fds per second.") var leakFdsPerSec: Double = 0
    @Option(help: "Print a line to stdout and stderr every N ms.") var printEvery: Int?
    @Option(help: "STATUS= text sent with READY.") var status = "testchild ok"
    @Option(help: "Exit 0 after N ms.") var exitAfter: Int?
    @Option(help: "Write this file when started (to count starts).") var touch: String?
    @Option(help: "At start, leave a grandchild in its own session (setsid + double fork) that writes its pid to this file and sleeps forever: what a daemon's workers do.") var orphan: String?
    @Option(help: "Send this sd_notify text (`\\n` separates fields) and exit 0.") var sendNotify: String?
    @Option(help: "How long --send-notify stays after sending, in ms.") var lingerMs = 2000
    @Flag(help: "On SIGHUP: RELOADING=1 (with MONOTONIC_USEC=), 300 ms of work, then READY=1 with STATUS=reloaded N.") var reloadOnHup = false
    @Flag(help: "Do not die with the parent (a handed-over main process outlives the one that started it).") var noParentDeath = false
    @Flag(help: "Hand over: start a copy of this program (ready at once, heartbeating), send MAINPID= with its pid, exit 0 after 300 ms.") var handover = false
    @Option(help: "Until ready, send EXTEND_TIMEOUT_USEC= of this many ms every third of it.") var extendStart: Int?
    @Flag(help: "READY=1 is sent by a child process, not by this main process.") var readyFromChild = false
    @Option(help: "Exit 0 on this signal (INT, QUIT, USR1, …), writing its name to --signal-file first; SIGTERM is then ignored.") var exitOn: String?
    @Option(help: "Where --exit-on writes the signal it got.") var signalFile: String?
    @Option(help: "Once ready, send a datagram with our pid to this Unix socket (benchmarks time restarts by it).") var announce: String?
    @Option(help: "At start, fork a worker in our process group that reports its pid and the first stop signal it gets to this file.") var worker: String?
    @Option(help: "Once ready, send this sd_notify text (`\\n` separates fields) from the main process, once.") var notifyAfterReady: String?
    @Flag(help: "Serve the sockets passed with LISTEN_FDS (socket activation): each connection gets `<pid> <fd name>\\n`.") var serveListen = false
    @Option(help: "The fd store: when LISTEN_FDNAMES has NAME, read what that fd holds into --fd-report; else store a pipe holding `from <pid>` under NAME (FDSTORE=1).") var storeFd: String?
    @Option(help: "Where --store-fd reports what it inherited (`inherited NAME: <text>` or `stored NAME`).") var fdReport: String?

    func run() throws {
        if !noParentDeath { ParentDeath.arm(signal: SIGKILL) }
        if ignoreSigterm { _ = Foundation.signal(SIGTERM, SIG_IGN) }
        if let touch {
            let line = "\(getpid())\n"
            if let h = FileHandle(forWritingAtPath: touch) { h.seekToEndOfFile(); h.write(Data(line.utf8)); h.closeFile() }
            else { _ = FileManager.default.createFile(atPath: touch, contents: Data(line.utf8)) }
        }
        if let orphan, warden_test_orphan(orphan) != 0 { throw ExitCode(3) }
        if let worker, warden_test_worker(worker) != 0 { throw ExitCode(3) }
        let notifier0 = SystemdNotifier()
        if let sendNotify {
            try notifier0.notify(sendNotify.replacingOccurrences(of: "\\n", with: "\n"))
            // Linger: the sender is known by its cgroup or environment, read when the message is taken (as with
            // systemd's NotifyAccess=all, a sender gone by then cannot be placed).
            usleep(UInt32(max(0, lingerMs)) * 1000)
            return
        }
        if handover {
            let copy = Process()
            copy.executableURL = URL(fileURLWithPath: CommandLine.arguments[0].hasPrefix("/") ? CommandLine.arguments[0]
                                     : FileManager.default.currentDirectoryPath + "/" + CommandLine.arguments[0])
            copy.arguments = ["--status", "the new main", "--no-parent-death"]
            try copy.run()
            try notifier0.notify("MAINPID=\(copy.processIdentifier)\nSTATUS=handing over to \(copy.processIdentifier)")
            usleep(300_000)
            return
        }
        if readyFromChild {
            let child = Process()
            child.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
            child.arguments = ["--send-notify", "READY=1\\nSTATUS=ready, said by a worker", "--no-parent-death"]
            try child.run()
        }
        var sources: [any DispatchSourceSignal] = []
        if reloadOnHup {
            _ = Foundation.signal(SIGHUP, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
            nonisolated(unsafe) var reloads = 0
            source.setEventHandler {
                reloads += 1
                let usec = MonotonicInstant.now().nanoseconds / 1000
                _ = try? SystemdNotifier().notify("RELOADING=1\nMONOTONIC_USEC=\(usec)")
                usleep(300_000)
                _ = try? SystemdNotifier().notify("READY=1\nSTATUS=reloaded \(reloads)")
            }
            source.resume()
            sources.append(source)
        }
        if let exitOn, let sig = stopSignalNames[exitOn.uppercased()] {
            // A daemon with its own stop signal: it ignores SIGTERM and stops cleanly on its signal.
            _ = Foundation.signal(SIGTERM, SIG_IGN)
            _ = Foundation.signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            let file = signalFile
            source.setEventHandler {
                if let file { _ = FileManager.default.createFile(atPath: file, contents: Data(exitOn.uppercased().utf8)) }
                Foundation.exit(0)
            }
            source.resume()
            sources.append(source)
        }
        defer { _ = sources }
        let passed = Self.listenFDs()
        if serveListen { Self.serve(passed) }
        if let storeFd { try Self.fdStore(storeFd, passed: passed, report: fdReport) }
        let notifier = SystemdNotifier()
        let start = MonotonicInstant.now()
        let hbInterval: Duration? = heartbeat.map { .milliseconds($0) } ?? notifier.watchdogInterval().map { $0 / 2 }
        var ready = false
        var lastBeat = start
        var lastPrint = start
        var printed = 0
        var leaked: [UnsafeMutableRawPointer] = []
        var leakedMB = 0.0
        var fds: [Int32] = []
        while true {
            let now = MonotonicInstant.now()
            let elapsedMS = Int((now - start).seconds * 1000)
            if let e = extendStart, !ready, elapsedMS % max(1, e / 3) < 6 {
                try notifier.notify("EXTEND_TIMEOUT_USEC=\(e * 1000)")
            }
            if !ready, !neverReady, !readyFromChild, elapsedMS >= readyAfter {
                ready = true
                try notifier.ready(status: status)
                if let announce { Self.announce(to: announce) }
                if let text = notifyAfterReady { try notifier.notify(text.replacingOccurrences(of: "\\n", with: "\n")) }
            }
            if let hb = hbInterval, ready || neverReady, now - lastBeat >= hb,
               stopHeartbeatAfter.map({ elapsedMS < $0 }) ?? true {
                lastBeat = now
                try notifier.watchdog()
            }
            if let c = crashAfter, elapsedMS >= c {
                if let s = signal {
                    _ = Foundation.signal(s, SIG_DFL)
                    kill(getpid(), s)
                }
                Foundation.exit(exitCode)
            }
            if let e = exitAfter, elapsedMS >= e { Foundation.exit(0) }
            let seconds = (now - start).seconds
            while leakMbPerSec > 0, leakedMB < leakMbPerSec * seconds {
                let p = malloc(1 << 20)!
                memset(p, 0xA5, 1 << 20)
                leaked.append(p)
                leakedMB += 1
            }
            while leakFdsPerSec > 0, Double(fds.count) < leakFdsPerSec * seconds {
                fds.append(open("/dev/null", O_RDONLY))
            }
            if let p = printEvery, now - lastPrint >= .milliseconds(p) {
                lastPrint = now
                printed += 1
                FileHandle.standardOutput.write(Data("stdout line \(printed)\n".utf8))
                FileHandle.standardError.write(Data("level=warning msg=\"stderr line \(printed)\"\n".utf8))
            }
            usleep(5000)
        }
    }

    /// The fds passed to us (sd_listen_fds(3)): fd numbers from 3 with their names, when LISTEN_PID is ours.
    static func listenFDs() -> [(fd: Int32, name: String)] {
        let env = ProcessInfo.processInfo.environment
        guard env["LISTEN_PID"] == String(getpid()), let n = env["LISTEN_FDS"].flatMap(Int32.init), n > 0 else { return [] }
        let names = (env["LISTEN_FDNAMES"] ?? "").split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        return (0..<n).map { i in (3 + i, Int(i) < names.count ? names[Int(i)] : "unknown") }
    }

    /// Accepts on every passed listening socket, answering each connection with our pid and the fd's name.
    static func serve(_ passed: [(fd: Int32, name: String)]) {
        for (fd, name) in passed {
            var type: Int32 = 0, len = socklen_t(MemoryLayout<Int32>.size)
            guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0, type == Int32(SOCK_STREAM.rawValue) else { continue }
            let t = Thread {
                while true {
                    let c = accept(fd, nil, nil)
                    if c < 0 { if errno == EINTR { continue }; return }
                    let line = "\(getpid()) \(name)\n"
                    _ = line.withCString { write(c, $0, strlen($0)) }
                    close(c)
                }
            }
            t.start()
        }
    }

    static func fdStore(_ name: String, passed: [(fd: Int32, name: String)], report: String?) throws {
        if let got = passed.first(where: { $0.name == name }) {
            var buf = [UInt8](repeating: 0, count: 256)
            let n = read(got.fd, &buf, buf.count)
            let text = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : "(nothing: \(n < 0 ? String(cString: strerror(errno)) : "empty"))"
            if let report { _ = FileManager.default.createFile(atPath: report, contents: Data("inherited \(name): \(text)".utf8)) }
            return
        }
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { throw ExitCode(4) }
        let text = "from \(getpid())"
        _ = text.withCString { write(p[1], $0, strlen($0)) }
        close(p[1])
        let msg = "FDSTORE=1\nFDNAME=\(name)"
        guard let socketPath = ProcessInfo.processInfo.environment["NOTIFY_SOCKET"],
              msg.withCString({ warden_send_fds(socketPath, $0, strlen($0), [p[0]], 1) }) == 0 else { throw ExitCode(5) }
        close(p[0])
        if let report { _ = FileManager.default.createFile(atPath: report, contents: Data("stored \(name)".utf8)) }
    }

    /// "pid" as one datagram to a Unix socket; a benchmark's clock stops when it arrives.
    static func announce(to path: String) {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in path.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let text = "\(getpid())"
        _ = withUnsafePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                text.withCString { sendto(fd, $0, strlen($0), 0, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
    }
}
