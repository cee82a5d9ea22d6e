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
    func lock(_ record: String) throws
    /// Waits for the audit chain's turn, held until the transaction ends
    /// (a no-op where writers already take turns).
    func takeAuditTurn() throws
}

extension SQLTransaction {
    func storedOutcomes(device: String, seqs: ClosedRange<Int64>) throws -> [Int64: StoredOutcome] {
        var needs = PushNeeds(device: device)
        needs.seqs = seqs
        return try PushStatements.load(needs, in: sql).outcomes
    }

    func storeOutcome(_ outcome: StoredOutcome, device: String, seq: Int64) throws {
        try sql.run(
            "INSERT INTO applied (device_id, seq, outcome, revision, conflict_id, receipt, fingerprint) VALUES ($1, $2, $3, $4, $5, $6, $7)",
            [.text(device), .int(seq), .text(outcome.outcome.rawValue), .int(outcome.revision), .text(outcome.conflict),
             .text(outcome.receipt), .text(outcome.fingerprint)])
    }

    func recordOwner(_ record: String) throws -> Int64? {
        try lock(record)
        return try sql.rows("SELECT owner_id FROM records WHERE id = $1", [.text(record)]).first?.int("owner_id")
    }

    func createRecord(_ record: String, owner: Int64, at: String) throws {
        try lock(record)
        try sql.run("INSERT INTO records (id, owner_id, created_at) VALUES ($1, $2, $3)", [.text(record), .int(owner), .text(at)])
    }

    func setRecordStatus(_ record: String, status: String) throws {
        try lock(record)
        try sql.run("UPDATE records SET status = $1 WHERE id = $2", [.text(status), .text(record)])
    }

    func recordStatus(_ record: String) throws -> String? {
        try lock(record)
        return try sql.rows("SELECT status FROM records WHERE id = $1", [.text(record)]).first?.text("status")
    }

    func field(record: String, path: String) throws -> ServerField? {
        try lock(record)
        return try sql.rows(
            "SELECT value, revision, hlc, device_id, author, at, conflict_id FROM fields WHERE record_id = $1 AND path = $2",
            [.text(record), .text(path)]
        ).first.map {
            ServerField(
                value: try $0.text("value"), revision: try $0.int("revision")!, hlc: try $0.text("hlc")!, device: try $0.text("device_id")!,
                author: try $0.text("author")!, at: try $0.text("at")!, conflict: try $0.text("conflict_id"))
        }
    }

    func setField(record: String, path: String, _ field: ServerField) throws {
        try lock(record)
        var plan = WritePlan()
        plan.fields = [(FieldKey(record: record, path: path), field)]
        try PushStatements.write(plan, revisions: [], in: sql)
    }

    func value(record: String, path: String, atRevision revision: Int64) throws -> String? {
        guard revision > 0 else { return nil }
        return try sql.rows(
            "SELECT value FROM change_log WHERE record_id = $1 AND path = $2 AND revision <= $3 AND kind IN ('write', 'conflict') ORDER BY revision DESC LIMIT 1",
            [.text(record), .text(path), .int(revision)]
        ).first?.text("value")
    }

    func otherDeviceWrote(record: String, path: String, after revision: Int64, device: String) throws -> Bool {
        try !sql.rows(
            "SELECT 1 AS found FROM change_log WHERE record_id = $1 AND path = $2 AND revision > $3 AND device_id <> $4 AND kind IN ('write', 'conflict') LIMIT 1",
            [.text(record), .text(path), .int(revision), .text(device)]
        ).isEmpty
    }

    func conflict(_ id: String) throws -> ConflictState? {
        try ConflictQueries.state(id, in: sql)
    }

    func openConflict(_ id: String, record: String, path: String, candidates: [ConflictCandidate], at: String) throws {
        try lock(record)
        try sql.run("INSERT INTO conflicts (id, record_id, path, status, opened_at) VALUES ($1, $2, $3, 'open', $4)", [.text(id), .text(record), .text(path), .text(at)])
        for candidate in candidates { try addCandidate(candidate, to: id) }
    }

    func addCandidate(_ candidate: ConflictCandidate, to conflict: String) throws {
        try sql.run("""
            INSERT INTO conflict_candidates (conflict_id, position, value, author, device_id, at, hlc)
            VALUES ($1, (SELECT coalesce(max(position), 0) + 1 FROM conflict_candidates WHERE conflict_id = $2), $3, $4, $5, $6, $7)
            """, [.text(conflict), .text(conflict), .text(candidate.value), .text(candidate.author), .text(candidate.device), .text(candidate.time), .text(candidate.hlc)])
    }

    func storeReceipt(_ receipt: Receipt, device: String, user: Int64) throws {
        var plan = WritePlan()
        plan.receipt = (receipt, device, user)
        try PushStatements.write(plan, revisions: [], in: sql)
    }

    func receipt(_ reference: String) throws -> Receipt? {
        var needs = PushNeeds(device: "")
        needs.references = [reference]
        return try PushStatements.load(needs, in: sql).receipts[reference]
    }

    /// Locks the conflict's referral, then reads the conflict again, so
    /// that "open" stays true until this transaction ends.
    func conflictPlace(_ id: String) throws -> (record: String, path: String, open: Bool)? {
        let query = "SELECT record_id, path, status FROM conflicts WHERE id = $1"
        guard let record = try sql.rows(query, [.text(id)]).first?.text("record_id") else { return nil }
        try lock(record)
        return try sql.rows(query, [.text(id)]).first.map {
            (try $0.text("record_id")!, try $0.text("path")!, try $0.text("status") == "open")
        }
    }

    func markResolved(_ id: String, value: String?, by: String, at: String, reason: String, revision: Int64) throws {
        try sql.run("""
            UPDATE conflicts SET status = 'resolved', resolution = $1, resolved_by = $2, resolved_at = $3, reason = $4, resolution_revision = $5
            WHERE id = $6
            """, [.text(value), .text(by), .text(at), .text(reason), .int(revision), .text(id)])
    }

    func recordSync(device: String, user: Int64, at: String) throws {
        try sql.run(ServerQueries.recordSync, [.text(device), .int(user), .text(at)])
    }
}
