// `source: replay`: market data recorded from the live APIs (`warden-engine record`) played back on a clock.
// When the recording ends the data simply stops: the engine goes stale and pauses, it never invents quotes.
public import Foundation
public import WardenCore
public import WardenPolymarket
public import WardenHTTP
import WardenKit
import Synchronization

/// One line of a recording (JSON lines): the market list, a REST snapshot of the books, or what one WebSocket
/// frame delivered (`deltas`: level changes, and full books of single tokens), as observed at `at` (Unix seconds).
public struct ReplayRecord: Codable, Sendable {
    public enum Kind: String, Codable, Sendable { case markets, books, deltas }
    public var kind: Kind
    public var at: Double
    public var markets: [Market]?
    public var books: [OrderBook]?
    public var changes: [LevelChange]?
    /// A `books` record holding only what changed since the one before (`warden-engine record` writes a full one
    /// after each market list, then these): every book of the previous snapshot not listed here and not in
    /// `gone` was observed unchanged at `at`.
    public var partial: Bool?
    /// Tokens asked for in a partial snapshot that came back without a book ("no book" from then on).
    public var gone: [String]?

    public init(kind: Kind, at: Double, markets: [Market]? = nil, books: [OrderBook]? = nil, changes: [LevelChange]? = nil,
                partial: Bool? = nil, gone: [String]? = nil) {
        self.kind = kind; self.at = at; self.markets = markets; self.books = books; self.changes = changes
        self.partial = partial; self.gone = gone
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.dateEncodingStrategy = .secondsSince1970
        e.outputFormatting = [.sortedKeys]
        return e
    }()
    static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .secondsSince1970
        return d
    }()

    public func line() throws -> Data { try Self.encoder.encode(self) + Data("\n".utf8) }
}

public struct ReplayError: Error, CustomStringConvertible, Sendable {
    public var description: String
}

/// When a replay's first record is played: given, or the moment the engine first asks for data (so a slow start,
/// a preflight or a loaded machine does not eat into a short recording).
final class ReplayAnchor: @unchecked Sendable {
    private let lock = NSLock()
    private var start: Date?
    init(_ start: Date?) { self.start = start }
    func startedAt(_ now: Date) -> Date {
        lock.lock(); defer { lock.unlock() }
        if let start { return start }
        start = now
        return now
    }
}

/// Plays a recording from its first record (at the first request unless told when), `speed` recorded seconds per
/// real second. Every time in what it returns (observation, book time, end dates) is moved onto the real clock, so
/// ages and "hours to resolution" mean the same as they did when recorded.
///
/// The file is read forward as the replay plays (`ReplayCursor`), never held whole: one pass at the start finds its
/// first and last times (and, unless `stopAtBadLine`, decodes every line, so a bad one refuses the file there and
/// then); the play keeps the current books and market list only.
public struct ReplayMarketData: MarketDataSource {
    public let path: String
    let speed: Double
    let anchor: ReplayAnchor
    /// Real time, or a backtest's simulated time.
    let clock: @Sendable () -> Date
    let cursor: ReplayCursor
    public var name: String { "replay" }
    /// The first and last recorded times.
    public let firstAt: Double
    public let lastAt: Double
    /// What was wrong with the file but did not stop the replay (a last line cut short; with `stopAtBadLine`, the
    /// malformed line the replay stopped at, once it got there).
    public var warnings: [String] { cursor.warnings }
    /// With `stopAtBadLine`: the replay reached a malformed line, has played everything before it, and `t` (recorded
    /// time) is past the last of that.
    public func playedOut(before t: Double) -> Bool { cursor.playedOut(before: t) }
    /// The time of the last record played.
    public var lastPlayedAt: Double { cursor.lastPlayedAt }
    /// The recorded time of the next record not played yet (nil: none is left).
    public func nextRecordAt() -> Double? { cursor.nextAt() }

    /// Reads the file once (gzip or plain JSON lines) for its times and its shape; a bad line is named by its number.
    /// `stopAtBadLine`: a malformed line ends the replay there (said in `warnings` when reached) instead of refusing
    /// the file.
    public init(path: String, speed: Double, startedAt: Date? = nil, clock: @escaping @Sendable () -> Date = { Date() },
                stopAtBadLine: Bool = false) throws {
        self.path = path
        self.speed = speed
        self.clock = clock
        self.anchor = ReplayAnchor(startedAt)
        let scan = try ReplayScan(path: path, decodeAll: !stopAtBadLine)
        firstAt = scan.firstAt
        lastAt = scan.lastAt
        cursor = try ReplayCursor(path: path, firstMarkets: scan.firstMarkets, notes: scan.notes, lines: scan.lines)
    }

    /// The recorded time being played at real time `now`.
    func replayTime(_ now: Date) -> Double { firstAt + now.timeIntervalSince(anchor.startedAt(now)) * speed }

    /// A recorded instant moved onto the real clock.
    func real(_ recorded: Double, now: Date) -> Date { now.addingTimeInterval((recorded - replayTime(now)) / speed) }

    func ended(_ now: Date) -> ReplayError? {
        let t = replayTime(now)
        if cursor.playedOut(before: t) {
            return ReplayError(description: "replay of \(path) stopped at a malformed line (its last record before it: \(isoString(Date(timeIntervalSince1970: cursor.lastPlayedAt)))); no newer data")
        }
        guard t > lastAt else { return nil }
        return ReplayError(description: "replay of \(path) ended at its last record (recorded \(isoString(Date(timeIntervalSince1970: lastAt)))); no newer data")
    }

    func shift(_ m: Market, now: Date) -> Market {
        var m = m
        m.endDate = m.endDate.map { real($0.timeIntervalSince1970, now: now) }
        return m
    }

    public func discover(now: Date) async throws -> (markets: [Market], rejected: [Rejection]) {
        if let e = ended(now) { throw e }
        let markets = cursor.markets(at: replayTime(now))
        return (markets.map { shift($0, now: now) }, [])
    }

    public func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        let now = clock()
        if let e = ended(now) { throw e }
        let found = cursor.books(tokenIDs, at: replayTime(now))
        let out = found.map { entry -> OrderBook in
            var b = entry.book
            b.observedAt = real(entry.at, now: now)
            b.bookTime = b.bookTime.map { real($0.timeIntervalSince1970, now: now) }
            return b
        }
        return (out, [])
    }

    public func market(id: String) async throws -> Market {
        let now = clock()
        guard let m = cursor.market(id: id, at: replayTime(now)) else {
            throw ReplayError(description: "market \(id) is not in the replay of \(path) up to now")
        }
        return shift(m, now: now)
    }

    public func hostStats() -> [HostStats] { [] }
}

/// The first pass over a recording: its first and last times, its first market list, whether it has books, and (when
/// told to decode every line) that every line is a valid record. A line written by our recorder starts with its
/// time (`{"at":…`, keys sorted), which is read without decoding the rest; any other line is decoded.
struct ReplayScan {
    var firstAt = Double.infinity
    var lastAt = -Double.infinity
    var firstMarkets: [Market]?
    var notes: [String] = []
    /// How many whole lines the replay may play (a line cut short at the end is not one of them).
    var lines = 0

    init(path: String, decodeAll: Bool) throws {
        let reader = try RecordingReader(path: path)
        var sawBooks = false, sawFull = false
        var backwards: Int?
        do {
            while let line = try reader.next() {
                let n = reader.lineNumber
                if line.allSatisfy({ $0 == 32 }) { continue }
                let at: Double
                if !decodeAll, let t = Self.leadingTime(line), firstMarkets != nil || !Self.isMarkets(line) {
                    at = t
                    if Self.isBooks(line) { sawBooks = true }
                } else {
                    let r: ReplayRecord
                    do { r = try ReplayRecord.decode(line: line) } catch {
                        if decodeAll { throw ReplayError(description: "replay file \(path) line \(n): \(error)") }
                        break  // the play stops here and says so
                    }
                    if decodeAll { try ReplayCursor.check(r, line: n, path: path, sawFull: &sawFull) }
                    at = r.at
                    if r.kind == .markets, firstMarkets == nil { firstMarkets = r.markets }
                    if r.kind == .books { sawBooks = true }
                }
                // A time that goes back further than the replay puts back in order is a damaged line (or one
                // before it is): what comes before it is played, nothing after.
                if at < lastAt - ReplayCursor.reorderWindow {
                    let why = "replay file \(path) line \(n) is recorded at \(Self.time(at)), more than \(Int(ReplayCursor.reorderWindow)) s before a line above it (\(Self.time(lastAt)))"
                    if decodeAll { throw ReplayError(description: why) }
                    notes.append(why + "; replaying the \(n - 1) lines before it")
                    backwards = n - 1
                    break
                }
                firstAt = min(firstAt, at); lastAt = max(lastAt, at)
            }
        } catch let e as RecordingReader.Corrupt {
            throw ReplayError(description: "replay file \(path) is not readable gzip: \(e)")
        }
        lines = backwards ?? reader.lineNumber
        if backwards == nil, reader.cutShort, lines > 0 {
            // A recorder stopped mid-way: its last line is incomplete; everything before it is whole.
            notes.append("replay file \(path) ends inside line \(lines + 1) (the recording was cut short); replaying its first \(lines) lines")
        }
        guard firstMarkets != nil, sawBooks, firstAt.isFinite else {
            throw ReplayError(description: "replay file \(path) needs at least one markets and one books record")
        }
    }

    static func time(_ t: Double) -> String { isoString(Date(timeIntervalSince1970: t)) }

    /// The time a line starts with, `{"at":<number>,`; nil for any other shape.
    static func leadingTime(_ line: ArraySlice<UInt8>) -> Double? {
        let prefix = Array(#"{"at":"#.utf8)
        guard line.count > prefix.count + 1, line.starts(with: prefix) else { return nil }
        let rest = line.dropFirst(prefix.count)
        guard let comma = rest.firstIndex(of: UInt8(ascii: ",")) else { return nil }
        return Double(String(decoding: rest[rest.startIndex..<comma], as: UTF8.self))
    }

    static func isMarkets(_ line: ArraySlice<UInt8>) -> Bool { contains(line, #""kind":"markets""#) }
    static func isBooks(_ line: ArraySlice<UInt8>) -> Bool { contains(line, #""kind":"books""#) }

    /// Whether `needle` occurs in the line; the kind sits after the books or markets, so it is looked for from the end.
    private static func contains(_ line: ArraySlice<UInt8>, _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard line.count >= n.count else { return false }
        var i = line.endIndex - n.count
        while i >= line.startIndex {
            if line[i] == n[0] && line[i..<(i + n.count)].elementsEqual(n) { return true }
            i -= 1
        }
        return false
    }
}

/// The replay's position in the file and what it has played: the current books (each with when it was observed and
/// the snapshot it came from), the latest market list and every market as last listed. Moves forward only; records a
/// few seconds out of order (a recorder's WebSocket and REST loops write side by side) are put in time order first.
final class ReplayCursor: @unchecked Sendable {
    private let lock = NSLock()
    private let pipe: RecordPipe
    private var ahead: [ReplayRecord] = []
    private var exhausted = false
    private var stoppedAtBadLine = false
    private var notes: [String]
    /// The latest time asked for, and the time of the last record played.
    private var appliedUpTo = -Double.infinity
    private var lastPlayed = -Double.infinity
    private var marketList: [Market]
    private var lastListed: [String: Market] = [:]
    /// Each book with the time of the last delta applied to it since the latest snapshot (nil: as the snapshot
    /// had it). Every book of a snapshot, listed in it or unchanged, was observed at the snapshot's time.
    private var current: [String: (book: OrderBook, deltaAt: Double?)] = [:]
    private var snapshotAt = -Double.infinity
    private var sawFull = false
    private let path: String
    /// Records this far ahead of the time asked for are read before it is played (out-of-order lines).
    static let reorderWindow = 10.0

    init(path: String, firstMarkets: [Market]?, notes: [String], lines: Int) throws {
        self.path = path
        pipe = try RecordPipe(path: path, lines: lines)
        marketList = firstMarkets ?? []
        self.notes = notes
    }

    deinit { pipe.close() }

    var warnings: [String] { lock.lock(); defer { lock.unlock() }; return notes }
    /// The time of the last record played.
    var lastPlayedAt: Double { lock.lock(); defer { lock.unlock() }; return lastPlayed }
    /// Stopped at a malformed line with everything before it played, and `t` past the last of it.
    func playedOut(before t: Double) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return stoppedAtBadLine && ahead.isEmpty && t > lastPlayed
    }

    /// A record's shape; a partial books record needs a whole one before it.
    static func check(_ r: ReplayRecord, line n: Int, path: String, sawFull: inout Bool) throws {
        switch r.kind {
        case .markets:
            guard r.markets != nil else { throw ReplayError(description: "replay file \(path) line \(n): markets record without `markets`") }
        case .books:
            guard r.books != nil else { throw ReplayError(description: "replay file \(path) line \(n): books record without `books`") }
            if r.partial == true, !sawFull {
                throw ReplayError(description: "replay file \(path) line \(n): a partial books record before any full one")
            }
            if r.partial != true { sawFull = true }
        case .deltas:
            guard r.changes != nil || r.books != nil else {
                throw ReplayError(description: "replay file \(path) line \(n): deltas record without `changes` or `books`")
            }
        }
    }

    /// The time of the next record not played yet (nil: none is left).
    func nextAt() -> Double? {
        lock.lock(); defer { lock.unlock() }
        readAhead { ahead.isEmpty }
        return ahead.first?.at
    }

    /// Plays every record up to `t`.
    private func advance(to t: Double) {
        guard t > appliedUpTo || appliedUpTo == -.infinity else { return }
        // Read until a record past the window (or the end, or a bad line).
        readAhead { ahead.last.map { $0.at <= t + Self.reorderWindow } ?? true }
        var k = 0
        while k < ahead.count && ahead[k].at <= t { apply(ahead[k]); k += 1 }
        ahead.removeFirst(k)
        appliedUpTo = max(appliedUpTo, t)
    }

    /// Reads records into `ahead`, in time order, while `more` says so (and the file has whole, valid lines left).
    private func readAhead(while more: () -> Bool) {
        while !exhausted && !stoppedAtBadLine && more() {
            guard let item = pipe.next() else { exhausted = true; break }
            do {
                let (n, r): (Int, ReplayRecord)
                switch item {
                case .record(let line, let record): (n, r) = (line, record)
                case .malformed(let line, let error): throw ReplayError(description: "replay file \(path) line \(line): \(error)")
                case .corrupt(let error): throw ReplayError(description: "replay file \(path) is not readable gzip: \(error)")
                }
                try Self.check(r, line: n, path: path, sawFull: &sawFull)
                // Kept in time order (a record older than those read is put before them).
                let i = ahead.lastIndex { $0.at <= r.at }.map { $0 + 1 } ?? 0
                ahead.insert(r, at: i)
            } catch {
                stop("\(error); replaying what comes before it")
            }
        }
    }

    private func stop(_ why: String) {
        stoppedAtBadLine = true
        notes.append(why)
    }

    private func apply(_ r: ReplayRecord) {
        lastPlayed = max(lastPlayed, r.at)
        switch r.kind {
        case .markets:
            let list = r.markets ?? []
            marketList = list
            for m in list { lastListed[m.id] = m }
        case .books:
            let listed = r.books ?? []
            if r.partial == true {
                // Only what changed: every other book of the snapshot before was observed unchanged now (the
                // snapshot's time), the deltas since the one before it replaced by what it holds.
                for id in r.gone ?? [] { current[id] = nil }
            } else {
                current = [:]
            }
            snapshotAt = r.at
            for b in listed { current[b.tokenID] = (b, nil) }
        case .deltas:
            // As the live engine applied them, on the books of the snapshot before; one from before it is void.
            guard r.at > snapshotAt else { return }
            for var b in r.books ?? [] {
                guard let before = current[b.tokenID] else { continue }
                b.keepTickAndMinimum(of: before.book)
                current[b.tokenID] = (b, r.at)
            }
            for c in r.changes ?? [] {
                guard let i = current.index(forKey: c.tokenID) else { continue }
                current.values[i].book.apply(c.side, price: c.price, size: c.size)
                if let h = c.hash { current.values[i].book.hash = h }
                current.values[i].deltaAt = r.at
            }
        }
    }

    func markets(at t: Double) -> [Market] {
        lock.lock(); defer { lock.unlock() }
        advance(to: t)
        return marketList
    }

    func books(_ tokenIDs: [String], at t: Double) -> [(book: OrderBook, at: Double)] {
        lock.lock(); defer { lock.unlock() }
        advance(to: t)
        return tokenIDs.compactMap { id in current[id].map { ($0.book, max($0.deltaAt ?? snapshotAt, snapshotAt)) } }
    }

    func market(id: String, at t: Double) -> Market? {
        lock.lock(); defer { lock.unlock() }
        advance(to: t)
        return lastListed[id]
    }
}

/// Records what the live source returns, as replay lines, until `until` (or cancellation).
public struct MarketRecorder {
    let source: any MarketDataSource
    let bookRefresh: Duration
    let discoveryInterval: Duration
    /// The market WebSocket, whose deltas are recorded too (nil: REST snapshots only).
    let stream: MarketStream?

    public init(source: any MarketDataSource, bookRefresh: Duration, discoveryInterval: Duration, stream: MarketStream? = nil) {
        self.source = source; self.bookRefresh = bookRefresh; self.discoveryInterval = discoveryInterval; self.stream = stream
    }

    /// Lines from the REST loop and the WebSocket, one at a time.
    final class Writer: Sendable {
        let sink: Mutex<RecordingSink>
        let written = Mutex(0)
        init(_ sink: RecordingSink) { self.sink = Mutex(sink) }
        func write(_ r: ReplayRecord) throws {
            let line = try r.line()
            try sink.withLock { try $0.write(line) }
            written.withLock { $0 += 1 }
        }
        func flush() throws { try sink.withLock { try $0.flush() } }
        func close() throws { try sink.withLock { try $0.close() } }
    }

    /// What a books snapshot adds to the one written before it: the books whose content changed (levels, tick,
    /// minimum size or hash) and the tokens asked for that came back without a book.
    public static func changes(since last: [String: OrderBook], now books: [OrderBook], asked: [String]) -> (changed: [OrderBook], gone: [String]) {
        let changed = books.filter { b in
            guard let old = last[b.tokenID] else { return true }
            return !(old.sameLevels(as: b) && old.tickSize == b.tickSize && old.minOrderSize == b.minOrderSize && old.hash == b.hash)
        }
        let answered = Set(books.map(\.tokenID))
        let gone = asked.filter { last[$0] != nil && !answered.contains($0) }
        return (changed, gone)
    }

    /// Appends records to `handle`; a failed fetch is reported through `report` and retried next round, so the
    /// recording shows the same gaps the live data had. Book snapshots are written whole after each market list
    /// and otherwise as what changed (`partial`). Returns how many records were written.
    /// `compressed`: through gzip (the file name ends in .gz), flushed after every round.
    /// `simulated`: a clock the recorder moves itself, one book refresh per round with no waiting (the source's
    /// clock must be the same one: a bench records a day of the fake's scenario in minutes); nil: the real clock,
    /// a round every `bookRefresh`.
    public func record(to handle: FileHandle, compressed: Bool = false, for length: Duration, simulated: SimulatedClock? = nil,
                       report: @escaping @Sendable (String) -> Void) async throws -> Int {
        let writer = Writer(try RecordingSink(handle: handle, compressed: compressed))
        let deltas = stream.map { stream in
            Task {
                for await notice in stream.notices {
                    switch notice {
                    case .events(_, let events, _, let at):
                        var changes: [LevelChange] = [], books: [OrderBook] = []
                        for e in events {
                            if case .levels(let l) = e { changes += l }
                            if case .book(let b) = e { books.append(b) }
                        }
                        guard !changes.isEmpty || !books.isEmpty else { continue }
                        do { try writer.write(ReplayRecord(kind: .deltas, at: at.timeIntervalSince1970, books: books.isEmpty ? nil : books,
                                                           changes: changes.isEmpty ? nil : changes)) } catch {
                            report("deltas not written: \(error)")
                        }
                    case .disconnected(let shard, let reason, _, _):
                        report("market WebSocket \(shard) disconnected (\(reason)); the recording has a gap in deltas until the next snapshot")
                    default:
                        continue
                    }
                }
            }
        }
        defer {
            stream?.stop()
            deltas?.cancel()
        }
        var markets: [Market] = []
        var lastDiscovery: Date?
        var written: [String: OrderBook] = [:]  // the books as the recording has them
        var fullNext = true
        let clock: @Sendable () -> Date
        if let simulated { clock = { simulated.now } } else { clock = { Date() } }
        let end = clock().addingTimeInterval(length.seconds)
        while clock() < end && !Task.isCancelled {
            let round = ContinuousClock.now
            let now = clock()
            if lastDiscovery.map({ now.timeIntervalSince($0) >= discoveryInterval.seconds }) ?? true {
                do {
                    markets = try await source.discover(now: now).markets
                    try writer.write(ReplayRecord(kind: .markets, at: now.timeIntervalSince1970, markets: markets))
                    stream?.follow(Set(markets.filter { !$0.closed }.flatMap { $0.tokens.map(\.tokenID) }))
                    lastDiscovery = now
                    fullNext = true
                } catch let e as CancellationError { throw e } catch {
                    report("discovery failed: \(error)")
                }
            }
            let tokens = markets.filter { !$0.closed }.flatMap { $0.tokens.map(\.tokenID) }
            if !tokens.isEmpty {
                do {
                    let books = try await source.books(tokens).books
                    let at = clock().timeIntervalSince1970
                    if fullNext {
                        try writer.write(ReplayRecord(kind: .books, at: at, books: books))
                        written = Dictionary(books.map { ($0.tokenID, $0) }, uniquingKeysWith: { _, last in last })
                        fullNext = false
                    } else {
                        let (changed, gone) = Self.changes(since: written, now: books, asked: tokens)
                        try writer.write(ReplayRecord(kind: .books, at: at, books: changed, partial: true, gone: gone.isEmpty ? nil : gone))
                        for b in changed { written[b.tokenID] = b }
                        for id in gone { written[id] = nil }
                    }
                } catch let e as CancellationError { throw e } catch {
                    report("book refresh failed: \(error)")
                }
            }
            do { try writer.flush() } catch { report("recording not flushed: \(error)") }
            if let simulated {
                simulated.set(now.addingTimeInterval(bookRefresh.seconds))
                continue
            }
            let spent = ContinuousClock.now - round
            if spent < bookRefresh {
                do { try await Task.sleep(for: bookRefresh - spent) } catch {
                    do { try writer.close() } catch { report("recording not closed (its gzip trailer is missing; every flushed line still reads): \(error)") }
                    throw error
                }
            }
        }
        stream?.stop()
        deltas?.cancel()
        _ = await deltas?.result
        try writer.close()
        return writer.written.withLock { $0 }
    }
}

/// A recording's records read and decoded on a thread of their own, a bounded amount ahead of the replay (decoding
/// a day of books is a third of a backtest's work: the second core does it while the first plays).
final class RecordPipe: @unchecked Sendable {
    enum Item {
        case record(line: Int, ReplayRecord)
        case malformed(line: Int, String)
        case corrupt(String)
    }
    private let cond = NSCondition()
    private var queue: [(item: Item, bytes: Int)] = []
    private var head = 0
    private var queuedBytes = 0
    private var finished = false
    private var closed = false
    /// At most this many records, and this much of their text, wait decoded.
    static let maxRecords = 256
    static let maxBytes = 32 << 20

    /// `lines`: how many lines to read (those the first pass found whole).
    init(path: String, lines: Int) throws {
        let reader = try RecordingReader(path: path)
        let thread = Thread { [self] in self.produce(reader, lines: lines) }
        thread.name = "replay-decode"
        thread.start()
    }

    private func produce(_ reader: RecordingReader, lines: Int) {
        while true {
            cond.lock()
            while !closed && (queue.count - head >= Self.maxRecords || queuedBytes >= Self.maxBytes) { cond.wait() }
            let stop = closed
            cond.unlock()
            if stop { return }
            let item: Item?, bytes: Int
            do {
                if reader.lineNumber < lines, let line = try reader.next() {
                    bytes = line.count
                    if line.allSatisfy({ $0 == 32 }) { continue }
                    do { item = .record(line: reader.lineNumber, try ReplayRecord.decode(line: line)) } catch {
                        item = .malformed(line: reader.lineNumber, "\(error)")
                    }
                } else {
                    item = nil; bytes = 0
                }
            } catch {
                item = .corrupt("\(error)"); bytes = 0
            }
            // The end of the data, or an error that ends the play there, is the last item.
            var done = true
            if case .record? = item { done = false }
            cond.lock()
            if let item { queue.append((item, bytes)); queuedBytes += bytes }
            if done { finished = true }
            cond.broadcast()
            cond.unlock()
            if done { return }
        }
    }

    /// The next record (or the error that ends the play there), nil at the end. Waits for the decoding thread.
    func next() -> Item? {
        cond.lock()
        defer { cond.unlock() }
        while head == queue.count && !finished { cond.wait() }
        guard head < queue.count else { return nil }
        let (item, bytes) = queue[head]
        head += 1
        queuedBytes -= bytes
        if head >= 64 { queue.removeFirst(head); head = 0 }
        cond.broadcast()
        return item
    }

    /// Stops the decoding thread (the replay is gone).
    func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }
}
