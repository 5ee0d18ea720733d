// A recording read forward a line at a time, never held whole: the file in 1 MiB chunks, through gzip (every
// member: a recording appended to is several) when it starts with gzip's magic; `RecordingFile.text` reads through it too. A day of book snapshots is
// hundreds of megabytes of JSON; a replay or a backtest keeps only what it is playing.
import CompressNIO
import Foundation
import WardenPolymarket
import NIOCore

/// Used by one thread at a time (the first pass, then the replay's decoding thread).
final class RecordingReader: @unchecked Sendable {
    /// The next chunk of the raw bytes; nil or empty at their end.
    private let read: () throws -> Data?
    private var handle: FileHandle?
    private let gzip: Bool
    private var inflater: ZlibDecompressor?
    private var input = ByteBuffer()
    private var rawDone = false
    /// Decompressed bytes not yet returned as lines, from `start`.
    private var text: [UInt8] = []
    private var start = 0
    /// Whole lines returned so far (the number of the last one).
    private(set) var lineNumber = 0
    /// The data ended inside a line (a recorder stopped mid-way): that part is not returned as a line.
    private(set) var cutShort = false

    /// A file, read 1 MiB at a time.
    convenience init(path: String) throws {
        guard let h = FileHandle(forReadingAtPath: path) else { throw ReplayError(description: "replay file \(path) cannot be read") }
        try self.init(read: { try h.read(upToCount: 1 << 20) })
        handle = h
    }

    /// Bytes already in memory.
    convenience init(data: Data) throws {
        var given = false
        try self.init(read: {
            defer { given = true }
            return given ? nil : data
        })
    }

    private init(read: @escaping () throws -> Data?) throws {
        self.read = read
        let first = try read() ?? Data()
        gzip = RecordingFile.isGzip(first)
        if first.isEmpty { rawDone = true }
        if gzip {
            input = ByteBuffer(bytes: first)
            inflater = try ZlibDecompressor(algorithm: .gzip)
        } else {
            text = Array(first)
        }
    }

    deinit { try? handle?.close() }

    /// What follows the last whole line once the data has ended (the part of a line cut short).
    var remainder: ArraySlice<UInt8> { text[start...] }

    /// The gzip data cannot be inflated.
    struct Corrupt: Error, CustomStringConvertible {
        var detail: String
        var description: String { detail }
    }

    /// The next whole line without its newline, or nil at the end of the data. Throws when the gzip data is corrupt.
    func next() throws -> ArraySlice<UInt8>? {
        while true {
            if let nl = text[start...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = text[start..<nl]
                start = nl + 1
                lineNumber += 1
                return line
            }
            // No whole line left: keep the partial one and bring more.
            if start > 0 {
                text.removeSubrange(0..<start)
                start = 0
            }
            guard try refill() else {
                cutShort = !text.isEmpty
                return nil
            }
        }
    }

    /// Appends more decompressed bytes to `text`; false at the end of the data.
    private func refill() throws -> Bool {
        guard gzip, let inflater else {
            guard !rawDone, let chunk = try read(), !chunk.isEmpty else { rawDone = true; return false }
            text += chunk
            return true
        }
        var out = ByteBufferAllocator().buffer(capacity: 1 << 20)
        while true {
            if input.readableBytes == 0 {
                guard !rawDone, let chunk = try read(), !chunk.isEmpty else {
                    rawDone = true
                    text += out.readableBytesView
                    return out.readableBytes > 0
                }
                input.discardReadBytes()
                input.writeBytes(chunk)
            }
            do {
                let before = input.readableBytes
                try inflater.inflate(from: &input, to: &out)
                // Returned with input left: this member ended (the next one, an appended recording, follows). With
                // none left: either, and a finished member takes no more input, which says so on the next call.
                if input.readableBytes > 0 && input.readableBytes == before && out.readableBytes == 0 {
                    self.inflater = try ZlibDecompressor(algorithm: .gzip)
                    return try refill()
                }
                if input.readableBytes > 0 { self.inflater = try ZlibDecompressor(algorithm: .gzip) }
            } catch let e as CompressNIOError where e == .bufferOverflow || e == .inputBufferOverflow {
                // Output full, or more input needed: what came out is used, and the loop goes on.
            } catch {
                throw RecordingReader.Corrupt(detail: "\(error)")
            }
            if out.readableBytes > 0 {
                text += out.readableBytesView
                return true
            }
        }
    }
}
