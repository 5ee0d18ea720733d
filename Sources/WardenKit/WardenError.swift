// The one error type of Warden's shared modules: an opaque code, a message, a cause, where it arose.

/// An error with a stable code, a human message, an optional underlying cause and its source location.
public struct WardenError: Error, CustomStringConvertible, Sendable {
    /// Opaque error code; new codes can be added without breaking callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        public init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let configuration = Code("configuration")
        public static let io = Code("io")
        public static let protocolViolation = Code("protocol")
        public static let timeout = Code("timeout")
        public static let unreachable = Code("unreachable")
        public static let refused = Code("refused")
        public static let notFound = Code("not-found")
        public static let alreadyRunning = Code("already-running")
        public static let invalidArgument = Code("invalid-argument")
    }

    public let code: Code
    public let message: String
    public let cause: (any Error & Sendable)?
    public let file: String
    public let line: Int

    public init(_ code: Code, _ message: String, cause: (any Error & Sendable)? = nil,
                file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.cause = cause
        self.file = file
        self.line = line
    }

    public var description: String {
        if let cause { return "\(message): \(cause)" }
        return message
    }

    /// An error from a failed system call, with errno's text.
    public static func posix(_ what: String, errno code: Int32 = errno,
                             file: String = #fileID, line: Int = #line) -> WardenError {
        WardenError(.io, "\(what): \(String(cString: strerror(code))) (errno \(code))", file: file, line: line)
    }
}

#if canImport(Glibc)
public import Glibc
#elseif canImport(Musl)
public import Musl
#endif
