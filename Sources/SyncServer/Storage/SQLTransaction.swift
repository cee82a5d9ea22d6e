import Foundation
import SyncCore

/// The reads and writes a transaction offers its callers (the front door's
/// writes, conflict resolution, operator commands), written once for both
/// backends over `SQLSession` (rows read by column name). A push does not
/// use them: it reads once and writes its plan in bulk (`PushStatements`).
/// A backend gives the session, how a referral is locked (SQLite's single writer
/// needs nothing; PostgreSQL takes an advisory lock), how a log entry gets
/// its revision, and how the audit chain is appended to.
protocol SQLTransaction: SyncTransaction {
    var sql: any SQLSession { get }
    /// Locks `record` until the transaction ends (a no-op where writers already take turns).
    func lock(_ record: String) async throws
    /// Waits for the audit chain's turn, held until the transaction ends
    /// (a no-op where writers already take turns).
    func takeAuditTurn() async throws
}

extension SQLTransaction {
    func recordStatus(_ record: String) async throws -> String? {
        try await lock(record)
        return try await sql.rows("SELECT status FROM records WHERE id = $1", [.text(record)]).first?.text("status")
    }

    func field(record: String, path: String) async throws -> ServerField? {
        try await lock(record)
        return try await sql.rows(
            "SELECT value, revision, hlc, device_id, author, at, conflict_id FROM fields WHERE record_id = $1 AND path = $2",
            [.text(record), .text(path)]
        ).first.map {
            ServerField(
                value: try $0.text("value"), revision: try $0.int("revision")!, hlc: try $0.text("hlc")!, device: try $0.text("device_id")!,
                author: try $0.text("author")!, at: try $0.text("at")!, conflict: try $0.text("conflict_id"))
        }
    }

    func setField(record: String, path: String, _ field: ServerField) async throws {
        try await lock(record)
        var plan = WritePlan()
        plan.fields = [(FieldKey(record: record, path: path), field)]
        // Re-indexed if it is submitted (the index's read checks; a resolved
        // conflict on a child's name must reach the person index).
        plan.submitted = [record]
        try await PushStatements.write(plan, revisions: [], in: sql)
    }

    func conflict(_ id: String) async throws -> ConflictState? {
        try await ConflictQueries.state(id, in: sql)
    }

    func referral(withReference reference: String) async throws -> String? {
        try await sql.rows("SELECT record_id FROM fields WHERE path = '@reference' AND value = $1", [.text(reference)]).first?.text("record_id")
    }

    /// Locks the conflict's referral, then reads the conflict again, so
    /// that "open" stays true until this transaction ends.
    func conflictPlace(_ id: String) async throws -> (record: String, path: String, open: Bool)? {
        let query = "SELECT record_id, path, status FROM conflicts WHERE id = $1"
        guard let record = try await sql.rows(query, [.text(id)]).first?.text("record_id") else { return nil }
        try await lock(record)
        return try await sql.rows(query, [.text(id)]).first.map {
            (try $0.text("record_id")!, try $0.text("path")!, try $0.text("status") == "open")
        }
    }

    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) async throws {
        try await sql.run("""
            UPDATE conflicts SET status = 'resolved', resolution = $1, resolved_by = $2, resolved_at = $3, reason = $4, resolution_revision = $5
            WHERE id = $6
            """, [.text(value), .text(by), .text(at), .text(reason), .int(revision), .text(id)])
    }

    /// Appends to the audit chain in its turn: the entry commits with the change it records.
    func audit(_ event: AuditEvent) async throws {
        try await takeAuditTurn()
        try await AuditTrail.append(event, in: sql)
    }

    /// Appends to the audit chain in its turn and returns the chain's new
    /// head (this entry): SQLite's push, whose receipt names it.
    func auditReturningHead(_ event: AuditEvent) async throws -> AuditHead {
        try await takeAuditTurn()
        return try await AuditTrail.append(event, in: sql)
    }

    func recordSync(device: String, user: Int64, at: String) async throws {
        try await sql.run(ServerQueries.recordSync, [.text(device), .int(user), .text(at)])
    }
}
