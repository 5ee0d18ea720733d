// The Ethereum values an order is made of: 20-byte addresses (written with the EIP-55 checksum, as the official
// clients write them), 32-byte ABI words (uint256 from decimal text, address, bytes32) and hex.
import Foundation

public struct SigningError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum Hex {
    /// Lowercase hex without a prefix.
    public static func string(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// Bytes of hex text (an optional 0x prefix); nil for an odd length or a character that is not hex.
    public static func bytes(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        if s.hasPrefix("0x") || s.hasPrefix("0X") { s = s.dropFirst(2) }
        let chars = Array(s.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(chars.count / 2)
        var i = 0
        while i < chars.count {
            guard let hi = nibble(chars[i]), let lo = nibble(chars[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// A 20-byte account or contract address.
public struct EthAddress: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    /// EIP-55: a hex letter is upper case where the Keccak-256 of the lowercase hex has a nibble of 8 or more
    /// (worked out once: every order body writes its addresses).
    public let checksummed: String

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 20 else { throw SigningError("an address has 20 bytes, not \(bytes.count)") }
        self.bytes = bytes
        let lower = Hex.string(bytes)
        let hash = Keccak256.hash(lower)
        var out = "0x"
        for (i, ch) in lower.enumerated() {
            let nibble = (hash[i / 2] >> (i % 2 == 0 ? 4 : 0)) & 15
            out.append(ch.isLetter && nibble >= 8 ? Character(ch.uppercased()) : ch)
        }
        checksummed = out
    }

    public static func == (a: EthAddress, b: EthAddress) -> Bool { a.bytes == b.bytes }
    public func hash(into h: inout Hasher) { h.combine(bytes) }

    /// From `0x` and 40 hex digits; a mixed-case address must carry a correct EIP-55 checksum (a typo is refused).
    public init(_ text: String) throws {
        guard text.hasPrefix("0x"), text.utf8.count == 42, let b = Hex.bytes(text) else {
            throw SigningError("address \(text.debugDescription) is not 0x and 40 hex digits")
        }
        try self.init(bytes: b)
        let digits = text.dropFirst(2)
        let mixed = digits.contains { $0.isUppercase } && digits.contains { $0.isLowercase }
        if mixed && checksummed != text {
            throw SigningError("address \(text) has a wrong EIP-55 checksum (expected \(checksummed))")
        }
    }

    /// An address written in this source (a contract's): a typo in it is a programming error.
    init(constant text: String) {
        do { try self.init(text) } catch { preconditionFailure("\(error)") }
    }

    public var description: String { checksummed }
}

/// 32-byte words of the ABI encoding (EIP-712 encodes every member of a struct as one).
public enum ABIWord {
    public static func uint(_ v: UInt64) -> [UInt8] {
        var w = [UInt8](repeating: 0, count: 32)
        for k in 0..<8 { w[31 - k] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(k))) }
        return w
    }

    /// A uint256 from decimal digits (token ids are 77 digits long); refused past 2^256 − 1 or with anything but digits.
    public static func uint(decimal text: String) throws -> [UInt8] {
        guard !text.isEmpty, text.utf8.count <= 78, text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
            throw SigningError("\(text.debugDescription) is not a decimal integer of at most 78 digits")
        }
        var w = [UInt8](repeating: 0, count: 32)
        for d in text.utf8 {
            // w = w × 10 + d, in base 256 from the low end.
            var carry = UInt(d - 48)
            for i in stride(from: 31, through: 0, by: -1) {
                let v = UInt(w[i]) * 10 + carry
                w[i] = UInt8(v & 0xff)
                carry = v >> 8
            }
            guard carry == 0 else { throw SigningError("\(text) is larger than a uint256") }
        }
        return w
    }

    public static func address(_ a: EthAddress) -> [UInt8] { [UInt8](repeating: 0, count: 12) + a.bytes }

    /// bytes32 from hex (0x and up to 64 digits, padded on the left as the official clients do).
    public static func bytes32(hex text: String) throws -> [UInt8] {
        var s = Substring(text)
        if s.hasPrefix("0x") { s = s.dropFirst(2) }
        guard s.utf8.count <= 64, let b = Hex.bytes(String(repeating: "0", count: 64 - s.utf8.count) + s) else {
            throw SigningError("\(text.debugDescription) is not a bytes32 (0x and at most 64 hex digits)")
        }
        return b
    }
}
