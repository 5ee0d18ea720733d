// The core's side of live trading: an order for a live strategy is checked against the venue's health and the caps,
// written ahead (with the venue named) and handed to the driver; what the venue says comes back as reports, which
// move the order's state (journaled) and book its trades exactly once.
import Foundation
public import WardenCore
import WardenIPC

extension EngineCore {
    /// Every open order, paper and live (what strategies are shown of their own, and what holds their cash).
    public var openOrders: [RestingOrder] { live.isEmpty ? venue.openOrders : venue.openOrders + live.resting }

    /// A live entry or exit: refused while the venue is unhealthy (fail closed) or past a cap, before anything is
    /// signed; otherwise numbered, written ahead and handed to the venue.
    mutating func sendLive(_ proposed: OrderIntent, now: Date) -> Execution {
        var intent = proposed
        if let problem = live.problem {
            notice(key: "live_refused:\(intent.strategy)", kind: .order, severity: .info,
                   message: "\(intent.strategy): live order not sent: the venue is unhealthy (\(problem))", alert: false)
            return .notSent("live venue unhealthy: \(problem)")
        }
        let held = accounts[intent.strategy]?.positions.values.filter { $0.marketID == intent.marketID }.reduce(Micros(0)) { $0 + $1.costBasis } ?? 0
        if let cap = live.capProblem(intent, heldInMarket: held, now: now) {
            live.capsRefused += 1
            let alert = live.capAlerted[intent.strategy].map { now.timeIntervalSince($0) >= 3600 } ?? true
            if alert { live.capAlerted[intent.strategy] = now }
            notice(key: "live_cap:\(intent.strategy)", kind: .risk, severity: .warning,
                   message: "\(intent.strategy): live order refused before signing: \(cap)" + (alert ? " (further refusals this hour are counted, not alerted)" : ""), alert: alert)
            return .notSent(cap)
        }
        intent.id = intentIDs.next()
        checkpoint()
        out += [.journal(.liveIntent(intent)), .venue(.submit(intent))]
        liveIntents[intent.id] = intent
        live.orders[intent.id] = LiveOrder(intent: intent, state: .pending, since: now)
        live.spend(intent, now: now)
        return .sent
    }

    /// The limit of a flatten's sell: the best bid on the tick; live, the FAK goes through the book down to the
    /// slippage bound under it (the paper broker applies that bound itself when it walks the book).
    func flattenLimit(bid: Micros, market: Market, live: Bool) -> Micros {
        var limit = bid - bid % market.tickSize
        if live {
            limit -= venue.broker.slippageBound
            limit -= limit % market.tickSize
        }
        return max(market.tickSize, limit)
    }

    /// Asks the venue to take a live order off its book (once).
    mutating func cancelLive(_ o: LiveOrder, reason: String, now: Date) {
        guard var order = live.orders[o.intent.id], !order.cancelAsked else { return }
        order.cancelAsked = true
        live.orders[o.intent.id] = order
        out.append(.venue(.cancel(intentID: o.intent.id, reason: reason)))
    }

    /// Moves a live order's state by a report; false when the report is to be skipped (a trade already booked).
    mutating func liveReport(_ report: VenueReport, now: Date) -> Bool {
        let id = report.intentID
        guard var o = live.orders[id] else { return true }
        let before = o.state
        switch report {
        case .placed(_, let orderID):
            o.orderID = orderID
            if o.state == .unknown {
                notice(key: "order_unknown:\(id)", kind: .resumed, severity: .info,
                       message: "\(o.intent.strategy): order \(id) of unknown outcome found on the venue as \(orderID); adopted once", duration: now.timeIntervalSince(o.since))
                o.state = .pending
            }
        case .unknown(_, let reason):
            o.state = .unknown
            o.note = reason
            notice(key: "order_unknown:\(id)", kind: .venue, severity: .critical,
                   message: "\(o.intent.strategy): order \(id) outcome UNKNOWN (\(reason)); not re-sent; reconciliation will find it or rule it out")
        case .resting:
            o.state = .live
        case .filled(let fill, let open):
            if let trade = fill.venueTradeID {
                if live.booked.contains(trade) { return false }
                live.booked.insert(trade)
            }
            if o.state == .unknown {
                notice(key: "order_unknown:\(id)", kind: .resumed, severity: .info,
                       message: "\(o.intent.strategy): order \(id) of unknown outcome traded on the venue; its fills are booked once", duration: now.timeIntervalSince(o.since))
            }
            o.filled += fill.shares
            o.state = open == 0 ? .matched : .live
        case .cancelled(_, _, let reason):
            if o.state == .unknown {
                notice(key: "order_unknown:\(id)", kind: .resumed, severity: .info,
                       message: "\(o.intent.strategy): order \(id) of unknown outcome ruled out: \(reason)", duration: now.timeIntervalSince(o.since))
            }
            o.state = .cancelled
            o.note = reason
        case .rejected(_, let reason):
            o.state = .rejected
            o.note = reason
        }
        if o.state != before || o.orderID != live.orders[id]?.orderID {
            out.append(.journal(.venueOrder(intentID: id, orderID: o.orderID, state: o.state, note: o.note)))
        }
        if o.state.isOpen { live.orders[id] = o } else { live.orders[id] = nil }
        return true
    }

    /// A trade booked as a fill FAILED at settlement: the fill is void and its account corrected, in one journal
    /// write, with an alert (the position and cash it moved were never real).
    mutating func voidFill(_ fill: Fill, reason: String, now: Date) {
        guard var account = accounts[fill.strategy] else { return }
        checkpoint()
        account.void(fill)
        live.voided += 1
        out.append(.journal(.voidFill(fill, account: account, note: reason)))
        accounts[fill.strategy] = account
        notice(key: "settlement_failed:\(fill.venueTradeID ?? fill.intentID)", kind: .venue, severity: .critical,
               message: "\(fill.strategy): trade \(fill.venueTradeID ?? "?") of order \(fill.intentID) FAILED at settlement (\(reason)): its fill of \(Fixed.text(fill.shares)) \(fill.side.rawValue) at \(Fixed.text(fill.averagePrice, decimals: 4)) is void; position and cash corrected")
    }

    /// The heartbeat, the venue's mode or preflight changed whether new live orders may go.
    mutating func venueHealth(_ problem: String?, now: Date) {
        guard problem != live.problem else { return }
        let was = live.problem
        live.problem = problem
        if was == LiveBook.startProblem, problem == nil {
            // The first heartbeat accepted after the start: said, not alerted.
            return notice(key: "venue_unhealthy", kind: .venue, severity: .info, message: "live venue healthy: heartbeat accepted", alert: false)
        }
        if let problem {
            notice(key: "venue_unhealthy", kind: .venue, severity: .critical,
                   message: "live venue unhealthy: \(problem); no new live orders, open ones assumed cancelled until re-read")
        } else {
            notice(key: "venue_unhealthy", kind: .resumed, severity: .info, message: "live venue healthy again (was: \(was ?? "?"))")
        }
    }
}
