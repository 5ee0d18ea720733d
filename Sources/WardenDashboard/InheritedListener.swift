// Socket activation for the dashboard: serving on a listening socket warden bound and passed (LISTEN_FDS), so
// a restart of the dashboard refuses no connection — they wait in the backlog of the socket warden keeps.
// Hummingbird's server binds by address only; this is its HTTP/1 channel on NIO's bootstrap over the passed fd,
// with the same responder, idle timeout and connection cap as the bound server.
public import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOPosix
public import ServiceLifecycle
import Synchronization
import WardenKit

/// The first passed fd when it is a listening stream socket meant for this process (sd_listen_fds(3)); its
/// address as `host:port` for the log and the heartbeat.
public struct PassedSocket: Sendable {
    public let fd: Int32
    public let address: String
    public let port: Int

    public static func fromEnvironment(_ env: [String: String] = ProcessInfo.processInfo.environment) -> PassedSocket? {
        guard env["LISTEN_PID"] == String(getpid()), let n = env["LISTEN_FDS"].flatMap(Int.init), n >= 1 else { return nil }
        let fd: Int32 = 3
        var type: Int32 = 0, len = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0, type == Int32(SOCK_STREAM.rawValue) else { return nil }
        var storage = sockaddr_storage(), slen = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &slen) } } == 0
        guard ok, let address = try? SocketAddress(storage) else { return nil }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return PassedSocket(fd: fd, address: "\(address.ipAddress ?? "?"):\(address.port ?? 0)", port: address.port ?? 0)
    }
}

extension SocketAddress {
    init(_ storage: sockaddr_storage) throws {
        var s = storage
        switch Int32(s.ss_family) {
        case AF_INET: self = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: "") } }
        case AF_INET6: self = withUnsafePointer(to: &s) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { SocketAddress($0.pointee, host: "") } }
        default: throw WardenError(.invalidArgument, "the passed socket is not TCP")
        }
    }
}

/// Serves the dashboard's routes on a passed listening socket until graceful shutdown.
public struct InheritedListener: Service {
    let socket: PassedSocket
    let server: DashboardServer
    let onListening: @Sendable () async -> Void

    public init(socket: PassedSocket, server: DashboardServer, onListening: @escaping @Sendable () async -> Void) {
        self.socket = socket; self.server = server; self.onListening = onListening
    }

    public func run() async throws {
        let logger = server.logger
        let responder = server.router().buildResponder()
        let http = HTTP1Channel(responder: { request, writer, channel in
            let context = DashboardServer.Context(source: ApplicationRequestContextSource(channel: channel, logger: logger))
            var response: Response
            do { response = try await responder.respond(to: request, context: context) } catch {
                logger.debug("unhandled error", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.server] = "warden"
            try await writer.write(response: response.head, body: response.body)
        }, configuration: .init(idleTimeout: .seconds(Int64(DashboardServer.idleTimeoutSeconds))))
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelOption(ChannelOptions.allowRemoteHalfClosure, value: true)
            .bind(NIOBSDSocket.Handle(socket.fd), cleanupExistingSocketFile: false) { channel in
                http.setup(channel: channel, logger: logger)
            }
        logger.notice("serving on the socket passed by warden (\(socket.address))")
        await onListening()
        let gauge = server.connections
        let open = OpenConnections()
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await listener.executeThenClose { inbound in
                    for try await connection in inbound {
                        // The connection cap: past it, no more accepted until one closes (they wait in the backlog,
                        // as with the bound server's accept gate).
                        while gauge.open >= DashboardServer.maxConnections { try await Task.sleep(for: .milliseconds(20)) }
                        gauge.opened()
                        let id = open.add(connection.channel)
                        group.addTask {
                            await http.handle(value: connection, logger: logger)
                            open.remove(id)
                            gauge.closed()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            // Stop accepting, and close what is open (an idle keep-alive would otherwise hold the stop until its
            // idle timeout, past the program's stop_timeout); live streams are ended by the hub.
            listener.channel.close(promise: nil)
            open.closeAll()
        }
    }
}

/// The connections being served, so a graceful shutdown can close them.
final class OpenConnections: Sendable {
    private let channels = Mutex<(next: Int, all: [Int: any Channel])>((0, [:]))

    func add(_ channel: any Channel) -> Int {
        channels.withLock { state in
            state.next += 1
            state.all[state.next] = channel
            return state.next
        }
    }

    func remove(_ id: Int) { channels.withLock { _ = $0.all.removeValue(forKey: id) } }

    func closeAll() {
        for channel in channels.withLock({ Array($0.all.values) }) { channel.close(promise: nil) }
    }
}
