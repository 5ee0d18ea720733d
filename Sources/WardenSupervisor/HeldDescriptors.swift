// The fds warden holds for its programs: sockets bound for them (`listen:`, socket activation) and the fds
// they gave it to keep (FDSTORE=1). Both are passed back at every start as fds 3, 4, … with LISTEN_FDS,
// LISTEN_FDNAMES and LISTEN_PID (sd_listen_fds(3)), listening sockets first.
import CWardenOS
import Foundation
import WardenKit

/// One fd held for a program, with the name it is passed under (LISTEN_FDNAMES).
struct HeldFD: Equatable {
    var name: String
    var fd: Int32
}

/// One program's held fds. Owned by the supervisor actor; every fd here is close-on-exec in warden.
struct HeldDescriptors {
    /// What `listening` was bound from (a reload that changes `listen:` rebinds).
    private(set) var boundFrom: [ListenAddress] = []
    private(set) var listening: [HeldFD] = []
    private(set) var stored: [HeldFD] = []
    private var unixPaths: [String] = []

    /// The fds to pass, in order: listening sockets, then stored fds.
    var passed: [HeldFD] { listening + stored }

    /// Binds the program's `listen:` addresses, unless already bound to exactly those. A failure names the
    /// address and leaves nothing half-bound.
    mutating func bind(_ spec: ProgramSpec, root: String) throws {
        guard spec.listen != boundFrom || listening.count != spec.listen.count else { return }
        closeListening()
        var fresh: [HeldFD] = [], paths: [String] = []
        for address in spec.listen {
            let fd: Int32
            switch address {
            case .inet(let host, let port):
                fd = warden_listen_inet(host, Int32(port), 4096)
            case .unix(let path):
                let full = WardenPaths.absolute(path, against: root)
                fd = warden_listen_unix(full, 4096, 0o666)
                if fd >= 0 { paths.append(full) }
            }
            guard fd >= 0 else {
                let e = errno
                for h in fresh { close(h.fd) }
                for p in paths { unlink(p) }
                throw WardenError(.refused, "listen \(address): \(String(cString: strerror(e)))")
            }
            fresh.append(HeldFD(name: spec.name, fd: fd))
        }
        listening = fresh
        unixPaths = paths
        boundFrom = spec.listen
    }

    /// FDSTORE=1: keeps `fds` under `name` while there is room (`max`); returns how many were refused (closed).
    mutating func store(_ fds: [Int32], name: String, max: Int) -> Int {
        var refused = 0
        for fd in fds {
            // The same open file twice (a program storing at every start) is kept once, as systemd does.
            if stored.contains(where: { Self.sameFile($0.fd, fd) }) { close(fd); continue }
            if stored.count < max { stored.append(HeldFD(name: name, fd: fd)) } else { close(fd); refused += 1 }
        }
        return refused
    }

    /// FDSTOREREMOVE=1: closes the stored fds named `name`; returns how many.
    mutating func remove(name: String) -> Int {
        let gone = stored.filter { $0.name == name }
        for h in gone { close(h.fd) }
        stored.removeAll { $0.name == name }
        return gone.count
    }

    /// Closes every stored fd (the program was stopped); returns how many.
    mutating func flush() -> Int {
        for h in stored { close(h.fd) }
        defer { stored = [] }
        return stored.count
    }

    mutating func closeListening() {
        for h in listening { close(h.fd) }
        for p in unixPaths { unlink(p) }
        listening = []; unixPaths = []; boundFrom = []
    }

    /// A valid fd name for LISTEN_FDNAMES: 1…255 printable ASCII characters, no colon.
    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 255 && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: ":") }
    }

    /// The environment a start with `held` fds gets. LISTEN_PID is a placeholder the spawned child fills in.
    static func environment(_ held: [HeldFD]) -> [String: String] {
        guard !held.isEmpty else { return [:] }
        return ["LISTEN_FDS": String(held.count), "LISTEN_FDNAMES": held.map(\.name).joined(separator: ":"),
                "LISTEN_PID": String(repeating: "0", count: 20)]
    }

    private static func sameFile(_ a: Int32, _ b: Int32) -> Bool {
        var sa = stat(), sb = stat()
        guard fstat(a, &sa) == 0, fstat(b, &sb) == 0 else { return false }
        return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
    }
}
