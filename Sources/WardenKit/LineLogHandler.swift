// One structured logfmt line per record on stderr; the supervisor forwards these lines.
import Foundation
import Glibc
public import Logging

/// A `LogHandler` writing `ts=… level=… logger=… msg="…" key=value` lines to stderr.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level) {
        self.label = label
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message, metadata: event.metadata)
    }

    private func write(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        var out = "ts=\(Self.timestamp()) level=\(level.rawValue) logger=\(label) msg=\(Self.quote(message.description))"
        for (k, v) in merged.sorted(by: { $0.key < $1.key }) {
            out += " \(k)=\(Self.quote("\(v)"))"
        }
        out += "\n"
        FileHandle.standardError.write(Data(out.utf8))
    }

    /// Quotes a value when it has spaces, quotes or newlines, so each record stays one line.
    static func quote(_ s: String) -> String {
        let needs = s.isEmpty || s.contains { $0 == " " || $0 == "\"" || $0 == "=" || $0.isNewline || $0 == "\\" }
        guard needs else { return s }
        var r = "\""
        for ch in s {
            switch ch {
            case "\"": r += "\\\""
            case "\\": r += "\\\\"
            case "\n": r += "\\n"
            case "\r": r += "\\r"
            default: r.append(ch)
            }
        }
        return r + "\""
    }

    static func timestamp() -> String {
        let now = Date().timeIntervalSince1970
        var t = time_t(now.rounded(.down))
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tmv.tm_year + 1900, tmv.tm_mon + 1, tmv.tm_mday,
                      tmv.tm_hour, tmv.tm_min, tmv.tm_sec, Int((now - now.rounded(.down)) * 1000))
    }
}

/// Bootstraps swift-log once per process with `LineLogHandler`.
public enum WardenLogging {
    public static func bootstrap(level: Logger.Level) {
        LoggingSystem.bootstrap { label in LineLogHandler(label: label, level: level) }
    }
}
