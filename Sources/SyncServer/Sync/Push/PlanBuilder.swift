import Foundation
import SyncCore

/// The push engine's working state while it decides a batch: the snapshot
/// as the batch's own earlier changes leave it, and the `WritePlan` so far.
/// Nothing here touches storage: every read answers from the snapshot,
/// every write goes to the plan.
///
/// Log entries get placeholder revisions, `-(index + 1)`, until the write
/// phase allocates the real ones (`PlannedRevisions`).
struct PlanBuilder {
    private(set) var snapshot: PushSnapshot
    private(set) var plan = WritePlan()
    /// The fields' revisions as stored, before this batch.
    private let storedRevisions: [FieldKey: Int64]
    /// Where each written field is in `plan.fields`.
    private var planned: [FieldKey: Int] = [:]

    init(snapshot: PushSnapshot) {
        self.snapshot = snapshot
        self.storedRevisions = snapshot.fields.mapValues(\.revision)
    }

    /// The outcome stored for this device's change `seq`, if it was applied before.
    func storedOutcome(_ seq: Int64) -> StoredOutcome? { snapshot.outcomes[seq] }

    mutating func storeOutcome(_ outcome: StoredOutcome, seq: Int64) {
        plan.outcomes.append((seq, outcome))
        snapshot.outcomes[seq] = outcome
    }

    func recordOwner(_ record: String) -> Int64? { snapshot.records[record]?.owner }

    func recordStatus(_ record: String) -> String? { snapshot.records[record]?.status }

    mutating func createRecord(_ record: String, owner: Int64, at: String) {
        plan.createdRecords.append((record, owner, at))
        snapshot.records[record] = (owner, ReferralStatus.draft.rawValue)
    }

    mutating func setRecordStatus(_ record: String, status: String) {
        plan.statuses[record] = status
        snapshot.records[record]?.status = status
    }

    func field(_ record: String, _ path: String) -> ServerField? {
        snapshot.fields[FieldKey(record: record, path: path)]
    }

    mutating func setField(_ record: String, _ path: String, _ field: ServerField) {
        let key = FieldKey(record: record, path: path)
        if let index = planned[key] {
            plan.fields[index].field = field
        } else {
            planned[key] = plan.fields.count
            plan.fields.append((key, field))
        }
        snapshot.fields[key] = field
    }

    /// The value the field had at `revision`, a base older than its stored
    /// revision (nil for revision 0: no value yet).
    /// - Throws: `PlanError.notInSnapshot` if the read phase did not load
    ///   that base (a fault of `PushNeeds`, never of the request).
    func value(_ record: String, _ path: String, atRevision revision: Int64) throws -> String? {
        guard revision > 0 else { return nil }
        guard let stale = snapshot.staleBases[.init(key: FieldKey(record: record, path: path), base: revision)] else {
            throw PlanError.notInSnapshot("the value of a field at base revision \(revision)")
        }
        return stale.value
    }

    /// Whether a device other than the pushing one wrote the field after
    /// `revision`. Since the stored revision only this batch wrote (the
    /// pushing device), so a base at or past it is never concurrent.
    /// - Throws: `PlanError.notInSnapshot` as `value(_:_:atRevision:)`.
    func otherDeviceWrote(_ record: String, _ path: String, after revision: Int64) throws -> Bool {
        let key = FieldKey(record: record, path: path)
        guard revision < storedRevisions[key] ?? 0 else { return false }
        guard let stale = snapshot.staleBases[.init(key: key, base: revision)] else {
            throw PlanError.notInSnapshot("who wrote a field since base revision \(revision)")
        }
        return stale.otherDeviceWrote
    }

    /// Appends to the plan's log; returns the entry's placeholder revision.
    mutating func append(_ entry: LogEntry) -> Int64 {
        plan.log.append(entry)
        return -Int64(plan.log.count)
    }

    mutating func openConflict(_ id: String, record: String, path: String, candidates: [ConflictCandidate], at: String) {
        plan.conflicts.append((id, record, path, at))
        for candidate in candidates { addCandidate(candidate, to: id) }
    }

    mutating func addCandidate(_ candidate: ConflictCandidate, to conflict: String) {
        let position = (snapshot.candidatePositions[conflict] ?? 0) + 1
        snapshot.candidatePositions[conflict] = position
        plan.candidates.append((conflict, position, candidate))
    }

    mutating func storeReceipt(_ receipt: Receipt, device: String, user: Int64) {
        plan.receipt = (receipt, device, user)
    }

    /// A receipt the snapshot holds (those of the batch's stored outcomes).
    func receipt(_ reference: String) -> Receipt? { snapshot.receipts[reference] }

    /// Whether a referral's own reference is taken: stored (as far as the
    /// snapshot knows: `takenReferences`, filled in by storage when a
    /// decision picked one that was) or given earlier in this batch.
    func referenceTaken(_ reference: String) -> Bool {
        snapshot.takenReferences.contains(reference) || plan.referralReferences.contains(reference)
    }

    mutating func giveReference(_ reference: String) { plan.referralReferences.append(reference) }
}

/// A read the decision needs that the snapshot does not hold: a fault in
/// what `PushNeeds` asked for, never the request's (a 500, not a 4xx).
struct PlanError: Error, CustomStringConvertible {
    let what: String
    static func notInSnapshot(_ what: String) -> PlanError { PlanError(what: what) }
    var description: String { "The push's snapshot does not hold \(what)." }
}
