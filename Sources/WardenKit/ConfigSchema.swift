// A configuration key is declared once: its name, type, bounds, default (the section's own default value) and
// comment together. The strict check (unknown keys, wrong types, out-of-range values), `warden config keys`,
// `warden config show` and the test that etc/warden.yaml documents every key all work from these declarations.

/// One key of a section `S`: read strictly into an `S`, described, and shown.
public struct KeyDeclaration<S>: @unchecked Sendable {
    /// Dotted path inside the section (`ws.reconnect.base`); a `<…>` segment stands for any name
    /// (`fee_rates.<category>`, `env.<VAR>`).
    public let name: String
    /// The type and bounds as said to an operator ("duration 10ms…10m", "one of: live, replay").
    public let type: String
    public let doc: String
    /// Reads the key at `path` (the full key path) into the section; problems go to the reader.
    let read: (inout S, StrictReader, String) -> Void
    /// The value in a section as YAML text; nil when unset.
    let render: (S) -> String?

    public init(_ name: String, type: String, doc: String,
                read: @escaping (inout S, StrictReader, String) -> Void, render: @escaping (S) -> String?) {
        self.name = name; self.type = type; self.doc = doc; self.read = read; self.render = render
    }

    /// The value of this key in `section`, as YAML text (nil: unset).
    public func value(in section: S) -> String? { render(section) }
}

/// A section of warden.yaml with its declared keys and its defaults.
public protocol ConfigSection {
    /// Where the section sits: `supervisor`, `programs.<name>`, `notifier.channels.<name>`, …
    static var configPath: String { get }
    static var configKeys: [KeyDeclaration<Self>] { get }
    /// The section as it is when the file says nothing.
    static var defaults: Self { get }
    /// Problems between keys (a low bound above its high one), as (key name, reason); each key alone was read fine.
    static func crossCheck(_ s: Self) -> [(key: String, reason: String)]
    /// Reads what declared keys cannot say (mappings of named items: `fee_rates.<category>`, `channels.<name>`);
    /// `r` is scoped to the section, `node` is the section's YAML mapping.
    static func readMore(into s: inout Self, node: ConfigNode, _ r: StrictReader)
    /// Keys of named sub-sections (`notifier.channels.<name>.kind`), with full paths: checked and listed too.
    static var nestedKeys: [DeclaredKey] { get }
    /// Values `configKeys` do not render (each named item), as (full key path, YAML text).
    static func renderMore(_ s: Self) -> [(String, String)]
}

extension ConfigSection {
    public static func crossCheck(_ s: Self) -> [(key: String, reason: String)] { [] }
    public static func readMore(into s: inout Self, node: ConfigNode, _ r: StrictReader) {}
    public static var nestedKeys: [DeclaredKey] { [] }
    public static func renderMore(_ s: Self) -> [(String, String)] { [] }
}

extension ConfigSection {
    /// Reads every declared key under `prefix` (the section's path with names filled in).
    public static func readDeclared(into s: inout Self, prefix: String, _ r: StrictReader) {
        let section = r.scoped(to: prefix)  // ConfigReader's scoped reader; problems keep their full paths
        for key in configKeys where !key.name.contains("<") { key.read(&s, section, key.name) }
    }
}

// MARK: - Declaring keys

extension KeyDeclaration {
    public static func string(_ name: String, _ path: WritableKeyPath<S, String>, _ doc: String,
                              check: (@Sendable (String) -> String?)? = nil) -> Self {
        Self(name, type: "string", doc: doc, read: { s, r, p in
            guard let v = r.string(p) else { return }
            if let problem = check?(v) { r.fail(p, problem) } else { s[keyPath: path] = v }
        }, render: { quoted($0[keyPath: path]) })
    }

    public static func optionalString(_ name: String, _ path: WritableKeyPath<S, String?>, _ doc: String,
                                      check: (@Sendable (String) -> String?)? = nil) -> Self {
        Self(name, type: "string (unset by default)", doc: doc, read: { s, r, p in
            guard let v = r.string(p) else { return }
            if let problem = check?(v) { r.fail(p, problem) } else { s[keyPath: path] = v }
        }, render: { $0[keyPath: path].map(quoted) })
    }

    public static func bool(_ name: String, _ path: WritableKeyPath<S, Bool>, _ doc: String) -> Self {
        Self(name, type: "true | false", doc: doc, read: { s, r, p in r.bool(p).map { s[keyPath: path] = $0 } },
             render: { String($0[keyPath: path]) })
    }

    public static func int(_ name: String, _ path: WritableKeyPath<S, Int>, in range: ClosedRange<Int>, _ doc: String) -> Self {
        Self(name, type: "integer \(range.lowerBound)…\(range.upperBound)", doc: doc,
             read: { s, r, p in r.int(p, in: range).map { s[keyPath: path] = $0 } }, render: { String($0[keyPath: path]) })
    }

    public static func optionalInt(_ name: String, _ path: WritableKeyPath<S, Int?>, in range: ClosedRange<Int>, _ doc: String) -> Self {
        Self(name, type: "integer \(range.lowerBound)…\(range.upperBound) (unset by default)", doc: doc,
             read: { s, r, p in r.int(p, in: range).map { s[keyPath: path] = $0 } }, render: { $0[keyPath: path].map(String.init) })
    }

    public static func double(_ name: String, _ path: WritableKeyPath<S, Double>, in range: ClosedRange<Double>, _ doc: String) -> Self {
        Self(name, type: "number \(number(range.lowerBound))…\(number(range.upperBound))", doc: doc,
             read: { s, r, p in r.double(p, in: range).map { s[keyPath: path] = $0 } }, render: { number($0[keyPath: path]) })
    }

    public static func optionalDouble(_ name: String, _ path: WritableKeyPath<S, Double?>, in range: ClosedRange<Double>, _ doc: String) -> Self {
        Self(name, type: "number \(number(range.lowerBound))…\(number(range.upperBound)) (unset by default)", doc: doc,
             read: { s, r, p in r.double(p, in: range).map { s[keyPath: path] = $0 } }, render: { $0[keyPath: path].map(number) })
    }

    public static func duration(_ name: String, _ path: WritableKeyPath<S, Duration>, in range: ClosedRange<Duration>, _ doc: String) -> Self {
        Self(name, type: "duration \(range.lowerBound.short)…\(range.upperBound.short)", doc: doc,
             read: { s, r, p in r.duration(p, in: range).map { s[keyPath: path] = $0 } }, render: { $0[keyPath: path].short })
    }

    public static func oneOf<E: RawRepresentable & CaseIterable>(_ name: String, _ path: WritableKeyPath<S, E>, _ doc: String) -> Self
    where E.RawValue == String {
        let allowed = E.allCases.map(\.rawValue)
        return Self(name, type: "one of: " + allowed.joined(separator: ", "), doc: doc, read: { s, r, p in
            r.oneOf(p, allowed).flatMap(E.init(rawValue:)).map { s[keyPath: path] = $0 }
        }, render: { $0[keyPath: path].rawValue })
    }

    public static func strings(_ name: String, _ path: WritableKeyPath<S, [String]>, _ doc: String) -> Self {
        Self(name, type: "list of strings", doc: doc, read: { s, r, p in r.stringArray(p).map { s[keyPath: path] = $0 } },
             render: { "[" + $0[keyPath: path].map(quoted).joined(separator: ", ") + "]" })
    }

    /// A key read by hand (cross-checked values, custom syntax); `render` shows it.
    public static func custom(_ name: String, type: String, _ doc: String, read: @escaping (inout S, StrictReader, String) -> Void,
                              render: @escaping (S) -> String?) -> Self {
        Self(name, type: type, doc: doc, read: read, render: render)
    }
}

/// A YAML scalar for a string: quoted when it needs to be.
func quoted(_ s: String) -> String {
    let plain = !s.isEmpty && s.range(of: "^[A-Za-z0-9_./@+-][A-Za-z0-9_./@+:-]*$", options: .regularExpression) != nil
        && !["true", "false", "null", "yes", "no", "on", "off", "~"].contains(s.lowercased())
    if plain { return s }
    return "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
}

/// A number without a trailing ".0" when it is whole.
func number(_ d: Double) -> String {
    if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return String(d)
}

// MARK: - The key tree (for the unknown-key check)

/// The declared keys of a section as a tree: children by name, `<…>` for any name.
struct KeyTree {
    var children: [String: KeyTree] = [:]
    var isLeaf = false

    init() {}

    init(_ names: [String]) {
        for n in names { insert(n.split(separator: ".").map(String.init)) }
    }

    mutating func insert(_ parts: [String]) {
        guard let first = parts.first else { isLeaf = true; return }
        children[first, default: KeyTree()].insert(Array(parts.dropFirst()))
    }

    /// The child for `key`: by name, else the wildcard.
    func child(_ key: String) -> KeyTree? {
        children[key] ?? children.first { $0.key.hasPrefix("<") }?.value
    }

    var names: [String] { children.keys.filter { !$0.hasPrefix("<") }.sorted() }
}

import Foundation
import Yams

extension ConfigLoader {
    /// Checks a mapping against the declared key tree: unknown keys (with a "did you mean"), and a mapping
    /// where one is needed. Leaves may hold anything their reader accepts (scalars, lists, flow mappings).
    static func check(_ node: Node, against tree: KeyTree, path: String, _ reader: StrictReader) {
        guard let m = node.mapping else {
            reader.fail(path, "must be a mapping")
            return
        }
        for (k, v) in m {
            let key = k.string ?? "?"
            guard let sub = tree.child(key) else {
                reader.fail("\(path).\(key)", "unknown key\(suggestion(key, tree.names))")
                continue
            }
            if !sub.children.isEmpty { check(v, against: sub, path: "\(path).\(key)", reader) }
        }
    }
}
