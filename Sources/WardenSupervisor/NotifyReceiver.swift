// notify.sock: sd_notify datagrams from children, accepted only from a child's main pid.
import CWardenOS
import Foundation
public import Logging
public import WardenKit

/// One accepted sd_notify message.
public struct NotifyMessage: Sendable, Equatable {
    public var pid: Int32
    public var fields: [String: String]
    /// Fds passed with the message (SCM_RIGHTS, for FDSTORE=1), owned by whoever takes the message: stored or
    /// closed, never leaked.
    public var fds: [Int32] = []

    public init(pid: Int32, fields: [String: String], fds: [Int32] = []) {
        self.pid = pid; self.fields = fields; self.fds = fds
    }

    /// Closes the passed fds (a message refused, or fds nobody asked to store).
    public func closeFDs() { for fd in fds { close(fd) } }
}

/// Why a datagram was dropped (counted and logged, never acted on).
public enum NotifyRejection: String, Sendable {
    case noCredentials = "no credentials"
    case truncated = "oversize"
    case embeddedNUL = "NUL byte"
    case notUTF8 = "not UTF-8"
}

/// Receives datagrams on a dedicated thread and hands them to `onMessage` after the checks of
/// sd_notify(3): credentials present, not truncated, no NUL before the last byte.
public final class NotifyReceiver: @unchecked Sendable {
    public let path: String
    private let fd: Int32
    private let logger: Logger
    private let lock = NSLock()
    private var stopped = false
    public static let bufferSize = 16 * 1024 + 512

    public init(path: String, logger: Logger) throws {
        self.path = path
        self.logger = logger
        let fd = warden_dgram_bind(path)
        guard fd >= 0 else { throw WardenError.posix("bind notify socket \(path)") }
        self.fd = fd
    }

    /// The notify socket of a program that runs as another user: its own, in a directory only that user (and
    /// root) can enter, under /run (the runtime and state directories stay closed to other users; `user:`
    /// needs warden to be root, so /run is writable). Nil for programs running as warden.
    public static func socketPath(for spec: ProgramSpec, paths: WardenPaths) -> String? {
        spec.user == nil ? nil : topDir(paths) + "/" + spec.name + "/notify.sock"
    }

    static func topDir(_ paths: WardenPaths) -> String { "/run/warden-notify-" + paths.instanceKey }

    /// At exit: the per-program sockets and their directories removed.
    public static func removePerProgram(_ specs: [ProgramSpec], paths: WardenPaths) {
        for spec in specs {
            guard let path = socketPath(for: spec, paths: paths) else { continue }
            unlink(path)
            rmdir(topDir(paths) + "/" + spec.name)
        }
        rmdir(topDir(paths))
    }

    /// Binds the per-program sockets of programs with `user:`, each owned by its user (credentials still decide
    /// which messages count).
    public static func perProgram(_ specs: [ProgramSpec], paths: WardenPaths, logger: Logger) throws -> [NotifyReceiver] {
        var out: [NotifyReceiver] = []
        for spec in specs {
            guard let path = socketPath(for: spec, paths: paths) else { continue }
            let identity = try ProgramIdentity.resolve(spec)
            let top = topDir(paths), dir = top + "/" + spec.name
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            guard chmod(top, 0o711) == 0, chmod(dir, 0o700) == 0,
                  chown(dir, identity.uid ?? getuid(), identity.gid ?? getgid()) == 0 else {
                throw WardenError.posix("prepare \(dir) for \(spec.name)'s notify socket")
            }
            unlink(path)
            let r = try NotifyReceiver(path: path, logger: logger)
            guard chown(path, identity.uid ?? getuid(), identity.gid ?? getgid()) == 0, chmod(path, 0o600) == 0 else {
                throw WardenError.posix("chown \(path)")
            }
            out.append(r)
        }
        return out
    }

    /// Starts the receiving thread. `onMessage` gets accepted messages, `onReject` dropped ones.
    public func start(onMessage: @escaping @Sendable (NotifyMessage) -> Void,
                      onReject: @escaping @Sendable (NotifyRejection, Int32?) -> Void) {
        let t = Thread { [self] in
            var buf = [CChar](repeating: 0, count: Self.bufferSize)
            while true {
                lock.lock(); let done = stopped; lock.unlock()
                if done { break }
                var cred = warden_cred(), hasCred: Int32 = 0, truncated: Int32 = 0
                var fds = [Int32](repeating: -1, count: Int(WARDEN_MAX_PASSED_FDS)), nfds: Int32 = 0
                let n = warden_dgram_recv(fd, &buf, buf.count, &cred, &hasCred, &truncated, 200, &fds, Int32(fds.count), &nfds)
                if n < 0 { continue }  // timeout or EINTR: loop to check `stopped`
                let passed = Array(fds.prefix(Int(nfds)))
                if let rejection = Self.check(buf: buf, count: n, hasCred: hasCred != 0, truncated: truncated != 0) {
                    for f in passed { close(f) }
                    onReject(rejection, hasCred != 0 ? cred.pid : nil)
                    continue
                }
                let text = buf.withUnsafeBufferPointer { p in
                    String(decoding: UnsafeRawBufferPointer(start: p.baseAddress, count: n), as: UTF8.self)
                }
                onMessage(NotifyMessage(pid: cred.pid, fields: Self.parse(text), fds: passed))
            }
            close(fd)
        }
        t.name = "warden-notify"
        t.start()
    }

    public func stop() {
        lock.lock(); stopped = true; lock.unlock()
    }

    public static func check(buf: [CChar], count n: Int, hasCred: Bool, truncated: Bool) -> NotifyRejection? {
        if truncated { return .truncated }
        if !hasCred { return .noCredentials }
        if n > 1, buf[0..<(n - 1)].contains(0) { return .embeddedNUL }
        let bytes = buf[0..<n].map { UInt8(bitPattern: $0) }
        if String(validating: bytes, as: UTF8.self) == nil { return .notUTF8 }
        return nil
    }

    /// `KEY=VALUE` lines; lines without `=` are ignored, a trailing NUL is tolerated.
    public static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\n" || $0 == "\0" }) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            fields[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return fields
    }
}
