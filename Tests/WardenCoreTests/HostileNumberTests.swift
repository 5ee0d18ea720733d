// F58: numbers from outside never trap: text that looks like digits but is not, and sizes that would overflow.
import Testing
@testable import WardenCore

@Suite("Hostile numbers")
struct HostileNumberTests {
    @Test("a combining mark, other non-ASCII digits and malformed text are no number; plain decimals still parse")
    func parse() {
        #expect(Fixed.parse("0.0\u{301}5") == nil)
        #expect(Fixed.parse("\u{301}") == nil)
        #expect(Fixed.parse("٣") == nil)          // Arabic-Indic three
        #expect(Fixed.parse("１") == nil)          // full-width one
        #expect(Fixed.parse("1e-3") == nil)
        #expect(Fixed.parse("-") == nil)
        #expect(Fixed.parse(".") == nil)
        #expect(Fixed.parse("1.2.3") == nil)
        #expect(Fixed.parse("9999999999999") == nil)  // 13 integer digits
        #expect(Fixed.parse("0.15") == 150_000)
        #expect(Fixed.parse(" 100 ") == 100_000_000)
        #expect(Fixed.parse("-2.5") == -2_500_000)
        #expect(Fixed.parse(".5") == 500_000)
        #expect(Fixed.parse("5.") == 5_000_000)
        #expect(Fixed.parse("0.1234567") == 123_456)
        #expect(Fixed.parse("999999999999.999999") == 999_999_999_999_999_999)
    }

    @Test("price × size at the extremes saturates instead of overflowing; Int64.min prints")
    func arithmetic() {
        let huge = Fixed.parse("999999999999")!
        #expect(Fixed.costUp(Fixed.one - 1, huge) > 0)
        #expect(Fixed.costUp(huge, huge) == Int64.max)
        #expect(Fixed.proceedsDown(huge, huge) == Int64.max)
        #expect(Fixed.costUp(500_000, 10_000_000) == 5_000_000)
        #expect(Fixed.text(Int64.min).hasPrefix("-9223372036854"))
    }
}
