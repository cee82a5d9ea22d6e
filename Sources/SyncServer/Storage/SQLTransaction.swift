import Foundation
import SyncCore

/// The engine's reads and writes inside a transaction, written once for
/// both backends over `SQLSession` (rows read by column name). A backend
/// gives the session, how a referral is locked (SQLite's single writer
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
    func storedOutcomes(device: String, seqs: ClosedRange<Int64>) async throws -> [Int64: StoredOutcome] {
        var needs = PushNeeds(device: device)
        needs.seqs = seqs
        return try await PushStatements.load(needs, in: sql).outcomes
    }

    func storeOutcome(_ outcome: StoredOutcome, device: String, seq: Int64) async throws {
        try await sql.run(
            "INSERT INTO applied (device_id, seq, outcome, revision, conflict_id, receipt, fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [.text(device), .int(seq), .text(outcome.outcome.rawValue), .int(outcome.revision), .text(outcome.conflict),
             .text(outcome.receipt), .text(outcome.fingerprint)])
    }

    func recordOwner(_ record: String) async throws -> Int64? {
        try await lock(record)
        return try await sql.rows("SELECT owner_id FROM records WHERE id = $1", [.text(record)]).first?.int("owner_id")
    }

    func createRecord(_ record: String, owner: Int64, at: String) async throws {
        try await lock(record)
        try await sql.run("INSERT INTO records (id, owner_id, created_at) VALUES ($1, $2, $3)", [.text(record), .int(owner), .text(at)])
    }

    func setRecordStatus(_ record: String, status: String) async throws {
        try await lock(record)
        try await sql.run("UPDATE records SET status = $1 WHERE id = $2", [.text(status), .text(record)])
    }

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
        try await PushStatements.write(plan, revisions: [], in: sql)
    }

    func value(record: String, path: String, atRevision revision: Int64) async throws -> String? {
        guard revision > 0 else { return nil }
        return try await sql.rows(
            "SELECT value FROM change_log WHERE record_id = $1 AND path = $2 AND revision <= $3 AND kind IN ('write', 'conflict') ORDER BY revision DESC LIMIT 1",
            [.text(record), .text(path), .int(revision)]
        ).first?.text("value")
    }

    func otherDeviceWrote(record: String, path: String, after revision: Int64, device: String) async throws -> Bool {
        try await !sql.rows(
            "SELECT 1 AS found FROM change_log WHERE record_id = $1 AND path = $2 AND revision > $3 AND device_id <> $4 AND kind IN ('write', 'conflict') LIMIT 1",
            [.text(record), .text(path), .int(revision), .text(device)]
        ).isEmpty
    }

    func conflict(_ id: String) async throws -> ConflictState? {
        try await ConflictQueries.state(id, in: sql)
    }

    func openConflict(_ id: String, record: String, path: String, candidates: [ConflictCandidate], at: String) async throws {
        try await lock(record)
        try await sql.run("INSERT INTO conflicts (id, record_id, path, status, opened_at) VALUES ($1, $2, $3, 'open', $4)", [.text(id), .text(record), .text(path), .text(at)])
        for candidate in candidates { try await addCandidate(candidate, to: id) }
    }

    func addCandidate(_ candidate: ConflictCandidate, to conflict: String) async throws {
        try await sql.run("""
            INSERT INTO conflict_candidates (conflict_id, position, value, author, device_id, at, hlc)
            VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM conflict_candidates WHERE conflict_id = $2), $3, $4, $5, $6, $7)
            """, [.text(conflict), .text(conflict), .text(candidate.value), .text(candidate.author), .text(candidate.device), .text(candidate.time), .text(candidate.hlc)])
    }

    func storeReceipt(_ receipt: Receipt, device: String, user: Int64) async throws {
        var plan = WritePlan()
        plan.receipt = (receipt, device, user)
        try await PushStatements.write(plan, revisions: [], in: sql)
    }

    func receipt(_ reference: String) async throws -> Receipt? {
        var needs = PushNeeds(device: "")
        needs.references = [reference]
        return try await PushStatements.load(needs, in: sql).receipts[reference]
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
