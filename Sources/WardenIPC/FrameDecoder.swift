// Length-prefixed framing: 4-byte big-endian length, then the payload; oversize is an error, not a buffer.
public import NIOCore

/// Splits a byte stream into frames and refuses any frame above `maxFrameBytes` without buffering it.
public struct BoundedFrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = ByteBuffer
    public let limit: Int
    public init(limit: Int = maxFrameBytes) { self.limit = limit }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self) else {
            return .needMoreData
        }
        guard Int(length) <= limit else {
            throw IPCError(.oversize, "frame length \(length) exceeds \(limit)")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(payload))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        return .needMoreData
    }
}

/// Turns decoder errors into an inbound error the connection loop can answer with an error frame.
final class FrameErrorCatcher: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    var caught: IPCError?
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let e = error as? IPCError { caught = e }
        else if let e = error as? ByteToMessageDecoderError, case .leftoverDataWhenDone = e { caught = IPCError(.badFrame, "truncated frame") }
        else { caught = IPCError(.badFrame, "\(error)") }
        context.fireErrorCaught(error)
    }
}
