// A configuration file written by a test and read by the real strict loader with the sections under test
// registered: what it reads, or every problem it names.
import Foundation
public import WardenKit

public enum ConfigFixture {
    /// Loads `yaml` (written to a scratch file) with `sections` registered, as a program registers them.
    public static func load(_ yaml: String, sections: [SectionRegistration], environment: [String: String] = [:]) async throws -> WardenConfiguration {
        let dir = try ScratchDirectory("config")
        let file = dir.file("warden.yaml")
        try yaml.write(toFile: file, atomically: true, encoding: .utf8)
        ConfigLoader.register(sections)
        return try await ConfigLoader.load(path: file, environment: environment)
    }

    /// The problems the loader names for `yaml`, as "key.path: reason" lines (empty when it loads).
    public static func problems(_ yaml: String, sections: [SectionRegistration], environment: [String: String] = [:]) async throws -> [String] {
        do {
            _ = try await load(yaml, sections: sections, environment: environment)
            return []
        } catch let e as ConfigurationError {
            return e.issues.map(\.description)
        }
    }
}
