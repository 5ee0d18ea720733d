// The degradation rows the cycle judges from what the driver observed (DESIGN §4.5): reasons past their expiry, the
// disk, the market data's age, held markets without a book, markets whose book stopped changing, the API health
// guard. Each goes through the degradation matrix, which raises or clears its reason and says so once.
import Foundation
import WardenCore
import WardenHTTP
import WardenKit

extension EngineCore {
    mutating func assess(_ now: Date, _ seen: Observations) {
        let expired = DegradationMatrix.expire(now: now, control: &control)
        for n in expired { notice(n) }
        if !expired.isEmpty { persistReasons() }
        if let free = seen.diskFreePercent {
            notice(DegradationMatrix.assess(.diskLow, bad: free < settings.minFreePercent,
                                            DegradationFact(since: now, detail: String(format: "%.1f%% free", free), place: seen.diskPlace,
                                                            bound: String(format: "%.0f%%", settings.minFreePercent)),
                                            now: now, control: &control))
        }
        assessFreshness(now, seen)
        assessAPIHealth(now, seen.hosts)
    }

    /// Whether any sub-account holds shares of the market.
    public func holds(marketID: String) -> Bool {
        accounts.values.contains { $0.positions.values.contains { $0.marketID == marketID && $0.shares > 0 } }
    }

    /// Stale data as a whole pauses entries globally; a stale market pauses entries for it. Never a fallback.
    mutating func assessFreshness(_ now: Date, _ seen: Observations) {
        if let since = seen.dataGoodSince {
            notice(DegradationMatrix.assess(.dataStale, bad: now.timeIntervalSince(since) > settings.staleDataAfter,
                                            DegradationFact(since: since, detail: seen.dataProblem ?? ""), now: now, control: &control))
        }
        // A held market whose book is gone cannot be marked or exited at a known price: said, and said again when it
        // is back.
        let noBook = Set(marketBook.noBookMarkets)
        for id in marketBook.noBookMarkets where holds(marketID: id) && !noBookAlerted.contains(id) {
            noBookAlerted.insert(id)
            notice(key: "no_book:\(id)", kind: .data, severity: .warning,
                   message: "held market \(id) has no order book (the CLOB answered none for one of its outcomes); it is unmarked until one comes back")
        }
        for id in noBookAlerted.sorted() where !noBook.contains(id) {
            noBookAlerted.remove(id)
            notice(key: "no_book:\(id)", kind: .resumed, severity: .info, message: "held market \(id) has an order book again")
        }
        // While all data is stale every book is, by consequence: one data_stale reason and alert say it, not one more
        // per market (an outage gave 1 + N alerts and N recoveries).
        let allStale = control.has(.dataStale)
        for (id, oldest) in marketBook.openMarketAges() {
            let stale = oldest.map { now.timeIntervalSince($0) > settings.staleMarketAfter } ?? false
            if stale && allStale { continue }
            // Nothing to clear for a fresh market that was never paused: skipped without building its texts.
            if !stale && !control.has(.marketStale, marketID: id) { continue }
            notice(DegradationMatrix.assess(.marketStale, bad: stale, DegradationFact(since: oldest ?? now, marketID: id), now: now, control: &control))
        }
    }

    /// API health guard: error rate or rate-limit usage over the bounds pauses entries for the cooldown.
    mutating func assessAPIHealth(_ now: Date, _ hosts: [HostStats]) {
        for h in hosts where h.recentRequests >= 10 {
            guard h.recentErrorRate >= settings.healthErrorRate || h.rateLimitUsage >= settings.healthRateLimitUsage else { continue }
            let why = String(format: "%@: error rate %.0f%%, rate-limit usage %.0f%%", h.host, h.recentErrorRate * 100, h.rateLimitUsage * 100)
            notice(DegradationMatrix.assess(.apiHealth, bad: true, DegradationFact(since: now, detail: why, expiresAt: now.addingTimeInterval(settings.healthCooldown)),
                                            now: now, control: &control))
        }
    }
}
