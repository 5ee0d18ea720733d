// Who may see and act: a login token created at first start (0600 in the state directory), sessions in a
// HttpOnly SameSite=Strict cookie, a CSRF token per session on every POST, and a login rate limit.
public import Foundation
public import Logging
import Synchronization
import WardenKit

public final class Auth: Sendable {
    public struct Session: Sendable {
        public var id: String
        public var csrf: String
        public var expires: Date
        /// How the session is named in events ("dashboard session 1a2b3c4d").
        public var author: String { "dashboard session \(id.prefix(8))" }
    }

    public let token: String
    let ttl: TimeInterval
    let attemptsPerMinute: Int
    private let sessions = Mutex<[String: Session]>([:])
    private let failures = Mutex<[String: [Date]]>([:])
    private let bearerFailureTimes = Mutex<[String: [Date]]>([:])
    /// Wrong bearer tokens: counted, and logged at most once per 10 s (with how many came since).
    private let bearerFailures = Mutex<(total: UInt64, unlogged: Int, lastLog: Date?)>((0, 0, nil))
    let logger: Logger
    public static let cookieName = "warden_session"

    /// Reads the token from `path`, creating it (mode 0600) at first start.
    public static func loadOrCreateToken(at path: String) throws -> String {
        if let data = FileManager.default.contents(atPath: path),
           let t = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), t.count >= 32 {
            var st = stat()
            if stat(path, &st) == 0, st.st_mode & 0o077 != 0 {
                throw WardenError(.io, "\(path) is readable by others (mode \(String(st.st_mode & 0o777, radix: 8))); chmod 600 it")
            }
            return t
        }
        let t = randomHex(32)
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WardenError.posix("create \(path)") }
        defer { close(fd) }
        let line = t + "\n"
        guard write(fd, line, line.utf8.count) == line.utf8.count, fsync(fd) == 0 else { throw WardenError.posix("write \(path)") }
        return t
    }

    public init(token: String, ttl: Duration, attemptsPerMinute: Int, logger: Logger = Logger(label: "warden.dashboard.auth")) {
        self.logger = logger
        self.token = token
        self.ttl = ttl.seconds
        self.attemptsPerMinute = attemptsPerMinute
    }

    static func randomHex(_ bytes: Int) -> String {
        var g = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &g)) }.joined()
    }

    /// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
    static func same(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }

    public enum LoginResult { case ok(Session), wrong, limited }

    /// Checks a login. The valid token always logs in: every page on this machine connects from the same
    /// loopback address, so a limit that also refused the right token would let any page lock the operator out.
    /// Wrong tokens are counted per address; past `attemptsPerMinute` in a minute they are answered "too many".
    public func login(_ offered: String, from address: String, now: Date = Date()) -> LoginResult {
        guard Self.same(offered.trimmingCharacters(in: .whitespacesAndNewlines), token) else {
            return failed(from: address, now: now) ? .limited : .wrong
        }
        let s = Session(id: Self.randomHex(24), csrf: Self.randomHex(24), expires: now.addingTimeInterval(ttl))
        sessions.withLock { all in
            all = all.filter { $0.value.expires > now }
            all[s.id] = s
        }
        return .ok(s)
    }

    public func session(_ id: String?, now: Date = Date()) -> Session? {
        guard let id else { return nil }
        return sessions.withLock { $0[id] }.flatMap { $0.expires > now ? $0 : nil }
    }

    public func logout(_ id: String) { sessions.withLock { _ = $0.removeValue(forKey: id) } }

    /// Records a failure of `address` in `f`; true when it is now past `limit` in the last minute.
    static func record(_ f: inout [String: [Date]], _ address: String, now: Date, limit: Int) -> Bool {
        var list = f[address, default: []]
        list.removeAll { now.timeIntervalSince($0) >= 60 }
        list.append(now)
        f[address] = list
        if f.count > 10_000 { f = f.filter { now.timeIntervalSince($0.value.last ?? now) < 60 } }
        return list.count > limit
    }

    private func failed(from address: String, now: Date) -> Bool {
        failures.withLock { Self.record(&$0, address, now: now, limit: attemptsPerMinute) }
    }

    public enum BearerResult: Equatable { case ok, none, wrong, limited }

    /// Wrong bearer tokens one address may send per minute before it is answered 429 (scrapers retry; the right
    /// token is never refused).
    public static let bearerFailuresPerMinute = 30

    /// The right bearer token is `.ok`; a wrong one is counted, logged (at most every 10 s, with the count),
    /// and past `bearerFailuresPerMinute` from one address `.limited`.
    public func bearer(_ header: String?, from address: String = "unknown", now: Date = Date()) -> BearerResult {
        guard let header else { return .none }
        if header.hasPrefix("Bearer "), Self.same(String(header.dropFirst(7)), token) { return .ok }
        let over = bearerFailureTimes.withLock { Self.record(&$0, address, now: now, limit: Self.bearerFailuresPerMinute) }
        let report: Int? = bearerFailures.withLock { b in
            b.total += 1
            b.unlogged += 1
            guard b.lastLog.map({ now.timeIntervalSince($0) >= 10 }) ?? true else { return nil }
            defer { b.unlogged = 0; b.lastLog = now }
            return b.unlogged
        }
        if let n = report {
            logger.warning("wrong bearer token refused", metadata: ["from": "\(address)", "since_last_report": "\(n)"])
        }
        return over ? .limited : .wrong
    }

    /// Wrong bearer tokens since start.
    public var bearerFailuresTotal: UInt64 { bearerFailures.withLock { $0.total } }

    public func cookie(for s: Session) -> String {
        "\(Self.cookieName)=\(s.id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(ttl))"
    }
}
