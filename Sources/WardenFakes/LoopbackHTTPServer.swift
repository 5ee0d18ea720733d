// A small HTTP/1.1 server on 127.0.0.1 for the fakes: routes to a handler, can delay or reset connections.
public import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

public struct FakeRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: [String]]
    public var headers: [(String, String)]
    public var body: Data

    public func first(_ name: String) -> String? { query[name]?.first }
}

/// JSON of the values the fakes build ([String: Any] trees of strings, numbers, booleans), keys sorted as
/// JSONSerialization's `.sortedKeys` writes them. Written directly: a day of book answers through
/// JSONSerialization's bridging took most of a simulated-clock recording's time. A value of another kind goes
/// through JSONSerialization.
enum FakeJSON {
    static func write(_ value: Any, into out: inout [UInt8]) {
        switch value {
        case let s as String: string(s, into: &out)
        case let b as Bool: out += b ? Array("true".utf8) : Array("false".utf8)
        case let i as Int: out += Array(String(i).utf8)
        case let i as Int64: out += Array(String(i).utf8)
        case let d as Double:
            if d.isFinite && d == d.rounded() && abs(d) < 1e15 { out += Array(String(Int64(d)).utf8) } else { out += Array("\(d)".utf8) }
        case let d as [String: String]:
            object(d.map { ($0.key, $0.value as Any) }, into: &out)
        case let d as [String: Any]:
            object(d.map { ($0.key, $0.value) }, into: &out)
        case let a as [Any]:
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case is NSNull: out += Array("null".utf8)
        default:
            let d = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])) ?? Data("null".utf8)
            out += Array(d)
        }
    }

    private static func object(_ pairs: [(String, Any)], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        for (i, (k, v)) in pairs.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            string(k, into: &out)
            out.append(UInt8(ascii: ":"))
            write(v, into: &out)
        }
        out.append(UInt8(ascii: "}"))
    }

    private static func string(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: out += Array(String(format: "\\u%04x", b).utf8)
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

public struct FakeResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Data

    public init(status: Int = 200, headers: [(String, String)] = [], body: Data = Data()) {
        self.status = status; self.headers = headers; self.body = body
    }

    public static func json(_ text: String, status: Int = 200, headers: [(String, String)] = []) -> FakeResponse {
        FakeResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(text.utf8))
    }

    public static func jsonValue(_ value: Any, status: Int = 200, headers: [(String, String)] = []) -> FakeResponse {
        var out: [UInt8] = []
        out.reserveCapacity(4096)
        FakeJSON.write(value, into: &out)
        return FakeResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Data(out))
    }

    public static func text(_ text: String, status: Int = 200) -> FakeResponse {
        FakeResponse(status: status, headers: [("Content-Type", "text/plain")], body: Data(text.utf8))
    }
}

/// What the handler wants done with a request.
public enum FakeAction: Sendable {
    case respond(FakeResponse)
    /// Answer after a delay (a slow server).
    case delayed(Duration, FakeResponse)
    /// Close the connection without answering (a reset).
    case reset
}

/// Serves HTTP on 127.0.0.1 (port 0 picks a free one) until `stop()`.
public final class LoopbackHTTPServer: Sendable {
    public typealias Handler = @Sendable (FakeRequest) async -> FakeAction
    private let handler: Handler
    private let channel: any Channel
    public let port: Int

    private init(channel: any Channel, port: Int, handler: @escaping Handler) {
        self.channel = channel
        self.port = port
        self.handler = handler
    }

    public var baseURL: String { "http://127.0.0.1:\(port)" }

    /// `webSocket` serves WebSocket upgrades on its path (the accept answer decides per request).
    public static func start(host: String = "127.0.0.1", port: Int = 0, webSocket: FakeWebSocketRoute? = nil,
                             handler: @escaping Handler) async throws -> LoopbackHTTPServer {
        let box = HandlerBox(handler: handler)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { child in
                let http = FakeHTTPHandler(handler: box.handler)
                guard let webSocket else {
                    return child.pipeline.configureHTTPServerPipeline().flatMap { child.pipeline.addHandler(http) }
                }
                let upgrader = NIOWebSocketServerUpgrader(
                    maxFrameSize: 1 << 24,
                    shouldUpgrade: { ch, head in
                        let path = URLComponents(string: head.uri)?.path ?? head.uri
                        return ch.eventLoop.makeSucceededFuture(path == webSocket.path && webSocket.accept() ? HTTPHeaders() : nil)
                    },
                    upgradePipelineHandler: { ch, _ in
                        let peer = FakeWebSocket(channel: ch)
                        return ch.pipeline.addHandler(FakeWebSocketHandler(peer: peer)).map { webSocket.connected(peer) }
                    })
                let config: NIOHTTPServerUpgradeSendableConfiguration = (upgraders: [upgrader], completionHandler: { _ in
                    child.pipeline.removeHandler(http, promise: nil)
                })
                return child.pipeline.configureHTTPServerPipeline(withServerUpgrade: config).flatMap { child.pipeline.addHandler(http) }
            }
            .bind(host: host, port: port).get()
        return LoopbackHTTPServer(channel: channel, port: channel.localAddress?.port ?? port, handler: handler)
    }

    public func stop() async {
        try? await channel.close()
    }
}

private struct HandlerBox: Sendable { let handler: LoopbackHTTPServer.Handler }

/// Where a fake serves WebSocket connections, whether it accepts one now, and what it does with it.
public struct FakeWebSocketRoute: Sendable {
    public var path: String
    public var accept: @Sendable () -> Bool
    public var connected: @Sendable (FakeWebSocket) -> Void
    public init(path: String, accept: @escaping @Sendable () -> Bool, connected: @escaping @Sendable (FakeWebSocket) -> Void) {
        self.path = path; self.accept = accept; self.connected = connected
    }
}

/// One server-side WebSocket connection of a fake: text out, text in, close.
public final class FakeWebSocket: Sendable {
    let channel: any Channel
    private let inbound = Mutex<(@Sendable (String) -> Void)?>(nil)
    private let closed = Mutex<(@Sendable () -> Void)?>(nil)
    init(channel: any Channel) { self.channel = channel }

    public func onText(_ f: @escaping @Sendable (String) -> Void) { inbound.withLock { $0 = f } }
    public func onClose(_ f: @escaping @Sendable () -> Void) { closed.withLock { $0 = f } }
    public var isOpen: Bool { channel.isActive }

    public func send(_ text: String) {
        let frame = WebSocketFrame(fin: true, opcode: .text, data: ByteBuffer(string: text))
        channel.writeAndFlush(frame, promise: nil)
    }

    /// Closes the TCP connection without a close frame (a dropped connection).
    public func drop() { channel.close(promise: nil) }

    func received(_ text: String) { inbound.withLock { $0 }?(text) }
    func ended() { closed.withLock { $0 }?() }
}

/// Text frames to the fake; pings answered; a close frame echoed and the connection closed.
private final class FakeWebSocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame
    let peer: FakeWebSocket
    var text = ""
    init(peer: FakeWebSocket) { self.peer = peer }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        var payload = frame.unmaskedData
        switch frame.opcode {
        case .text, .continuation:
            text += payload.readString(length: payload.readableBytes) ?? ""
            if frame.fin {
                let message = text
                text = ""
                peer.received(message)
            }
        case .ping:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: payload)), promise: nil)
        case .connectionClose:
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: payload))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        default:
            break
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer.ended()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}

/// Collects a request, asks the handler, writes the answer; keep-alive per HTTP/1.1.
private final class FakeHTTPHandler: ChannelInboundHandler, RemovableChannelHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let handler: LoopbackHTTPServer.Handler
    var head: HTTPRequestHead?
    var body = ByteBuffer()

    init(handler: @escaping LoopbackHTTPServer.Handler) { self.handler = handler }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
            body.clear()
        case .body(var b):
            body.writeBuffer(&b)
        case .end:
            guard let head else { return }
            let components = URLComponents(string: head.uri)
            var query: [String: [String]] = [:]
            for item in components?.queryItems ?? [] { query[item.name, default: []].append(item.value ?? "") }
            let request = FakeRequest(method: head.method.rawValue, path: components?.path ?? head.uri, query: query,
                                      headers: head.headers.map { ($0.name, $0.value) },
                                      body: Data(body.readableBytesView))
            let keepAlive = head.isKeepAlive
            let version = head.version
            let loop = context.eventLoop
            let ctx = NIOLoopBound(context, eventLoop: loop)
            let handler = self.handler
            Task {
                let action = await handler(request)
                var response: FakeResponse
                switch action {
                case .reset:
                    loop.execute { ctx.value.close(promise: nil) }
                    return
                case .respond(let r):
                    response = r
                case .delayed(let d, let r):
                    try? await Task.sleep(for: d)
                    response = r
                }
                let final = response
                loop.execute {
                    let context = ctx.value
                    var headers = HTTPHeaders(final.headers)
                    headers.replaceOrAdd(name: "Content-Length", value: String(final.body.count))
                    if !headers.contains(name: "Date") { headers.add(name: "Date", value: httpDate(Date())) }
                    if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
                    let status = HTTPResponseStatus(statusCode: final.status)
                    context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
                    if !final.body.isEmpty {
                        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: final.body)))), promise: nil)
                    }
                    context.writeAndFlush(self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                        if !keepAlive { context.close(promise: nil) }
                    }
                }
            }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// RFC 7231 date, as servers send in `Date`.
func httpDate(_ d: Date) -> String {
    let f = DateFormatter()
    f.locale = Locale(identifier: "en_US_POSIX")
    f.timeZone = TimeZone(identifier: "GMT")
    f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
    return f.string(from: d)
}
