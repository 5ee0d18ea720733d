// Who may see and act: a login token created at first start (0600 in the state directory), sessions in a
// HttpOnly SameSite=Strict cookie, a CSRF token per session on every POST, and a login rate limit.
import Foundation
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

    public init(token: String, ttl: Duration, attemptsPerMinute: Int) {
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

    /// Checks a login; too many failures from one address within a minute are refused without looking.
    public func login(_ offered: String, from address: String, now: Date = Date()) -> LoginResult {
        let recent = failures.withLock { f -> Int in
            f[address, default: []].removeAll { now.timeIntervalSince($0) >= 60 }
            return f[address]!.count
        }
        if recent >= attemptsPerMinute { return .limited }
        guard Self.same(offered.trimmingCharacters(in: .whitespacesAndNewlines), token) else {
            failures.withLock { $0[address, default: []].append(now) }
            return .wrong
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

    public func bearerOK(_ header: String?) -> Bool {
        guard let header, header.hasPrefix("Bearer ") else { return false }
        return Self.same(String(header.dropFirst(7)), token)
    }

    public func cookie(for s: Session) -> String {
        "\(Self.cookieName)=\(s.id); Path=/; HttpOnly; SameSite=Strict; Max-Age=\(Int(ttl))"
    }
}
