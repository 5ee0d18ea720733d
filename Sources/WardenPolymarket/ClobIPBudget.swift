// The CLOB's per-IP limits, kept on our side (the venue throttles first, then answers 429: a bot that finds its limit
// by 429s has already been slowed down on the calls that matter). Each trading call spends from the windows of its
// endpoint (ExternalAPIs "Polymarket trading": POST /order 3,500 per 10 s and 36,000 per 10 min, DELETE /order 3,000
// per 10 s, balance-allowance 200 per 10 s, API-key endpoints 100 per 10 s, the rest within the general 9,000 per
// 10 s); a call its budget cannot pay is refused here, before it is sent, with the wait until a slot frees.
import Synchronization

/// Which per-IP limit a call counts against.
public enum ClobEndpointClass: String, Sendable, CaseIterable {
    case postOrder = "post_order", cancelOrder = "cancel_order", balanceAllowance = "balance_allowance", apiKey = "api_key", general

    public static func of(method: String, path: String) -> ClobEndpointClass {
        switch (method, path) {
        case ("POST", "/order"): return .postOrder
        case ("DELETE", "/order"): return .cancelOrder
        case (_, let p) where p.hasPrefix("/balance-allowance"): return .balanceAllowance
        case (_, let p) where p.hasPrefix("/auth/"): return .apiKey
        default: return .general
        }
    }

    /// (calls, seconds) windows, every one of which must have room.
    var windows: [(limit: Int, seconds: Double)] {
        switch self {
        case .postOrder: return [(3_500, 10), (36_000, 600)]
        case .cancelOrder: return [(3_000, 10)]
        case .balanceAllowance: return [(200, 10)]
        case .apiKey: return [(100, 10)]
        case .general: return [(9_000, 10)]
        }
    }
}

/// Calls made per endpoint class in sliding windows; what is left of the tightest one.
public final class ClobIPBudget: Sendable {
    struct Window {
        let limit: Int
        let seconds: Double
        /// Times of the calls still inside the window, oldest first (from `head`).
        var times: [Double] = []
        var head = 0
        var count: Int { times.count - head }
        mutating func prune(_ now: Double) {
            while head < times.count, now - times[head] >= seconds { head += 1 }
            if head > 4_096, head * 2 > times.count { times.removeFirst(head); head = 0 }
        }
    }

    private let state: Mutex<[ClobEndpointClass: [Window]]>

    public init() {
        var s: [ClobEndpointClass: [Window]] = [:]
        for c in ClobEndpointClass.allCases { s[c] = c.windows.map { Window(limit: $0.limit, seconds: $0.seconds) } }
        state = Mutex(s)
    }

    /// Spends one call of `c` at `now` (seconds), or, when a window is full, says how long until it has room.
    public func spend(_ c: ClobEndpointClass, now: Double) -> Double? {
        state.withLock { s in
            var windows = s[c]!
            var wait = 0.0
            for i in windows.indices {
                windows[i].prune(now)
                if windows[i].count >= windows[i].limit { wait = max(wait, windows[i].seconds - (now - windows[i].times[windows[i].head])) }
            }
            if wait > 0 { s[c] = windows; return wait }
            for i in windows.indices { windows[i].times.append(now) }
            s[c] = windows
            return nil
        }
    }

    /// Calls left in the tightest window of each class at `now`.
    public func remaining(now: Double) -> [String: Int] {
        state.withLock { s in
            var out: [String: Int] = [:]
            for (c, windows) in s {
                var ws = windows
                out[c.rawValue] = ws.indices.map { i -> Int in ws[i].prune(now); return ws[i].limit - ws[i].count }.min() ?? 0
                s[c] = ws
            }
            return out
        }
    }
}
