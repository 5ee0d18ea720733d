// A deliberately dumb Unix stream client for sending malformed bytes to Warden's sockets.
import Foundation

public final class RawSocket {
    public let fd: Int32
    private var pending: [UInt8] = []

    public init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.prefix(raw.count - 1).enumerated() { raw[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard r == 0 else {
            close(fd)
            throw RawSocketError(message: "connect \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

    /// Sends what the socket takes now, without waiting; returns the bytes taken (0 when its buffer is full).
    public func trySend(_ bytes: ArraySlice<UInt8>) -> Int {
        let r = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
        return max(0, r)
    }

    public func sendFrame(_ json: String) {
        let payload = Array(json.utf8)
        let n = UInt32(payload.count)
        send([UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)] + payload)
    }

    /// Reads one frame's JSON text; nil on EOF or when nothing arrives within the bound.
    public func readFrame(timeoutMS: Int32 = 5000) -> String? {
        guard let header = readExactly(4, timeoutMS: timeoutMS) else { return nil }
        let n = Int(header[0]) << 24 | Int(header[1]) << 16 | Int(header[2]) << 8 | Int(header[3])
        guard let body = readExactly(n, timeoutMS: timeoutMS) else { return nil }
        return String(decoding: body, as: UTF8.self)
    }

    /// Reads one frame without blocking a thread: polls with no wait and sleeps between tries (for tests that run
    /// on Swift's cooperative pool, whose few threads a blocking poll would hold).
    public func nextFrame(within limit: Duration = .seconds(10)) async -> String? {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            if pending.count >= 4 {
                let n = Int(pending[0]) << 24 | Int(pending[1]) << 16 | Int(pending[2]) << 8 | Int(pending[3])
                if pending.count >= 4 + n {
                    let body = Array(pending[4..<(4 + n)])
                    pending.removeFirst(4 + n)
                    return String(decoding: body, as: UTF8.self)
                }
            }
            var buf = [UInt8](repeating: 0, count: 65_536)
            let r = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if r > 0 { pending += buf[0..<r]; continue }
            if r == 0 { return nil }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return nil
    }

    /// True when the peer closed the connection within the bound, without blocking a thread.
    public func closed(within limit: Duration) async -> Bool {
        let end = ContinuousClock.now + limit
        while ContinuousClock.now < end {
            var buf = [UInt8](repeating: 0, count: 65_536)
            let r = recv(fd, &buf, buf.count, Int32(MSG_DONTWAIT))
            if r == 0 { return true }
            if r < 0 && errno != EAGAIN && errno != EWOULDBLOCK { return true }
            if r > 0 { pending += buf[0..<r]; continue }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    /// True when the server closed the connection within the bound.
    public func closedByPeer(timeoutMS: Int32 = 5000) -> Bool {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, timeoutMS) > 0 else { return false }
        var b: UInt8 = 0
        return recv(fd, &b, 1, 0) <= 0
    }

    private func readExactly(_ n: Int, timeoutMS: Int32) -> [UInt8]? {
        var out = [UInt8]()
        while out.count < n {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, timeoutMS) > 0 else { return nil }
            var buf = [UInt8](repeating: 0, count: n - out.count)
            let r = recv(fd, &buf, buf.count, 0)
            if r <= 0 { return nil }
            out += buf[0..<r]
        }
        return out
    }
}

public struct RawSocketError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
