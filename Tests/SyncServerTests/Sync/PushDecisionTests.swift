import Foundation
import SyncCore
import Testing

@testable import SyncServer

/// The push engine's decision in process, over hand-made snapshots: every
/// outcome (applied, duplicate, reused number, refused, merged, kept,
/// conflict opened or joined) and what the plan writes for it. No storage,
/// no server: `PushEngine.decide` does no I/O. The same rules run end to end
/// through the real server in `SyncTests`, `ConvergenceTests` and others.
@Suite struct PushDecisionTests {
    static let start = Date(timeIntervalSince1970: 1_796_000_000)  // 2026-12-01
    static let device = "0b0c0d0e-0000-4000-8000-000000000001"
    static let otherDevice = "0b0c0d0e-0000-4000-8000-000000000002"
    static let record = "0c0d0e0f-0000-4000-8000-000000000001"
    static let practitioner = User(id: 7, name: "jsmith", role: .practitioner)
    static let form = FormCatalog.builtIn.union

    /// A seeded engine: the same ids and times on every run.
    static func engine(seed: UInt64 = 1) -> PushEngine {
        let clock = SteppingClock(start: start, step: 0.001)
        return PushEngine(clock: clock, ids: UUIDv7Generator(clock: SteppingClock(start: start), seed: seed))
    }

    static func stamp(_ wall: Int64, device: String = device) -> String {
        HLCStamp(wall: wall, counter: 0, device: device).description
    }

    static func change(_ seq: Int64, _ path: String, _ value: String?, base: Int64 = 0, record: String = record, wall: Int64 = 1_795_999_000_000) -> WireChange {
        WireChange(seq: seq, record: record, path: path, value: value, baseRevision: base, hlc: stamp(wall))
    }

    static func decide(
        _ changes: [WireChange], snapshot: PushSnapshot = PushSnapshot(), user: User = practitioner, engine: PushEngine = engine(),
        reference: String = "R-AAAA-AAAA"
    ) throws -> PushEngine.Decision {
        try engine.decide(
            PushRequest(device: device, changes: changes), user: user, reference: reference, form: form, epoch: "epoch-1", snapshot: snapshot)
    }

    /// A field as stored, written by `device` at `revision`.
    static func stored(_ value: String?, revision: Int64, device: String = otherDevice, conflict: String? = nil) -> ServerField {
        ServerField(value: value, revision: revision, hlc: stamp(1_795_000_000_000 + revision, device: device), device: device, author: "other", at: "2026-11-30T10:00:00.000Z", conflict: conflict)
    }

    static func key(_ path: String) -> FieldKey { FieldKey(record: record, path: path) }

    @Test func aNewReferralIsAppliedAndPlannedWhole() throws {
        let decision = try Self.decide([
            Self.change(1, RecordPath.kind, ReferralKind.socialCare.rawValue),
            Self.change(2, "concern.summary", "Bruise on the arm"),
        ])
        #expect(decision.result.response.outcomes.map(\.outcome) == [.applied, .applied])
        #expect(decision.result.applied == 2)
        // Placeholders, in log order, until storage allocates revisions.
        #expect(decision.result.response.outcomes.map(\.revision) == [-1, -2])
        let plan = decision.plan
        #expect(plan.createdRecords.map(\.id) == [Self.record])
        #expect(plan.createdRecords.first?.owner == Self.practitioner.id)
        #expect(plan.log.map(\.path) == [RecordPath.kind, "concern.summary"])
        #expect(plan.fields.map(\.key.path) == [RecordPath.kind, "concern.summary"])
        #expect(plan.outcomes.map(\.seq) == [1, 2])
        #expect(plan.receipt?.receipt.reference == "R-AAAA-AAAA")
        #expect(plan.receipt?.receipt.changes == 2)
        #expect(plan.receiptDocument?.referrals.first?.changes.count == 2)
        #expect(plan.receiptDocument?.referrals.first?.reference == nil, "a draft has no reference of its own")
        #expect(plan.audit?.action == "push")
        #expect(plan.audit?.detail.contains("applied=2") == true)
        #expect(plan.sync?.device == Self.device)
        #expect(plan.referralReferences.isEmpty)
        #expect(plan.submitted.isEmpty, "a draft is not in the person index")
    }

    @Test func aRetriedChangeIsADuplicateAndWritesNothing() throws {
        var snapshot = PushSnapshot()
        let sent = Self.change(4, "concern.summary", "Bruise on the arm")
        snapshot.outcomes[4] = StoredOutcome(outcome: .applied, revision: 31, conflict: nil, receipt: "R-BBBB-BBBB", fingerprint: PushEngine.fingerprint(sent))
        snapshot.receipts["R-BBBB-BBBB"] = Receipt(reference: "R-BBBB-BBBB", serverTime: "2026-11-30T10:00:00.000Z", records: [Self.record], changes: 1)
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("concern.summary")] = Self.stored("Bruise on the arm", revision: 31, device: Self.device)
        let decision = try Self.decide([sent], snapshot: snapshot)
        let outcome = try #require(decision.result.response.outcomes.first)
        #expect(outcome.outcome == .duplicate)
        #expect(outcome.original == .applied)
        #expect(outcome.revision == 31)
        #expect(decision.result.response.receipt?.reference == "R-BBBB-BBBB", "the lost reply's receipt, again")
        #expect(decision.plan.log.isEmpty && decision.plan.outcomes.isEmpty && decision.plan.receipt == nil)
    }

    @Test func aReusedChangeNumberIsRefusedForRenumbering() throws {
        var snapshot = PushSnapshot()
        snapshot.outcomes[4] = StoredOutcome(
            outcome: .applied, revision: 31, conflict: nil, receipt: "R-BBBB-BBBB",
            fingerprint: PushEngine.fingerprint(Self.change(4, "concern.summary", "Something else")))
        let decision = try Self.decide([Self.change(4, "concern.summary", "Bruise on the arm")], snapshot: snapshot)
        let outcome = try #require(decision.result.response.outcomes.first)
        #expect(outcome.outcome == .rejected)
        #expect(outcome.retry == true)
        #expect(decision.plan.log.isEmpty)
    }

    @Test func refusalsWriteNothing() throws {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (99, ReferralStatus.draft.rawValue)
        let someoneElses = try Self.decide([Self.change(1, "concern.summary", "x")], snapshot: snapshot)
        #expect(someoneElses.result.response.outcomes.first?.reason?.contains("You may not change referral") == true)

        let twice = try Self.decide([Self.change(1, "concern.summary", "a"), Self.change(1, "concern.summary", "b")])
        #expect(twice.result.response.outcomes.map(\.outcome) == [.applied, .rejected])
        #expect(twice.result.response.outcomes.last?.reason == "Change 1 appears twice in this push.")

        let unknown = try Self.decide([Self.change(1, "concern.no_such_question", "x")])
        #expect(unknown.result.response.outcomes.first?.outcome == .rejected)
        #expect(unknown.result.response.receipt == nil, "nothing acknowledged, no receipt")
        #expect(unknown.plan.log.isEmpty && unknown.plan.createdRecords.isEmpty && unknown.plan.receipt == nil)
        #expect(unknown.plan.audit?.detail.contains("rejected=1") == true, "the attempt is audited all the same")

        let intake = try Self.decide([Self.change(1, "concern.summary", "x")], user: User(id: 8, name: "duty", role: .intake))
        #expect(intake.result.response.outcomes.first?.reason?.contains("Only practitioners write referral content") == true)

        var submitted = PushSnapshot()
        submitted.records[Self.record] = (Self.practitioner.id, ReferralStatus.submitted.rawValue)
        submitted.fields[Self.key(RecordPath.status)] = Self.stored(ReferralStatus.submitted.rawValue, revision: 40, device: Self.device)
        let back = try Self.decide([Self.change(9, RecordPath.status, ReferralStatus.draft.rawValue, base: 40)], snapshot: submitted)
        #expect(back.result.response.outcomes.first?.reason?.contains("has already been submitted") == true)
        #expect(back.plan.log.isEmpty)
    }

    @Test func aConcurrentManualFieldOpensAConflict() throws {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("concern.summary")] = Self.stored("Seen at the clinic", revision: 12)
        snapshot.staleBases[.init(key: Self.key("concern.summary"), base: 10)] = ("Seen", true)
        let decision = try Self.decide([Self.change(3, "concern.summary", "Seen at school", base: 10)], snapshot: snapshot)
        let outcome = try #require(decision.result.response.outcomes.first)
        #expect(outcome.outcome == .conflict)
        let conflict = try #require(outcome.conflict)
        #expect(decision.plan.conflicts.map(\.id) == [conflict])
        #expect(decision.plan.candidates.map(\.position) == [1, 2])
        #expect(decision.plan.candidates.map(\.candidate.value) == ["Seen at the clinic", "Seen at school"])
        #expect(decision.plan.log.map(\.kind) == [.candidate, .conflict], "the incoming value in history, then the conflict state devices pull")
        #expect(decision.plan.fields.first?.field.value == "Seen at the clinic", "the standing value stays, provisionally")
        #expect(decision.plan.fields.first?.field.conflict == conflict)
        #expect(decision.result.conflicts == 1)
    }

    @Test func aWriteToAFieldInConflictJoinsIt() throws {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("concern.summary")] = Self.stored("Seen at the clinic", revision: 14, conflict: "c-1")
        snapshot.candidatePositions["c-1"] = 2
        let decision = try Self.decide([Self.change(5, "concern.summary", "A third account", base: 14)], snapshot: snapshot)
        #expect(decision.result.response.outcomes.first?.outcome == .conflict)
        #expect(decision.result.response.outcomes.first?.conflict == "c-1")
        #expect(decision.plan.conflicts.isEmpty)
        #expect(decision.plan.candidates.map(\.position) == [3])
    }

    @Test func lastWriterWinsByStampEitherWay() throws {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("referrer.phone")] = Self.stored("01905 000001", revision: 12)
        snapshot.staleBases[.init(key: Self.key("referrer.phone"), base: 10)] = ("01905 000000", true)

        let newer = try Self.decide([Self.change(3, "referrer.phone", "01905 000002", base: 10, wall: 1_795_999_000_000)], snapshot: snapshot)
        #expect(newer.result.response.outcomes.first?.outcome == .applied)
        #expect(newer.plan.fields.first?.field.value == "01905 000002")

        let older = try Self.decide([Self.change(3, "referrer.phone", "01905 000003", base: 10, wall: 1_700_000_000_000)], snapshot: snapshot)
        let outcome = try #require(older.result.response.outcomes.first)
        #expect(outcome.outcome == .applied, "acknowledged, kept in history")
        #expect(outcome.current?.value == "01905 000001", "the device is told the value that stands")
        #expect(older.plan.log.map(\.kind) == [.candidate])
        #expect(older.plan.fields.isEmpty)
    }

    @Test func aStaleBaseFromTheSameDeviceIsNotAConflict() throws {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("concern.summary")] = Self.stored("Its own earlier words", revision: 12, device: Self.device)
        snapshot.staleBases[.init(key: Self.key("concern.summary"), base: 10)] = ("Older", false)
        let decision = try Self.decide([Self.change(3, "concern.summary", "Its newest words", base: 10)], snapshot: snapshot)
        #expect(decision.result.response.outcomes.first?.outcome == .applied)
        #expect(decision.plan.conflicts.isEmpty)
    }

    @Test func aBaseTheSnapshotLacksIsAFaultNotAGuess() {
        var snapshot = PushSnapshot()
        snapshot.records[Self.record] = (Self.practitioner.id, ReferralStatus.draft.rawValue)
        snapshot.fields[Self.key("concern.summary")] = Self.stored("Seen at the clinic", revision: 12)
        #expect(throws: PlanError.self) {
            try Self.decide([Self.change(3, "concern.summary", "Seen at school", base: 10)], snapshot: snapshot)
        }
    }

    @Test func aSubmissionGetsItsOwnReferenceAndTakenReferencesAreSkipped() throws {
        let changes = [Self.change(1, RecordPath.kind, ReferralKind.socialCare.rawValue), Self.change(2, RecordPath.status, ReferralStatus.submitted.rawValue)]
        let first = try Self.decide(changes)
        let given = try #require(first.plan.referralReferences.first)
        #expect(given.hasPrefix("F-"))
        #expect(first.plan.fields.contains { $0.key.path == IntakePath.reference && $0.field.value == given })
        #expect(first.plan.statuses[Self.record] == ReferralStatus.submitted.rawValue)
        #expect(first.plan.receiptDocument?.referrals.first?.reference == given)
        #expect(first.plan.submitted == [Self.record], "a submission is indexed")

        // The same decision, told that reference and the receipt's are taken, picks others.
        var snapshot = PushSnapshot()
        snapshot.takenReferences = [given, "R-AAAA-AAAA"]
        let again = try Self.decide(changes, snapshot: snapshot)
        let other = try #require(again.plan.referralReferences.first)
        #expect(other != given)
        #expect(other.hasPrefix("F-"))
        #expect(again.plan.receipt?.receipt.reference != "R-AAAA-AAAA")
        #expect(again.plan.receipt?.receipt.reference.hasPrefix("R-") == true)
    }

    @Test func aStampAheadOfTheServerIsBoundedAndKept() throws {
        let ahead = Self.change(1, "concern.summary", "x", wall: 1_900_000_000_000)
        let decision = try Self.decide([ahead])
        let entry = try #require(decision.plan.log.first)
        #expect(entry.sentHLC == ahead.hlc)
        #expect(try #require(HLCStamp(entry.hlc)).wall <= Int64(Self.start.timeIntervalSince1970 * 1000) + 1_000)
    }

    @Test func anAttachmentIsTakenOnlyOnceReceivedWholeAndItsReceiptNamesIt() throws {
        let sha256 = String(repeating: "5a", count: 32)
        let item = "0d0e0f10-0000-4000-8000-000000000001"
        let changes = [
            Self.change(1, "attachments.\(item)", ItemMarker.present),
            Self.change(2, "attachments.\(item).file", "sha256:\(sha256)"),
        ]
        let refused = try Self.decide(changes)
        #expect(refused.result.response.outcomes.map(\.outcome) == [.applied, .rejected])
        #expect(refused.result.response.outcomes[1].reason?.contains("has not been received whole by the server") == true)
        #expect(!refused.plan.fields.contains { $0.key.path.hasSuffix(".file") }, "nothing written for the refused change")

        var snapshot = PushSnapshot()
        snapshot.receivedAttachments[sha256] = 1_234_567
        let taken = try Self.decide(changes, snapshot: snapshot)
        #expect(taken.result.response.outcomes.map(\.outcome) == [.applied, .applied])
        let named = try #require(taken.plan.receiptDocument?.referrals.first)
        #expect(named.attachments == [.init(sha256: sha256, size: 1_234_567)])
        // The receipt's bytes name it, between the referral's keys in sorted order.
        let bytes = String(decoding: try taken.plan.receiptDocument!.encoded(), as: UTF8.self)
        #expect(bytes.contains("{\"attachments\":[{\"sha256\":\"\(sha256)\",\"size\":1234567}],\"changes\":["))
        // Removing an attachment is a change like any other.
        let removed = try Self.decide([Self.change(3, "attachments.\(item)", nil)])
        #expect(removed.result.response.outcomes.map(\.outcome) == [.applied])
    }
}
