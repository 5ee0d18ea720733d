// Any JSON value, for forwarding a body between sockets without knowing its type.

public indirect enum JSONValue: Codable, Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let n = try? c.decode(Double.self) { self = .number(n) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n):
            if n == n.rounded(), abs(n) < 9e15 { try c.encode(Int64(n)) } else { try c.encode(n) }
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }
}

/// The engine as `wardenctl status --json` shows it.
public struct EngineStatus: Codable, Sendable {
    public var reachable: Bool
    public var error: String?
    public var trading_state: String?
    public var reasons: [ReasonInfo]?
    public var data: DataInfo?
    public var accounts: [AccountInfo]?
    public var fills_total: Int?
    public var storage: String?
    public var snapshot_at: String?
    public var hosts: [HostInfo]?
    public var cycle_histogram: CycleHistogram?
    /// The live venue (absent: paper only).
    public var venue: VenueInfo?
    public init(reachable: Bool, error: String? = nil, snapshot: EngineSnapshot? = nil) {
        self.reachable = reachable
        self.error = error
        trading_state = snapshot?.trading_state
        reasons = snapshot?.reasons
        data = snapshot?.data
        accounts = snapshot?.accounts
        fills_total = snapshot?.fills_total
        storage = snapshot?.storage
        snapshot_at = snapshot?.at
        hosts = snapshot?.hosts
        cycle_histogram = snapshot?.cycle_histogram
        venue = snapshot?.venue
    }
}
