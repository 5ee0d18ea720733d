// The benchmark suite at tiny sizes, so it cannot rot: every benchmark runs and the report is written.
import Foundation
import Testing

@Suite("Benchmarks (smoke)")
struct BenchSmokeTests {
    @Test("warden-bench --smoke runs every benchmark against the real binaries and writes the report")
    func smoke() async throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("bench-smoke-\(UUID().uuidString.prefix(6)).md").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        // About a minute alone; several times that beside the rest of the suite on a loaded two-core machine.
        let r = try await runProgram(Bin.path("warden-bench"), ["--smoke", "--bin", Bin.dir, "--out", out], limit: .seconds(900))
        #expect(r.code == 0, "\(r.out)")
        let report = try String(contentsOfFile: out, encoding: .utf8)
        for section in ["## 1. Crash failover", "## 2. Hang detection", "## 3. IPC", "### Request round trips", "## 4. Journal", "## 5. Engine cycle",
                        "## 6. Dashboard", "## 7. Memory", "after 2000 more events", "## 8. Backtest", "## 9. Signing"] {
            #expect(report.contains(section), "report has \(section)")
        }
        #expect(report.contains("| warden | 5 |"), "five kills measured")
        #expect(report.range(of: #"\| engine \|[^\n]*\| [0-9.]+ MiB → [0-9.]+ MiB \|"#, options: .regularExpression) != nil,
                "the engine's own memory (private dirty) idle and at the end")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/supervisord") {
            #expect(report.contains("| supervisord | 5 |"), "supervisord measured side by side")
        }
    }
}
