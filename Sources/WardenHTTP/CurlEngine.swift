// libcurl's multi interface on one dedicated thread: many transfers, keep-alive reuse, no blocking of Swift's pool.
import CCurl
public import Foundation

/// One HTTP request as libcurl performs it.
public struct HTTPRequest: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: Data?
    public var connectTimeout: Duration
    public var timeout: Duration
    /// Safe to send again after a failure (GET, and POSTs that only read, like CLOB /books).
    public var idempotent: Bool

    public init(method: String = "GET", url: String, headers: [(String, String)] = [], body: Data? = nil,
                connectTimeout: Duration = .seconds(3), timeout: Duration = .seconds(10), idempotent: Bool? = nil) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
        self.connectTimeout = connectTimeout; self.timeout = timeout
        self.idempotent = idempotent ?? (method == "GET" || method == "HEAD")
    }

    public var host: String { URLComponents(string: url)?.host ?? "?" }
    public var path: String { URLComponents(string: url)?.path ?? "/" }
}

public struct HTTPResponse: Sendable {
    public var status: Int
    /// Lowercased names; the last value wins.
    public var headers: [String: String]
    public var body: Data
    public var elapsed: Duration
    public init(status: Int, headers: [String: String], body: Data, elapsed: Duration) {
        self.status = status; self.headers = headers; self.body = body; self.elapsed = elapsed
    }
}

/// Transport failures, with libcurl's own text.
public struct TransportError: Error, Sendable, CustomStringConvertible {
    public var curlCode: Int
    public var message: String
    public var isTimeout: Bool { curlCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) }
    public var description: String { "curl \(curlCode): \(message)" }
}

/// Performs requests on libcurl's multi interface from one thread of its own.
public final class CurlEngine: @unchecked Sendable {
    private final class Transfer {
        let easy: UnsafeMutableRawPointer
        let continuation: CheckedContinuation<HTTPResponse, any Error>
        var body = Data()
        var headers: [String: String] = [:]
        var headerList: UnsafeMutablePointer<curl_slist>?
        let maxBody: Int
        let started = ContinuousClock.now
        init(easy: UnsafeMutableRawPointer, continuation: CheckedContinuation<HTTPResponse, any Error>, maxBody: Int) {
            self.easy = easy
            self.continuation = continuation
            self.maxBody = maxBody
        }
    }

    private let multi: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var pending: [Transfer] = []
    private var active: [UnsafeMutableRawPointer: Transfer] = [:]
    /// Largest response body accepted (a guard against a runaway server).
    public let maxBodyBytes: Int

    public static let shared = CurlEngine()

    public init(maxBodyBytes: Int = 32 << 20) {
        curl_global_init(Int(CURL_GLOBAL_DEFAULT))
        multi = curl_multi_init()!
        self.maxBodyBytes = maxBodyBytes
        _ = warden_curl_multi_set_long(multi, CURLMOPT_MAXCONNECTS, 32)
        let t = Thread { [unowned self] in self.loop() }
        t.name = "warden-curl"
        t.start()
    }

    public func perform(_ request: HTTPRequest) async throws -> HTTPResponse {
        try await withCheckedThrowingContinuation { continuation in
            guard let easy = curl_easy_init() else {
                continuation.resume(throwing: TransportError(curlCode: -1, message: "curl_easy_init failed"))
                return
            }
            let t = Transfer(easy: easy, continuation: continuation, maxBody: maxBodyBytes)
            configure(t, request)
            lock.lock()
            pending.append(t)
            lock.unlock()
            curl_multi_wakeup(multi)
        }
    }

    private func configure(_ t: Transfer, _ r: HTTPRequest) {
        let h = t.easy
        _ = warden_curl_set_str(h, CURLOPT_URL, r.url)
        _ = warden_curl_set_long(h, CURLOPT_NOSIGNAL, 1)
        _ = warden_curl_set_long(h, CURLOPT_CONNECTTIMEOUT_MS, Int(r.connectTimeout.milliseconds))
        _ = warden_curl_set_long(h, CURLOPT_TIMEOUT_MS, Int(r.timeout.milliseconds))
        _ = warden_curl_set_long(h, CURLOPT_SSL_VERIFYPEER, 1)
        _ = warden_curl_set_long(h, CURLOPT_SSL_VERIFYHOST, 2)
        _ = warden_curl_set_long(h, CURLOPT_FOLLOWLOCATION, 0)
        _ = warden_curl_set_str(h, CURLOPT_ACCEPT_ENCODING, "")
        _ = warden_curl_set_str(h, CURLOPT_USERAGENT, "warden/0.1")
        _ = warden_curl_set_long(h, CURLOPT_TCP_KEEPALIVE, 1)
        var list: UnsafeMutablePointer<curl_slist>?
        for (k, v) in r.headers { list = curl_slist_append(list, "\(k): \(v)") }
        if r.body != nil && !r.headers.contains(where: { $0.0.lowercased() == "content-type" }) {
            list = curl_slist_append(list, "Content-Type: application/json")
        }
        list = curl_slist_append(list, "Expect:")
        t.headerList = list
        _ = warden_curl_set_ptr(h, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(list))
        if r.method == "GET" {
            _ = warden_curl_set_long(h, CURLOPT_HTTPGET, 1)
        } else {
            _ = warden_curl_set_str(h, CURLOPT_CUSTOMREQUEST, r.method)
        }
        if let body = r.body {
            // Size first, then COPYPOSTFIELDS: libcurl keeps its own copy of the bytes.
            _ = warden_curl_set_offt(h, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count))
            var bytes = [UInt8](body)
            bytes.append(0)
            bytes.withUnsafeMutableBytes { _ = warden_curl_set_ptr(h, CURLOPT_COPYPOSTFIELDS, $0.baseAddress!) }
        }
        let me = Unmanaged.passUnretained(t).toOpaque()
        _ = warden_curl_set_write(h, { ptr, size, n, ud in
            let t = Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
            let count = size * n
            if t.body.count + count > t.maxBody { return 0 }  // aborts the transfer
            t.body.append(UnsafeRawPointer(ptr!).assumingMemoryBound(to: UInt8.self), count: count)
            return count
        }, me)
        _ = warden_curl_set_header_cb(h, { ptr, size, n, ud in
            let t = Unmanaged<Transfer>.fromOpaque(ud!).takeUnretainedValue()
            let count = size * n
            let line = String(decoding: UnsafeRawBufferPointer(start: ptr, count: count), as: UTF8.self)
            if line.hasPrefix("HTTP/") { t.headers = [:] }  // a new response (after 100-continue)
            if let colon = line.firstIndex(of: ":") {
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespacesAndNewlines)
                t.headers[name] = value
            }
            return count
        }, me)
    }

    private func loop() {
        while true {
            lock.lock()
            let adding = pending
            pending = []
            lock.unlock()
            for t in adding {
                active[t.easy] = t
                curl_multi_add_handle(multi, t.easy)
            }
            var running: Int32 = 0
            curl_multi_perform(multi, &running)
            var left: Int32 = 0
            while let msg = curl_multi_info_read(multi, &left) {
                guard msg.pointee.msg == CURLMSG_DONE, let easy = msg.pointee.easy_handle,
                      let t = active.removeValue(forKey: easy) else { continue }
                finish(t, code: msg.pointee.data.result)
            }
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }
    }

    private func finish(_ t: Transfer, code: CURLcode) {
        curl_multi_remove_handle(multi, t.easy)
        var status = 0
        _ = warden_curl_get_long(t.easy, CURLINFO_RESPONSE_CODE, &status)
        let message = String(cString: curl_easy_strerror(code))
        curl_easy_cleanup(t.easy)
        curl_slist_free_all(t.headerList)
        let elapsed = ContinuousClock.now - t.started
        if code == CURLE_OK {
            t.continuation.resume(returning: HTTPResponse(status: status, headers: t.headers, body: t.body, elapsed: elapsed))
        } else {
            var text = message
            if code == CURLE_WRITE_ERROR { text = "response body larger than \(maxBodyBytes) bytes" }
            t.continuation.resume(throwing: TransportError(curlCode: Int(code.rawValue), message: text))
        }
    }
}

extension Duration {
    var milliseconds: Int64 {
        let (s, a) = components
        return s * 1000 + a / 1_000_000_000_000_000
    }
}
