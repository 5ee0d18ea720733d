// Sections declared by modules above WardenKit (each strategy's keys live in its own file in WardenStrategies).
// A process that uses them registers them once at start, as swift-log's LoggingSystem.bootstrap is called once:
// the loader then reads them strictly (unknown keys, types, bounds) and `warden config keys` lists them. A process
// that does not register them (the dashboard, the notifier) leaves what lies under their parent unchecked: warden,
// which registers every section, has already refused a file with a mistake there before any program starts.
import Synchronization

/// One registered section: where it sits, its keys, how to read it and how to show it.
public struct SectionRegistration: Sendable {
    public let path: String
    let names: [String]
    let declared: [DeclaredKey]
    let read: @Sendable (StrictReader) -> (value: any Sendable, rendered: [String])
    let render: @Sendable (any Sendable) -> [(String, String)]

    public static func of<S: ConfigSection & Sendable>(_ type: S.Type) -> SectionRegistration {
        SectionRegistration(path: S.configPath, names: S.configKeys.map(\.name), declared: ConfigLoader.declared(S.self),
                            read: { r in
                                var s = S.defaults
                                S.readDeclared(into: &s, prefix: S.configPath, r)
                                for p in S.crossCheck(s) { r.fail(S.configPath + "." + p.key, p.reason) }
                                return (s, S.configKeys.map { $0.render(s) ?? "" })
                            },
                            render: { v in
                                guard let s = v as? S else { return [] }
                                return S.configKeys.compactMap { k in k.render(s).map { (S.configPath + "." + k.name, $0) } }
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

    public static func == (a: Self, b: Self) -> Bool { a.rendered == b.rendered }
}

extension ConfigLoader {
    private static let registry = Mutex<[SectionRegistration]>([])

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
}
