// application/x-www-form-urlencoded bodies, decoded byte by byte: malformed input is an error naming what is
// wrong, never a trap (Foundation's URLComponents traps on a body like `x"=1`).
import Foundation

public enum FormDecoding {
    public struct Malformed: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// The fields of a form body; a repeated name keeps its last value.
    public static func decode(_ bytes: some Collection<UInt8>) throws(Malformed) -> [String: String] {
        var out: [String: String] = [:]
        var pairIndex = 0
        for pair in bytes.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) {
            pairIndex += 1
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            let name = try unescape(parts[0], field: pairIndex)
            let value = parts.count > 1 ? try unescape(parts[1], field: pairIndex) : ""
            out[name] = value
        }
        return out
    }

    /// `+` is a space, `%XX` a byte; the bytes must be UTF-8.
    static func unescape(_ raw: some Collection<UInt8>, field: Int) throws(Malformed) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i != raw.endIndex {
            let b = raw[i]
            if b == UInt8(ascii: "+") {
                bytes.append(0x20)
            } else if b == UInt8(ascii: "%") {
                let h = raw.index(after: i)
                guard h != raw.endIndex, let hi = hex(raw[h]) else {
                    throw Malformed(description: "field \(field): `%` is not followed by two hex digits")
                }
                let l = raw.index(after: h)
                guard l != raw.endIndex, let lo = hex(raw[l]) else {
                    throw Malformed(description: "field \(field): `%` is not followed by two hex digits")
                }
                bytes.append(hi << 4 | lo)
                i = l
            } else {
                bytes.append(b)
            }
            i = raw.index(after: i)
        }
        guard let s = String(validating: bytes, as: UTF8.self) else {
            throw Malformed(description: "field \(field) is not UTF-8 text")
        }
        return s
    }

    static func hex(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return b - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Which `Host` headers the dashboard answers (DNS rebinding: a page on evil.example whose name resolves to
/// 127.0.0.1 sends `Host: evil.example`; such a request is refused before any route runs).
public struct HostPolicy: Sendable {
    let names: Set<String>

    /// `configured`: the dashboard's `host` setting.
    public init(configured: String) {
        names = Set(["localhost", configured.lowercased()])
    }

    /// True for an IP literal (any address: an attacker's page cannot make a browser send one that is not the
    /// address it connected to) or one of the allowed names, with or without a port.
    public func allows(_ authority: String?) -> Bool {
        guard let authority, !authority.isEmpty, authority.utf8.count <= 300 else { return false }
        var host = Substring(authority.lowercased())
        if host.hasPrefix("[") {  // an IPv6 literal, with or without a port
            guard let end = host.firstIndex(of: "]") else { return false }
            let inner = host[host.index(after: host.startIndex)..<end]
            let rest = host[host.index(after: end)...]
            let portOK = rest.isEmpty || (rest.first == ":" && rest.count > 1 && rest.dropFirst().allSatisfy { $0.isASCII && $0.isNumber })
            return portOK && inner.contains(":") && inner.allSatisfy { ($0.isASCII && $0.isHexDigit) || $0 == ":" || $0 == "." }
        }
        if let colon = host.lastIndex(of: ":") {
            guard host[host.index(after: colon)...].allSatisfy(\.isNumber) else { return false }
            host = host[..<colon]
        }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        if octets.count == 4, octets.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } && (Int($0) ?? 256) <= 255 }) {
            return true
        }
        return names.contains(String(host))
    }
}
