// The `notifier:` section of warden.yaml: timings, quiet hours, digest, and the channels by name.
import Foundation
import Yams

extension ConfigLoader {
    /// Checks the section's shape; returns channel names in file order.
    static func validateNotifier(_ node: Node, _ reader: StrictReader) -> [String] {
        var sectionTree = keyTree(NotifierSettings.self)
        sectionTree.children["channels"] = KeyTree()  // channels by name: checked one by one below
        check(node, against: sectionTree, path: "notifier", reader)
        var names: [String] = []
        for (k, v) in node.mapping ?? [:] {
            guard let key = k.string, key == "channels" else { continue }
            guard let channels = v.mapping else {
                reader.fail("notifier.channels", "must be a mapping of channel name to its settings")
                continue
            }
            for (ck, cv) in channels {
                let name = ck.string ?? "?"
                guard name.range(of: "^[a-z][a-z0-9_-]{0,31}$", options: .regularExpression) != nil else {
                    reader.fail("notifier.channels.\(name)", "channel names are 1-32 of a-z, 0-9, '-', '_', starting with a letter")
                    continue
                }
                names.append(name)
                check(cv, against: keyTree(ChannelSettings.self), path: "notifier.channels.\(name)", reader)
            }
        }
        return names
    }

    static func readNotifier(into n: inout NotifierSettings, channels: [String]?, _ r: StrictReader) {
        let p = "notifier"
        NotifierSettings.readDeclared(into: &n, prefix: p, r)
        func clock(_ key: String) -> Int?? {
            guard let text = r.string("\(p).\(key)") else { return .none }
            if text == "off" { return .some(nil) }
            guard let m = minuteOfDay(text) else {
                r.fail("\(p).\(key)", "`\(text)` is not a UTC time of day like 07:30 (or off)")
                return .none
            }
            return .some(m)
        }
        clock("digest_at").map { n.digestAt = $0 }
        let start = clock("quiet_hours.start"), end = clock("quiet_hours.end")
        if let s = start, let e = end { n.quietStart = s; n.quietEnd = e }
        else if (start == nil) != (end == nil) { r.fail("\(p).quiet_hours", "needs both start and end") }
        guard let channels else { return }
        n.channels = channels.map { readChannel($0, r) }
    }

    private static func readChannel(_ name: String, _ r: StrictReader) -> ChannelSettings {
        let p = "notifier.channels.\(name)"
        guard let kindText = r.oneOf("\(p).kind", ChannelSettings.Kind.allCases.map(\.rawValue)) else {
            r.fail("\(p).kind", "required: telegram, webhook or log")
            return ChannelSettings(name: name, kind: .log)
        }
        var c = ChannelSettings(name: name, kind: ChannelSettings.Kind(rawValue: kindText)!)
        c.maxLength = c.defaultMaxLength
        ChannelSettings.readDeclared(into: &c, prefix: p, r)
        return c
    }
}
