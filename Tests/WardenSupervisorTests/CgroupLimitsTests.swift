// Resource control through the program's cgroup, on a directory shaped like a cgroup v2 one (this host's
// cgroup2 mount has no memory or pids controller: the kernel path is exercised where they are delegated).
import Foundation
import Testing
import WardenKit
@testable import WardenSupervisor

@Suite("cgroup limits")
struct CgroupLimitsTests {
    /// A base offering `controllers`, with a program cgroup `prog-app` whose files the kernel would create.
    static func fakeBase(controllers: String) throws -> String {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("cg-\(UUID().uuidString.prefix(8))").path
        let prog = base + "/prog-app"
        try FileManager.default.createDirectory(atPath: prog, withIntermediateDirectories: true)
        try controllers.write(toFile: base + "/cgroup.controllers", atomically: true, encoding: .utf8)
        for f in ["cgroup.subtree_control"] { _ = FileManager.default.createFile(atPath: base + "/" + f, contents: nil) }
        for f in ["cgroup.procs", "memory.max", "pids.max"] { _ = FileManager.default.createFile(atPath: prog + "/" + f, contents: nil) }
        try "73400320\n".write(toFile: prog + "/memory.current", atomically: true, encoding: .utf8)
        try "anon 50331648\nfile 20971520\nkernel 2097152\n".write(toFile: prog + "/memory.stat", atomically: true, encoding: .utf8)
        try "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n".write(toFile: prog + "/memory.events", atomically: true, encoding: .utf8)
        try "42\n".write(toFile: prog + "/pids.current", atomically: true, encoding: .utf8)
        return base
    }

    @Test("memory and pids offered: enabled for the programs, limits written as memory.max / pids.max (max when unset), usage is the whole program without page cache")
    func delegated() throws {
        let base = try Self.fakeBase(controllers: "cpuset cpu io memory hugetlb pids rdma misc\n")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let c = Containment(cgroupBase: base, runtimeDir: base)
        #expect(c.controllers == ["memory", "pids"])
        let enabled = try String(contentsOfFile: base + "/cgroup.subtree_control", encoding: .utf8)
        #expect(enabled.contains("+memory") || enabled.contains("+pids"), "written: \(enabled)")
        var limits = ResourceLimits()
        limits.rssMB = 256; limits.pids = 64
        #expect(try c.prepare("app", limits: limits) == base + "/prog-app/cgroup.procs")
        #expect(try String(contentsOfFile: base + "/prog-app/memory.max", encoding: .utf8).hasPrefix("268435456"))
        #expect(try String(contentsOfFile: base + "/prog-app/pids.max", encoding: .utf8).hasPrefix("64"))
        #expect(c.memoryBytes("app") == 73_400_320 - 20_971_520)
        #expect(c.taskCount("app") == 42)
        #expect(c.oomKills("app") == 1)
        #expect(c.limitsNote.contains("enforced by the kernel"))
    }

    @Test("no controllers offered (this host): nothing written, usage from /proc, and said")
    func notDelegated() throws {
        let base = try Self.fakeBase(controllers: "hugetlb\n")
        defer { try? FileManager.default.removeItem(atPath: base) }
        let c = Containment(cgroupBase: base, runtimeDir: base)
        #expect(c.controllers.isEmpty)
        var limits = ResourceLimits()
        limits.rssMB = 256
        _ = try c.prepare("app", limits: limits)
        #expect(try String(contentsOfFile: base + "/prog-app/memory.max", encoding: .utf8).isEmpty)
        #expect(c.memoryBytes("app") == nil && c.taskCount("app") == nil && c.oomKills("app") == nil)
        #expect(c.limitsNote.contains("not enforced by the kernel"))
    }
}
