// Topic streams with per-topic seq, a replay ring, and bounded per-subscriber queues that never block.
import Foundation
import Synchronization

/// One item on a subscriber's queue: an event frame, or a gap that the subscriber must be told about.
public enum StreamItem: Sendable {
    case event(topic: String, seq: UInt64, payload: Data)
    case gap(GapBody)
}

/// Publishes events to topics. `publish` never waits for a subscriber: each subscriber has a bounded
/// queue, and what does not fit is dropped and reported to that subscriber as an explicit `gap`.
public final class EventPublisher: Sendable {
    private struct Ring {
        var nextSeq: UInt64 = 1
        var items: [(seq: UInt64, payload: Data)] = []
        var head = 0  // index of the oldest item once the ring is full
    }
    private struct Subscriber {
        var topics: Set<String>
        var continuation: AsyncStream<StreamItem>.Continuation
    }
    private struct State {
        var rings: [String: Ring] = [:]
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriberID = 0
        var dropped: UInt64 = 0
    }
    private let state = Mutex(State())
    /// Events kept per topic for replay to late or reconnecting subscribers.
    public let retainPerTopic: Int

    public init(retainPerTopic: Int = 2000) { self.retainPerTopic = max(1, retainPerTopic) }

    /// Publishes `data` on `topic`; returns its seq.
    @discardableResult
    public func publish<T: Encodable>(_ topic: String, _ data: T) -> UInt64 {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let json = (try? encoder.encode(data)) ?? Data("{\"encoding_error\":true}".utf8)
        return publishRaw(topic, json: json)
    }

    /// Publishes already-encoded JSON `data` on `topic`.
    @discardableResult
    public func publishRaw(_ topic: String, json: Data) -> UInt64 {
        state.withLock { s in
            var ring = s.rings[topic] ?? Ring()
            let seq = ring.nextSeq
            ring.nextSeq += 1
            let payload = Self.eventFrame(topic: topic, seq: seq, json: json)
            if ring.items.count < retainPerTopic {
                ring.items.append((seq, payload))
            } else {
                ring.items[ring.head] = (seq, payload)
                ring.head = (ring.head + 1) % retainPerTopic
            }
            s.rings[topic] = ring
            for (_, sub) in s.subscribers where sub.topics.contains(topic) {
                if case .dropped = sub.continuation.yield(.event(topic: topic, seq: seq, payload: payload)) {
                    s.dropped += 1
                }
            }
            return seq
        }
    }

    /// Sets where a topic's seq continues (a publisher that persists its seq across restarts).
    public func setNextSeq(_ topic: String, _ seq: UInt64) {
        state.withLock { s in
            var ring = s.rings[topic] ?? Ring()
            ring.nextSeq = max(seq, 1)
            ring.items = []
            ring.head = 0
            s.rings[topic] = ring
        }
    }

    public func nextSeq(_ topic: String) -> UInt64 { state.withLock { $0.rings[topic]?.nextSeq ?? 1 } }
    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }
    /// Events dropped from slow subscribers' queues since start.
    public var droppedTotal: UInt64 { state.withLock { $0.dropped } }

    /// Events of `topic` still held, oldest first.
    public func retained(_ topic: String) -> [(seq: UInt64, payload: Data)] {
        state.withLock { s in
            guard let r = s.rings[topic] else { return [] }
            return Array(r.items[r.head...] + r.items[..<r.head])
        }
    }

    /// Registers a subscriber. Replays held events from `fromSeq` (a gap first when some are gone),
    /// then live ones, through a queue of `queueLimit` items.
    public func subscribe(topics: [String], fromSeq: [String: UInt64]?, queueLimit: Int)
        -> (stream: AsyncStream<StreamItem>, nextSeq: [String: UInt64])
    {
        let (stream, continuation) = AsyncStream<StreamItem>.makeStream(bufferingPolicy: .bufferingOldest(max(1, queueLimit)))
        let next: [String: UInt64] = state.withLock { s in
            var next: [String: UInt64] = [:]
            for topic in topics {
                let ring = s.rings[topic] ?? Ring()
                next[topic] = ring.nextSeq
                guard let from = fromSeq?[topic], from < ring.nextSeq else { continue }
                let held = ring.items.count < retainPerTopic ? ring.items : Array(ring.items[ring.head...] + ring.items[..<ring.head])
                let oldest = held.first?.seq ?? ring.nextSeq
                if from < oldest {
                    continuation.yield(.gap(GapBody(topic: topic, from_seq: from, to_seq: oldest - 1,
                                                    reason: "no longer held by the publisher")))
                }
                for item in held where item.seq >= from {
                    continuation.yield(.event(topic: topic, seq: item.seq, payload: item.payload))
                }
            }
            let id = s.nextSubscriberID
            s.nextSubscriberID += 1
            s.subscribers[id] = Subscriber(topics: Set(topics), continuation: continuation)
            continuation.onTermination = { [weak self] _ in
                self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
            }
            return next
        }
        return (stream, next)
    }

    /// Ends every subscription (shutdown).
    public func finishAll() {
        let subs = state.withLock { s in
            let all = Array(s.subscribers.values)
            s.subscribers = [:]
            return all
        }
        for sub in subs { sub.continuation.finish() }
    }

    static func eventFrame(topic: String, seq: UInt64, json: Data) -> Data {
        let t = jsonString(topic)
        var d = Data("{\"v\":1,\"id\":null,\"kind\":\"event\",\"type\":\(t),\"body\":{\"topic\":\(t),\"seq\":\(seq),\"at\":\(Date().timeIntervalSince1970),\"data\":".utf8)
        d.append(json)
        d.append(contentsOf: Array("}}".utf8))
        return d
    }

    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}
