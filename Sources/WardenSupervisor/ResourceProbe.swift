// Readings from /proc and statvfs: a child's RSS and open fds, free space and inodes of a directory.
import Foundation

public enum ResourceProbe {
    /// Resident set size of `pid` in bytes (VmRSS), or nil when the process is gone.
    public static func rssBytes(_ pid: Int32) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { UInt64($0) }
            return kb.map { $0 * 1024 }
        }
        return nil
    }

    /// True when `pid` is stopped (state T: SIGSTOP, job control) or traced (t).
    public static func isStopped(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")"), stat.index(close, offsetBy: 2) < stat.endIndex else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state == "T" || state == "t"
    }

    /// Number of open file descriptors of `pid`, or nil when the process is gone.
    public static func openFDs(_ pid: Int32) -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"))?.count
    }

    /// Free space and free inodes of the filesystem holding `path`, in percent.
    public static func freeSpace(_ path: String) -> (bytesPercent: Double, inodesPercent: Double)? {
        var s = statvfs()
        guard statvfs(path, &s) == 0, s.f_blocks > 0 else { return nil }
        let bytes = Double(s.f_bavail) / Double(s.f_blocks) * 100
        let inodes = s.f_files > 0 ? Double(s.f_favail) / Double(s.f_files) * 100 : 100
        return (bytes, inodes)
    }
}
