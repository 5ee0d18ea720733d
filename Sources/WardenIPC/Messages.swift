// The message catalogue shared by every socket: handshake, streams and errors.
import Foundation

/// First frame both ways on every connection.
public struct Hello: Codable, Sendable, Equatable {
    public var `protocol`: Int
    public var role: String
    public var pid: Int32
    public var version: String
    /// Random per process start: a changed boot id means the peer restarted.
    public var boot_id: String
    public init(role: String, pid: Int32, version: String, bootID: String) {
        self.protocol = wardenProtocolVersion
        self.role = role
        self.pid = pid
        self.version = version
        self.boot_id = bootID
    }
}

/// `subscribe` request: topics and, per topic, the first seq wanted (absent: only new events).
public struct SubscribeRequest: Codable, Sendable {
    public var topics: [String]
    public var from_seq: [String: UInt64]?
    public init(topics: [String], fromSeq: [String: UInt64]? = nil) {
        self.topics = topics
        self.from_seq = fromSeq
    }
}

public struct SubscribeResponse: Codable, Sendable {
    /// Per topic, the seq the next live event will carry.
    public var next_seq: [String: UInt64]
}

/// Body of an event frame: `type` is the topic.
public struct EventBody<Data: Decodable & Sendable>: Decodable, Sendable {
    public var topic: String
    public var seq: UInt64
    /// Unix time in seconds when the event was published.
    public var at: Double
    public var data: Data
}

/// Body of a `gap` event: events `from_seq…to_seq` of `topic` will never be delivered.
public struct GapBody: Codable, Sendable, Equatable {
    public var topic: String
    public var from_seq: UInt64
    public var to_seq: UInt64
    public var reason: String
}

/// An empty request or response body.
public struct Empty: Codable, Sendable { public init() {} }

/// Version of this build, reported in `hello` and `wardenctl version`.
public let wardenVersion = "0.1.0"

/// A random boot id for this process.
public let processBootID: String = UUID().uuidString.lowercased()
