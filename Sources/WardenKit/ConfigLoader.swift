// Reads etc/warden.yaml strictly: unknown keys, wrong types and out-of-range values all stop the start.
import Configuration
public import Foundation
import Logging
import SystemPackage
import Yams

/// One thing wrong with a configuration, by key path.
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    public var keyPath: String
    public var reason: String
    public init(keyPath: String, reason: String) { self.keyPath = keyPath; self.reason = reason }
    public var description: String { "\(keyPath): \(reason)" }
}

/// The configuration could not be used; lists every problem found, each with its key path.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var issues: [ConfigIssue]
    public init(file: String, issues: [ConfigIssue]) { self.file = file; self.issues = issues }
    public var description: String {
        "invalid configuration \(file):\n" + issues.map { "  - \($0)" }.joined(separator: "\n")
    }
}

/// Loads and validates a Warden configuration.
///
/// The YAML file is walked once with Yams to find program names and reject unknown keys;
/// values are then read through swift-configuration's providers, environment first
/// (`WARDEN_SUPERVISOR_LOG_LEVEL`, `WARDEN_PROGRAMS_ENGINE_WATCHDOG_SEC`, …) then the file.
/// Unlike `ConfigReader`'s lenient getters, a value that cannot be converted is an error, never a default.
public enum ConfigLoader {
    /// Loads `path`, applying `WARDEN_…` overrides from `environment`.
    public static func load(path: String, environment: [String: String] = ProcessInfo.processInfo.environment)
        async throws -> WardenConfiguration
    {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        guard let data = FileManager.default.contents(atPath: absolute) else {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "cannot read \(absolute): no such file or not readable")])
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "not UTF-8 text")])
        }
        let tree: Node?
        do {
            tree = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "YAML syntax error: \(error)")])
        }
        let fileProvider: FileProvider<YAMLSnapshot>
        do {
            fileProvider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(absolute))
        } catch {
            throw ConfigurationError(file: absolute, issues: [ConfigIssue(keyPath: "(file)", reason: "\(error)")])
        }
        let env = EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: ["warden"])
        let reader = StrictReader(providers: [env, fileProvider])
        var config = WardenConfiguration(file: absolute)
        validateShape(tree, reader: reader)
        readSupervisor(into: &config.supervisor, reader)
        let root = ConfigNode(tree)
        for reg in registered {
            let (value, rendered) = reg.read(reader, root.child(reg.path))
            config.sections.values[reg.path] = value
            config.sections.rendered[reg.path] = rendered
        }
        if !reader.issues.isEmpty {
            throw ConfigurationError(file: absolute, issues: reader.issues)
        }
        return config
    }

    /// Walks the YAML tree: top-level shape and unknown keys, against the declared keys of every section this
    /// process registered.
    private static func validateShape(_ tree: Node?, reader: StrictReader) {
        guard let tree else { return }  // an empty file is a configuration with defaults and no programs
        guard let top = tree.mapping else {
            reader.fail("(top level)", "must be a mapping with `supervisor` and `programs`")
            return
        }
        for (k, v) in top {
            let key = k.string ?? "?"
            if case .scalar(let s) = v, s.string.isEmpty || s.string == "null" || s.string == "~" { continue }  // `programs:` and nothing
            switch key {
            case "supervisor":
                check(v, against: keyTree(SupervisorSettings.self), path: "supervisor", reader)
            case let section where registeredTree(section) != nil:
                check(v, against: registeredTree(section)!, path: section, reader)
            case let section where sectionsElsewhere.contains(section):
                continue  // not read by this process; warden checks it before any program starts
            default:
                reader.fail(key, "unknown key\(suggestion(key, ["supervisor"] + sectionsElsewhere))")
            }
        }
    }

    /// " (did you mean x?)" for a near miss, else "".
    static func suggestion(_ key: String, _ known: some Collection<String>) -> String {
        let best = known.map { ($0, editDistance($0, key)) }.min { $0.1 < $1.1 }
        guard let best, best.1 <= 3 else { return " (known keys: \(known.sorted().joined(separator: ", ")))" }
        return " (did you mean `\(best.0)`?)"
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var prev = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let cur = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] == b[j - 1] ? 0 : 1))
                prev = cur
            }
        }
        return row[b.count]
    }

    private static func readSupervisor(into s: inout SupervisorSettings, _ r: StrictReader) {
        SupervisorSettings.readDeclared(into: &s, prefix: "supervisor", r)
        if s.diskCriticalPercent > s.diskWarnPercent {
            r.fail("supervisor.disk_critical_percent", "must not exceed disk_warn_percent (\(s.diskWarnPercent))")
        }
    }
}

/// Reads typed values through swift-configuration's `ConfigReader` (the environment over the file), strictly:
/// a value that is present but cannot be read as the type asked is a problem with its key path, never a silent
/// default (the lenient getters' nil is told apart from "absent" by the reader's access events). `scoped(to:)`
/// gives a section's reader (ConfigReader's scoped reader) that names problems with their full paths.
public final class StrictReader: @unchecked Sendable {
    private let reader: ConfigReader
    private let prefix: String
    private let box: Problems

    /// The problems found so far (shared by a reader and its scoped readers).
    var issues: [ConfigIssue] { box.issues }

    init(providers: [any ConfigProvider]) {
        let box = Problems()
        self.box = box
        self.prefix = ""
        self.reader = ConfigReader(providers: providers, accessReporter: box)
    }

    private init(reader: ConfigReader, prefix: String, box: Problems) {
        self.reader = reader; self.prefix = prefix; self.box = box
    }

    /// The reader of the keys under `section` (dotted), e.g. `engine` or `programs.engine`.
    public func scoped(to section: String) -> StrictReader {
        StrictReader(reader: reader.scoped(to: Configuration.ConfigKey(section.split(separator: ".").map(String.init))),
                     prefix: full(section), box: box)
    }

    private func full(_ path: String) -> String { prefix.isEmpty ? path : prefix + "." + path }

    public func fail(_ path: String, _ reason: String) { box.add(ConfigIssue(keyPath: full(path), reason: reason)) }

    /// Reads with `get`; a provider's error or a failed conversion for that access becomes a problem.
    private func read<T>(_ path: String, expected: String, _ get: (Configuration.ConfigKey) -> T?) -> T? {
        let mark = box.mark()
        let value = get(Configuration.ConfigKey(path.split(separator: ".").map(String.init)))
        if let provider = box.failure(since: mark) {
            fail(path, "expected \(expected)\(provider.map { " (from \($0))" } ?? "")")
            return nil
        }
        return value
    }

    public func string(_ path: String) -> String? { read(path, expected: "a string") { reader.string(forKey: $0) } }

    public func oneOf(_ path: String, _ allowed: [String]) -> String? {
        guard let s = string(path) else { return nil }
        guard allowed.contains(s) else {
            fail(path, "`\(s)` is not one of: \(allowed.joined(separator: ", "))")
            return nil
        }
        return s
    }

    public func bool(_ path: String) -> Bool? { read(path, expected: "true or false") { reader.bool(forKey: $0) } }

    public func int(_ path: String, in range: ClosedRange<Int>) -> Int? {
        guard let i = read(path, expected: "an integer", { reader.int(forKey: $0) }) else { return nil }
        guard range.contains(i) else {
            fail(path, "\(i) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return i
    }

    public func double(_ path: String, in range: ClosedRange<Double>) -> Double? {
        guard let d = read(path, expected: "a number", { reader.double(forKey: $0) }) else { return nil }
        guard d.isFinite, range.contains(d) else {
            fail(path, "\(d) is out of range \(range.lowerBound)…\(range.upperBound)")
            return nil
        }
        return d
    }

    public func duration(_ path: String, in range: ClosedRange<Duration>) -> Duration? {
        guard let s = string(path) else { return nil }
        guard let d = Duration.parse(config: s) else {
            fail(path, "`\(s)` is not a duration (examples: 250ms, 10s, 5m)")
            return nil
        }
        guard range.contains(d) else {
            fail(path, "\(s) is out of range \(range.lowerBound.short)…\(range.upperBound.short)")
            return nil
        }
        return d
    }

    public func stringArray(_ path: String) -> [String]? { read(path, expected: "a list of strings") { reader.stringArray(forKey: $0) } }

    public func intArray(_ path: String) -> [Int]? { read(path, expected: "a list of integers") { reader.intArray(forKey: $0) } }
}

/// The reader's access events, kept as problems: which accesses failed (a provider threw, or the value did not
/// convert), and the problems said.
final class Problems: AccessReporter, @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String?] = []   // per failed access: the provider that failed, if known
    private var seen = 0
    private var list: [ConfigIssue] = []

    func report(_ event: AccessEvent) {
        let failedProvider = event.providerResults.first { if case .failure = $0.result { return true }; return false }
        guard failedProvider != nil || event.conversionError != nil else {
            lock.lock(); seen += 1; lock.unlock()
            return
        }
        lock.lock(); failures.append(failedProvider?.providerName); seen += 1; lock.unlock()
    }

    /// A position in the failure list, taken before an access.
    func mark() -> Int { lock.lock(); defer { lock.unlock() }; return failures.count }

    /// The first failure since `mark`: `.some(provider name or nil)`, or nil when the access went well.
    func failure(since mark: Int) -> String?? {
        lock.lock(); defer { lock.unlock() }
        guard failures.count > mark else { return nil }
        return .some(failures[mark])
    }

    func add(_ issue: ConfigIssue) {
        lock.lock(); defer { lock.unlock() }
        if !list.contains(where: { $0.keyPath == issue.keyPath && $0.reason == issue.reason }) { list.append(issue) }
    }

    var issues: [ConfigIssue] { lock.lock(); defer { lock.unlock() }; return list }
}
