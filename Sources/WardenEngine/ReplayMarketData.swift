// `source: replay`: market data recorded from the live APIs (`warden-engine record`) played back on a clock.
// When the recording ends the data simply stops: the engine goes stale and pauses, it never invents quotes.
public import Foundation
public import WardenCore
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
/// real second. Every time in what it
/// returns (observation, book time, end dates) is moved onto the real clock, so ages and "hours to
/// resolution" mean the same as they did when recorded.
public struct ReplayMarketData: MarketDataSource {
    public let path: String
    let speed: Double
    let anchor: ReplayAnchor
    /// Real time, or a backtest's simulated time.
    let clock: @Sendable () -> Date
    let marketSnapshots: [(at: Double, markets: [Market])]
    let bookSnapshots: [(at: Double, books: [String: OrderBook])]
    /// WebSocket deltas in time order, applied on top of the snapshot before them.
    let deltaRecords: [(at: Double, changes: [LevelChange], books: [OrderBook])]
    public var name: String { "replay" }
    /// What was wrong with the file but did not stop the replay (a last line cut short).
    public let warnings: [String]

    /// Loads and checks the whole file (gzip or plain JSON lines); a bad line is named by its number.
    /// `stopAtBadLine`: a malformed line ends the replay there (said in `warnings`) instead of refusing the file.
    public init(path: String, speed: Double, startedAt: Date? = nil, clock: @escaping @Sendable () -> Date = { Date() },
                stopAtBadLine: Bool = false) throws {
        self.path = path
        self.speed = speed
        self.clock = clock
        self.anchor = ReplayAnchor(startedAt)
        guard let raw = FileManager.default.contents(atPath: path) else {
            throw ReplayError(description: "replay file \(path) cannot be read")
        }
        let data: Data, cutShort: Bool
        do { (data, cutShort) = try RecordingFile.text(raw) } catch {
            throw ReplayError(description: "replay file \(path) is not readable gzip: \(error)")
        }
        var lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        if lines.last?.isEmpty == true { lines.removeLast() }
        var notes: [String] = []
        if cutShort, !lines.isEmpty {
            // A recorder stopped mid-way: its last line is incomplete; everything before it is whole.
            lines.removeLast()
            notes.append("replay file \(path) ends inside line \(lines.count + 1) (the recording was cut short); replaying its first \(lines.count) lines")
        }
        var markets: [(Double, [Market])] = [], books: [(Double, [String: OrderBook])] = []
        var deltas: [(at: Double, changes: [LevelChange], books: [OrderBook])] = []
        for (n, line) in lines.enumerated() where !line.allSatisfy({ $0 == 32 }) {
            do {
                let r: ReplayRecord
                do { r = try ReplayRecord.decoder.decode(ReplayRecord.self, from: Data(line)) } catch {
                    throw ReplayError(description: "replay file \(path) line \(n + 1): \(error)")
                }
                switch r.kind {
                case .markets:
                    guard let m = r.markets else { throw ReplayError(description: "replay file \(path) line \(n + 1): markets record without `markets`") }
                    markets.append((r.at, m))
                case .books:
                    guard let b = r.books else { throw ReplayError(description: "replay file \(path) line \(n + 1): books record without `books`") }
                    let listed = Dictionary(b.map { ($0.tokenID, $0) }, uniquingKeysWith: { _, last in last })
                    if r.partial == true {
                        // Only what changed: the snapshot before, with these books replaced and the gone ones removed.
                        guard var full = books.last?.1 else {
                            throw ReplayError(description: "replay file \(path) line \(n + 1): a partial books record before any full one")
                        }
                        full.merge(listed) { _, new in new }
                        for id in r.gone ?? [] { full[id] = nil }
                        books.append((r.at, full))
                    } else {
                        books.append((r.at, listed))
                    }
                case .deltas:
                    guard r.changes != nil || r.books != nil else {
                        throw ReplayError(description: "replay file \(path) line \(n + 1): deltas record without `changes` or `books`")
                    }
                    deltas.append((r.at, r.changes ?? [], r.books ?? []))
                }
            } catch let e as ReplayError where stopAtBadLine {
                notes.append("\(e.description); replaying what comes before it")
                break
            }
        }
        warnings = notes
        guard !markets.isEmpty, !books.isEmpty else {
            throw ReplayError(description: "replay file \(path) needs at least one markets and one books record")
        }
        marketSnapshots = markets.sorted { $0.0 < $1.0 }.map { (at: $0.0, markets: $0.1) }
        bookSnapshots = books.sorted { $0.0 < $1.0 }.map { (at: $0.0, books: $0.1) }
        deltaRecords = deltas.sorted { $0.at < $1.at }
    }

    var firstAt: Double { min(marketSnapshots[0].at, bookSnapshots[0].at) }
    var lastAt: Double { max(marketSnapshots.last!.at, bookSnapshots.last!.at, deltaRecords.last?.at ?? 0) }

    /// The recorded time being played at real time `now`.
    func replayTime(_ now: Date) -> Double { firstAt + now.timeIntervalSince(anchor.startedAt(now)) * speed }

    /// A recorded instant moved onto the real clock.
    func real(_ recorded: Double, now: Date) -> Date { now.addingTimeInterval((recorded - replayTime(now)) / speed) }

    func ended(_ now: Date) -> ReplayError? {
        let t = replayTime(now)
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
        let t = replayTime(now)
        guard let snap = marketSnapshots.last(where: { $0.at <= t }) ?? marketSnapshots.first else {
            throw ReplayError(description: "replay of \(path) has no market list")
        }
        return (snap.markets.map { shift($0, now: now) }, [])
    }

    public func books(_ tokenIDs: [String]) async throws -> (books: [OrderBook], rejected: [Rejection]) {
        let now = clock()
        if let e = ended(now) { throw e }
        let t = replayTime(now)
        guard let snap = bookSnapshots.last(where: { $0.at <= t }) else { return ([], []) }
        var current: [String: (book: OrderBook, at: Double)] = [:]
        for id in tokenIDs { if let b = snap.books[id] { current[id] = (b, snap.at) } }
        // The deltas recorded after that snapshot and up to now, as the live engine applied them.
        var lo = 0, hi = deltaRecords.count
        while lo < hi { let mid = (lo + hi) / 2; if deltaRecords[mid].at <= snap.at { lo = mid + 1 } else { hi = mid } }
        var i = lo
        while i < deltaRecords.count, deltaRecords[i].at <= t {
            let d = deltaRecords[i]
            for var b in d.books {
                guard let before = current[b.tokenID] else { continue }
                b.keepTickAndMinimum(of: before.book)  // as the live engine does with the channel's books
                current[b.tokenID] = (b, d.at)
            }
            for c in d.changes {
                guard var entry = current[c.tokenID] else { continue }
                entry.book.apply(c.side, price: c.price, size: c.size)
                if let h = c.hash { entry.book.hash = h }
                entry.at = d.at
                current[c.tokenID] = entry
            }
            i += 1
        }
        let out = tokenIDs.compactMap { id -> OrderBook? in
            guard let entry = current[id] else { return nil }
            var b = entry.book
            b.observedAt = real(entry.at, now: now)
            b.bookTime = b.bookTime.map { real($0.timeIntervalSince1970, now: now) }
            return b
        }
        return (out, [])
    }

    public func market(id: String) async throws -> Market {
        let now = clock()
        let t = replayTime(now)
        for snap in marketSnapshots.reversed() where snap.at <= t {
            if let m = snap.markets.first(where: { $0.id == id }) { return shift(m, now: now) }
        }
        throw ReplayError(description: "market \(id) is not in the replay of \(path) up to now")
    }

    public func hostStats() -> [HostStats] { [] }
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
