// Text from the stack (market ids, reasons, log lines) is printed with its control characters made visible,
// so a market named "\u{1b}]52;…" cannot rewrite the operator's terminal or clipboard.

/// Every print of wardenctl goes through here (this shadows the standard library's `print` in this module).
func print(_ items: Any..., separator: String = " ", terminator: String = "\n") {
    Swift.print(TerminalSafe.text(items.map { "\($0)" }.joined(separator: separator)), terminator: terminator)
}

enum TerminalSafe {
    /// Control characters other than newline and tab shown as `^X` (ESC as `^[`, DEL as `^?`), C1 controls as
    /// `<U+0080>`…; everything else unchanged.
    static func text(_ s: String) -> String {
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u.value {
            case 0x0A, 0x09: out.append(u)
            case 0x00..<0x20: out.append("^"); out.append(Unicode.Scalar(UInt8(u.value) + 0x40))
            case 0x7F: out.append(contentsOf: "^?".unicodeScalars)
            case 0x80..<0xA0: out.append(contentsOf: "<U+\(String(u.value, radix: 16, uppercase: true))>".unicodeScalars)
            default: out.append(u)
            }
        }
        return String(out)
    }

    static func isControl(_ u: Unicode.Scalar) -> Bool {
        (u.value < 0x20 && u.value != 0x0A && u.value != 0x09) || (0x7F..<0xA0).contains(u.value)
    }
}
