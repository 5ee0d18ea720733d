// Test support: a fresh Warden tree, the real `warden` process, `wardenctl`, and bounded waiting.
import CWardenOS
import Foundation
import Testing
import WardenIPC
import WardenTestKit

enum Bin {
    /// Where the built executables are: $WARDEN_BIN_DIR (set by `make test`), else .build/debug.
    static let dir: String = {
        if let d = ProcessInfo.processInfo.environment["WARDEN_BIN_DIR"], !d.isEmpty { return d }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug").path
    }()
    static func path(_ name: String) -> String { dir + "/" + name }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
}

/// A temporary installation: etc/warden.yaml and var/ under a fresh folder.
final class TestTree: @unchecked Sendable {
    let root: String
    var configPath: String { root + "/etc/warden.yaml" }
    var runtimeDir: String { root + "/var/run" }
    var controlSocket: String { runtimeDir + "/control.sock" }
    var notifySocket: String { runtimeDir + "/notify.sock" }

    init(programs: String, supervisor: String = "") throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("warden-it-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root + "/etc", withIntermediateDirectories: true)
        try write(programs: programs, supervisor: supervisor)
    }

    func write(programs: String, supervisor: String = "") throws {
        let yaml = "supervisor:\n  tick: 10ms\n  resource_interval: 200ms\n  journald: off\n\(supervisor)programs:\n\(programs)"
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}

extension WardenProcess {
    /// `warden` of this build on `tree` (or with `args`), its output in a file of the tree.
    convenience init(_ tree: TestTree, args: [String]? = nil, env: [String: String] = [:], cwd: String? = nil, viaShell: Bool = false) throws {
        try self.init(executable: Bin.path("warden"), arguments: args ?? ["--config", tree.configPath], env: env, cwd: cwd,
                      output: tree.root + "/warden-\(UUID().uuidString.prefix(6)).out", viaShell: viaShell)
    }
}

typealias CommandResult = RunResult

/// Runs a built executable to completion (bounded), capturing its output.
func runTool(_ name: String, _ args: [String], env: [String: String] = [:], limit: Duration = .seconds(30)) async throws -> CommandResult {
    try await BoundedRun.run(Bin.path(name), args, env: env, limit: limit)
}

func wardenctl(_ tree: TestTree, _ args: String...) async throws -> CommandResult {
    try await runTool("wardenctl", ["--config", tree.configPath] + args)
}

/// `wardenctl status --json`, decoded; nil while the supervisor is not answering.
func status(_ tree: TestTree) async throws -> StatusResponse? {
    let r = try await runTool("wardenctl", ["status", "--json", "--socket", tree.controlSocket, "--timeout", "5"])
    guard r.code == 0 else { return nil }
    return try JSONDecoder().decode(StatusResponse.self, from: Data(r.out.utf8))
}

func program(_ s: StatusResponse?, _ name: String) -> ProgramStatus? { s?.programs.first { $0.name == name } }

/// Polls `condition` until it holds or `limit` passes (then fails the test with `what`).
@discardableResult
func eventually<T>(_ what: @autoclosure () -> String, within limit: Duration = .seconds(20), every: Duration = .milliseconds(50),
                   _ condition: () async throws -> T?) async throws -> T {
    let deadline = ContinuousClock.now + limit
    while true {
        if let value = try await condition() { return value }
        if ContinuousClock.now >= deadline { throw TestFailure(description: "timed out after \(limit) waiting for: \(what())") }
        try await Task.sleep(for: every)
    }
}

/// Waits until `program` is RUNNING and ready; returns its status.
@discardableResult
func waitRunning(_ tree: TestTree, _ name: String, otherThanPID: Int32? = nil, within limit: Duration = .seconds(20)) async throws -> ProgramStatus {
    var last = "no answer from wardenctl status"
    return try await eventually("\(name) RUNNING and ready\(otherThanPID.map { " with a pid other than \($0)" } ?? "") (last seen: \(last))", within: limit) {
        guard let p = program(try await status(tree), name) else { return nil }
        last = "\(p.state) pid \(p.pid.map(String.init) ?? "-") ready \(p.ready) restarts \(p.restarts) \(p.last_exit?.reason ?? "")"
        guard p.state == "RUNNING", p.ready, let pid = p.pid else { return nil }
        if let old = otherThanPID, pid == old { return nil }
        return p
    }
}

func events(_ tree: TestTree) async throws -> [LifecycleEvent] {
    let r = try await runTool("wardenctl", ["events", "--json", "-n", "1000", "--socket", tree.controlSocket])
    guard r.code == 0 else { return [] }
    return try JSONDecoder().decode(EventsResponse.self, from: Data(r.out.utf8)).events
}

/// True while `pid` exists and is not a zombie.
func isAlive(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return false }
    let state = stat[stat.index(close, offsetBy: 2)]
    return state != "Z" && state != "X"
}

/// The test child's command line as YAML.
func testChild(_ args: String...) -> String {
    "[\(([Bin.path("warden-testchild")] + args).map { "\"\($0)\"" }.joined(separator: ", "))]"
}
