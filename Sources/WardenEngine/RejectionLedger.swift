// Rejected market-data items, counted once each while they persist, grouped by reason for every surface.
import Foundation
public import WardenPolymarket
public import WardenIPC

/// What each refresh rejected. An item rejected for the same reason on every discovery is one rejection
/// while it persists (it was counted 1 → 13 in five minutes before); it counts again only after it was
/// accepted or absent in between. Every distinct reason is kept with its count and one example.
public struct RejectionLedger: Sendable {
    public enum Source: String, Sendable { case discovery, books }

    private var active: [Source: [String: Rejection]] = [:]
    /// Distinct (item, reason) rejections since start.
    public private(set) var total = 0

    public init() {}

    /// Takes one pass's rejections from `source`; returns those not already rejected in its previous pass.
    @discardableResult
    public mutating func record(_ rejections: [Rejection], from source: Source) -> [Rejection] {
        let previous = active[source] ?? [:]
        var now: [String: Rejection] = [:]
        var new: [Rejection] = []
        for r in rejections {
            let key = r.item + "\u{0}" + r.reason
            guard now[key] == nil else { continue }
            now[key] = r
            if previous[key] == nil { new.append(r) }
        }
        active[source] = now
        total += new.count
        return new
    }

    /// Items rejected in the latest pass of each source.
    public var current: Int { active.values.reduce(0) { $0 + $1.count } }

    /// Every distinct reason of what is rejected now: how many items, and one of them; most items first.
    public func summary(limit: Int = 20) -> [RejectionSummary] {
        var groups: [String: (count: Int, example: String)] = [:]
        for list in active.values {
            for r in list.values.sorted(by: { $0.item < $1.item }) {
                let g = groups[r.reason]
                groups[r.reason] = ((g?.count ?? 0) + 1, g?.example ?? r.item)
            }
        }
        return groups.map { RejectionSummary(reason: $0.key, count: $0.value.count, example: $0.value.example) }
            .sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
            .prefix(limit).map { $0 }
    }
}
