// Timestamps as every surface shows them: ISO-8601 UTC with milliseconds.
public import Foundation

private let isoStyle = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

/// ISO-8601 UTC with milliseconds (a value style: no formatter is built per call).
public func isoString(_ date: Date) -> String { date.formatted(isoStyle) }

public func isoNow() -> String { isoString(Date()) }

/// Parses what `isoString` writes (and the same without fractional seconds); nil for anything else.
public func parseISO(_ text: String) -> Date? {
    (try? isoStyle.parse(text)) ?? (try? Date.ISO8601FormatStyle().parse(text))
}
