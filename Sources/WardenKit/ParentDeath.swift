// A child must not outlive its supervisor: PR_SET_PDEATHSIG plus a check that the parent is still there.
import CWardenOS
public import Foundation

public enum ParentDeath {
    /// Arms the death signal and exits at once when the supervisor that started us is already gone.
    /// The supervisor sets WARDEN_SUPERVISOR_PID; without it (run by hand) only the signal is armed.
    public static func arm(signal: Int32 = SIGTERM) {
        _ = warden_set_pdeathsig(signal)
        if let s = ProcessInfo.processInfo.environment["WARDEN_SUPERVISOR_PID"], let expected = Int32(s),
           getppid() != expected {
            FileHandle.standardError.write(Data("level=critical msg=\"supervisor \(expected) is gone; exiting\"\n".utf8))
            exit(1)
        }
    }
}
