import Foundation
import SyncCore

/// The reads and writes callers make inside one transaction besides a push
/// (which reads once and writes a plan: `SyncStorage.push`): the front
/// door's writes, conflict resolution, references given at start, and
/// operator commands' audit entries.
protocol SyncTransaction {
    /// The referral's status (`draft`, `submitted`), nil if it does not exist.
    func recordStatus(_ record: String) async throws -> String?
    func field(record: String, path: String) async throws -> ServerField?
    func setField(record: String, path: String, _ field: ServerField) async throws
    /// Appends to the change log and returns the entry's revision.
    func append(_ entry: LogEntry) async throws -> Int64
    func conflict(_ id: String) async throws -> ConflictState?
    /// The referral whose own reference (`IntakePath.reference`) is `reference`, if any.
    func referral(withReference reference: String) async throws -> String?
    /// Where a conflict is, and whether it is still open.
    func conflictPlace(_ id: String) async throws -> (record: String, path: String, open: Bool)?
    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) async throws
    /// Stores an audit entry inside this transaction: the entry commits with
    /// the change it records (chained in the transaction on SQLite, just
    /// after its commit on PostgreSQL: `AuditSequencer`).
    func audit(_ event: AuditEvent) async throws
    /// Records when a device of `user` last synced (no commit of its own).
    func recordSync(device: String, user: Int64, at: String) async throws
}
