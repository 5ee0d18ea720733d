// Secrets are removed from any text before it is stored or shown, in every form they can take there: as they
// are, percent-encoded (either hex case, any of the URL components' encodings), form-encoded, JSON-escaped and
// base64 — an error message from a URL library quotes the URL as it sent it, encoded.
import Foundation

public enum Redaction {
    /// The forms in which `secret` may appear in a message.
    public static func variants(of secret: String) -> [String] {
        var out: Set<String> = [secret]
        let sets: [CharacterSet] = [.alphanumerics, .urlPathAllowed, .urlQueryAllowed, .urlHostAllowed, .urlUserAllowed,
                                    .urlPasswordAllowed, .urlFragmentAllowed]
        for set in sets {
            if let e = secret.addingPercentEncoding(withAllowedCharacters: set) { out.insert(e) }
        }
        if let form = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._* "))) {
            out.insert(form.replacingOccurrences(of: " ", with: "+"))
        }
        out.insert(secret.replacingOccurrences(of: "/", with: "\\/"))
        out.insert(Data(secret.utf8).base64EncodedString())
        return out.sorted { $0.count > $1.count }  // longest first, so a shorter form never splits a longer one
    }

    /// `text` with every form of each secret (of at least 4 characters) replaced by `<name>`.
    public static func redact(_ text: String, secrets: [(name: String, value: String)]) -> String {
        var t = text
        for (name, value) in secrets where value.count >= 4 {
            for v in variants(of: value) where t.range(of: v, options: .caseInsensitive) != nil {
                t = t.replacingOccurrences(of: v, with: "<\(name)>", options: .caseInsensitive)
            }
        }
        return t
    }
}
