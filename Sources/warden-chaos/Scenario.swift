// One scenario: a fresh stack trading on the fakes, one fault injected, the five rules checked.
import Foundation
import WardenIPC

struct Outcome {
    var id: String
    var title: String
    var scenario: String
    var detection: Double?
    var visibility: Visibility?
    var measured: [String] = []
    var failures: [String] = []
    var invariants: [(String, String?)] = []
    var seconds: Double = 0
    /// Why the scenario could not run on this machine (not a failure; the report says it).
    var notRun: String?
    var passed: Bool { failures.isEmpty && invariants.allSatisfy { $0.1 == nil } }
}

struct RunSettings {
    var bin: String
    var work: String
    var quick: Bool
    var kills: Int
    var seed: Int
}

/// The context a scenario body works in.
final class Run: @unchecked Sendable {
    let stack: Stack
    let settings: RunSettings
    var outcome: Outcome
    var rng: SeededRandom

    init(stack: Stack, settings: RunSettings, outcome: Outcome) {
        self.stack = stack
        self.settings = settings
        self.outcome = outcome
        rng = SeededRandom(seed: UInt64(settings.seed))
    }

    func expect(_ ok: Bool, _ what: @autoclosure () -> String) {
        if !ok { outcome.failures.append(what()) }
    }

    func note(_ s: String) { outcome.measured.append(s) }

    /// Watches the four surfaces for `sight` from `t0`: rule 2 (visible within 10 s), and the detection time
    /// (the supervisor's own view, wardenctl) against `detectBound`.
    @discardableResult
    func see(_ sight: Sight, from t0: ContinuousClock.Instant, mark: Int, detectBound: Double, within: Duration = .seconds(10)) async -> Visibility {
        let v = await stack.watch(sight, from: t0, channelMark: mark, within: within + .seconds(detectBound))
        outcome.visibility = v
        outcome.detection = v.ctl
        if let d = v.ctl { expect(d <= detectBound + 0.5, String(format: "detected after %.1f s, bound %.1f s", d, detectBound)) }
        else { expect(false, "not detected on wardenctl status within \(Int(detectBound + 10)) s") }
        if let d = v.ctl, let latest = v.latest { expect(latest - d <= 10, String(format: "visible everywhere %.1f s after detection (bound 10 s)", latest - d)) }
        if !v.complete { expect(false, "not visible on every surface: \(v)") }
        return v
    }

    /// Rule 5: the channel says the fault is over (a recovery message) by itself.
    func recoveryOnChannel(_ needle: String, since mark: Int, within: Duration = .seconds(30)) async {
        do {
            try await until("a recovery message containing \"\(needle)\" on the channel", within: within) {
                stack.channelTexts.dropFirst(mark).contains { $0.hasPrefix("[RECOVERED]") && (needle.isEmpty || $0.contains(needle)) } ? true : nil
            }
        } catch { expect(false, "\(error); the channel's last messages: \(stack.channelTexts.suffix(3).map { String($0.prefix(90)) })") }
    }

    /// Waits for a condition as part of the written response; a timeout is a failure, not an abort.
    @discardableResult
    func eventually<T>(_ what: String, within: Duration, _ condition: () async throws -> T?) async -> T? {
        do { return try await until(what, within: within, condition) } catch {
            expect(false, "\(error)")
            return nil
        }
    }

    /// An operator command the scenario depends on: a refusal is a failure naming the command and its answer.
    func operate(_ args: String...) async throws {
        let r = try await stack.ctl(args)
        expect(r.code == 0, "wardenctl \(args.joined(separator: " ")) exited \(r.code): \(r.out)\(r.err)")
    }

    func engine() async -> EngineStatus? { await stack.status()?.engine }
    func program(_ name: String) async -> ProgramStatus? { stack.program(await stack.status(), name) }
    var mark: Int { stack.channelTexts.count }
}

/// A small deterministic generator, so a run can be repeated with its seed.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &+ 0x9E37_79B9_7F4A_7C15 }
    mutating func next() -> UInt64 {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

struct Scenario: @unchecked Sendable {  // immutable after construction; run one at a time
    var id: String
    var title: String
    var scenario: String
    var options: StackOptions = StackOptions()
    /// Why the scenario cannot run here (checked before the stack starts).
    var skip: (() -> String?)? = nil
    var body: (Run) async throws -> Void

    func run(_ settings: RunSettings, index: Int) async -> Outcome {
        var outcome = Outcome(id: id, title: title, scenario: scenario)
        if let why = skip?() {
            outcome.notRun = why
            return outcome
        }
        let started = ContinuousClock.now
        let stack: Stack
        do {
            stack = try await Stack.start(bin: settings.bin, work: settings.work, name: "\(id.lowercased())-\(index)", seed: settings.seed &+ index, options: options)
        } catch {
            outcome.failures.append("stack did not start: \(error)")
            return outcome
        }
        let run = Run(stack: stack, settings: settings, outcome: outcome)
        do {
            try await stack.waitReady()
            try await stack.waitTrading()
            try await body(run)
        } catch {
            run.outcome.failures.append("\(error)")
        }
        // Rule 4 after every scenario, failed ones too: every invariant across the databases.
        run.outcome.invariants = await stack.invariants()
        if !run.outcome.passed { run.outcome.measured.append("tree kept for inspection: \(stack.root)") }
        await stack.stop()
        if run.outcome.passed { try? FileManager.default.removeItem(atPath: stack.root) }
        let d = ContinuousClock.now - started
        run.outcome.seconds = Double(d.components.seconds)
        return run.outcome
    }
}

// MARK: - Sight helpers

func reason(_ s: StatusResponse, _ code: String) -> ReasonInfo? { s.engine?.reasons?.first { $0.code == code } }
func restarts(_ s: StatusResponse, _ name: String) -> Int { s.programs.first { $0.name == name }?.restarts ?? 0 }
func any(_ texts: [String], _ needles: String...) -> Bool { texts.contains { t in needles.allSatisfy { t.contains($0) } } }
