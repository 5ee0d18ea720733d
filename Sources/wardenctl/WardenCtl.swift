// `wardenctl`: the operator's CLI. Talks only to the supervisor's control.sock.
// Exit codes: 0 ok, 1 failed, 2 usage error, 3 supervisor unreachable.
import ArgumentParser
import Foundation
import Logging
import WardenIPC
import WardenKit

/// Options every subcommand shares.
struct CommonOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file; its runtime directory holds control.sock.")
    var config: String?
    @Option(name: .long, help: "Path of control.sock (default: $WARDEN_SOCKET, else from the configuration).")
    var socket: String?
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
    @Option(name: .long, help: "Seconds to wait for an answer (0.1 … 3600).")
    var timeout: Double = 10

    mutating func validate() throws {
        guard timeout.isFinite, timeout >= 0.1, timeout <= 3600 else {
            throw ValidationError("--timeout must be between 0.1 and 3600 seconds, got \(timeout)")
        }
    }

    func socketPath() async throws -> String {
        if let socket { return socket }
        if let s = ProcessInfo.processInfo.environment["WARDEN_SOCKET"], !s.isEmpty { return s }
        let file = config ?? WardenPaths.defaultConfigFile()
        do {
            return WardenPaths.resolve(try await ConfigLoader.load(path: file)).controlSocket
        } catch {
            // A broken file must not cut the operator off from a running stack: a supervisor that is running
            // has its control.sock bound, and the kernel lists bound Unix sockets.
            let running = RunningSockets.controlSockets()
            if running.count == 1 {
                FileHandle.standardError.write(Data("wardenctl: \(file) does not load (\(error)); using the running supervisor's \(running[0])\n".utf8))
                return running[0]
            }
            let hint = running.isEmpty ? "no running supervisor's control.sock was found"
                : "running supervisors' sockets: \(running.joined(separator: ", ")); pick one with --socket PATH"
            throw CLIError(code: 1, message: "cannot find control.sock: \(error)\n\(hint)")
        }
    }

    /// Connects, runs `body`, disconnects. Unreachable → exit 3.
    func withClient<T: Sendable>(_ body: @Sendable (IPCClient) async throws -> T) async throws -> T {
        let path = try await socketPath()
        let client = IPCClient(path: path, role: "wardenctl", logger: Logger(label: "wardenctl"))
        return try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { await client.run(); return nil }
            do {
                _ = try await client.waitConnected(timeout: .seconds(min(timeout, 5)), failFast: true)
            } catch {
                group.cancelAll()
                throw CLIError(code: 3, message: "supervisor unreachable at \(path): \(Self.reason(error))")
            }
            let result: T
            do {
                result = try await body(client)
            } catch let e as IPCError {
                group.cancelAll()
                throw CLIError(code: e.code == .disconnected ? 3 : 1, message: e.message)
            }
            group.cancelAll()
            return result
        }
    }

    static func reason(_ error: any Error) -> String {
        let text = "\(error)"
        if text.contains("No such file") || text.contains("ENOENT") || text.contains("errno: 2") { return "no socket (is warden running?)" }
        if text.contains("Connection refused") || text.contains("errno: 111") { return "connection refused (stale socket; warden not running)" }
        if text.contains("Permission denied") || text.contains("errno: 13") { return "permission denied" }
        if let e = error as? IPCError { return e.message }
        return text
    }

    var duration: Duration { .milliseconds(Int64(min(max(timeout, 0.1), 3600) * 1000)) }
}

struct CLIError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var description: String { message }
}

func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

func printJSONLine<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try e.encode(value), as: UTF8.self))
    fflush(nil)
}

@main
struct WardenCtl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wardenctl",
        abstract: "Operate a running Warden: status, programs, logs, events.",
        discussion: "Exit codes: 0 ok, 1 failed, 2 usage error, 3 supervisor unreachable.",
        version: wardenVersion,
        subcommands: [Status.self, Start.self, Stop.self, Restart.self, Logs.self, Events.self, Markets.self,
                      Pause.self, Resume.self, KillSwitch.self, ReduceOnly.self, HaltReset.self, Flatten.self,
                      Positions.self, Orders.self, Trades.self, Strategies.self, PreflightCmd.self, Notify.self, DashboardToken.self,
                      Reload.self, Shutdown.self, Version.self])

    static let commandGroups: Set<String> = ["notify"]

    /// Moves common options written before the subcommand (`wardenctl --json status`) after it.
    static func hoistingCommonOptions(_ args: [String]) -> [String] {
        let withValue: Set<String> = ["--config", "--socket", "--timeout"]
        let flags: Set<String> = ["--json"]
        var hoisted: [String] = [], rest: [String] = []
        var i = 0
        while i < args.count, args[i].hasPrefix("--") {
            let name = String(args[i].split(separator: "=", maxSplits: 1)[0])
            if flags.contains(name) { hoisted.append(args[i]); i += 1; continue }
            guard withValue.contains(name) else { break }
            hoisted.append(args[i])
            if !args[i].contains("="), i + 1 < args.count { hoisted.append(args[i + 1]); i += 1 }
            i += 1
        }
        rest = Array(args[i...])
        guard !rest.isEmpty, !hoisted.isEmpty else { return hoisted + rest }
        // A command group (`notify test`) takes the options after its own subcommand.
        let head = commandGroups.contains(rest[0]) && rest.count > 1 ? 2 : 1
        return Array(rest.prefix(head)) + hoisted + rest.dropFirst(head)
    }

    /// Maps argument errors to exit code 2 (ArgumentParser's default is 64).
    static func main() async {
        do {
            var command = try parseAsRoot(hoistingCommonOptions(Array(CommandLine.arguments.dropFirst())))
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let e as CLIError {
            FileHandle.standardError.write(Data("wardenctl: \(e.message)\n".utf8))
            Foundation.exit(e.code)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// Bound Unix sockets named control.sock that exist and that this user may connect to.
enum RunningSockets {
    /// A /proc file read to its end (its size is given as 0, so a reader that trusts the size stops early).
    static func readAll(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = read(fd, &buf, buf.count)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func controlSockets(table: String = "/proc/net/unix") -> [String] {
        guard let text = readAll(table) else { return [] }
        var found: [String] = []
        for line in text.split(separator: "\n").dropFirst() {
            guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init),
                  path.hasPrefix("/"), path.hasSuffix("/control.sock"), !found.contains(path),
                  access(path, R_OK | W_OK) == 0 else { continue }
            found.append(path)
        }
        return found
    }
}
