// What the engine does to the world, as values: journal writes and venue requests, performed in order by the driver.
// An order is sent by a list that begins with the journal write of its intent; the performer stops at the first
// journal write that fails, so no venue request ever follows an unrecorded intent (write-ahead by construction,
// DESIGN §4.1), whichever venue performs it.
public import Foundation
public import WardenCore

public import WardenIPC

/// A write to the journal. An intent and a fill are barriers: when one fails, nothing after it in the list is
/// performed and the core is told (it puts its trading state back as it was before that order). The others are
/// recorded when they can: a failure degrades storage, and an order's end is held until storage works again.
public enum JournalWrite: Sendable, Equatable {
    /// An order's intent, written ahead of its venue request.
    case intent(OrderIntent)
    /// A live order's intent, written ahead of its venue request, with the venue named (recovery tells it from paper).
    case liveIntent(OrderIntent)
    /// A booked live fill voided (its trade FAILED at settlement), with the account after the correction.
    case voidFill(Fill, account: Account, note: String)
    /// A live order's state on the venue changed (its venue id once known).
    case venueOrder(intentID: String, orderID: String?, state: VenueOrderState, note: String)
    /// A fill with the account after it and the trade event to publish under the seq the journal gives it; `status`
    /// is the order's status after it (filled, partial, resting).
    case fill(Fill, account: Account, status: String, trade: TradeInfo)
    /// An order now rests on the venue's book.
    case resting(intentID: String)
    /// How an order ended (cancelled, rejected, partial).
    case finish(intentID: String, status: String, note: String)
    /// A strategy's loss-streak cool-down (nil: over).
    case cooldown(strategy: String, until: Date?)
    /// The operator and risk reasons, which outlive a restart.
    case reasons(TradingControl)
    /// An account changed outside a fill (its peak re-based).
    case account(Account)
    /// A resolved market paid a sub-account (`payout` for its winning shares), with the account after it.
    case settlement(strategy: String, marketID: String, winner: String, payout: Micros, account: Account)

    /// Whether nothing may follow this write unless it succeeded.
    public var isBarrier: Bool {
        switch self {
        case .intent, .liveIntent, .fill, .settlement, .voidFill: return true
        default: return false
        }
    }
}

public enum EngineAction: Sendable, Equatable {
    case journal(JournalWrite)
    case venue(VenueRequest)
    /// An activity item (and an alert when it says so) to publish.
    case notice(EngineNotice)
    /// A line for the log (a strategy's error said in full, a storage failure); critical is logged as an error.
    case log(Severity, String)
    /// The answer to the operator command being handled.
    case reply(String)
    /// Shadow mode: the order a paper intent would be on the live venue, to build, sign and journal (never sent).
    case shadow(OrderIntent)
}

public enum OrderFlow {
    /// Sending `intent`: its write-ahead record, then the venue request (never the request alone).
    public static func send(_ intent: OrderIntent) -> [EngineAction] { [.journal(.intent(intent)), .venue(.submit(intent))] }
}

/// What performing a list of actions came to.
public struct ActionOutcome: Sendable {
    /// What the venue answered, request after request.
    public var reports: [VenueReport] = []
    /// The barrier write that failed (nothing after it was performed): its place in the list, and why.
    public var failed: (index: Int, write: JournalWrite, error: String)?
    /// Writes that failed without stopping the list (storage degrades; an order's end is held by the driver).
    public var unrecorded: [(write: JournalWrite, error: String)] = []
    /// How many actions were performed (a failed write counts as performed; what follows a failed barrier does not).
    public var performed = 0
}

public enum ActionPerformer {
    /// Performs `actions` in order through `journal`, `venue` and `other` (notices, logs, replies); the first barrier
    /// write that throws ends the list (write-ahead: no venue request follows an unrecorded intent).
    public static func perform(_ actions: [EngineAction], journal: (JournalWrite) throws -> Void,
                               venue: (VenueRequest) -> [VenueReport], other: (EngineAction) -> Void = { _ in }) -> ActionOutcome {
        var outcome = ActionOutcome()
        for (index, action) in actions.enumerated() {
            outcome.performed += 1
            switch action {
            case .journal(let write):
                do { try journal(write) } catch {
                    guard write.isBarrier else {
                        outcome.unrecorded.append((write, "\(error)"))
                        continue
                    }
                    outcome.failed = (index, write, "\(error)")
                    return outcome
                }
            case .venue(let request):
                outcome.reports += venue(request)
            case .notice, .log, .reply, .shadow:
                other(action)
            }
        }
        return outcome
    }
}
