// Topic streams with per-topic seq, a replay ring, and bounded per-subscriber queues that never block.
public import Foundation
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
        /// The topic as a JSON string, encoded once.
        var topicJSON: [UInt8] = []
        var nextSeq: UInt64 = 1
        var items: [(seq: UInt64, payload: Data)] = []
        var head = 0  // index of the oldest item once the ring is full
    }
    private struct Subscriber {
        var topics: Set<String>
        var queue: SubscriberQueue
    }
    private struct State {
        var rings: [String: Ring] = [:]
        var subscribers: [Int: Subscriber] = [:]
        var nextSubscriberID = 0
        var dropped: UInt64 = 0
        var oversize: UInt64 = 0
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

    /// Publishes already-encoded JSON `data` on `topic`; `seq` pins the number (a journal's own sequence),
    /// which must not go backwards.
    @discardableResult
    public func publishRaw(_ topic: String, json: Data, seq pinned: UInt64? = nil) -> UInt64 {
        state.withLock { s in
            var ring = s.rings.removeValue(forKey: topic) ?? Ring()
            if ring.topicJSON.isEmpty { ring.topicJSON = Array(Self.jsonString(topic).utf8) }
            if let pinned { ring.nextSeq = max(ring.nextSeq, pinned) }
            let seq = ring.nextSeq
            ring.nextSeq += 1
            var payload = Self.eventFrame(topicJSON: ring.topicJSON, seq: seq, json: json)
            if payload.count > maxFrameBytes {
                // No peer could take it (each drops a connection on an oversize frame, then asks for it again
                // forever): in its place every subscriber gets an explicit gap naming why.
                s.oversize += 1
                let gap = GapBody(topic: topic, from_seq: seq, to_seq: seq,
                                  reason: "event of \(payload.count) bytes exceeds the \(maxFrameBytes)-byte frame limit; not sent")
                payload = (try? Frame.encode(kind: .event, type: "gap", id: nil, body: gap)) ?? Data()
            }
            if ring.items.count < retainPerTopic {
                ring.items.append((seq, payload))
            } else {
                ring.items[ring.head] = (seq, payload)
                ring.head = (ring.head + 1) % retainPerTopic
            }
            s.rings[topic] = ring
            for (_, sub) in s.subscribers where sub.topics.contains(topic) {
                if !sub.queue.offer(topic: topic, seq: seq, payload: payload) { s.dropped += 1 }
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
    /// Events replaced by a gap because they were larger than a frame may be.
    public var oversizeTotal: UInt64 { state.withLock { $0.oversize } }

    /// Events of `topic` still held, oldest first.
    public func retained(_ topic: String) -> [(seq: UInt64, payload: Data)] {
        state.withLock { s in
            guard let r = s.rings[topic] else { return [] }
            return Array(r.items[r.head...] + r.items[..<r.head])
        }
    }

    /// Registers a subscriber. Replays held events from `fromSeq` (a gap first when some are gone),
    /// then live ones, through a queue of `queueLimit` items; what overflows becomes a gap.
    public func subscribe(topics: [String], fromSeq: [String: UInt64]?, queueLimit: Int)
        -> (queue: SubscriberQueue, nextSeq: [String: UInt64])
    {
        let queue = SubscriberQueue(limit: queueLimit)
        let next: [String: UInt64] = state.withLock { s in
            var next: [String: UInt64] = [:]
            for topic in topics {
                let ring = s.rings[topic] ?? Ring()
                next[topic] = ring.nextSeq
                guard let from = fromSeq?[topic], from < ring.nextSeq else { continue }
                let held = Array(ring.items[ring.head...] + ring.items[..<ring.head])
                let oldest = held.first?.seq ?? ring.nextSeq
                if from < oldest {
                    queue.announceGap(GapBody(topic: topic, from_seq: from, to_seq: oldest - 1,
                                              reason: "no longer held by the publisher"))
                }
                for item in held where item.seq >= from {
                    _ = queue.offer(topic: topic, seq: item.seq, payload: item.payload)
                }
            }
            let id = s.nextSubscriberID
            s.nextSubscriberID += 1
            s.subscribers[id] = Subscriber(topics: Set(topics), queue: queue)
            queue.onClose = { [weak self] in
                self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
            }
            return next
        }
        return (queue, next)
    }

    /// Ends every subscription (shutdown).
    public func finishAll() {
        let subs = state.withLock { s in
            let all = Array(s.subscribers.values)
            s.subscribers = [:]
            return all
        }
        for sub in subs { sub.queue.close() }
    }

    static func eventFrame(topic: String, seq: UInt64, json: Data) -> Data {
        eventFrame(topicJSON: Array(jsonString(topic).utf8), seq: seq, json: json)
    }

    /// The event frame, assembled from bytes (this runs once per event, so no formatter or encoder here).
    static func eventFrame(topicJSON t: [UInt8], seq: UInt64, json: Data) -> Data {
        var d = Data(capacity: 96 + 2 * t.count + json.count)
        d.append(contentsOf: EventFrameLayout.prefix)
        d.append(contentsOf: t)
        d.append(contentsOf: EventFrameLayout.bodyTopic)
        d.append(contentsOf: t)
        d.append(contentsOf: EventFrameLayout.seqKey)
        d.append(contentsOf: String(seq).utf8)
        d.append(contentsOf: EventFrameLayout.atKey)
        // Seconds since 1970 to the microsecond, the JSON number the decoder reads as a Double.
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        d.append(contentsOf: String(now.tv_sec).utf8)
        d.append(UInt8(ascii: "."))
        var us = Int(now.tv_nsec) / 1000
        var digits = [UInt8](repeating: 48, count: 6)
        for k in stride(from: 5, through: 0, by: -1) { digits[k] = UInt8(48 + us % 10); us /= 10 }
        d.append(contentsOf: digits)
        d.append(contentsOf: EventFrameLayout.dataKey)
        d.append(json)
        d.append(contentsOf: [UInt8(ascii: "}"), UInt8(ascii: "}")])
        return d
    }

    static func jsonString(_ s: String) -> String {
        String(decoding: (try? JSONEncoder().encode(s)) ?? Data("\"\"".utf8), as: UTF8.self)
    }
}

/// One subscriber's bounded queue. `offer` never waits; an event that does not fit is recorded as
/// part of a gap, which is delivered before the next event of its topic or when the queue drains.
public final class SubscriberQueue: @unchecked Sendable {
    private struct State {
        var items: [StreamItem] = []
        var head = 0
        var pendingGaps: [String: (from: UInt64, to: UInt64)] = [:]
        var waiter: CheckedContinuation<StreamItem?, Never>?
        var closed = false
        var count: Int { items.count - head }
        /// Takes the next `n` queued items, dropping the consumed front now and then.
        mutating func take(_ n: Int) -> ArraySlice<StreamItem> {
            let slice = items[head..<(head + n)]
            head += n
            if head > 256 && head * 2 > items.count { items.removeFirst(head); head = 0 }
            return slice
        }
    }
    private let state = Mutex(State())
    let limit: Int
    var onClose: (@Sendable () -> Void)? {
        get { closeHandler.withLock { $0 } }
        set { closeHandler.withLock { $0 = newValue } }
    }
    private let closeHandler = Mutex<(@Sendable () -> Void)?>(nil)

    init(limit: Int) { self.limit = max(1, limit) }

    /// Queues an event; returns false when it was dropped (and recorded as a gap).
    func offer(topic: String, seq: UInt64, payload: Data) -> Bool {
        let (accepted, wake): (Bool, (CheckedContinuation<StreamItem?, Never>, StreamItem)?) = state.withLock { s in
            if s.closed { return (true, nil) }
            if s.count >= limit {
                let g = s.pendingGaps[topic]
                s.pendingGaps[topic] = (g?.from ?? seq, seq)
                return (false, nil)
            }
            var toQueue: [StreamItem] = []
            if let g = s.pendingGaps.removeValue(forKey: topic) {
                toQueue.append(.gap(GapBody(topic: topic, from_seq: g.from, to_seq: g.to, reason: "subscriber queue overflowed (slow reader)")))
            }
            toQueue.append(.event(topic: topic, seq: seq, payload: payload))
            if let w = s.waiter {
                s.waiter = nil
                let first = toQueue.removeFirst()
                s.items.append(contentsOf: toQueue)
                return (true, (w, first))
            }
            s.items.append(contentsOf: toQueue)
            return (true, nil)
        }
        if let (w, item) = wake { w.resume(returning: item) }
        return accepted
    }

    func announceGap(_ gap: GapBody) {
        let w: CheckedContinuation<StreamItem?, Never>? = state.withLock { s in
            if let w = s.waiter { s.waiter = nil; return w }
            s.items.append(.gap(gap))
            return nil
        }
        w?.resume(returning: .gap(gap))
    }

    /// The next item; nil once closed (or when the waiting task is cancelled).
    public func next() async -> StreamItem? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (c: CheckedContinuation<StreamItem?, Never>) in
                let (item, ready): (StreamItem?, Bool) = state.withLock { s in
                    if s.count > 0 { return (s.take(1).first!, true) }
                    if let (topic, g) = s.pendingGaps.first {
                        s.pendingGaps[topic] = nil
                        return (.gap(GapBody(topic: topic, from_seq: g.from, to_seq: g.to, reason: "subscriber queue overflowed (slow reader)")), true)
                    }
                    if s.closed || Task.isCancelled { return (nil, true) }
                    s.waiter = c
                    return (nil, false)
                }
                if ready { c.resume(returning: item) }
            }
        } onCancel: {
            close()
        }
    }

    /// Up to `max` items at once (waits for the first): what a pump writes with one flush.
    public func nextBatch(max: Int) async -> [StreamItem] {
        guard let first = await next() else { return [] }
        var batch = [first]
        state.withLock { s in
            let n = Swift.min(s.count, max - 1)
            if n > 0 { batch.append(contentsOf: s.take(n)) }
        }
        return batch
    }

    /// Ends the subscription; the publisher forgets it.
    public func close() {
        let w: CheckedContinuation<StreamItem?, Never>? = state.withLock { s in
            s.closed = true
            defer { s.waiter = nil }
            return s.waiter
        }
        w?.resume(returning: nil)
        onClose?()
    }
}
