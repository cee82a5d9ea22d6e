import Foundation
import SyncCore
import Testing

/// Refused changes are never dropped: refusals whose cause went away are sent
/// again under new numbers, content refusals wait for an edit or `retry`
/// (docs/protocol.md, Recovery).
@Suite("Refused changes sent again")
struct RefusalTests {
    /// Sends every pending change and has the server refuse each with `reason`.
    func refuseAll(_ store: LocalStore, reason: String, retry: Bool? = nil) throws -> [PendingChange] {
        let sent = try store.changesToPush(limit: 100)
        try store.markSent(sent.map(\.seq))
        try store.applyPush(PushResponse(outcomes: sent.map { ChangeOutcome(seq: $0.seq, outcome: .rejected, reason: reason, retry: retry) }, receipt: nil), sent: sent)
        return sent
    }

    @Test("refusals an earlier server made for a clock ahead or a reused number are sent again under new numbers, in order")
    func legacyRefusalsRequeued() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("referrer.name", of: id, to: "Jane")
        try test.store.set("concern.summary", of: id, to: "Bruises")
        let refused = try refuseAll(test.store, reason: "'0001795…' is not a clock stamp this server accepts (malformed, or more than a day ahead of its clock).")
        #expect(try test.store.changesToPush(limit: 100).isEmpty)
        // A content refusal on another referral stays as it is.
        let other = try test.store.createReferral(kind: .socialCare)
        try test.store.set("referrer.name", of: other, to: "Pat")
        _ = try refuseAll(test.store, reason: "The form has no field 'referrer.nmae'.")

        #expect(try test.store.requeueLegacyRefusals() == refused.count)
        let again = try test.store.changesToPush(limit: 100)
        #expect(again.map(\.path) == refused.map(\.path) && again.map(\.value) == refused.map(\.value))
        #expect(again.allSatisfy { $0.seq > refused.map(\.seq).max()! && $0.rejectedReason == nil && $0.sentAt == nil })
        #expect(Set(try test.store.pendingChanges().filter { $0.rejectedReason != nil }.map(\.record)) == [other])
        #expect(try test.store.integrityProblems().isEmpty)
    }

    @Test("a reused change number: renumbered past the server's last, unsent changes after it, order kept")
    func renumberedPastServer() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("concern.summary", of: id, to: "first")
        let refused = try refuseAll(test.store, reason: "Change number 2 was already used.", retry: true)
        try test.store.set("concern.where", of: id, to: "At home")
        #expect(try test.store.renumberForResend(past: 40) == refused.count)
        let pending = try test.store.changesToPush(limit: 100)
        #expect(pending.map(\.path) == refused.map(\.path) + ["concern.where"])
        #expect(pending.map(\.seq) == Array(41...Int64(40 + pending.count)))
        // New edits number on from there.
        try test.store.set("concern.notes", of: id, to: "More")
        #expect(try test.store.pendingChanges().last?.seq == Int64(41 + pending.count))
    }

    @Test("a reused change number refused while the field was edited again: both go out again, in order (convergence seed 137 on PostgreSQL)")
    func renumberedWithLaterEdit() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("concern.summary", of: id, to: "first")
        try test.store.set("referrer.name", of: id, to: "Jane")
        // Sent; edited again while in flight; then refused for a reused number.
        let sent = try test.store.changesToPush(limit: 100)
        try test.store.markSent(sent.map(\.seq))
        try test.store.set("concern.summary", of: id, to: "second")
        try test.store.applyPush(PushResponse(
            outcomes: sent.map { ChangeOutcome(seq: $0.seq, outcome: .rejected, reason: "Change number \($0.seq) was already used.", retry: true) },
            receipt: nil), sent: sent)
        #expect(try test.store.renumberForResend(past: 40) == sent.count)
        let pending = try test.store.changesToPush(limit: 100)
        #expect(pending.map(\.seq) == Array(41...Int64(40 + sent.count + 1)))
        #expect(pending.filter { $0.path == "concern.summary" }.map(\.value) == ["first", "second"])
        #expect(pending.allSatisfy { $0.rejectedReason == nil })
        // Only the later stays open: a new edit joins it, not the earlier.
        try test.store.set("concern.summary", of: id, to: "third")
        #expect(try test.store.changesToPush(limit: 100).filter { $0.path == "concern.summary" }.map(\.value) == ["first", "third"])
        #expect(try test.store.integrityProblems().isEmpty)
    }

    @Test("a content refusal waits: an edit of the field replaces it, `retry` sends it as it is")
    func contentRefusalWaits() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        try test.store.set("concern.summary", of: id, to: "Refused value")
        try test.store.set("referrer.name", of: id, to: "Jane")
        let refused = try refuseAll(test.store, reason: "You may not change this referral.")
        #expect(try test.store.changesToPush(limit: 100).isEmpty)
        // Editing one field replaces its refused change; the other stays refused.
        try test.store.set("concern.summary", of: id, to: "Corrected value")
        let pending = try test.store.pendingChanges()
        #expect(pending.filter { $0.path == "concern.summary" }.map(\.value) == ["Corrected value"])
        #expect(pending.filter { $0.path == "referrer.name" }.first?.rejectedReason != nil)
        // The edited value's history keeps the refused one.
        #expect(try test.store.history(of: id).contains { $0.newValue == "Refused value" })
        #expect(try test.store.retryRefused(id) == refused.count - 1)
        let again = try test.store.changesToPush(limit: 100)
        #expect(Set(again.map(\.path)) == Set(refused.map(\.path)))
        #expect(again.count == refused.count && again.allSatisfy { $0.rejectedReason == nil })
        #expect(try test.store.integrityProblems().isEmpty)
    }

    @Test("the clock notice speaks in days, hours and minutes")
    func clockNoticeWords() {
        #expect(ClockNotice(offsetMilliseconds: 3 * 86_400_000 + 7_200_000).sentence.hasPrefix("This device's clock is 3 days 2 hours ahead of the server's"))
        #expect(ClockNotice(offsetMilliseconds: -5 * 60_000).sentence.hasPrefix("This device's clock is 5 minutes behind the server's"))
        #expect(ClockNotice(offsetMilliseconds: 0).sentence == "This device's clock now agrees with the server's.")
    }
}
