// The real `warden` started by a test or by warden-chaos: a clean environment (nothing of an outer systemd or
// warden leaks in), its output in a file, and a stop that cannot hang. The integration tests and warden-chaos
// both start the supervisor through this one launcher.
public import Foundation

public final class WardenProcess: @unchecked Sendable {
    public let process = Process()
    public let outPath: String

    /// Variables of an outer supervisor that must not reach a warden started here.
    public static let scrubbed = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "WARDEN_SOCKET", "WARDEN_CONFIG",
                                  "STATE_DIRECTORY", "RUNTIME_DIRECTORY", "LOGS_DIRECTORY"]

    /// Starts `executable` (warden) with `arguments`; stdout and stderr go to `output` (appended when `append`).
    /// `viaShell`: exec it from /bin/sh (a Swift binary exec'd directly with libfaketime in LD_PRELOAD sees no argv;
    /// from a parent that already carries the preload it does).
    public init(executable: String, arguments: [String], env: [String: String] = [:], cwd: String? = nil,
                output: String, append: Bool = false, viaShell: Bool = false) throws {
        outPath = output
        if !append || !FileManager.default.fileExists(atPath: output) { _ = FileManager.default.createFile(atPath: output, contents: nil) }
        if viaShell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "exec \"$0\" \"$@\"", executable] + arguments
        } else {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        }
        var environment = ProcessInfo.processInfo.environment
        for k in Self.scrubbed { environment[k] = nil }
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        let handle = FileHandle(forWritingAtPath: output)
        if append { handle?.seekToEndOfFile() }
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        try handle?.close()  // the child holds its own copy; ours would leak one fd per start
    }

    /// A test that failed before `stop()` still leaves nothing running: its children follow by death signal.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    public var pid: Int32 { process.processIdentifier }
    public var isRunning: Bool { process.isRunning }
    public var output: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }

    public func signal(_ sig: Int32) { kill(pid, sig) }

    /// Waits for exit; returns the exit code (or 128+signal), nil if still running at the bound.
    public func waitExit(within limit: Duration) async -> Int32? {
        let deadline = ContinuousClock.now + limit
        while process.isRunning && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { return nil }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// SIGTERM (after SIGCONT, in case it was stopped), then SIGKILL if it is still there after `grace`.
    public func stop(grace: Duration = .seconds(15)) async {
        guard process.isRunning else { return }
        kill(pid, SIGCONT)
        kill(pid, SIGTERM)
        if await waitExit(within: grace) == nil {
            kill(pid, SIGKILL)
            _ = await waitExit(within: .seconds(5))
        }
    }
}
