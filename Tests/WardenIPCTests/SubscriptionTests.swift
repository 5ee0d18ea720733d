// Streams over a real Unix socket: seq, replay, explicit gaps, and a slow subscriber that blocks nobody.
import Foundation
import Logging
import NIOPosix
import Synchronization
import Testing
import WardenTestKit
@testable import WardenIPC

private struct Tick: Codable, Sendable { var n: Int; var pad: String }

private struct EchoHandler: IPCRequestHandler {
    func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        if frame.head.type == "slow" { try await Task.sleep(for: .seconds(30)) }
        return Empty()
    }
}

private func socketPath() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ipc-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent("t.sock").path
}

/// Runs a server for the duration of `body`.
private func withServer<T>(queueLimit: Int = 4096, retain: Int = 2000,
                           _ body: (IPCServer, EventPublisher) async throws -> T) async throws -> T {
    let publisher = EventPublisher(retainPerTopic: retain)
    let server = IPCServer(path: socketPath(), role: "test", handler: EchoHandler(), publisher: publisher,
                           queueLimit: queueLimit, logger: Logger(label: "test"))
    let task = Task { try await server.run() }
    defer { task.cancel() }
    try await server.waitUntilListening()
    return try await body(server, publisher)
}

private func connectedClient(_ path: String) async throws -> (IPCClient, Task<Void, Never>) {
    let client = IPCClient(path: path, role: "test", logger: Logger(label: "client"))
    let task = Task { await client.run() }
    _ = try await client.waitConnected(timeout: .seconds(10))
    return (client, task)
}

@Suite("IPC streams")
struct SubscriptionTests {
    @Test("waitUntilListening returns once the socket accepts, and throws when the bind fails")
    func listeningGate() async throws {
        try await withServer { server, _ in
            let (client, task) = try await connectedClient(server.path)
            defer { task.cancel() }
            #expect(client.isConnected)
        }
        let bad = IPCServer(path: "/nonexistent-dir-\(UUID().uuidString)/x.sock", role: "test", handler: EchoHandler(),
                            publisher: EventPublisher(retainPerTopic: 1), logger: Logger(label: "test"))
        let task = Task { try await bad.run() }
        await #expect(throws: (any Error).self) { try await bad.waitUntilListening() }
        _ = await task.result
    }

    @Test("a subscriber gets every event in seq order")
    func inOrder() async throws {
        try await withServer { server, publisher in
            let (client, task) = try await connectedClient(server.path)
            defer { task.cancel() }
            client.subscribe(SubscribeRequest(topics: ["t"]))
            let deadline = ContinuousClock.now + .seconds(10)
            while publisher.subscriberCount == 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
            try #require(publisher.subscriberCount == 1, "subscribed within 10 s")
            for i in 1...500 { publisher.publish("t", Tick(n: i, pad: "")) }
            var seqs: [UInt64] = []
            for await e in client.events {
                if case .event(let f) = e, let b = try? f.body(as: EventBody<Tick>.self) {
                    seqs.append(b.seq)
                    #expect(b.data.n == Int(b.seq))
                    if seqs.count == 500 { break }
                }
            }
            #expect(seqs == Array(1...500))
        }
    }

    @Test("subscribing from an old seq replays what is held, with a gap for what is not")
    func replayAndGap() async throws {
        try await withServer(retain: 10) { server, publisher in
            for i in 1...30 { publisher.publish("t", Tick(n: i, pad: "")) }
            let (client, task) = try await connectedClient(server.path)
            defer { task.cancel() }
            client.subscribe(SubscribeRequest(topics: ["t"], fromSeq: ["t": 5]))
            var gap: GapBody?
            var replayed: [UInt64] = []
            for await e in client.events {
                switch e {
                case .gap(let g): gap = g
                case .event(let f): replayed.append(try f.body(as: EventBody<Tick>.self).seq)
                default: break
                }
                if replayed.count == 10 { break }
            }
            #expect(gap == GapBody(topic: "t", from_seq: 5, to_seq: 20, reason: "no longer held by the publisher"))
            #expect(replayed == Array(21...30))
        }
    }

    @Test("F35: a subscriber that never reads does not slow the publisher or others, and is told of its gap")
    func slowSubscriber() async throws {
        try await withServer(queueLimit: 64) { server, publisher in
            // The stuck reader: subscribes, then never reads its socket.
            let stuck = try RawSocket(path: server.path)
            stuck.sendFrame(#"{"v":1,"id":null,"kind":"event","type":"hello","body":{"protocol":1,"role":"stuck","pid":1,"version":"t","boot_id":"s"}}"#)
            stuck.sendFrame(#"{"v":1,"id":1,"kind":"request","type":"subscribe","body":{"topics":["t"]}}"#)
            let (fast, fastTask) = try await connectedClient(server.path)
            defer { fastTask.cancel() }
            fast.subscribe(SubscribeRequest(topics: ["t"]))
            let subscribed = ContinuousClock.now + .seconds(10)
            while publisher.subscriberCount < 2 && ContinuousClock.now < subscribed { try await Task.sleep(for: .milliseconds(5)) }
            #expect(publisher.subscriberCount == 2)
            let pad = String(repeating: "x", count: 200)
            let total = 20_000
            // Every seq must reach the reading subscriber either as an event or inside an announced gap.
            let reader = Task { () -> Int in
                var accounted = 0
                for await e in fast.events {
                    switch e {
                    case .event: accounted += 1
                    case .gap(let g): accounted += Int(g.to_seq - g.from_seq + 1)
                    default: break
                    }
                    if accounted >= total { break }
                }
                return accounted
            }
            let start = ContinuousClock.now
            for i in 1...total { publisher.publish("t", Tick(n: i, pad: pad)) }
            let publishTime = ContinuousClock.now - start
            #expect(publishTime < .seconds(10), "publishing never waited for the stuck subscriber (took \(publishTime))")
            let watchdog = Task { try await Task.sleep(for: .seconds(30)); reader.cancel() }
            let fastGot = await reader.value
            watchdog.cancel()
            #expect(fastGot == total, "every event reached the reading subscriber or was announced as a gap")
            #expect(publisher.droppedTotal > 0, "the stuck subscriber's queue overflowed")
            // The stuck subscriber now reads: an explicit gap must come before the newer events.
            var sawGap = false
            for _ in 0..<(total + 10) {
                guard let frame = stuck.readFrame(timeoutMS: 5000) else { break }
                if frame.contains("\"type\":\"gap\"") { sawGap = true; break }
            }
            #expect(sawGap)
        }
    }

    @Test("a request past its deadline fails with a timeout, not a hang")
    func requestDeadline() async throws {
        try await withServer { server, _ in
            let (client, task) = try await connectedClient(server.path)
            defer { task.cancel() }
            let start = ContinuousClock.now
            await #expect(throws: IPCError.self) {
                _ = try await client.request("slow", Empty(), timeout: .milliseconds(300))
            }
            #expect(ContinuousClock.now - start < .seconds(5))
            // The connection still answers (a generous bound: a loaded machine, not the deadline, is judged here).
            _ = try await client.request("fast", Empty(), timeout: .seconds(30))
        }
    }

    @Test("frames: oversize and bad envelopes are named")
    func frameErrors() throws {
        #expect(throws: IPCError.self) { try Frame(payload: Data("{\"v\":1}".utf8)) }
        do {
            _ = try Frame(payload: Data(#"{"v":9,"id":1,"kind":"request","type":"x","body":{}}"#.utf8))
            Issue.record("version 9 accepted")
        } catch let e as IPCError {
            #expect(e.code == .badVersion)
        }
        let f = try Frame(payload: Data(#"{"v":1,"id":1,"kind":"request","type":"logs","body":{"program":"a"}}"#.utf8))
        do {
            _ = try f.body(as: LogsRequest.self)
            Issue.record("missing field accepted")
        } catch let e as IPCError {
            #expect(e.message.contains("missing field `body.lines`"))
        }
    }

    @Test("the publisher's event frames are routed without a JSON decoder and read the same as with one")
    func fastEnvelope() throws {
        let payload = EventPublisher.eventFrame(topic: "trades", seq: 4711, json: Data(#"{"n":1,"pad":"x"}"#.utf8))
        let f = try Frame(payload: payload)
        #expect(f.eventTopicSeq?.topic == "trades" && f.eventTopicSeq?.seq == 4711)
        #expect(f.head.kind == .event && f.head.type == "trades" && f.head.id == nil)
        let slow = try JSONDecoder().decode(EnvelopeHead.self, from: payload)
        #expect(slow.type == f.head.type && slow.kind == f.head.kind)
        #expect(try f.body(as: EventBody<Tick>.self).data.n == 1)
        // A topic with an escape, or any other layout, takes the decoder's path and is still read right.
        let escaped = try Frame(payload: EventPublisher.eventFrame(topic: "a\"b", seq: 2, json: Data("1".utf8)))
        #expect(escaped.eventTopicSeq == nil && escaped.head.type == "a\"b")
        #expect(throws: IPCError.self) { try Frame(payload: Data(#"{"v":1,"id":null,"kind":"event","type":"t","#.utf8)) }
    }

    @Test("subscribing again on the same connection replaces the subscription: every event arrives once, none lost")
    func resubscribe() async throws {
        try await withServer { server, publisher in
            let (client, task) = try await connectedClient(server.path)
            defer { task.cancel() }
            try await client.subscribeConfirmed(SubscribeRequest(topics: ["t"]))
            let feeder = Task {
                for i in 1...2000 {
                    publisher.publish("t", Tick(n: i, pad: ""))
                    if i % 100 == 0 { try? await Task.sleep(for: .milliseconds(2)) }
                }
            }
            // Subscribe twice more while events flow (what a reconnect racing an explicit subscribe does).
            try await client.subscribeConfirmed(SubscribeRequest(topics: ["t"]))
            client.subscribe(SubscribeRequest(topics: ["t"]))
            await feeder.value
            var seqs: [UInt64] = []
            for await e in client.events {
                if case .event(let f) = e, let b = try? f.body(as: EventBody<Tick>.self) { seqs.append(b.seq) }
                if case .gap(let g) = e { Issue.record("unexpected gap \(g)") }
                if seqs.last == 2000 { break }
            }
            #expect(seqs == Array(1...2000))
            #expect(publisher.subscriberCount == 1)
        }
    }

    @Test("a handler past the request's deadline is answered with deadline_exceeded at the deadline, and cancelled")
    func serverDeadline() async throws {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let cancelled = Mutex(false)
        let start = ContinuousClock.now
        do {
            _ = try await withDeadline(.milliseconds(200), on: loop, onExpiry: { IPCError(.deadline, "slow did not finish within 200 ms") }) {
                do { try await Task.sleep(for: .seconds(30)) } catch { cancelled.withLock { $0 = true }; throw error }
                return 1
            }
            Issue.record("no deadline error")
        } catch let e as IPCError {
            #expect(e.code == .deadline)
        }
        #expect(ContinuousClock.now - start < .seconds(10), "answered at the deadline, not after the handler")
        try await eventually(within: .seconds(5)) { cancelled.withLock { $0 } }
        let fast = try await withDeadline(.seconds(5), on: loop, onExpiry: { IPCError(.deadline, "x") }) { 42 }
        #expect(fast == 42)
    }
}

/// Waits for `condition`, at most `within`.
private func eventually(within: Duration, _ condition: () -> Bool) async throws {
    let deadline = ContinuousClock.now + within
    while !condition() {
        guard ContinuousClock.now < deadline else { Issue.record("condition not met within \(within)"); return }
        try await Task.sleep(for: .milliseconds(10))
    }
}
