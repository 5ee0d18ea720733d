// One line from a TCP or Unix stream socket, read on a thread of its own (never on Swift's cooperative pool):
// what a socket-activated program answers.
import Foundation

public struct LineReadError: Error, CustomStringConvertible {
    public var description: String
}

/// One line read from a TCP or Unix stream socket, on a thread of its own (never on the cooperative pool),
/// with a receive bound.
public func readLine(host: String = "127.0.0.1", port: Int? = nil, unixPath: String? = nil, timeout: Int = 20) async -> Result<String, LineReadError> {
    await withCheckedContinuation { c in
        Thread {
            let fd: Int32
            if let unixPath {
                fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
                var a = sockaddr_un(); a.sun_family = sa_family_t(AF_UNIX)
                withUnsafeMutableBytes(of: &a.sun_path) { raw in for (i, b) in unixPath.utf8.prefix(raw.count - 1).enumerated() { raw[i] = b } }
                let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
                if r != 0 { let e = errno; close(fd); c.resume(returning: .failure(LineReadError(description: "connect \(unixPath): \(String(cString: strerror(e)))"))); return }
            } else {
                fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var a = sockaddr_in(); a.sin_family = sa_family_t(AF_INET); a.sin_port = in_port_t(UInt16(port ?? 0).bigEndian)
                inet_pton(AF_INET, host, &a.sin_addr)
                let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
                if r != 0 { let e = errno; close(fd); c.resume(returning: .failure(LineReadError(description: "connect \(host):\(port ?? 0): \(String(cString: strerror(e)))"))); return }
            }
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var buf = [UInt8](repeating: 0, count: 512), got = 0
            while got < buf.count {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress! + got, $0.count - got) }
                if n <= 0 { break }
                got += n
                if buf[0..<got].contains(UInt8(ascii: "\n")) { break }
            }
            close(fd)
            let text = String(decoding: buf[0..<got], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            c.resume(returning: text.isEmpty ? .failure(LineReadError(description: "no answer within \(timeout)s")) : .success(text))
        }.start()
    }
}

