// Children's stdout/stderr: line by line to journald or size-rotated files, with an in-memory tail.
import CSystemd
import Foundation
import Synchronization
public import WardenIPC
public import WardenKit

/// Where captured lines go: journald when present (or forced), else `<logs>/<program>.log` rotated by size.
public final class LogSink: @unchecked Sendable {
    public enum Target: Sendable, Equatable { case journald, files }
    public let target: Target
    private let logsDir: String
    private let maxBytes: Int
    private let keep: Int
    private let tailLimit: Int
    private let publisher: EventPublisher
    private let lock = NSLock()
    private var files: [String: (handle: FileHandle, size: Int)] = [:]
    private var tails: [String: [LogLine]] = [:]
    /// After a failed rotation, the size at which to try again (so a broken rotation cannot spin).
    private var retryRotationAt: [String: Int] = [:]
    /// Last write error per program, shown in events; a failing sink never blocks a child.
    public private(set) var writeErrors: UInt64 = 0

    public init(settings: SupervisorSettings, logsDir: String, publisher: EventPublisher) {
        let journalSocket = FileManager.default.fileExists(atPath: "/run/systemd/journal/socket")
        switch settings.journald {
        case .on: target = .journald
        case .off: target = .files
        case .auto: target = journalSocket ? .journald : .files
        }
        self.logsDir = logsDir
        self.maxBytes = settings.logMaxBytes
        self.keep = settings.logKeepFiles
        self.tailLimit = settings.logTailLines
        self.publisher = publisher
    }

    /// Records one line of `program`'s `stream` (stdout or stderr).
    public func write(program: String, stream: String, text full: String) {
        // One line is kept, published and shown at most `maxLineBytes` long (a child's 5 MB line would otherwise
        // travel as an event no peer can take and make `wardenctl logs` fail).
        let text = Self.bounded(full)
        let line = LogLine(program: program, at: isoNow(), stream: stream, text: text)
        lock.lock()
        var tail = tails[program] ?? []
        tail.append(line)
        if tail.count > tailLimit { tail.removeFirst(tail.count - tailLimit) }
        tails[program] = tail
        switch target {
        case .journald: sendJournal(program: program, stream: stream, text: text)
        case .files: appendFile(program: program, text: "\(line.at) \(stream) \(text)\n")
        }
        lock.unlock()
        publisher.publish(ControlTopic.log, line)
    }

    /// The last `n` lines of a program, and how many are held; as many of the newest as fit in one answer.
    public func tail(_ program: String, _ n: Int) -> (lines: [LogLine], held: Int) {
        lock.lock(); defer { lock.unlock() }
        let all = tails[program] ?? []
        var out: [LogLine] = []
        var bytes = 0
        for line in all.suffix(max(0, n)).reversed() {
            bytes += line.text.utf8.count + 120
            if bytes > Self.maxAnswerBytes { break }
            out.append(line)
        }
        return (out.reversed(), all.count)
    }

    /// The longest line kept (16 KiB); longer ones are cut and say so.
    public static let maxLineBytes = 16 * 1024
    /// What one `logs` answer may carry (well inside the 1 MiB frame).
    static let maxAnswerBytes = 768 * 1024

    static func bounded(_ text: String) -> String {
        guard text.utf8.count > maxLineBytes else { return text }
        var out = ""
        var n = 0
        for ch in text.unicodeScalars {
            n += ch.utf8.count
            if n > maxLineBytes { break }
            out.unicodeScalars.append(ch)
        }
        return out + " … [line cut: \(text.utf8.count) bytes]"
    }

    private func sendJournal(program: String, stream: String, text: String) {
        let fields = ["MESSAGE=\(text)", "PRIORITY=\(Self.priority(of: text, stream: stream))",
                      "SYSLOG_IDENTIFIER=warden-\(program)", "WARDEN_PROGRAM=\(program)", "WARDEN_STREAM=\(stream)"]
        let cStrings = fields.map { strdup($0)! }
        defer { cStrings.forEach { free($0) } }
        var iov = cStrings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: strlen($0)) }
        if sd_journal_sendv(&iov, Int32(iov.count)) < 0 {
            writeErrors += 1
            appendFile(program: program, text: "\(isoNow()) \(stream) \(text)\n")  // journald refused: keep the line
        }
        _ = cStrings.count
    }

    /// Syslog priority from a logfmt `level=` field, else stderr → warning-ish notice, stdout → info.
    static func priority(of text: String, stream: String) -> Int {
        let levels = ["trace": 7, "debug": 7, "info": 6, "notice": 5, "warning": 4, "error": 3, "critical": 2]
        if let r = text.range(of: "level=") {
            let word = text[r.upperBound...].prefix { $0.isLetter }
            if let p = levels[String(word)] { return p }
        }
        return stream == "stderr" ? 5 : 6
    }

    private func appendFile(program: String, text: String) {
        let path = "\(logsDir)/\(program).log"
        if files[program] == nil {
            if !FileManager.default.fileExists(atPath: path) {  // a failure shows as the open below failing (counted)
                _ = FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o640])
            }
            guard let h = FileHandle(forWritingAtPath: path) else { writeErrors += 1; return }
            let size = (try? h.seekToEnd()).map { Int($0) } ?? 0
            files[program] = (h, size)
        }
        guard var entry = files[program] else { return }
        let data = Data(text.utf8)
        do {
            try entry.handle.write(contentsOf: data)
            entry.size += data.count
        } catch {
            writeErrors += 1
        }
        files[program] = entry
        if entry.size >= max(maxBytes, retryRotationAt[program] ?? 0) { rotate(program: program, path: path) }
    }

    /// program.log → program.log.1 → … → program.log.<keep>; the oldest is removed.
    /// A failed step is counted in `writeErrors` and noted in the log file itself.
    private func rotate(program: String, path: String) {
        var failures: [String] = []
        func attempt(_ what: String, _ step: () throws -> Void) {
            do { try step() } catch { failures.append("\(what): \(error.localizedDescription)") }
        }
        attempt("close") { try files[program]?.handle.close() }
        files[program] = nil
        let fm = FileManager.default
        if fm.fileExists(atPath: "\(path).\(keep)") { attempt("remove oldest") { try fm.removeItem(atPath: "\(path).\(keep)") } }
        if keep > 1 {
            for i in stride(from: keep - 1, through: 1, by: -1) where fm.fileExists(atPath: "\(path).\(i)") {
                attempt("shift \(i)") { try fm.moveItem(atPath: "\(path).\(i)", toPath: "\(path).\(i + 1)") }
            }
        }
        attempt("rotate") { try fm.moveItem(atPath: path, toPath: "\(path).1") }
        if failures.isEmpty {
            retryRotationAt[program] = nil
        } else {
            writeErrors += UInt64(failures.count)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? maxBytes
            retryRotationAt[program] = size + max(maxBytes / 4, 4096)
            appendFile(program: program, text: "\(isoNow()) warden log rotation failed: \(failures.joined(separator: "; "))\n")
        }
    }
}

/// Reads a child's pipe on its own thread, splitting lines (cut at 16 KiB) into the sink.
enum PipeReader {
    static func start(fd: Int32, program: String, stream: String, sink: LogSink) {
        let t = Thread {
            var pending = [UInt8]()
            var buf = [UInt8](repeating: 0, count: 8192)
            while true {
                let n = read(fd, &buf, buf.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { break }
                pending.append(contentsOf: buf[0..<n])
                while let nl = pending.firstIndex(of: 10) {
                    sink.write(program: program, stream: stream, text: String(decoding: pending[..<nl], as: UTF8.self))
                    pending.removeSubrange(...nl)
                }
                if pending.count > 16384 {
                    sink.write(program: program, stream: stream, text: String(decoding: pending, as: UTF8.self) + " [line cut at 16 KiB]")
                    pending.removeAll()
                }
            }
            if !pending.isEmpty { sink.write(program: program, stream: stream, text: String(decoding: pending, as: UTF8.self)) }
            close(fd)
        }
        t.name = "warden-log-\(program)-\(stream)"
        t.start()
    }
}
