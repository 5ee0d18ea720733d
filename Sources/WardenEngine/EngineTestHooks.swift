// Fault hooks for the test and chaos suites, off unless WARDEN_ENGINE_TEST_HOOKS names them.
public import Foundation
import WardenCore

/// `WARDEN_ENGINE_TEST_HOOKS=faulty_strategy,crash_after_intent` (comma-separated). Never set in a real deployment;
/// the engine logs every hook it runs with at start.
public struct EngineTestHooks: Sendable, Equatable {
    /// Adds a strategy `faulty` that throws on some markets and emits an intent priced above 1 on others (F37).
    public var faultyStrategy = false
    /// Kills the engine with SIGKILL right after the first intent is written ahead, while the journal holds no intent
    /// abandoned by an earlier crash, so the crash happens once per journal (F38).
    public var crashAfterIntent = false
    /// Kills the engine with SIGKILL right after the venue answers the first live order it posts, before the answer is
    /// recorded, while the journal holds no live order of unknown outcome from an earlier run (F47: once per journal).
    public var crashAfterPost = false

    public init() {}

    public static let variable = "WARDEN_ENGINE_TEST_HOOKS"

    /// Parses the variable; an unknown name is an error naming it (a typo must not silently test nothing).
    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) throws -> EngineTestHooks {
        var hooks = EngineTestHooks()
        for name in (env[variable] ?? "").split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) where !name.isEmpty {
            switch name {
            case "faulty_strategy": hooks.faultyStrategy = true
            case "crash_after_intent": hooks.crashAfterIntent = true
            case "crash_after_post": hooks.crashAfterPost = true
            default: throw ValidationFailure("\(variable): unknown hook `\(name)` (known: faulty_strategy, crash_after_intent, crash_after_post)")
            }
        }
        return hooks
    }

    public var names: [String] {
        (faultyStrategy ? ["faulty_strategy"] : []) + (crashAfterIntent ? ["crash_after_intent"] : []) + (crashAfterPost ? ["crash_after_post"] : [])
    }
}

public struct ValidationFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// A strategy that misbehaves on purpose: throws on even-numbered markets, emits an intent priced at 1.5 on the others.
struct FaultyStrategy: IntentStrategy {
    struct Failure: Error, CustomStringConvertible { var description: String }
    var name: String { "faulty" }

    func evaluate(_ snapshot: MarketSnapshot, positions: [Position], cash: Micros) throws -> [OrderIntent] {
        let m = snapshot.market
        if (Int(m.id) ?? 0) % 2 == 0 { throw Failure(description: "division by zero in the faulty test strategy") }
        guard let token = m.tokens.first else { return [] }
        return [OrderIntent(strategy: name, marketID: m.id, tokenID: token.tokenID, side: .buy, kind: .entry,
                            limitPrice: Fixed.one + Fixed.one / 2, shares: 10 * Fixed.one, reason: "faulty test strategy (price 1.5)")]
    }
}
