// Runs an executable to completion with a time bound, its output captured through files (a pipe left unread
// can block the child; Foundation's waitUntilExit has no bound). Shared by the tests, warden-chaos and
// warden-bench.
import Foundation

public struct RunResult: Sendable {
    public var code: Int32
    public var out: String
    public var err: String
}

/// The executable did not finish within its bound (it has been killed).
public struct RunTimeout: Error, CustomStringConvertible {
    public var description: String
}

public enum BoundedRun {
    /// Runs `exe` with `args`; the environment is ours plus `env`, without WARDEN_SOCKET and WARDEN_CONFIG
    /// (so a developer's own settings never leak into a test). `mergeOutput` sends stderr to `out` as well.
    public static func run(_ exe: String, _ args: [String], env: [String: String] = [:], limit: Duration = .seconds(30),
                           mergeOutput: Bool = false) async throws -> RunResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        environment["WARDEN_SOCKET"] = nil
        environment["WARDEN_CONFIG"] = nil
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("run-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let o = try FileHandle(forWritingTo: outURL), e = try FileHandle(forWritingTo: errURL)
        p.standardOutput = o
        p.standardError = mergeOutput ? o : e
        // Closed once the child has its copies: poll loops run this thousands of times.
        defer { try? o.close(); try? e.close() }
        try p.run()
        let deadline = ContinuousClock.now + limit
        while p.isRunning && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        if p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            throw RunTimeout(description: "\(exe) \(args.joined(separator: " ")) did not finish within \(limit)")
        }
        return RunResult(code: p.terminationStatus, out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                         err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
    }
}
