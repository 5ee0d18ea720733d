// F58–F60 on a real Unix socket: an absurd deadline, oversize events and answers, requests kept in order,
// a peer that never reads its answers, too many connections, and one that never says hello.
import Foundation
import Logging
import Synchronization
import Testing
import WardenTestKit
@testable import WardenIPC

private struct Item: Codable, Sendable { var n: Int }

/// Records the order requests ran in; `slow` requests sleep a random moment first; `huge` answers 2 MiB.
private final class Recorder: IPCRequestHandler {
    let log = Mutex<[Int]>([])
    let running = Mutex((now: 0, peak: 0, total: 0))
    func handle(_ frame: Frame, peer: PeerInfo) async throws -> any Encodable & Sendable {
        running.withLock { $0.now += 1; $0.peak = max($0.peak, $0.now); $0.total += 1 }
        defer { running.withLock { $0.now -= 1 } }
        switch frame.head.type {
        case "set":
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...4)))
            let n = try frame.body(as: Item.self).n
            log.withLock { $0.append(n) }
            return Item(n: n)
        case "huge":
            return ["blob": String(repeating: "x", count: 2 << 20)]
        case "big":
            return ["blob": String(repeating: "y", count: 64 << 10)]
        default:
            return Empty()
        }
    }
}

private func socketPath() -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("ipch-\(UUID().uuidString.prefix(8))")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    return dir.appendingPathComponent("t.sock").path
}

private func withServer<T>(_ handler: Recorder = Recorder(), limits: IPCServerLimits = IPCServerLimits(),
                           _ body: (IPCServer, EventPublisher, IPCStatsCounter) async throws -> T) async throws -> T {
    let publisher = EventPublisher(retainPerTopic: 100)
    let stats = IPCStatsCounter()
    let server = IPCServer(path: socketPath(), role: "test", handler: handler, publisher: publisher, stats: stats,
                           limits: limits, logger: Logger(label: "test"))
    let task = Task { try await server.run() }
    defer { task.cancel() }
    try await server.waitUntilListening()
    return try await body(server, publisher, stats)
}

private let hello = #"{"v":1,"id":null,"kind":"event","type":"hello","body":{"protocol":1,"role":"raw","pid":1,"version":"t","boot_id":"s"}}"#

private func rawClient(_ path: String, greeted: Bool = false) async throws -> RawSocket {
    let s = try RawSocket(path: path)
    _ = await s.nextFrame()  // the server's hello
    s.sendFrame(hello)
    if greeted {  // a round trip, so the server has taken the hello
        s.sendFrame(#"{"v":1,"id":999999,"kind":"request","type":"ping","body":{}}"#)
        _ = await s.nextFrame()
    }
    return s
}

private func client(_ path: String) async throws -> (IPCClient, Task<Void, Never>) {
    let c = IPCClient(path: path, role: "test", logger: Logger(label: "client"))
    let t = Task { await c.run() }
    _ = try await c.waitConnected(timeout: .seconds(10))
    return (c, t)
}

@Suite("IPC hardening")
struct HardeningTests {
    @Test("F58: a request asking for a deadline of 300 years is answered (clamped), and the server lives on")
    func absurdDeadline() async throws {
        try await withServer { server, _, _ in
            let raw = try await rawClient(server.path)
            raw.sendFrame(#"{"v":1,"id":7,"kind":"request","type":"ping","deadline_ms":10000000000000,"body":{}}"#)
            let answer = await raw.nextFrame()
            #expect(answer?.contains(#""kind":"response""#) == true, "answered: \(answer ?? "nothing")")
            raw.sendFrame(#"{"v":1,"id":8,"kind":"request","type":"ping","deadline_ms":-5,"body":{}}"#)
            #expect(await raw.nextFrame() != nil)
            let (c, t) = try await client(server.path)
            defer { t.cancel() }
            _ = try await c.request("ping", Empty(), timeout: .seconds(5))
        }
        #expect(EnvelopeHead(v: 1, id: 1, kind: .request, type: "x", deadline_ms: Int.max).deadline(defaultMS: 1) == .milliseconds(IPCServerLimits.maxDeadlineMS))
        #expect(Duration.seconds(Int64.max / 2).clampedMilliseconds() == IPCServerLimits.maxDeadlineMS)
    }

    @Test("F60: thirty pipelined commands on one connection run in the order sent, every time")
    func ordered() async throws {
        let handler = Recorder()
        try await withServer(handler) { server, _, _ in
            let raw = try await rawClient(server.path)
            var batch: [UInt8] = []
            for n in 0..<30 {
                let json = Array(#"{"v":1,"id":\#(n + 1),"kind":"request","type":"set","body":{"n":\#(n)}}"#.utf8)
                let len = UInt32(json.count)
                batch += [UInt8(len >> 24), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff)] + json
            }
            raw.send(batch)
            var answers = 0
            while answers < 30, await raw.nextFrame() != nil { answers += 1 }
            #expect(answers == 30)
            #expect(handler.log.withLock { $0 } == Array(0..<30))
        }
    }

    @Test("F59: a peer that sends thousands of requests and never reads holds a bounded number; others are served")
    func unreadAnswers() async throws {
        let handler = Recorder()
        var limits = IPCServerLimits()
        limits.maxInFlightPerConnection = 8
        try await withServer(handler, limits: limits) { server, _, stats in
            let raw = try await rawClient(server.path)
            var batch: [UInt8] = []
            for n in 0..<200 {
                let json = Array(#"{"v":1,"id":\#(n + 1),"kind":"request","type":"big","body":{}}"#.utf8)
                let len = UInt32(json.count)
                batch += [UInt8(len >> 24), UInt8(len >> 16 & 0xff), UInt8(len >> 8 & 0xff), UInt8(len & 0xff)] + json
            }
            // 30,000 requests (1.8 MB, far past what the socket buffers hold), 64 KiB answers each: 1.9 GiB if all
            // were held. Sent without blocking: once the server stops reading, the socket buffers fill and the
            // rest is not taken.
            let all = Array(repeating: batch, count: 150).flatMap { $0 }
            var offset = 0
            var stalls = 0
            while offset < all.count && stalls < 50 {
                let n = raw.trySend(all[offset...])
                offset += n
                if n == 0 { stalls += 1; try await Task.sleep(for: .milliseconds(20)) } else { stalls = 0 }
            }
            #expect(offset < all.count, "the server stopped taking requests from a peer that reads nothing")
            var last = -1
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(100))
                let total = handler.running.withLock { $0.total }
                if total == last { break }
                last = total
            }
            let handled = handler.running.withLock { $0.total }
            #expect(handled < 400, "the server stopped reading the peer after a bounded number of answers (\(handled) of 30000 handled)")
            #expect(stats.snapshot.backpressure_pauses_total >= 1)
            let (c, t) = try await client(server.path)
            defer { t.cancel() }
            _ = try await c.request("ping", Empty(), timeout: .seconds(5))
        }
    }

    @Test("F59: past maxConnections a connection is told so and closed; one without hello is closed after the bound")
    func connectionCaps() async throws {
        var limits = IPCServerLimits()
        limits.maxConnections = 3
        try await withServer(limits: limits) { server, _, stats in
            let held = [try await rawClient(server.path, greeted: true), try await rawClient(server.path, greeted: true),
                        try await rawClient(server.path, greeted: true)]
            let fourth = try RawSocket(path: server.path)
            let refusal = await fourth.nextFrame()
            #expect(refusal?.contains("too many connections") == true, "\(refusal ?? "nothing")")
            #expect(await fourth.closed(within: .seconds(5)))
            #expect(stats.snapshot.connections_refused_total == 1)
            _ = held
        }
        limits.helloTimeout = .milliseconds(300)
        try await withServer(limits: limits) { server, _, stats in
            let silent = try RawSocket(path: server.path)
            _ = await silent.nextFrame()  // the server's hello; we never answer
            #expect(await silent.closed(within: .seconds(10)), "closed for want of a hello")
            #expect(stats.snapshot.hello_timeouts_total == 1)
        }
    }

    @Test("F59: at the cap, a new connection takes the place of the oldest one that never said hello")
    func silentConnectionsEvicted() async throws {
        var limits = IPCServerLimits()
        limits.maxConnections = 3
        // Only the eviction closes them here: on a loaded machine the default hello timeout closed all three.
        limits.helloTimeout = .seconds(300)
        try await withServer(limits: limits) { server, _, stats in
            let silent = [try RawSocket(path: server.path), try RawSocket(path: server.path), try RawSocket(path: server.path)]
            for s in silent { _ = await s.nextFrame() }  // each admitted: the server's hello
            let (c, t) = try await client(server.path)
            defer { t.cancel() }
            _ = try await c.request("ping", Empty(), timeout: .seconds(5))
            var closed = 0
            for _ in 0..<50 where closed == 0 {
                for s in silent where await s.closed(within: .milliseconds(20)) { closed += 1 }
            }
            #expect(closed == 1, "one silent connection made room (\(closed) closed)")
            #expect(stats.snapshot.connections_refused_total == 1)
        }
    }

    @Test("F58: an event over the frame limit reaches subscribers as a gap naming why; the stream goes on")
    func oversizeEvent() async throws {
        try await withServer { server, publisher, _ in
            let (c, t) = try await client(server.path)
            defer { t.cancel() }
            _ = try await c.subscribeConfirmed(SubscribeRequest(topics: ["t"]))
            publisher.publish("t", ["reason": String(repeating: "z", count: 2 << 20)])
            publisher.publish("t", Item(n: 2))
            var gap: GapBody?
            var after = false
            let watchdog = Task { try await Task.sleep(for: .seconds(20)); t.cancel() }
            defer { watchdog.cancel() }
            for await e in c.events {
                if case .gap(let g) = e { gap = g }
                if case .event = e { after = true; break }
            }
            #expect(gap?.from_seq == 1 && gap?.to_seq == 1 && gap?.reason.contains("frame limit") == true, "\(String(describing: gap))")
            #expect(after, "the next event arrived")
            #expect(publisher.oversizeTotal == 1)
        }
    }

    @Test("F58: an answer over the frame limit is an error naming its size; the connection stays usable")
    func oversizeAnswer() async throws {
        try await withServer { server, _, stats in
            let (c, t) = try await client(server.path)
            defer { t.cancel() }
            do {
                _ = try await c.request("huge", Empty(), timeout: .seconds(10))
                Issue.record("a 2 MiB answer was sent")
            } catch let e as IPCError {
                #expect(e.code == .oversize, "\(e)")
            }
            _ = try await c.request("ping", Empty(), timeout: .seconds(5))
            #expect(stats.snapshot.oversize_answers_total == 1)
        }
    }
}
