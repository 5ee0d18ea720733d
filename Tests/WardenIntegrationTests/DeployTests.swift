// deploy/: the systemd unit passes `systemd-analyze verify`; the shipped configuration is valid.
import Foundation
import Testing
import WardenTestKit

@Suite("Deployment files")
struct DeployTests {
    static let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    @Test("the systemd unit verifies")
    func unitVerifies() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("unit-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // ExecStart must name an existing executable for verify: point it at the built binary.
        let unit = try String(contentsOfFile: Self.package + "/deploy/systemd/warden.service", encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/warden", with: Bin.path("warden"))
        try unit.write(toFile: dir + "/warden.service", atomically: true, encoding: .utf8)
        let r = try await BoundedRun.run("/usr/bin/env", ["systemd-analyze", "verify", "--man=no", dir + "/warden.service"],
                                         limit: .seconds(60), mergeOutput: true)
        let out = r.out
        // Warnings about the missing `warden` user are expected on a build machine; anything else fails.
        let problems = out.split(separator: "\n").filter {
            !$0.contains("User") && !$0.contains("user") && !$0.contains("Failed to load") && !$0.isEmpty
                && !$0.contains("not running") && !$0.contains("System has not been booted")
        }
        #expect(r.code == 0 || problems.isEmpty, "systemd-analyze verify:\n\(out)")
        #expect(problems.isEmpty, "systemd-analyze verify:\n\(out)")
    }

    @Test("the shipped etc/warden.yaml is valid")
    func shippedConfigValid() async throws {
        let r = try await runTool("warden", ["--check-config", "--config", Self.package + "/etc/warden.yaml"])
        #expect(r.code == 0, "\(r.err)")
        #expect(r.out.contains("configuration OK"))
    }
}
