// JSON whose numbers may be out of range: one such number rejects the item that holds it, not the whole answer.
import Foundation

/// A JSON number that no Double can hold (`1e400`). Number readers (`micros`, `double`) see it as no number,
/// so the item carrying it is rejected with a reason while the rest of the answer is used.
struct OutOfRangeNumber: Sendable, CustomStringConvertible {
    var description: String { "a number out of range" }
}

enum TolerantJSON {
    /// Parses with `JSONSerialization` (fast); when that fails, once more with a decoder that keeps the
    /// document and marks each unrepresentable number as `OutOfRangeNumber`. Throws only for text that is
    /// not JSON at all. Result shapes match `JSONSerialization`'s: `[String: Any]`, `[Any]`, `String`,
    /// `NSNumber`, `NSNull`.
    static func parse(_ data: Data) throws -> Any {
        if let v = try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed]) { return v }
        return try JSONDecoder().decode(Node.self, from: data).foundation
    }

    private enum Node: Decodable {
        case null, bool(Bool), number(Double), badNumber, string(String), array([Node]), object([String: Node])

        init(from decoder: any Decoder) throws {
            if var list = try? decoder.unkeyedContainer() {
                var items: [Node] = []
                while !list.isAtEnd { items.append(try list.decode(Node.self)) }
                self = .array(items)
                return
            }
            if let keyed = try? decoder.container(keyedBy: AnyKey.self) {
                var out: [String: Node] = [:]
                for k in keyed.allKeys { out[k.stringValue] = try keyed.decode(Node.self, forKey: k) }
                self = .object(out)
                return
            }
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .null; return }
            if let b = try? single.decode(Bool.self) { self = .bool(b); return }
            if let s = try? single.decode(String.self) { self = .string(s); return }
            if let d = try? single.decode(Double.self) { self = d.isFinite ? .number(d) : .badNumber; return }
            // What remains is a number the decoder could not hold in a Double.
            self = .badNumber
        }

        var foundation: Any {
            switch self {
            case .null: return NSNull()
            case .bool(let b): return NSNumber(value: b)
            case .number(let d): return NSNumber(value: d)
            case .badNumber: return OutOfRangeNumber()
            case .string(let s): return s
            case .array(let a): return a.map(\.foundation)
            case .object(let o): return o.mapValues(\.foundation)
            }
        }
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { return nil }
    }
}
