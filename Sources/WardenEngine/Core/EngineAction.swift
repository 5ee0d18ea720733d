// What the engine does to the world, as values: journal writes and venue requests, performed in order by the driver.
// An order is sent by a list that begins with the journal write of its intent; the performer stops at the first
// journal write that fails, so no venue request ever follows an unrecorded intent (write-ahead by construction,
// DESIGN §4.1), whichever venue performs it.
public import WardenCore

/// A write to the journal that must succeed before what follows it in the same list is done.
public enum JournalWrite: Sendable, Equatable {
    /// An order's intent, written ahead of its venue request.
    case intent(OrderIntent)
}

public enum EngineAction: Sendable, Equatable {
    case journal(JournalWrite)
    case venue(VenueRequest)
}

public enum OrderFlow {
    /// Sending `intent`: its write-ahead record, then the venue request (never the request alone).
    public static func send(_ intent: OrderIntent) -> [EngineAction] { [.journal(.intent(intent)), .venue(.submit(intent))] }
}

/// What performing a list of actions came to.
public struct ActionOutcome: Sendable {
    /// What the venue answered, request after request.
    public var reports: [VenueReport] = []
    /// The journal write that failed (nothing after it was performed), with why.
    public var failed: (write: JournalWrite, error: String)?
    /// How many actions were performed (a failed write counts as performed; what follows it does not).
    public var performed = 0
}

public enum ActionPerformer {
    /// Performs `actions` in order through `journal` and `venue`; the first journal write that throws ends the list.
    public static func perform(_ actions: [EngineAction], journal: (JournalWrite) throws -> Void,
                               venue: (VenueRequest) -> [VenueReport]) -> ActionOutcome {
        var outcome = ActionOutcome()
        for action in actions {
            outcome.performed += 1
            switch action {
            case .journal(let write):
                do { try journal(write) } catch {
                    outcome.failed = (write, "\(error)")
                    return outcome
                }
            case .venue(let request):
                outcome.reports += venue(request)
            }
        }
        return outcome
    }
}
