// Sections declared by the modules that use them (the engine's in WardenEngine, each strategy's in its own file in
// WardenStrategies, the notifier's in WardenNotifier, the dashboard's in WardenDashboard). A process registers the
// sections it reads once at start, as swift-log's LoggingSystem.bootstrap is called once: the loader then reads
// them strictly (unknown keys, types, bounds) and `warden config keys` lists them. WardenKit knows only the
// mechanism and what every process shares (the supervisor's paths and logging, the programs). A role section a
// process did not register is left unchecked there: warden, which registers every section, has already refused a
// file with a mistake in it before any program starts.
import Synchronization
import Yams

/// One registered section: where it sits, its keys, how to read it and how to show it.
public struct SectionRegistration: Sendable {
    public let path: String
    /// Key names relative to `path`, nested sections' included (`channels.<name>.kind`).
    let names: [String]
    let declared: [DeclaredKey]
    let read: @Sendable (StrictReader, ConfigNode) -> (value: any Sendable, rendered: [String])
    let render: @Sendable (any Sendable) -> [(String, String)]

    public static func of<S: ConfigSection & Sendable>(_ type: S.Type) -> SectionRegistration {
        let nested = S.nestedKeys.map { String($0.path.dropFirst(S.configPath.count + 1)) }
        return SectionRegistration(path: S.configPath, names: S.configKeys.map(\.name) + nested,
                                   declared: ConfigLoader.declared(S.self) + S.nestedKeys,
                                   read: { r, node in
                                       var s = S.defaults
                                       S.readDeclared(into: &s, prefix: S.configPath, r)
                                       S.readMore(into: &s, node: node, r.scoped(to: S.configPath))
                                       for p in S.crossCheck(s) { r.fail(S.configPath + "." + p.key, p.reason) }
                                       return (s, RegisteredSections.rendered(s))
                                   },
                                   render: { v in
                                       guard let s = v as? S else { return [] }
                                       return S.configKeys.compactMap { k in k.render(s).map { (S.configPath + "." + k.name, $0) } }
                                           + S.renderMore(s)
                                   })
    }
}

/// The registered sections' values in one configuration.
public struct RegisteredSections: Sendable, Equatable {
    var values: [String: any Sendable] = [:]
    /// Each section's values as text, for equality (a reload compares configurations).
    var rendered: [String: [String]] = [:]

    public init() {}

    /// The section as read, or its defaults when it was not registered in this process.
    public func get<S: ConfigSection>(_ type: S.Type) -> S { values[S.configPath] as? S ?? S.defaults }

    /// Replaces a section's value (programs that build a configuration by hand, tests).
    public mutating func set<S: ConfigSection & Sendable>(_ value: S) {
        values[S.configPath] = value
        rendered[S.configPath] = Self.rendered(value)
    }

    static func rendered<S: ConfigSection>(_ s: S) -> [String] {
        S.configKeys.map { $0.render(s) ?? "" } + S.renderMore(s).map { $0.0 + "=" + $0.1 }
    }

    /// Top-level sections (`engine`, its sub-sections counted with it) whose values differ from `other`'s.
    public func changedSections(from other: RegisteredSections) -> [String] {
        let paths = Set(rendered.keys).union(other.rendered.keys)
        let changed = paths.filter { rendered[$0] != other.rendered[$0] }.map { String($0.split(separator: ".")[0]) }
        return Array(Set(changed)).sorted()
    }

    public static func == (a: Self, b: Self) -> Bool { a.rendered == b.rendered }
}

/// The YAML mapping of one section, for what its declared keys cannot say: the names under a mapping of
/// named items (`fee_rates.<category>`, `channels.<name>`), in file order.
public struct ConfigNode: @unchecked Sendable {
    let node: Node?

    init(_ node: Node?) { self.node = node }

    /// The node at a dotted path below this one.
    public func child(_ path: String) -> ConfigNode {
        var n = node
        for part in path.split(separator: ".") { n = n?.mapping?[String(part)] }
        return ConfigNode(n)
    }

    /// The keys of the mapping at `path`, in file order; nil when the path is absent or not a mapping.
    public func keys(_ path: String) -> [String]? {
        guard let m = child(path).node?.mapping else { return nil }
        return m.keys.compactMap(\.string)
    }

    /// Whether something is written at `path`.
    public func has(_ path: String) -> Bool { child(path).node != nil }

    /// Whether the value at `path` is a scalar (a string, number or boolean as written).
    public func isScalar(_ path: String) -> Bool { child(path).node?.scalar != nil }
}

extension ConfigLoader {
    private static let registry = Mutex<[SectionRegistration]>([])

    /// Top-level sections owned by the roles' modules. A process that did not register one leaves it to warden,
    /// which registers them all; any other unknown top-level key is refused everywhere.
    public static let roleSections = ["engine", "notifier", "dashboard"]

    /// Top-level sections declared outside WardenKit: the roles' and the programs' (the supervisor's module).
    static let sectionsElsewhere = roleSections + ["programs"]

    /// Registers sections declared outside WardenKit; call once at start, before the first load.
    public static func register(_ sections: [SectionRegistration]) {
        registry.withLock { list in
            for s in sections where !list.contains(where: { $0.path == s.path }) { list.append(s) }
        }
    }

    static var registered: [SectionRegistration] { registry.withLock { $0 } }

    /// Registered sections under `parent` (`engine`), as key names relative to it.
    static func registeredNames(under parent: String) -> [String] {
        registered.filter { $0.path.hasPrefix(parent + ".") }.flatMap { reg in
            reg.names.map { String(reg.path.dropFirst(parent.count + 1)) + "." + $0 }
        }
    }

    /// The key tree of a registered top-level section, its registered sub-sections included.
    static func registeredTree(_ top: String) -> KeyTree? {
        guard let reg = registered.first(where: { $0.path == top }) else { return nil }
        return KeyTree(reg.names + registeredNames(under: top))
    }
}
