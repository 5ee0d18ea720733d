// A recording's bytes on disk: JSON lines, gzip-compressed when the file name ends in `.gz` (zlib through
// compress-nio). Written as it goes, never held whole in memory; flushed (a zlib sync flush) after every
// round, so a recorder killed mid-way leaves every flushed line readable. The reader follows concatenated
// gzip members; `warden-engine record` never appends to an existing `.gz` (a member cut short cannot be followed).
import CompressNIO
public import Foundation
import WardenPolymarket
import NIOCore

/// Where a recorder's lines go: the file as is, or through gzip.
final class RecordingSink: @unchecked Sendable {
    private let handle: FileHandle
    private let gzip: ZlibCompressor?
    private var pending: [UInt8] = []
    /// Taken by zlib (`.no`) but not yet flushed out.
    private var dirty = false

    init(handle: FileHandle, compressed: Bool) throws {
        self.handle = handle
        gzip = compressed ? try ZlibCompressor(algorithm: .gzip) : nil
    }

    /// Takes one line (already newline-terminated).
    func write(_ line: Data) throws {
        guard gzip != nil else { return try handle.write(contentsOf: line) }
        pending.append(contentsOf: line)
        if pending.count >= 1 << 20 { try deflate(.no) }
    }

    /// Makes everything written so far readable from the file.
    func flush() throws {
        guard gzip != nil else { return }
        try deflate(.sync)
    }

    /// Ends the gzip member (its trailer); the file stays appendable.
    func close() throws {
        guard gzip != nil else { return }
        try deflate(.finish)
    }

    private func deflate(_ mode: CompressNIOFlush) throws {
        guard let gzip else { return }
        if mode == .sync && pending.isEmpty && !dirty { return }  // nothing new since the last flush
        var input = ByteBuffer(bytes: pending)
        pending.removeAll(keepingCapacity: true)
        var output = ByteBufferAllocator().buffer(capacity: gzip.maxSize(from: input) + 4096)
        while true {
            do {
                try gzip.deflate(from: &input, to: &output, flush: mode)
                // Output full: zlib may hold more for this flush; ask again.
                guard output.writableBytes == 0 else { break }
            } catch let e as CompressNIOError where e == .bufferOverflow {
                // No progress possible: done when nothing came out and nothing is left to take.
                if output.readableBytes == 0 && input.readableBytes == 0 && mode != .finish { break }
            }
            if output.readableBytes > 0 { try handle.write(contentsOf: Data(output.readableBytesView)) }
            output.clear()
        }
        if output.readableBytes > 0 { try handle.write(contentsOf: Data(output.readableBytesView)) }
        dirty = mode == .no
    }
}

public enum RecordingFile {
    /// True for a gzip file (its magic bytes).
    static func isGzip(_ data: Data) -> Bool { data.count >= 2 && data[data.startIndex] == 0x1f && data[data.startIndex + 1] == 0x8b }

    /// The JSON lines of a recording, decompressed when it is gzip (every member); `cutShort` when the data ends inside
    /// a line (a recorder stopped mid-way: what was flushed is still there). Read as a replay reads a file.
    public static func text(_ data: Data) throws -> (lines: Data, cutShort: Bool) {
        let reader = try RecordingReader(data: data)
        var out = Data()
        while let line = try reader.next() {
            out.append(contentsOf: line)
            out.append(UInt8(ascii: "\n"))
        }
        out.append(contentsOf: reader.remainder)
        return (out, reader.cutShort)
    }
}
