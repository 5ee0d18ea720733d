// A folder for a test's databases and files, removed when the test lets go of it. In memory by default: under
// /dev/shm (a tmpfs) where the machine has one, so the journal and the outbox run on their real SQLite code with
// WAL and fsync, without touching a disk; a test that needs a real disk (free-space checks) asks for one.
import Foundation

public final class ScratchDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "warden-test", inMemory: Bool = true) throws {
        let shm = "/dev/shm"
        var isDir: ObjCBool = false
        let base = inMemory && FileManager.default.fileExists(atPath: shm, isDirectory: &isDir) && isDir.boolValue
            && access(shm, W_OK) == 0 ? shm : FileManager.default.temporaryDirectory.path
        path = base + "/\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}
