import Foundation
import SyncCore

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
    /// The referrals the plan writes to that are submitted once it is
    /// stored (the person index follows only those: `PersonIndexing.touched`).
    var submitted: Set<String> = []
    /// Referrals' own references (`F-…`) given in this plan.
    var referralReferences: [String] = []
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

/// Signs a receipt document once storage has set its audit head: the
/// server's `ReceiptSigner`.
typealias ReceiptSeal = @Sendable (ReceiptDocument) throws -> SignedReceipt
