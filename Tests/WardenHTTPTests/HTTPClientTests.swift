// WardenHTTP against a real loopback HTTP server through libcurl: timeouts, retries, limits, circuit.
import Foundation
import Synchronization
import Testing
import WardenFakes
@testable import WardenHTTP

/// Counts requests and answers from a script of actions (the last one repeats).
final class Script: Sendable {
    let actions: [FakeAction]
    let hits = Mutex<[ContinuousClock.Instant]>([])
    init(_ actions: [FakeAction]) { self.actions = actions }
    func next() -> FakeAction {
        let n = hits.withLock { $0.append(.now); return $0.count }
        return actions[min(n - 1, actions.count - 1)]
    }
    var count: Int { hits.withLock { $0.count } }
}

func withFake<T>(_ script: Script, _ body: (String) async throws -> T) async throws -> T {
    let server = try await LoopbackHTTPServer.start { _ in script.next() }
    do {
        let r = try await body(server.baseURL)
        await server.stop()
        return r
    } catch {
        await server.stop()
        throw error
    }
}

func client(attempts: Int = 3, threshold: Int = 5, limits: [RateLimit] = []) -> HTTPClient {
    var retry = RetryPolicy()
    retry.maxAttempts = attempts
    retry.initialBackoff = 0.05
    var breaker = CircuitBreaker.Settings()
    breaker.failureThreshold = threshold
    breaker.openSeconds = 60
    return HTTPClient(limits: limits, retry: retry, breaker: breaker)
}

@Suite("HTTP client over libcurl")
struct HTTPClientTests {
    @Test("a GET returns status, lowercased headers and body")
    func get() async throws {
        let script = Script([.respond(.json(#"{"ok":true}"#, headers: [("X-Thing", "1")]))])
        let r = try await withFake(script) { try await client().send(HTTPRequest(url: $0 + "/markets?limit=2")) }
        #expect(r.status == 200 && r.headers["x-thing"] == "1")
        #expect(String(decoding: r.body, as: UTF8.self) == #"{"ok":true}"#)
    }

    @Test("F16: a slow server is cut at the total timeout")
    func timeout() async throws {
        let script = Script([.delayed(.seconds(5), .json("{}"))])
        var took: Duration = .zero
        try await withFake(script) { base in
            // Only the call is timed (the fake's start and stop are not what is bounded): cut well before the
            // server's 5 s answer, with room for a loaded machine.
            let start = ContinuousClock.now
            do {
                _ = try await client(attempts: 1).send(HTTPRequest(url: base + "/slow", timeout: .milliseconds(300)))
                Issue.record("no timeout")
            } catch let e as HTTPError {
                #expect(e.kind == .timeout, "\(e)")
            }
            took = ContinuousClock.now - start
        }
        #expect(took < .milliseconds(4500), "the call took \(took)")
    }

    @Test("reads are retried after a 5xx; the stats count the failure")
    func retry5xx() async throws {
        let script = Script([.respond(.text("boom", status: 502)), .respond(.json("[]"))])
        let c = client()
        let r = try await withFake(script) { try await c.send(HTTPRequest(url: $0 + "/books")) }
        #expect(r.status == 200 && script.count == 2)
        let s = try #require(c.stats().first)
        #expect(s.failures == 1 && s.requests == 2)
    }

    @Test("F17: 429 with Retry-After is honoured before the retry")
    func retryAfter() async throws {
        let script = Script([.respond(FakeResponse(status: 429, headers: [("Retry-After", "1")], body: Data())), .respond(.json("{}"))])
        let c = client()
        let r = try await withFake(script) { try await c.send(HTTPRequest(url: $0 + "/price")) }
        #expect(r.status == 200)
        let gap = script.hits.withLock { $0[1] - $0[0] }
        #expect(gap >= .milliseconds(950), "waited \(gap)")
        #expect(c.stats().first?.rateLimited == 1)
    }

    @Test("a Retry-After beyond the bound fails at once as rate-limited, carrying the wait")
    func longRetryAfter() async throws {
        let script = Script([.respond(.json(#"{"ok":false,"parameters":{"retry_after":120}}"#, status: 429))])
        try await withFake(script) { base in
            do {
                _ = try await client().send(HTTPRequest(url: base + "/x"))
                Issue.record("no error")
            } catch let e as HTTPError {
                #expect(e.kind == .rateLimited && e.retryAfter == 120)
            }
        }
        #expect(script.count == 1)
    }

    @Test("F15: repeated failures open the circuit; calls then fail fast without reaching the host")
    func circuitOpens() async throws {
        let script = Script([.respond(.text("down", status: 503))])
        let c = client(attempts: 1, threshold: 3)
        try await withFake(script) { base in
            for _ in 0..<3 { _ = try? await c.send(HTTPRequest(url: base + "/m")) }
            do {
                _ = try await c.send(HTTPRequest(url: base + "/m"))
                Issue.record("circuit did not open")
            } catch let e as HTTPError {
                #expect(e.kind == .circuitOpen)
            }
        }
        #expect(script.count == 3)
        #expect(c.stats().first?.circuit == "open")
    }

    @Test("POSTs that are not idempotent are not retried")
    func postNotRetried() async throws {
        let script = Script([.respond(.text("no", status: 500))])
        try await withFake(script) { base in
            _ = try? await client().send(HTTPRequest(method: "POST", url: base + "/order", body: Data("{}".utf8)))
        }
        #expect(script.count == 1)
    }

    @Test("a reset connection is a transport error, not a crash")
    func reset() async throws {
        let script = Script([.reset])
        try await withFake(script) { base in
            do {
                _ = try await client(attempts: 1).send(HTTPRequest(url: base + "/r"))
                Issue.record("no error")
            } catch let e as HTTPError {
                #expect(e.kind == .transport)
            }
        }
    }

    @Test("the token bucket keeps requests under the documented limit")
    func rateLimited() async throws {
        let script = Script([.respond(.json("{}"))])
        try await withFake(script) { base in
            let c = client(limits: [RateLimit(host: "127.0.0.1", pathPrefix: "/", perWindow: 5, windowSeconds: 1)])
            // Paced: about 1.75 s.
            for _ in 0..<8 { _ = try await c.send(HTTPRequest(url: base + "/b")) }
        }
        let hits = script.hits.withLock { $0 }
        // The documented limit holds in every one-second window, not just on average.
        let worst = hits.map { start in hits.filter { $0 >= start && $0 - start < .seconds(1) }.count }.max() ?? 0
        #expect(worst <= 5, "at most 5 requests in any second, saw \(worst)")
    }

    @Test("the client reports how much of a host's documented limit its recent requests used")
    func rateLimitUsageReported() async throws {
        let script = Script([.respond(.json("{}"))])
        try await withFake(script) { base in
            // A 60 s window: however slowly a loaded machine answers, the 8 requests stay inside it, and the burst
            // (a tenth of the limit) lets them through without pacing.
            let c = client(limits: [RateLimit(host: "127.0.0.1", pathPrefix: "/", perWindow: 100, windowSeconds: 60)])
            for _ in 0..<8 { _ = try await c.send(HTTPRequest(url: base + "/u")) }
            let usage = c.stats().first?.rateLimitUsage ?? 0
            #expect(abs(usage - 0.08) < 1e-9, "8 of 100 requests used, reported \(usage)")
        }
    }
}

@Suite("Token bucket and circuit breaker")
struct LimiterTests {
    @Test("a bucket never lets a window hold more than the limit; usage counts against the limit")
    func bucket() {
        var b = TokenBucket(perWindow: 100, windowSeconds: 10, now: 0)
        var times: [Double] = []
        var now = 0.0
        while times.count < 300 {
            let wait = b.take(now: now)
            if wait == 0 { times.append(now) } else { now += wait }
        }
        let worst = times.map { t in times.filter { $0 >= t && $0 < t + 10 }.count }.max()!
        #expect(worst <= 100, "worst window held \(worst)")
        #expect(times.last! < 40, "sustained rate stays near the limit (90 %)")
        let usage = b.usage(now: now)
        #expect(usage > 0.8 && usage <= 1.0)
    }

    @Test("open after the threshold, one half-open probe after the open time, closed on success")
    func breaker() {
        var s = CircuitBreaker.Settings()
        s.failureThreshold = 2
        s.openSeconds = 10
        var c = CircuitBreaker(settings: s)
        c.recordFailure(now: 0)
        #expect(c.state == .closed)
        c.recordFailure(now: 1)
        let whileOpen = c.allow(now: 5)
        #expect(c.state == .open && !whileOpen)
        let probe = c.allow(now: 11)
        let secondProbe = c.allow(now: 11)
        #expect(probe && c.state == .halfOpen && !secondProbe, "one probe at a time")
        c.recordFailure(now: 12)
        let reopened = c.allow(now: 13)
        #expect(c.state == .open && !reopened)
        let nextProbe = c.allow(now: 22)
        c.recordSuccess()
        let closed = c.allow(now: 22)
        #expect(nextProbe && c.state == .closed && closed)
    }
}
