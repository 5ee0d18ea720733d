// The HTTP client every Warden process uses: rate limits, circuit breaker, retries honouring Retry-After, stats.
public import Foundation
import Synchronization

/// A documented rate limit: `perWindow` requests per `windowSeconds` to `host` paths starting with `pathPrefix`.
public struct RateLimit: Sendable, Equatable {
    public var host: String
    public var pathPrefix: String
    public var perWindow: Int
    public var windowSeconds: Double
    public init(host: String, pathPrefix: String = "/", perWindow: Int, windowSeconds: Double = 10) {
        self.host = host; self.pathPrefix = pathPrefix; self.perWindow = perWindow; self.windowSeconds = windowSeconds
    }
}

public struct RetryPolicy: Sendable, Equatable {
    public var maxAttempts = 3
    public var initialBackoff = 0.2
    public var maxBackoff = 5.0
    public var jitter = 0.2
    /// A Retry-After longer than this is not waited for inside one call: the call fails as rate-limited.
    public var maxRetryAfter = 30.0
    public init() {}
}

/// Why a call failed, for callers that degrade rather than crash.
public struct HTTPError: Error, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable { case transport, timeout, status, circuitOpen = "circuit_open", rateLimited = "rate_limited" }
    public var kind: Kind
    public var host: String
    public var status: Int?
    public var retryAfter: Double?
    public var message: String
    public var description: String { "\(host): \(kind.rawValue)\(status.map { " \($0)" } ?? ""): \(message)" }
}

/// Per-host figures for the API health guard and the dashboard.
public struct HostStats: Sendable, Codable, Equatable {
    public var host: String
    public var requests: Int = 0
    public var failures: Int = 0
    public var rateLimited: Int = 0
    /// Error rate over the requests of the last 30 s (0…1).
    public var recentErrorRate: Double = 0
    /// Requests inside the error-rate window.
    public var recentRequests: Int = 0
    /// Highest rate-limit usage among this host's buckets (0…1).
    public var rateLimitUsage: Double = 0
    public var latencyP50Ms: Double = 0
    public var latencyP99Ms: Double = 0
    public var circuit: String = "closed"
    public var circuitOpenedTimes: Int = 0
    public var lastError: String?
    public var lastSuccessAt: Double?

    public init(host: String) { self.host = host }
}

public final class HTTPClient: Sendable {
    private struct HostState {
        var breaker: CircuitBreaker
        var stats: HostStats
        var recent: [(at: Double, failed: Bool)] = []  // outcomes of the last `errorWindow` seconds
        var latencies: [Double] = []  // last 200, ms
    }
    private struct State {
        var hosts: [String: HostState] = [:]
        var buckets: [String: TokenBucket] = [:]
    }
    private let engine: CurlEngine
    private let limits: [RateLimit]
    private let retry: RetryPolicy
    private let breakerSettings: CircuitBreaker.Settings
    private let state = Mutex(State())
    private let origin = ContinuousClock.now
    /// The error rate is over this many seconds, so an outage stops counting once it is over.
    static let errorWindow = 30.0

    public init(engine: CurlEngine = .shared, limits: [RateLimit] = [], retry: RetryPolicy = RetryPolicy(),
                breaker: CircuitBreaker.Settings = CircuitBreaker.Settings()) {
        self.engine = engine
        self.limits = limits
        self.retry = retry
        self.breakerSettings = breaker
    }

    private func now() -> Double { (ContinuousClock.now - origin).seconds }

    /// Sends with rate limiting, the host's circuit breaker, and retries (idempotent requests only).
    /// A non-2xx answer after the retries is thrown as `HTTPError(kind: .status)`; callers get the body in `message`.
    public func send(_ request: HTTPRequest) async throws -> HTTPResponse {
        let host = request.host
        var attempt = 0
        while true {
            attempt += 1
            try await acquireToken(request)
            let allowed = state.withLock { s -> (ok: Bool, wait: Double?, lastError: String?) in
                var h = s.hosts[host] ?? HostState(breaker: CircuitBreaker(settings: breakerSettings), stats: HostStats(host: host))
                let ok = h.breaker.allow(now: now())
                let wait = h.breaker.retryIn(now: now())
                h.stats.circuit = h.breaker.state.rawValue
                s.hosts[host] = h
                return (ok, wait, h.stats.lastError)
            }
            guard allowed.ok else {
                // The cause that opened it is said with it, so "circuit open" never hides why.
                throw HTTPError(kind: .circuitOpen, host: host, status: nil, retryAfter: allowed.wait,
                                message: "circuit open after repeated failures (last: \(allowed.lastError ?? "unknown")); next probe in \(Int(allowed.wait ?? 0))s")
            }
            let outcome: Result<HTTPResponse, TransportError>
            do {
                outcome = .success(try await engine.perform(request))
            } catch let e as TransportError {
                outcome = .failure(e)
            }
            switch outcome {
            case .success(let response) where (200..<300).contains(response.status):
                record(host, failure: false, latency: response.elapsed, error: nil)
                return response
            case .success(let response):
                let retryAfter = Self.retryAfter(response)
                let limited = response.status == 429
                let text = String(decoding: response.body.prefix(300), as: UTF8.self)
                // Only server trouble counts against the circuit; a 4xx is the request's fault.
                record(host, failure: limited || response.status >= 500, latency: response.elapsed,
                       error: "HTTP \(response.status): \(text)", rateLimited: limited)
                let retriable = request.idempotent && (limited || response.status >= 500)
                if retriable, attempt < retry.maxAttempts, (retryAfter ?? 0) <= retry.maxRetryAfter {
                    try await Task.sleep(for: .seconds(retryAfter ?? backoff(attempt)))
                    continue
                }
                throw HTTPError(kind: limited ? .rateLimited : .status, host: host, status: response.status,
                                retryAfter: retryAfter, message: text)
            case .failure(let e):
                record(host, failure: true, latency: .zero, error: e.message)
                if request.idempotent, attempt < retry.maxAttempts {
                    try await Task.sleep(for: .seconds(backoff(attempt)))
                    continue
                }
                throw HTTPError(kind: e.isTimeout ? .timeout : .transport, host: host, status: nil, retryAfter: nil, message: e.message)
            }
        }
    }

    private func backoff(_ attempt: Int) -> Double {
        let base = min(retry.initialBackoff * pow(2, Double(attempt - 1)), retry.maxBackoff)
        return base * Double.random(in: (1 - retry.jitter)...(1 + retry.jitter))
    }

    /// Seconds from `Retry-After` (delta seconds or an HTTP date), or a JSON `retry_after` field.
    static func retryAfter(_ r: HTTPResponse) -> Double? {
        if let h = r.headers["retry-after"] {
            if let s = Double(h.trimmingCharacters(in: .whitespaces)) { return max(0, s) }
            if let d = HTTPDate.parse(h) { return max(0, d.timeIntervalSinceNow) }
        }
        if let obj = try? JSONSerialization.jsonObject(with: r.body) as? [String: Any] {
            if let v = obj["retry_after"] as? Double { return v }
            if let p = obj["parameters"] as? [String: Any], let v = p["retry_after"] as? Double { return v }
        }
        return nil
    }

    /// Waits for a token from the most specific matching bucket (the documented limit is never exceeded).
    private func acquireToken(_ request: HTTPRequest) async throws {
        let host = request.host, path = request.path
        let matching = limits.filter { $0.host == host && path.hasPrefix($0.pathPrefix) }
        guard !matching.isEmpty else { return }
        while true {
            let wait = state.withLock { s -> Double in
                var longest = 0.0
                for l in matching {
                    let key = "\(l.host)\(l.pathPrefix)"
                    var b = s.buckets[key] ?? TokenBucket(perWindow: l.perWindow, windowSeconds: l.windowSeconds, now: now())
                    longest = max(longest, b.take(now: now()))
                    s.buckets[key] = b
                }
                return longest
            }
            if wait == 0 { return }
            try await Task.sleep(for: .seconds(wait))
        }
    }

    private func record(_ host: String, failure: Bool, latency: Duration, error: String?, rateLimited: Bool = false) {
        state.withLock { s in
            var h = s.hosts[host] ?? HostState(breaker: CircuitBreaker(settings: breakerSettings), stats: HostStats(host: host))
            h.stats.requests += 1
            if failure { h.stats.failures += 1; h.breaker.recordFailure(now: now()) } else { h.breaker.recordSuccess() }
            if rateLimited { h.stats.rateLimited += 1 }
            if let error { h.stats.lastError = error } else { h.stats.lastSuccessAt = Date().timeIntervalSince1970 }
            let t = now()
            h.recent.append((t, failure))
            h.recent.removeAll { t - $0.at > Self.errorWindow }
            if h.recent.count > 1000 { h.recent.removeFirst(h.recent.count - 1000) }
            h.stats.recentErrorRate = Double(h.recent.filter(\.failed).count) / Double(h.recent.count)
            h.stats.recentRequests = h.recent.count
            if latency > .zero {
                h.latencies.append(latency.seconds * 1000)
                if h.latencies.count > 200 { h.latencies.removeFirst(h.latencies.count - 200) }
                let sorted = h.latencies.sorted()
                h.stats.latencyP50Ms = sorted[sorted.count / 2]
                h.stats.latencyP99Ms = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
            }
            h.stats.circuit = h.breaker.state.rawValue
            h.stats.circuitOpenedTimes = h.breaker.timesOpened
            s.hosts[host] = h
        }
    }

    /// Current figures per host, rate-limit usage included.
    public func stats() -> [HostStats] {
        state.withLock { s in
            s.hosts.values.map { h in
                var st = h.stats
                for l in limits where l.host == h.stats.host {
                    if var b = s.buckets["\(l.host)\(l.pathPrefix)"] { st.rateLimitUsage = max(st.rateLimitUsage, b.usage(now: now())) }
                }
                return st
            }.sorted { $0.host < $1.host }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, a) = components
        return Double(s) + Double(a) / 1e18
    }
}

/// HTTP dates (RFC 7231 IMF-fixdate), as in `Date` and `Retry-After`.
public enum HTTPDate {
    public static func parse(_ text: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return f.date(from: text.trimmingCharacters(in: .whitespaces))
    }
}
