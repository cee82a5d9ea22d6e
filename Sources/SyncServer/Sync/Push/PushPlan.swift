import Foundation
import SyncCore

/// A field by its referral and stored path.
struct FieldKey: Hashable, Sendable {
    var record: String
    var path: String
}

/// What a push batch will read, known before anything is read: the device,
/// its change numbers, the referrals and fields it touches, and each
/// change's base revision. The read phase loads all of it at once.
struct PushNeeds: Sendable {
    var device: String
    /// The lowest and highest change number in the batch (nil if empty).
    var seqs: ClosedRange<Int64>?
    /// Referrals touched, sorted: PostgreSQL locks them in this order.
    var records: [String]
    /// Fields touched, in the batch's order, each once.
    var fields: [FieldKey]
    /// Each change's field and base revision (for the "who wrote since" checks).
    var bases: [(key: FieldKey, base: Int64)]
    /// Receipt references whose existence the engine will ask about.
    var references: [String]

    /// Needs nothing yet, for one device: the caller fills in what to load.
    init(device: String) {
        self.device = device
        records = []
        fields = []
        bases = []
        references = []
    }

    init(_ request: PushRequest, reference: String) {
        device = request.device
        let numbers = request.changes.map(\.seq)
        seqs = numbers.min().map { $0...numbers.max()! }
        records = Array(Set(request.changes.map(\.record).filter(UUID.isCanonical))).sorted()
        var seen = Set<FieldKey>()
        fields = []
        bases = []
        for change in request.changes where UUID.isCanonical(change.record) {
            let key = FieldKey(record: change.record, path: change.path)
            if seen.insert(key).inserted { fields.append(key) }
            bases.append((key, change.baseRevision))
        }
        references = [reference]
        // Whether each referral has its own reference yet: a submission gives it one.
        for record in records {
            let key = FieldKey(record: record, path: IntakePath.reference)
            if seen.insert(key).inserted { fields.append(key) }
        }
    }
}

/// Everything a push batch needs from storage, read in a constant number of
/// queries (whatever the batch's size) inside the push's transaction.
struct PushSnapshot: Sendable {
    /// Outcomes already stored for the device's change numbers in the batch's range.
    var outcomes: [Int64: StoredOutcome] = [:]
    /// Owner and status of every touched referral that exists.
    var records: [String: (owner: Int64, status: String)] = [:]
    /// The current state of every touched field that exists.
    var fields: [FieldKey: ServerField] = [:]
    /// For each open conflict on a touched field: its highest candidate position.
    var candidatePositions: [String: Int] = [:]
    /// Receipts the engine may ask about (the new reference, and those of
    /// stored outcomes), by reference; a reference asked about and absent is
    /// in `absentReferences`.
    var receipts: [String: Receipt] = [:]
    var absentReferences: Set<String> = []
    /// For a field and a base revision older than the field's: the value it
    /// had at that revision, and whether a device other than the pushing one
    /// wrote it since.
    var staleBases: [StaleBase: (value: String?, otherDeviceWrote: Bool)] = [:]

    struct StaleBase: Hashable, Sendable {
        var key: FieldKey
        var base: Int64
    }
}

/// What a push batch writes, decided before anything is written. Revisions
/// are not known while deciding: the plan's log entries are numbered in
/// order, and every revision the engine sees (in fields, outcomes and its
/// reply) is a placeholder, `-(index + 1)`, until the write phase allocates
/// the real ones (`PlannedRevisions`).
struct WritePlan: Sendable {
    var createdRecords: [(id: String, owner: Int64, at: String)] = []
    /// Final statuses of referrals whose status changed.
    var statuses: [String: String] = [:]
    /// New change-log entries, in order; entry `i` gets the `i`th allocated revision.
    var log: [LogEntry] = []
    /// Final state of every field written, in first-write order.
    var fields: [(key: FieldKey, field: ServerField)] = []
    var outcomes: [(seq: Int64, outcome: StoredOutcome)] = []
    var conflicts: [(id: String, record: String, path: String, at: String)] = []
    var candidates: [(conflict: String, position: Int, candidate: ConflictCandidate)] = []
    var receipt: (receipt: Receipt, device: String, user: Int64)?
    /// The new receipt's signed document, without the audit head (known
    /// only after the audit entry is chained): storage completes, signs and
    /// stores it (`SyncStorage.push`).
    var receiptDocument: ReceiptDocument?
    var sync: (device: String, user: Int64, at: String)?
    /// The audit entry, stored last (SQLite chains it in the writer's turn;
    /// PostgreSQL leaves it waiting for the instance's `AuditSequencer`).
    var audit: AuditEvent?

    var isEmpty: Bool { log.isEmpty && createdRecords.isEmpty && outcomes.isEmpty && receipt == nil }
}

/// Signs a receipt document once storage has set its audit head: the
/// server's `ReceiptSigner`.
typealias ReceiptSeal = @Sendable (ReceiptDocument) throws -> SignedReceipt

/// What a committed push gives back: the revisions allocated for its plan,
/// and its signed receipt when it made one.
struct PushCommit: Sendable {
    var revisions: PlannedRevisions
    var receipt: SignedReceipt?
}

/// Maps a plan's placeholder revisions to the allocated ones.
struct PlannedRevisions: Sendable {
    let allocated: [Int64]

    /// A stored revision: placeholders (negative) become allocated revisions.
    func resolve(_ revision: Int64) -> Int64 {
        revision < 0 ? allocated[Int(-revision) - 1] : revision
    }

    func resolve(_ revision: Int64?) -> Int64? { revision.map(resolve) }

    /// The reply with every placeholder replaced.
    func resolve(_ response: PushResponse) -> PushResponse {
        var response = response
        for index in response.outcomes.indices {
            response.outcomes[index].revision = resolve(response.outcomes[index].revision)
            if var current = response.outcomes[index].current {
                current.revision = resolve(current.revision)
                response.outcomes[index].current = current
            }
        }
        return response
    }

    /// The plan as stored: placeholders replaced in fields and outcomes.
    func resolve(_ plan: WritePlan) -> WritePlan {
        var plan = plan
        for index in plan.fields.indices { plan.fields[index].field.revision = resolve(plan.fields[index].field.revision) }
        for index in plan.outcomes.indices { plan.outcomes[index].outcome.revision = resolve(plan.outcomes[index].outcome.revision) }
        return plan
    }
}

/// The engine's transaction while a push is decided: reads come from the
/// snapshot (updated by the batch's own earlier writes), writes go to the
/// plan. Nothing here touches storage, except `fallback` for a read the
/// snapshot did not foresee (a second receipt reference after a collision
/// of 40 random bits): correct, and rare enough not to cost a round trip.
final class PlannedTransaction: SyncTransaction {
    private(set) var snapshot: PushSnapshot
    private(set) var plan = WritePlan()
    /// The fields' revisions as stored, before this batch.
    private let storedRevisions: [FieldKey: Int64]
    /// Where each written field is in `plan.fields`.
    private var planned: [FieldKey: Int] = [:]
    private let fallback: any SyncTransaction

    init(snapshot: PushSnapshot, fallback: any SyncTransaction) {
        self.snapshot = snapshot
        self.storedRevisions = snapshot.fields.mapValues(\.revision)
        self.fallback = fallback
    }

    func storedOutcomes(device: String, seqs: ClosedRange<Int64>) async throws -> [Int64: StoredOutcome] {
        snapshot.outcomes.filter { seqs.contains($0.key) }
    }

    func storeOutcome(_ outcome: StoredOutcome, device: String, seq: Int64) async throws {
        plan.outcomes.append((seq, outcome))
        snapshot.outcomes[seq] = outcome
    }

    func recordOwner(_ record: String) async throws -> Int64? { snapshot.records[record]?.owner }

    func createRecord(_ record: String, owner: Int64, at: String) async throws {
        plan.createdRecords.append((record, owner, at))
        snapshot.records[record] = (owner, ReferralStatus.draft.rawValue)
    }

    func setRecordStatus(_ record: String, status: String) async throws {
        plan.statuses[record] = status
        snapshot.records[record]?.status = status
    }

    func recordStatus(_ record: String) async throws -> String? { snapshot.records[record]?.status }

    func field(record: String, path: String) async throws -> ServerField? {
        snapshot.fields[FieldKey(record: record, path: path)]
    }

    func setField(record: String, path: String, _ field: ServerField) async throws {
        let key = FieldKey(record: record, path: path)
        if let index = planned[key] {
            plan.fields[index].field = field
        } else {
            planned[key] = plan.fields.count
            plan.fields.append((key, field))
        }
        snapshot.fields[key] = field
    }

    func value(record: String, path: String, atRevision revision: Int64) async throws -> String? {
        guard revision > 0 else { return nil }
        let key = FieldKey(record: record, path: path)
        if let stale = snapshot.staleBases[.init(key: key, base: revision)] { return stale.value }
        return try await fallback.value(record: record, path: path, atRevision: revision)
    }

    func otherDeviceWrote(record: String, path: String, after revision: Int64, device: String) async throws -> Bool {
        let key = FieldKey(record: record, path: path)
        // Since the stored revision, only this batch wrote: this device.
        guard revision < storedRevisions[key] ?? 0 else { return false }
        if let stale = snapshot.staleBases[.init(key: key, base: revision)] { return stale.otherDeviceWrote }
        return try await fallback.otherDeviceWrote(record: record, path: path, after: revision, device: device)
    }

    func append(_ entry: LogEntry) async throws -> Int64 {
        plan.log.append(entry)
        return -Int64(plan.log.count)
    }

    func conflict(_ id: String) async throws -> ConflictState? { try await fallback.conflict(id) }

    func openConflict(_ id: String, record: String, path: String, candidates: [ConflictCandidate], at: String) async throws {
        plan.conflicts.append((id, record, path, at))
        for candidate in candidates { try await addCandidate(candidate, to: id) }
    }

    func addCandidate(_ candidate: ConflictCandidate, to conflict: String) async throws {
        let position = (snapshot.candidatePositions[conflict] ?? 0) + 1
        snapshot.candidatePositions[conflict] = position
        plan.candidates.append((conflict, position, candidate))
    }

    func storeReceipt(_ receipt: Receipt, device: String, user: Int64) async throws {
        plan.receipt = (receipt, device, user)
    }

    func receipt(_ reference: String) async throws -> Receipt? {
        if let receipt = snapshot.receipts[reference] { return receipt }
        if snapshot.absentReferences.contains(reference) { return nil }
        return try await fallback.receipt(reference)
    }

    func conflictPlace(_ id: String) async throws -> (record: String, path: String, open: Bool)? { try await fallback.conflictPlace(id) }

    func referral(withReference reference: String) async throws -> String? {
        if let held = snapshot.fields.first(where: { $0.key.path == IntakePath.reference && $0.value.value == reference }) { return held.key.record }
        return try await fallback.referral(withReference: reference)
    }

    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) async throws {
        throw PlanError.notPlanned("resolving a conflict")
    }

    func audit(_ event: AuditEvent) async throws { plan.audit = event }

    func recordSync(device: String, user: Int64, at: String) async throws { plan.sync = (device, user, at) }
}

/// A write a push plan cannot hold (the front door's writes are not planned).
struct PlanError: Error, CustomStringConvertible {
    let what: String
    static func notPlanned(_ what: String) -> PlanError { PlanError(what: what) }
    var description: String { "A push plan cannot include \(what)." }
}
