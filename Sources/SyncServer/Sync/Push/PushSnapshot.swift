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
    /// The attachments the batch's values may name (`sha256:…`), each once:
    /// the read phase finds which the server holds whole.
    var attachments: [String] = []

    init(_ request: PushRequest) {
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
            if let value = change.value, let reference = AttachmentReference(stored: value), !attachments.contains(reference.sha256) {
                attachments.append(reference.sha256)
            }
        }
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
    /// The receipts of the batch's stored outcomes (a retry gets its receipt again), by reference.
    var receipts: [String: Receipt] = [:]
    /// References (a receipt's `R-…` or a referral's own `F-…`) a decision
    /// picked that turned out to be taken: storage checks the plan's new
    /// references after deciding and, in the rare case one is taken (40
    /// random bits each), decides again with it here (`PushStatements.decide`).
    var takenReferences: Set<String> = []
    /// For a field and a base revision older than the field's: the value it
    /// had at that revision, and whether a device other than the pushing one
    /// wrote it since.
    var staleBases: [StaleBase: (value: String?, otherDeviceWrote: Bool)] = [:]
    /// The attachments the batch names that the server holds whole, with
    /// their sizes: a change naming any other is refused.
    var receivedAttachments: [String: Int64] = [:]

    struct StaleBase: Hashable, Sendable {
        var key: FieldKey
        var base: Int64
    }
}
