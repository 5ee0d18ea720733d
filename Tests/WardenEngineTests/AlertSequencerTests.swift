// Alert sequencing as a pure component: consecutive seqs after the journal's last, alerts held under their own
// seqs while storage fails, bounded, and released for writing in order.
import Foundation
import Testing
import WardenEngine
import WardenTestKit

@Suite("Alert sequencer")
struct AlertSequencerTests {
    @Test("seqs continue after the journal's last one, one per alert, never reused")
    func seqs() {
        var s = AlertSequencer(after: 41)
        #expect([s.assign(), s.assign(), s.assign()] == [42, 43, 44] && s.nextSeq == 45)
        var fresh = AlertSequencer()
        #expect(fresh.assign() == 1)
    }

    @Test("held while storage fails under the seqs subscribers saw; written in order; a later alert takes the next seq")
    func held() {
        let clock = ManualClock()
        var s = AlertSequencer()
        var held: [UInt64] = []
        for i in 0..<3 {
            let seq = s.assign()
            held.append(seq)
            #expect(s.hold(.init(seq: seq, at: clock.now, payload: "alert \(i)")) == nil)
            clock.advance(.seconds(1))
        }
        #expect(s.held.map(\.seq) == held && s.held.map(\.payload) == ["alert 0", "alert 1", "alert 2"])
        s.written()
        #expect(s.held.isEmpty && s.assign() == 4)
    }

    @Test("past the limit the oldest held alert is dropped and returned, so the caller can say which")
    func bounded() {
        var s = AlertSequencer(limit: 2)
        for _ in 0..<2 { _ = s.hold(.init(seq: s.assign(), at: t0, payload: "x")) }
        let dropped = s.hold(.init(seq: s.assign(), at: t0, payload: "y"))
        #expect(dropped?.seq == 1 && s.held.map(\.seq) == [2, 3])
    }
}
