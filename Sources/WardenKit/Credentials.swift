// What every program may need of the configuration's neighbours: secrets by credential name, times of day.
public import Foundation

/// Secrets from systemd's LoadCredential= ($CREDENTIALS_DIRECTORY/NAME) or the environment (WARDEN_SECRET_NAME).
public enum Credentials {
    /// True for variables of warden's environment that carry secrets: a program gets them only through `pass_env`.
    public static func isSecretBearing(_ name: String) -> Bool {
        name == "CREDENTIALS_DIRECTORY" || name.hasPrefix("WARDEN_SECRET_")
    }

    public static func value(_ name: String, environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let dir = environment["CREDENTIALS_DIRECTORY"], !dir.isEmpty,
           let data = FileManager.default.contents(atPath: dir + "/" + name),
           let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty {
            return text
        }
        let variable = "WARDEN_SECRET_" + name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined()
        if let v = environment[variable]?.trimmingCharacters(in: .whitespacesAndNewlines), !v.isEmpty { return v }
        return nil
    }

    /// Where a missing credential would be looked for, for error messages.
    public static func whereToPut(_ name: String) -> String {
        "$CREDENTIALS_DIRECTORY/\(name) or $WARDEN_SECRET_\(name.uppercased().map { $0.isLetter || $0.isNumber ? String($0) : "_" }.joined())"
    }
}

/// "22:00" → 1320; nil when malformed.
public func minuteOfDay(_ text: String) -> Int? {
    let parts = text.split(separator: ":")
    guard parts.count == 2, let h = Int(parts[0]), let m = Int(parts[1]), (0..<24).contains(h), (0..<60).contains(m) else { return nil }
    return h * 60 + m
}
