// Warden's own programs as a configuration lists them, written once for the integration tests, warden-chaos and
// warden-bench: each entry's name, command and what it offers (its role and socket). A test writes the keys it
// adds on the lines after it, at 4 spaces.
public enum StackYAML {
    public enum Role: String, Sendable { case engine, notifier, dashboard }

    /// The first lines of a `programs:` entry for `role` run from `executable` (name at 2 spaces, keys at 4; no
    /// newline at the end), e.g. `  engine:\n    command: [...]\n    offers: {role: engine, socket: engine.sock}`.
    public static func entry(_ role: Role, _ executable: String, arguments: [String] = []) -> String {
        let command = ([executable] + arguments).map { "\"\($0)\"" }.joined(separator: ", ")
        let offers = role == .dashboard ? "{role: dashboard}" : "{role: \(role.rawValue), socket: \(role.rawValue).sock}"
        return "  \(role.rawValue):\n    command: [\(command)]\n    offers: \(offers)"
    }
}
