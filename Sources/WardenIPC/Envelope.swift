// The wire envelope of every frame on Warden's Unix sockets (DESIGN.md §3).
public import Foundation

/// Protocol version spoken on every socket.
public let wardenProtocolVersion = 1
/// Largest frame payload accepted or sent (1 MiB).
public let maxFrameBytes = 1 << 20

public enum FrameKind: String, Codable, Sendable {
    case request, response, event, error
}

/// The envelope without its body: enough to route a frame.
public struct EnvelopeHead: Decodable, Sendable {
    public var v: Int
    public var id: Int?
    public var kind: FrameKind
    public var type: String
    /// Relative deadline of a request, in milliseconds.
    public var deadline_ms: Int?

    public init(v: Int, id: Int?, kind: FrameKind, type: String, deadline_ms: Int? = nil) {
        self.v = v
        self.id = id
        self.kind = kind
        self.type = type
        self.deadline_ms = deadline_ms
    }
}

private struct EnvelopeOut<Body: Encodable>: Encodable {
    var v = wardenProtocolVersion
    var id: Int?
    var kind: FrameKind
    var type: String
    var deadline_ms: Int?
    var body: Body
}

private struct BodyOnly<Body: Decodable>: Decodable { var body: Body }

/// How `EventPublisher` lays out an event frame; `Frame.publisherEvent` reads the same layout back.
enum EventFrameLayout {
    static let prefix = Array("{\"v\":1,\"id\":null,\"kind\":\"event\",\"type\":".utf8)
    static let bodyTopic = Array(",\"body\":{\"topic\":".utf8)
    static let seqKey = Array(",\"seq\":".utf8)
    static let atKey = Array(",\"at\":".utf8)
    static let dataKey = Array(",\"data\":".utf8)
}

/// A received frame: its routing head and the raw JSON, decoded further on demand.
public struct Frame: Sendable {
    public let head: EnvelopeHead
    public let raw: Data
    /// Topic and seq of an event frame in the publisher's own layout, read without a JSON decoder.
    public let eventTopicSeq: (topic: String, seq: UInt64)?

    /// Parses one frame payload; throws `IPCError` naming what is wrong.
    public init(payload: Data) throws {
        guard payload.count <= maxFrameBytes else {
            throw IPCError(.oversize, "frame of \(payload.count) bytes exceeds \(maxFrameBytes)")
        }
        if let fast = Self.publisherEvent(payload) {
            head = EnvelopeHead(v: wardenProtocolVersion, id: nil, kind: .event, type: fast.type)
            raw = payload
            eventTopicSeq = (fast.topic, fast.seq)
            return
        }
        eventTopicSeq = nil
        let head: EnvelopeHead
        do {
            head = try JSONDecoder().decode(EnvelopeHead.self, from: payload)
        } catch {
            throw IPCError(.badFrame, "not a valid envelope: \(Self.describe(error))")
        }
        guard head.v == wardenProtocolVersion else {
            throw IPCError(.badVersion, "protocol version \(head.v) not supported (this side speaks \(wardenProtocolVersion))")
        }
        self.head = head
        self.raw = payload
    }

    /// Reads type, topic and seq of an event frame laid out exactly as `EventPublisher` writes it
    /// (`{"v":1,"id":null,"kind":"event","type":"…","body":{"topic":"…","seq":N,…`); nil for anything else
    /// (escaped strings included), which then takes the JSON decoder's path. The body is still decoded,
    /// and validated, by whoever reads it.
    static func publisherEvent(_ payload: Data) -> (type: String, topic: String, seq: UInt64)? {
        payload.withUnsafeBytes { (b: UnsafeRawBufferPointer) -> (type: String, topic: String, seq: UInt64)? in
            var i = 0
            func expect(_ bytes: [UInt8]) -> Bool {
                guard b.count - i >= bytes.count else { return false }
                for (k, c) in bytes.enumerated() where b[i + k] != c { return false }
                i += bytes.count
                return true
            }
            func plainString() -> String? {  // up to the closing quote; no escapes, no control bytes
                let start = i
                while i < b.count, b[i] != UInt8(ascii: "\"") {
                    if b[i] == UInt8(ascii: "\\") || b[i] < 0x20 { return nil }
                    i += 1
                }
                guard i < b.count, i > start else { return nil }
                defer { i += 1 }
                return String(decoding: UnsafeRawBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
            }
            let quote = [UInt8(ascii: "\"")]
            guard expect(EventFrameLayout.prefix), expect(quote), let type = plainString(),
                  expect(EventFrameLayout.bodyTopic), expect(quote), let topic = plainString(),
                  expect(EventFrameLayout.seqKey) else { return nil }
            var seq: UInt64 = 0, digits = 0
            while i < b.count, b[i] >= UInt8(ascii: "0"), b[i] <= UInt8(ascii: "9"), digits < 19 {
                seq = seq * 10 + UInt64(b[i] - UInt8(ascii: "0"))
                i += 1
                digits += 1
            }
            guard digits > 0, i < b.count, b[i] == UInt8(ascii: ","), b.last == UInt8(ascii: "}") else { return nil }
            return (type, topic, seq)
        }
    }

    /// Decodes the body as `T`; throws `IPCError(.badFrame)` naming the field at fault.
    public func body<T: Decodable>(as: T.Type) throws -> T {
        do {
            return try JSONDecoder().decode(BodyOnly<T>.self, from: raw).body
        } catch {
            throw IPCError(.badFrame, "bad body for \(head.type): \(Self.describe(error))")
        }
    }

    /// Encodes an envelope with `body` to frame payload bytes.
    public static func encode<B: Encodable>(kind: FrameKind, type: String, id: Int?, deadlineMS: Int? = nil, body: B) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(EnvelopeOut(id: id, kind: kind, type: type, deadline_ms: deadlineMS, body: body))
        guard data.count <= maxFrameBytes else {
            throw IPCError(.oversize, "outgoing \(type) of \(data.count) bytes exceeds \(maxFrameBytes)")
        }
        return data
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let ctx):
            return "missing field `\((ctx.codingPath + [key]).map(\.stringValue).joined(separator: "."))`"
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at `\(ctx.codingPath.map(\.stringValue).joined(separator: "."))`: \(ctx.debugDescription)"
        case DecodingError.dataCorrupted(let ctx):
            return ctx.codingPath.isEmpty ? "malformed JSON" : "bad value at `\(ctx.codingPath.map(\.stringValue).joined(separator: "."))`"
        default:
            return "\(error)"
        }
    }
}

/// Errors of the IPC layer, with a stable code carried in error frames.
public struct IPCError: Error, Sendable, CustomStringConvertible, Codable {
    public struct Code: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public init(_ s: String) { rawValue = s }
        public var description: String { rawValue }
        public static let badFrame = Code("bad_frame")
        public static let oversize = Code("oversize")
        public static let badVersion = Code("bad_version")
        public static let notHello = Code("hello_required")
        public static let forbidden = Code("forbidden")
        public static let unknownType = Code("unknown_type")
        public static let deadline = Code("deadline_exceeded")
        public static let timeout = Code("timeout")
        public static let disconnected = Code("disconnected")
        public static let unreachable = Code("unreachable")
        public static let failed = Code("failed")
        public static let notFound = Code("not_found")
        public static let invalid = Code("invalid_argument")
    }
    public var code: Code
    public var message: String
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
    public var description: String { "\(code): \(message)" }
}
