// The backtest: a day of the fake's market model recorded on a simulated clock (the real recorder over loopback
// HTTP, gzip as `warden-engine record` writes it), then `warden-engine backtest` on it once and as a sweep of 8.
import Foundation
import WardenPolymarket
import WardenEngine
import WardenFakes
import WardenHTTP
import WardenKit
import WardenTestKit

enum BacktestBench {
    struct Result {
        var hours: Double
        var markets: Int
        /// Wall time to record the day (the fake's model and the recorder, on the simulated clock).
        var recordSeconds: Double
        var records: Int
        var bytes: Int
        /// Every single run's wall time (the report gives the median).
        var runSeconds: [Double]
        /// What one run said it replayed: cycles and fills.
        var summary: String
        var sweepRuns: Int
        var sweepSeconds: Double
        /// The peak memory each run and the sweep said they had (MiB), largest first.
        var peakMiB: Int
    }

    /// Records `hours` of `markets` markets into `dir`, then times the backtest (`repeats` single runs, one sweep).
    static func run(bin: String, dir: String, hours: Double, markets: Int, repeats: Int, sweepValues: Int) async throws -> Result {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let data = dir + "/day.jsonl.gz"
        try? FileManager.default.removeItem(atPath: data)
        // The scenario starts at a fixed instant, so the recording is the same every time.
        let clock = SimulatedClock(Date(timeIntervalSince1970: 1_790_000_000))
        let fake = try await PolymarketFake.start(.day(markets: markets), clock: { clock.now })
        let settings = EngineSettings()
        // No rate budget: the budget is per real second, and a simulated day asks 17,280 times in a few minutes.
        let client = PolymarketClient(http: HTTPClient(limits: []), gammaURL: fake.baseURL, clobURL: fake.baseURL)
        var filters = MarketFilters()
        filters.maxMarkets = markets
        let recorder = MarketRecorder(source: LiveMarketData(client: client, filters: filters), bookRefresh: settings.bookRefresh,
                                      discoveryInterval: settings.discoveryInterval)
        guard FileManager.default.createFile(atPath: data, contents: nil), let handle = FileHandle(forWritingAtPath: data) else {
            throw BenchError("cannot create \(data)")
        }
        let problems = ProblemLog()
        let t0 = ContinuousClock.now
        let records = try await recorder.record(to: handle, compressed: true, for: .seconds(hours * 3600), simulated: clock) { problems.add($0) }
        try handle.close()
        let recordSeconds = (ContinuousClock.now - t0).seconds
        await fake.stop()
        if let p = problems.first { throw BenchError("recording the day: \(p)") }
        guard let bytes = try FileManager.default.attributesOfItem(atPath: data)[.size] as? Int else { throw BenchError("no size for \(data)") }

        let config = dir + "/backtest.yaml"
        try "engine:\n  cycle: 2s\n".write(toFile: config, atomically: true, encoding: .utf8)
        let common = ["backtest", "--data", data, "--config", config, "--strategies", "complement_arb,near_resolution,mean_reversion,market_maker"]
        var runs: [Double] = []
        var summary = ""
        var outputs: [String] = []
        for i in 0..<repeats {
            let s = ContinuousClock.now
            let r = try await BoundedRun.run(bin + "/warden-engine", common + ["--report", dir + "/single-\(i)"], limit: .seconds(3600))
            runs.append((ContinuousClock.now - s).seconds)
            guard r.code == 0 else { throw BenchError("backtest exited \(r.code): \(r.err.suffix(800))") }
            // Its first line without the report's path (a temporary folder).
            summary = (r.out.split(separator: "\n").first.map(String.init) ?? "").components(separatedBy: "; report in").first ?? ""
            outputs.append(r.out)
        }
        let values = (0..<sweepValues).map { String(format: "%.3f", 0.01 + 0.005 * Double($0)) }.joined(separator: ",")
        let s = ContinuousClock.now
        let sweep = try await BoundedRun.run(bin + "/warden-engine", common + ["--report", dir + "/sweep",
                                                                                "--sweep", "engine.strategies.market_maker.half_spread=" + values],
                                             limit: .seconds(7200))
        let sweepSeconds = (ContinuousClock.now - s).seconds
        guard sweep.code == 0 else { throw BenchError("sweep exited \(sweep.code): \(sweep.err.suffix(800))") }
        // Each run says its own peak memory (this process's children include the other sections' programs).
        let peaks = (outputs + [sweep.out]).compactMap { out -> Int? in
            guard let r = out.range(of: #"peak memory [0-9]+ MiB"#, options: .regularExpression) else { return nil }
            return Int(out[r].split(separator: " ")[2])
        }
        guard peaks.count == repeats + 1, let peak = peaks.max() else { throw BenchError("a backtest did not say its peak memory") }
        return Result(hours: hours, markets: markets, recordSeconds: recordSeconds, records: records, bytes: bytes, runSeconds: runs,
                      summary: summary, sweepRuns: sweepValues, sweepSeconds: sweepSeconds, peakMiB: peak)
    }
}

/// What the recorder reported (a failed fetch), kept to stop the bench: a day with gaps measures something else.
final class ProblemLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ s: String) { lock.lock(); list.append(s); lock.unlock() }
    var first: String? { lock.lock(); defer { lock.unlock() }; return list.first }
}
