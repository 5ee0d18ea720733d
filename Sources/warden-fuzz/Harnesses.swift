// One harness per parser that takes bytes from outside (FAULTS.md F58). Each must return for any input:
// a trap, an overflow or an ASan report is a defect, and the input that found it becomes a unit test.
import Foundation
import WardenCore
import WardenDashboard
import WardenEngine
import WardenIPC
import WardenKit
import WardenPolymarket
import WardenSupervisor

enum Harness: String, CaseIterable {
    case market, books, channel, frame, form, notify, config, numbers, recording, clob

    /// What the harness feeds its input to.
    var about: String {
        switch self {
        case .market: return "a Gamma market page (GammaParser.page)"
        case .books: return "a CLOB /books answer (ClobParser.books)"
        case .channel: return "a market WebSocket text frame (MarketChannelParser.parse), applied to a book"
        case .frame: return "an IPC frame payload and every request body type (Frame, Frame.body)"
        case .form: return "a dashboard form body and a Host header (FormDecoding, HostPolicy)"
        case .notify: return "an sd_notify datagram (NotifyReceiver.check and parse)"
        case .config: return "a configuration file (ConfigLoader.load)"
        case .numbers: return "decimal and duration text (Fixed.parse, Duration.parse)"
        case .recording: return "a recording, plain or gzip, whole or cut short (RecordingFile.text, ReplayMarketData)"
        case .clob: return "a CLOB trading answer: /time, POST /order, DELETE /order, heartbeats, credentials, listing pages and their rows (ClobAnswers)"
        }
    }

    func run(_ data: Data) {
        switch self {
        case .market:
            _ = try? GammaParser.page(data)
        case .books:
            _ = try? ClobParser.books(data, observedAt: Date(timeIntervalSince1970: 1_700_000_000))
        case .channel:
            var book = OrderBook(tokenID: "1", bids: [], asks: [], tickSize: 10_000, minOrderSize: 0, bookTime: nil,
                                 observedAt: Date(timeIntervalSince1970: 1_700_000_000))
            for e in MarketChannelParser.parse(String(decoding: data, as: UTF8.self), observedAt: Date(timeIntervalSince1970: 1_700_000_000)).events {
                if case .levels(let l) = e { for c in l { book.apply(c.side, price: c.price, size: c.size) } }
            }
        case .frame:
            guard let frame = try? Frame(payload: data) else { return }
            _ = frame.head.deadline(defaultMS: 30_000)
            _ = try? frame.body(as: ProgramRequest.self)
            _ = try? frame.body(as: LogsRequest.self)
            _ = try? frame.body(as: EventsRequest.self)
            _ = try? frame.body(as: EquityRequest.self)
            _ = try? frame.body(as: TradesRequest.self)
            if let p = try? frame.body(as: PauseRequest.self) {
                _ = try? InputLimits.check(reason: p.reason, author: p.author, expiresInSeconds: p.expires_in_s)
            }
            _ = try? frame.body(as: SwitchRequest.self)
            _ = try? frame.body(as: FlattenRequest.self)
            _ = try? frame.body(as: SubscribeRequest.self)
            _ = try? frame.body(as: NotifyRequest.self)
            _ = try? frame.body(as: JSONValue.self)
        case .form:
            _ = try? FormDecoding.decode(data)
            _ = HostPolicy(configured: "127.0.0.1").allows(String(decoding: data.prefix(400), as: UTF8.self))
        case .notify:
            let chars = data.prefix(4096).map { CChar(bitPattern: $0) }
            if NotifyReceiver.check(buf: chars, count: chars.count, hasCred: true, truncated: false) == nil {
                _ = NotifyReceiver.parse(String(decoding: data.prefix(4096), as: UTF8.self))
            }
        case .config:
            Self.loadConfig(data)
        case .numbers:
            let text = String(decoding: data.prefix(64), as: UTF8.self)
            if let m = Fixed.parse(text) {
                _ = Fixed.text(m)
                _ = Fixed.costUp(m, m)
                _ = Fixed.proceedsDown(m, m)
            }
            if let d = Duration.parse(config: text) { _ = d.short; _ = d.seconds; _ = d.clampedMilliseconds() }
        case .recording:
            Self.loadRecording(data)
        case .clob:
            _ = try? ClobAnswers.serverTime(data)
            _ = try? ClobAnswers.posted(data)
            _ = try? ClobAnswers.cancelled(data)
            _ = try? ClobAnswers.heartbeat(data)
            _ = try? ClobAnswers.credentials(data)
            _ = try? ClobAnswers.version(data)
            _ = try? ClobAnswers.collateral(data)
            // The user channel's frames come from the same venue (read as events, never trusted).
            _ = UserChannelParser.events(String(decoding: data, as: UTF8.self))
            if let page = try? ClobAnswers.page(data, path: "/data/orders") {
                for row in page.rows { _ = try? ClobAnswers.openOrder(row); _ = try? ClobAnswers.trades(row, owner: "fuzz") }
            }
        }
    }

    /// The replay reads a file: one per process, overwritten per input; read as the backtest does (stopping at a bad
    /// line) and as `source: replay` does (refusing the file).
    static let recordingPath = FileManager.default.temporaryDirectory.appendingPathComponent("warden-fuzz-\(getpid()).jsonl").path

    static func loadRecording(_ data: Data) {
        _ = try? RecordingFile.text(data)
        guard FileManager.default.createFile(atPath: recordingPath, contents: data) else { return }
        _ = try? ReplayMarketData(path: recordingPath, speed: 1, stopAtBadLine: true)
        _ = try? ReplayMarketData(path: recordingPath, speed: 1)
    }

    /// The configuration loader reads a file and is async: one file per process, overwritten per input.
    static let configPath = FileManager.default.temporaryDirectory.appendingPathComponent("warden-fuzz-\(getpid()).yaml").path

    static func loadConfig(_ data: Data) {
        guard FileManager.default.createFile(atPath: configPath, contents: data) else { return }
        // The sections warden reads (the notifier's is not linked into this harness).
        ConfigLoader.register(ProgramsSection.configSections + EngineApplication.configSections + DashboardApplication.configSections)
        let done = DispatchSemaphore(value: 0)
        Task.detached {
            if let cfg = try? await ConfigLoader.load(path: configPath, environment: [:]) {
                for p in cfg.programs { _ = p.startTimeout.short; _ = p.stopTimeout.short; _ = p.watchdogSec?.microseconds }
            }
            done.signal()
        }
        done.wait()
    }
}
