// `warden-fuzz`: the libFuzzer harnesses (built by `make fuzz` with -sanitize=fuzzer,address and -DFUZZING; the
// harness is chosen by $WARDEN_FUZZ_TARGET), and in an ordinary build a replayer that feeds files to a harness:
// `warden-fuzz replay TARGET FILE|DIR...` (make test replays every corpus, crashes found included).
import Foundation

#if FUZZING
nonisolated(unsafe) private var chosen: Harness?

/// libFuzzer's driver, called from our own main (SwiftPM names an executable's entry point itself, so
/// libFuzzer's `main` is not the one linked).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The entry libFuzzer's own `main` (when the linker takes it) calls.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ bytes: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    if chosen == nil { chosen = FuzzDriver.harness() }
    guard let bytes else { return 0 }
    chosen?.run(Data(bytes: bytes, count: count))
    return 0
}

@main
struct FuzzDriver {
    static func harness() -> Harness {
        let name = ProcessInfo.processInfo.environment["WARDEN_FUZZ_TARGET"] ?? ""
        guard let h = Harness(rawValue: name) else {
            FileHandle.standardError.write(Data("WARDEN_FUZZ_TARGET must be one of \(Harness.allCases.map(\.rawValue)), got `\(name)`\n".utf8))
            exit(2)
        }
        return h
    }

    static func main() {
        chosen = harness()
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv) { bytes, count in fuzzOne(bytes, count) })
    }
}
#else
@main
struct FuzzReplay {
    static func main() {
        let args = Array(CommandLine.arguments.dropFirst())
        guard args.count >= 2, args[0] == "replay", let h = Harness(rawValue: args[1]) else {
            print("usage: warden-fuzz replay TARGET FILE|DIR...\ntargets:")
            for h in Harness.allCases { print("  \(h.rawValue): \(h.about)") }
            exit(args.isEmpty || args[0] == "--help" ? 0 : 2)
        }
        var files: [String] = []
        for path in args.dropFirst(2) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
                FileHandle.standardError.write(Data("no such file: \(path)\n".utf8)); exit(2)
            }
            if isDir.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.sorted().map { path + "/" + $0 }
            } else {
                files.append(path)
            }
        }
        for f in files {
            guard let data = FileManager.default.contents(atPath: f) else { continue }
            h.run(data)
        }
        print("\(h.rawValue): \(files.count) inputs replayed, none trapped")
    }
}
#endif
