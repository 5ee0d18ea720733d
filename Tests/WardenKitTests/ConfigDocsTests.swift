// The shipped etc/warden.yaml documents every declared key, and no key that does not exist; `warden config keys`
// and the strict check come from the same declarations.
import Foundation
import Testing
@testable import WardenKit
import WardenSupervisor
import WardenEngine
import WardenNotifier
import WardenDashboard
import WardenStrategies

/// The key paths a YAML file documents: its keys, and its commented keys read as if the `# ` were not there
/// (`  # replay_file: x` documents `replay_file` where `  replay_file: x` would stand); flow mappings
/// (`limits: {rss_mb: 512}`) give their keys too.
func documentedPaths(_ text: String) -> [(path: [String], line: Int)] {
    var stack: [(indent: Int, name: String)] = []
    var out: [(path: [String], line: Int)] = []
    let key = try! NSRegularExpression(pattern: "^( *)(# +)?([a-z_][a-z0-9_-]*):( |$)")
    let flowKey = try! NSRegularExpression(pattern: "([a-z_][a-z0-9_]*):")
    for (n, raw) in text.components(separatedBy: "\n").enumerated() {
        let ns = raw as NSString
        guard let m = key.firstMatch(in: raw, range: NSRange(location: 0, length: ns.length)) else { continue }
        let lead = m.range(at: 1).length
        let commented = m.range(at: 2).location != NSNotFound
        // A commented key sits where it would without "# ".
        let indent = commented ? lead + m.range(at: 2).length - 2 : lead
        let name = ns.substring(with: m.range(at: 3))
        while let top = stack.last, top.indent >= indent { stack.removeLast() }
        let path = stack.map(\.name) + [name]
        out.append((path, n + 1))
        stack.append((indent, name))
        let rest = ns.substring(from: m.range.location + m.range.length).trimmingCharacters(in: .whitespaces)
        if rest.hasPrefix("{") {
            let inner = String(rest.dropFirst().prefix { $0 != "}" })
            for f in flowKey.matches(in: inner, range: NSRange(location: 0, length: (inner as NSString).length)) {
                out.append((path + [(inner as NSString).substring(with: f.range(at: 1))], n + 1))
            }
        }
    }
    return out
}

@Suite("Configuration keys, declared once")
struct ConfigDocsTests {
    static let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("etc/warden.yaml").path

    /// Does a documented path (names filled in) fit a declared pattern (with `<…>` segments)?
    static func fits(_ path: [String], _ pattern: [String], prefixOnly: Bool) -> Bool {
        if prefixOnly ? path.count > pattern.count : path.count != pattern.count { return false }
        return zip(path, pattern).allSatisfy { $1.hasPrefix("<") || $0 == $1 }
    }

    @Test("etc/warden.yaml documents every declared key (a `<name>` segment by at least one example) and no key that does not exist")
    func shippedFileMatchesDeclarations() throws {
        let text = try String(contentsOfFile: Self.shipped, encoding: .utf8)
        let found = documentedPaths(text)
        let declared = registeredKeys().map { $0.path.split(separator: ".").map(String.init) }
        let unknown = found.filter { f in !declared.contains { Self.fits(f.path, $0, prefixOnly: true) } }
        #expect(unknown.isEmpty, "documented in etc/warden.yaml but not declared: \(unknown.map { "line \($0.line): \($0.path.joined(separator: "."))" })")
        let undocumented = declared.filter { d in
            // A free-form map (`env.<VAR>`, `fee_rates.<category>`) is documented by its own key.
            let need = d.last?.hasPrefix("<") == true ? Array(d.dropLast()) : d
            return !found.contains { Self.fits($0.path, need, prefixOnly: false) }
        }
        #expect(undocumented.isEmpty, "declared but not documented in etc/warden.yaml: \(undocumented.map { $0.joined(separator: ".") })")
    }

    @Test("every declared key has a type and a comment; names are unique per section; defaults render")
    func declarationsComplete() {
        let keys = registeredKeys()
        #expect(keys.count > 140)
        #expect(Set(keys.map(\.path)).count == keys.count, "duplicate key paths")
        for k in keys {
            #expect(!k.type.isEmpty && k.doc.count >= 10, "\(k.path) lacks a type or a comment")
        }
        #expect(keys.first { $0.path == "supervisor.tick" }?.defaultValue == "20ms")
        #expect(keys.first { $0.path == "programs.<name>.stop_signal" }?.defaultValue == "TERM")
        #expect(keys.first { $0.path == "engine.ws.reconnect.base" }?.type == "duration 10ms…10m")
    }

    @Test("a declared key is what the strict check accepts: an undeclared one is named with a did-you-mean")
    func strictFromDeclarations() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/w.yaml"
        try """
        engine:
          ws:
            reconnect: {bas: 1s}
        programs:
          a:
            command: [/bin/true]
            limits: {pid: 5}
            listen: ["127.0.0.1:9"]
        """.write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try await ConfigLoader.loadAll(path: file, environment: [:])
            Issue.record("accepted")
        } catch let e as ConfigurationError {
            let text = "\(e)"
            #expect(text.contains("engine.ws.reconnect.bas: unknown key (did you mean `base`?)"), "\(text)")
            #expect(text.contains("programs.a.limits.pid: unknown key (did you mean `pids`?)"), "\(text)")
            #expect(!text.contains("listen"), "\(text)")
        }
    }

    @Test("config show: the effective value of every key with the file and the environment merged; env values that may hold a secret are masked")
    func effective() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cfg-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let file = dir + "/w.yaml"
        try """
        supervisor:
          tick: 15ms
        programs:
          a:
            command: [/bin/true]
            env: {HOOK_URL: "https://hooks.example/secret-path", MODE: fast}
        """.write(toFile: file, atomically: true, encoding: .utf8)
        let c = try await ConfigLoader.loadAll(path: file, environment: ["WARDEN_SUPERVISOR_LOG_LEVEL": "debug"])
        let shown = Dictionary(ConfigLoader.effective(c).map { ($0.path, $0.value) }, uniquingKeysWith: { a, _ in a })
        #expect(shown["supervisor.tick"] == "15ms")
        #expect(shown["supervisor.log_level"] == "debug", "the environment wins over the file and the default")
        #expect(shown["supervisor.event_buffer"] == "2000", "a default")
        #expect(shown["programs.a.env.MODE"] == "fast")
        #expect(shown["programs.a.env.HOOK_URL"]?.contains("secret-path") == false)
        #expect(shown["engine.ws.reconnect.cap"] == "1m")
    }
}

@Suite("Every declared bound is enforced")
struct DeclaredBoundsTests {
    /// A value just past a key's declared bounds (or of the wrong kind), from its declared type; nil when the
    /// type has no bound to cross.
    static func badValue(_ type: String) -> String? {
        let nums = type.components(separatedBy: CharacterSet(charactersIn: " …")).compactMap { Double($0.replacingOccurrences(of: "_", with: "")) }
        if type.hasPrefix("integer "), nums.count >= 2 { return String(Int(nums[1]) + 1) }
        if type.hasPrefix("number "), nums.count >= 2 { return String(nums[1] * 2 + 1) }
        if type.hasPrefix("duration ") { return "999999999s" }
        if type.hasPrefix("one of:") { return "no-such-choice" }
        if type == "true | false" { return "maybe" }
        return nil
    }

    /// YAML for one dotted path set to `value`, inside a file with one program `t` and one channel `c`.
    static func yaml(_ path: [String], _ value: String) -> String {
        var tree: [String: Any] = ["programs": ["t": ["command": "[/bin/true]"]]]
        func set(_ node: inout [String: Any], _ parts: ArraySlice<String>) {
            let k = parts.first!
            if parts.count == 1 { node[k] = value; return }
            var child = node[k] as? [String: Any] ?? [:]
            set(&child, parts.dropFirst())
            node[k] = child
        }
        set(&tree, path[...])
        if path.starts(with: ["notifier", "channels"]) {
            var n = tree["notifier"] as! [String: Any], ch = n["channels"] as! [String: Any], c = ch["c"] as! [String: Any]
            if c["kind"] == nil { c["kind"] = "log" }
            ch["c"] = c; n["channels"] = ch; tree["notifier"] = n
        }
        func emit(_ node: [String: Any], _ indent: String) -> String {
            node.keys.sorted().map { k in
                if let sub = node[k] as? [String: Any] { return "\(indent)\(k):\n" + emit(sub, indent + "  ") }
                return "\(indent)\(k): \(node[k]!)\n"
            }.joined()
        }
        return emit(tree, "")
    }

    @Test("for every key with a bound or a choice, a value past it stops the load with that key's path")
    func everyBound() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("bounds-\(UUID().uuidString.prefix(6))").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var checked = 0
        for key in registeredKeys() {
            guard let bad = Self.badValue(key.type) else { continue }
            let path = key.path.replacingOccurrences(of: "programs.<name>", with: "programs.t")
                .replacingOccurrences(of: "notifier.channels.<name>", with: "notifier.channels.c")
            guard !path.contains("<") else { continue }
            let file = dir + "/\(checked).yaml"
            try Self.yaml(path.split(separator: ".").map(String.init), bad).write(toFile: file, atomically: true, encoding: .utf8)
            do {
                _ = try await ConfigLoader.loadAll(path: file, environment: [:])
                Issue.record("\(path): \(bad) was accepted (declared \(key.type))")
            } catch let e as ConfigurationError {
                #expect("\(e)".contains(path), "\(path) = \(bad): \(e)")
            }
            checked += 1
        }
        #expect(checked > 100, "\(checked) keys checked")
    }
}

/// Every key, with every program's sections registered as warden registers them at start.
func registeredKeys() -> [DeclaredKey] {
    ConfigLoader.register(everySection)
    return ConfigLoader.allKeys
}
