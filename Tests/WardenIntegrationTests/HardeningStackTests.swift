// Issue 12 against the real processes: reload of changed sections (F61), out-of-range durations, wardenctl's own
// input, a broken configuration file, terminal escapes in output, private state, and secrets kept from programs.
import Foundation
import Testing
import WardenIPC
import WardenTestKit

@Suite("Hardening on the real stack", .serialized)
struct HardeningStackTests {
    /// Programs that offer the roles (test children: they do not read their section), plus `a`.
    static let programs = """
      engine:
        command: \(testChild())
        offers: {role: engine}
      dashboard:
        command: \(testChild())
        offers: {role: dashboard}
      a:
        command: \(testChild())
    """

    static func sections(_ engineCycle: String, dashboardLimit: Int = 50) -> String {
        "  log_level: info\nengine:\n  cycle: \(engineCycle)\ndashboard:\n  list_limit: \(dashboardLimit)\n"
    }

    @Test("F61: a changed engine: or dashboard: section restarts that program and says so; an out-of-range value is refused with its key path and nothing changes")
    func reloadSections() async throws {
        let tree = try TestTree(programs: Self.programs, supervisor: Self.sections("1s"))
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        let engine = try await waitRunning(tree, "engine")
        let dashboard = try await waitRunning(tree, "dashboard")
        let a = try await waitRunning(tree, "a")

        try tree.write(programs: Self.programs, supervisor: Self.sections("2s"))
        let r = try await wardenctl(tree, "reload")
        #expect(r.code == 0, "\(r.out)\(r.err)")
        #expect(r.out.contains("section engine: changed; `engine` restarted to apply it"), "\(r.out)")
        #expect(!r.out.contains("unchanged: engine") && r.out.contains("changed: engine"), "\(r.out)")
        try await waitRunning(tree, "engine", otherThanPID: engine.pid)
        #expect(program(try await status(tree), "dashboard")?.pid == dashboard.pid, "the dashboard's section did not change")

        try tree.write(programs: Self.programs, supervisor: Self.sections("2s", dashboardLimit: 10))
        let r2 = try await wardenctl(tree, "reload", "--json")
        let answer = try JSONDecoder().decode(ReloadResponse.self, from: Data(r2.out.utf8))
        #expect(answer.changed == ["dashboard"] && answer.sections == ["dashboard: changed; `dashboard` restarted to apply it"], "\(r2.out)")
        try await waitRunning(tree, "dashboard", otherThanPID: dashboard.pid)

        // An out-of-range value: refused with the key path, the running stack untouched.
        let before = try await status(tree)
        try tree.write(programs: Self.programs + "\n    stop_timeout: 99999999999s\n", supervisor: Self.sections("5s"))
        let bad = try await wardenctl(tree, "reload")
        #expect(bad.code == 1 && bad.err.contains("programs.a.stop_timeout"), "\(bad.out)\(bad.err)")
        let after = try await status(tree)
        #expect(program(after, "a")?.pid == a.pid)
        #expect(program(after, "engine")?.pid == program(before, "engine")?.pid, "nothing restarted on a refused reload")
        let check = try await runTool("warden", ["--check-config", "--config", tree.configPath])
        #expect(check.code == 78 && check.err.contains("programs.a.stop_timeout"), "exit \(check.code): \(check.err)")
        await w.stop()
    }

    @Test("F58: wardenctl refuses an absurd --timeout (exit 2), and reaches a running stack whose configuration file broke")
    func wardenctlInput() async throws {
        let tree = try TestTree(programs: "  a:\n    command: \(testChild())\n")
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "a")
        for t in ["1e300", "-1", "nan", "0"] {
            let r = try await runTool("wardenctl", ["--config", tree.configPath, "--timeout", t, "status"])
            #expect(r.code == 2 && r.err.contains("--timeout"), "--timeout \(t): exit \(r.code) \(r.err)")
        }
        try "programs: [not, a, mapping\n".write(toFile: tree.configPath, atomically: true, encoding: .utf8)
        let r = try await runTool("wardenctl", ["--config", tree.configPath, "status"])
        // Other stacks may run beside this test: then the answer lists the running sockets, ours among them.
        #expect(r.err.contains(tree.controlSocket), "the running supervisor's socket is found: \(r.err)")
        if r.code == 0 { #expect(r.out.contains("a"), "\(r.out)") } else { #expect(r.code == 1 && r.err.contains("--socket")) }
        await w.stop()
    }

    @Test("F58: terminal escape sequences from the stack are shown, not executed, by wardenctl")
    func escapes() async throws {
        let tree = try TestTree(programs: """
          a:
            command: ["/bin/sh", "-c", "printf 'title \\\\033]0;pwned\\\\007 bell\\\\007 csi \\\\033[2J end\\\\n'; exec sleep 600"]
            ready: spawn
        """)
        let w = try WardenProcess(tree)
        defer { Task { await w.stop() } }
        try await waitRunning(tree, "a")
        let r = try await eventually("the line in the logs") {
            let r = try await wardenctl(tree, "logs", "a")
            return r.out.contains("end") ? r : nil
        }
        #expect(!r.out.unicodeScalars.contains { $0.value == 0x1B || $0.value == 0x07 }, "no raw ESC or BEL reaches the terminal")
        #expect(r.out.contains("^[]0;pwned^G") && r.out.contains("^[[2J"), "\(r.out)")
        await w.stop()
    }

    @Test("state and logs directories are 0750 whatever the umask; secrets in warden's environment reach only the programs that pass them")
    func privateStateAndSecrets() async throws {
        let tree = try TestTree(programs: """
          plain:
            command: ["/bin/sh", "-c", "exec sleep 600"]
            ready: spawn
          given:
            command: ["/bin/sh", "-c", "exec sleep 600"]
            ready: spawn
            pass_env: [CREDENTIALS_DIRECTORY, "WARDEN_SECRET_*"]
        """)
        let w = try WardenProcess(tree, env: ["CREDENTIALS_DIRECTORY": "/run/credentials/test", "WARDEN_SECRET_BOT_TOKEN": "123:secret"])
        defer { Task { await w.stop() } }
        let plain = try await waitRunning(tree, "plain")
        let given = try await waitRunning(tree, "given")
        func environ(_ pid: Int32?) throws -> String {
            String(decoding: try Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid ?? 0)/environ")), as: UTF8.self)
        }
        let p = try environ(plain.pid), g = try environ(given.pid)
        #expect(!p.contains("CREDENTIALS_DIRECTORY") && !p.contains("123:secret"), "a program without pass_env gets no secrets")
        #expect(g.contains("CREDENTIALS_DIRECTORY=/run/credentials/test") && g.contains("WARDEN_SECRET_BOT_TOKEN=123:secret"))
        #expect(p.contains("WARDEN_PROGRAM=plain"), "everything else is still passed")
        for dir in ["var/lib", "var/log"] {
            let mode = try FileManager.default.attributesOfItem(atPath: tree.root + "/" + dir)[.posixPermissions] as? Int
            #expect(mode == 0o750, "\(dir) is \(String(mode ?? 0, radix: 8))")
        }
        await w.stop()
    }
}
