// Loopback helpers shared by the tests, warden-chaos and warden-bench.
import Foundation

public struct LoopbackError: Error, CustomStringConvertible {
    public var description: String
}

/// A free TCP port on 127.0.0.1: bound to port 0, read back, released (the kernel does not hand it out again at
/// once, so a test can give it to a program to bind).
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw LoopbackError(description: "socket: errno \(errno)") }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &addr) { p in
        p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
    }
    guard bound else { throw LoopbackError(description: "no free port: errno \(errno)") }
    return Int(UInt16(bigEndian: addr.sin_port))
}
