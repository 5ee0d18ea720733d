// The strategies Warden ships, by name: their configuration sections (registered with the loader at start) and
// how each is built from its section. Adding a strategy is one file here and one entry below.
import Foundation
public import WardenCore
public import WardenKit

/// A strategy's configuration that cannot be turned into its settings (a value the key's bounds let through but
/// the strategy cannot use), named by its key path.
public struct StrategyConfigurationError: Error, CustomStringConvertible {
    public var key: String
    public var reason: String
    public init(key: String, reason: String) { self.key = key; self.reason = reason }
    public var description: String { "\(key): \(reason)" }
}

/// Dollars or a price as micro-units, or the error naming the key.
func micros<S: ConfigSection>(_ value: Double, _ key: String, of section: S.Type) throws -> Micros {
    guard let m = Fixed.from(value) else {
        throw StrategyConfigurationError(key: S.configPath + "." + key, reason: "\(value) is not a usable amount")
    }
    return m
}

public enum StrategyRegistry {
    struct Entry: Sendable {
        let section: SectionRegistration
        let build: @Sendable (RegisteredSections) throws -> (any Strategy)?
    }

    static func entry<C: ConfigSection & Sendable>(_ c: C.Type, enabled: @escaping @Sendable (C) -> Bool,
                                                     _ make: @escaping @Sendable (C) throws -> any Strategy) -> Entry {
        Entry(section: .of(C.self)) { sections in
            let config = sections.get(C.self)
            return enabled(config) ? try make(config) : nil
        }
    }

    /// In the order they trade within a cycle.
    static let entries: [Entry] = [
        entry(ComplementArbitrage.Configuration.self, enabled: \.enabled) { try ComplementArbitrage($0) },
        entry(NearResolutionFavorite.Configuration.self, enabled: \.enabled) { try NearResolutionFavorite($0) },
        entry(MeanReversion.Configuration.self, enabled: \.enabled) { try MeanReversion($0) },
        entry(MarketMaker.Configuration.self, enabled: \.enabled) { try MarketMaker($0) },
    ]

    /// Every strategy's section; `ConfigLoader.register(StrategyRegistry.sections)` at start.
    public static var sections: [SectionRegistration] { entries.map(\.section) }

    /// The enabled strategies, built from their sections.
    public static func build(_ sections: RegisteredSections) throws -> [any Strategy] {
        try entries.compactMap { try $0.build(sections) }
    }
}
