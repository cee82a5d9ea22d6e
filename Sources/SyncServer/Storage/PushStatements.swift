import Foundation
import SyncCore

/// A push batch's read and write phases, written once for both backends
/// (`SQLSession`). The read phase loads a `PushSnapshot` in at most six
/// queries and the write phase stores a `WritePlan` in one multi-row
/// statement per table, however many changes the batch holds; what the
/// backends do differently (locking referrals, allocating revisions, the
/// audit trail's turn) stays in `SQLiteStorage` and `PostgresStorage`.
enum PushStatements {
    /// The read phase: everything `needs` names, in one snapshot (the caller's transaction).
    static func load(_ needs: PushNeeds, in session: any SQLSession) async throws -> PushSnapshot {
        var snapshot = PushSnapshot()
        if !needs.attachments.isEmpty {
            for sha256 in needs.attachments {
                if let row = try await session.rows(
                    "SELECT size FROM attachments WHERE sha256 = $1 AND received_at IS NOT NULL", [.text(sha256)]).first
                {
                    snapshot.receivedAttachments[sha256] = try row.int("size")
                }
            }
        }
        if let seqs = needs.seqs {
            for row in try await session.rows(
                "SELECT seq, outcome, revision, conflict_id, receipt, fingerprint FROM applied WHERE device_id = $1 AND seq BETWEEN $2 AND $3",
                [.text(needs.device), .int(seqs.lowerBound), .int(seqs.upperBound)])
            {
                snapshot.outcomes[try row.int("seq")!] = StoredOutcome(
                    outcome: Outcome(rawValue: try row.text("outcome") ?? "") ?? .applied, revision: try row.int("revision"),
                    conflict: try row.text("conflict_id"), receipt: try row.text("receipt"), fingerprint: try row.text("fingerprint"))
            }
        }
        if !needs.records.isEmpty {
            let keys = values("k", ["id"], ["TEXT"], needs.records.map { [.text($0)] })
            for row in try await session.rows("\(keys.sql) SELECT r.id, r.owner_id, r.status FROM records r JOIN k ON r.id = k.id", keys.binds) {
                snapshot.records[try row.text("id")!] = (try row.int("owner_id")!, try row.text("status")!)
            }
        }
        if !needs.fields.isEmpty {
            let keys = values("k", ["record_id", "path"], ["TEXT", "TEXT"], needs.fields.map { [.text($0.record), .text($0.path)] })
            for row in try await session.rows("""
                \(keys.sql) SELECT f.record_id, f.path, f.value, f.revision, f.hlc, f.device_id, f.author, f.at, f.conflict_id
                FROM fields f JOIN k ON f.record_id = k.record_id AND f.path = k.path
                """, keys.binds)
            {
                snapshot.fields[FieldKey(record: try row.text("record_id")!, path: try row.text("path")!)] = ServerField(
                    value: try row.text("value"), revision: try row.int("revision")!, hlc: try row.text("hlc")!,
                    device: try row.text("device_id")!, author: try row.text("author")!, at: try row.text("at")!,
                    conflict: try row.text("conflict_id"))
            }
        }
        // Bases older than their field's revision: the merge may need the
        // value at the base and whether another device wrote since.
        var stale: [PushSnapshot.StaleBase] = []
        var seen = Set<PushSnapshot.StaleBase>()
        for (key, base) in needs.bases where base >= 0 && base < snapshot.fields[key]?.revision ?? 0 {
            let entry = PushSnapshot.StaleBase(key: key, base: base)
            if seen.insert(entry).inserted { stale.append(entry) }
        }
        if !stale.isEmpty {
            let keys = values("k", ["record_id", "path", "base"], ["TEXT", "TEXT", "BIGINT"], stale.map { [.text($0.key.record), .text($0.key.path), .int($0.base)] })
            let device = keys.binds.count + 1
            for row in try await session.rows("""
                \(keys.sql) SELECT k.record_id, k.path, k.base,
                    (SELECT l.value FROM change_log l
                        WHERE l.record_id = k.record_id AND l.path = k.path AND l.revision <= k.base AND l.kind IN ('write', 'conflict')
                        ORDER BY l.revision DESC LIMIT 1) AS base_value,
                    CAST(CASE WHEN EXISTS (SELECT 1 FROM change_log l
                        WHERE l.record_id = k.record_id AND l.path = k.path AND l.revision > k.base AND l.device_id <> $\(device)
                            AND l.kind IN ('write', 'conflict')) THEN 1 ELSE 0 END AS BIGINT) AS other_device_wrote
                FROM k
                """, keys.binds + [.text(needs.device)])
            {
                let key = FieldKey(record: try row.text("record_id")!, path: try row.text("path")!)
                snapshot.staleBases[.init(key: key, base: try row.int("base")!)] = (try row.text("base_value"), try row.int("other_device_wrote") == 1)
            }
        }
        let conflicts = Array(Set(snapshot.fields.values.compactMap(\.conflict))).sorted()
        if !conflicts.isEmpty {
            let keys = values("k", ["id"], ["TEXT"], conflicts.map { [.text($0)] })
            for row in try await session.rows("""
                \(keys.sql) SELECT c.conflict_id, CAST(max(c.position) AS BIGINT) AS position
                FROM conflict_candidates c JOIN k ON c.conflict_id = k.id GROUP BY c.conflict_id
                """, keys.binds)
            {
                snapshot.candidatePositions[try row.text("conflict_id")!] = Int(try row.int("position") ?? 0)
            }
        }
        let references = Array(Set(snapshot.outcomes.values.compactMap(\.receipt))).sorted()
        if !references.isEmpty {
            let keys = values("k", ["reference"], ["TEXT"], references.map { [.text($0)] })
            for row in try await session.rows("\(keys.sql) SELECT r.reference, r.at, r.records, r.changes, r.document FROM receipts r JOIN k ON r.reference = k.reference", keys.binds) {
                let records = (try? JSONDecoder().decode([String].self, from: Data((try row.text("records") ?? "[]").utf8))) ?? []
                let receipt = Receipt(reference: try row.text("reference")!, serverTime: try row.text("at")!, records: records, changes: Int(try row.int("changes") ?? 0),
                    signed: ReceiptStatements.decode(try row.text("document")))
                snapshot.receipts[receipt.reference] = receipt
            }
        }
        return snapshot
    }

    /// The read phase and the decision: loads `needs`, runs `decide` (no
    /// I/O) over the snapshot, and checks the new references the plan gives
    /// (its receipt's and referrals' own): should one be taken (40 random
    /// bits each, so rarely), it decides again with that one marked taken.
    /// - Throws: what `load` or `decide` throws; `StorageError.referencesTaken`
    ///   if eight decisions in a row picked taken references.
    static func decide(_ needs: PushNeeds, in session: any SQLSession, _ decide: (PushSnapshot) throws -> WritePlan) async throws -> WritePlan {
        var snapshot = try await load(needs, in: session)
        for _ in 0..<8 {
            let plan = try decide(snapshot)
            let taken = try await takenReferences(plan, in: session)
            guard !taken.isEmpty else { return plan }
            snapshot.takenReferences.formUnion(taken)
        }
        throw StorageError.referencesTaken
    }

    /// Which of the plan's new references are already stored: its receipt's
    /// (`receipts.reference`) and the referrals' own (`fields_by_reference`).
    static func takenReferences(_ plan: WritePlan, in session: any SQLSession) async throws -> Set<String> {
        let references = (plan.receipt.map { [$0.receipt.reference] } ?? []) + plan.referralReferences
        guard !references.isEmpty else { return [] }
        let keys = values("k", ["reference"], ["TEXT"], references.map { [.text($0)] })
        let rows = try await session.rows("""
            \(keys.sql) SELECT k.reference FROM k WHERE EXISTS (SELECT 1 FROM receipts r WHERE r.reference = k.reference)
                OR EXISTS (SELECT 1 FROM fields f WHERE f.path = '\(IntakePath.reference)' AND f.value = k.reference)
            """, keys.binds)
        return Set(try rows.compactMap { try $0.text("reference") })
    }

    /// The write phase: `plan` (its placeholders already resolved) with
    /// `revisions[i]` for `plan.log[i]`. Everything but the audit entry,
    /// which the backend appends last. One multi-row statement per table,
    /// run together (`SQLSession.perform`: one round trip on PostgreSQL).
    static func write(_ plan: WritePlan, revisions: [Int64], in session: any SQLSession) async throws {
        precondition(revisions.count == plan.log.count, "one revision for each planned log entry")
        let created = Set(plan.createdRecords.map(\.id))
        var writes = session.inserts("INSERT INTO records (id, owner_id, status, created_at)", rows: plan.createdRecords.map {
            [.text($0.id), .int($0.owner), .text(plan.statuses[$0.id] ?? ReferralStatus.draft.rawValue), .text($0.at)]
        })
        for (record, status) in plan.statuses.sorted(by: { $0.key < $1.key }) where !created.contains(record) {
            writes.append(session.write("UPDATE records SET status = $1 WHERE id = $2", [.text(status), .text(record)]))
        }
        writes += session.inserts(
            "INSERT INTO change_log (revision, kind, record_id, path, value, author, device_id, seq, hlc, at, conflict_id, sent_hlc)",
            rows: zip(revisions, plan.log).map { revision, entry in
                [.int(revision), .text(entry.kind.rawValue), .text(entry.record), .text(entry.path), .text(entry.value), .text(entry.author),
                 .text(entry.device), .int(entry.seq), .text(entry.hlc), .text(entry.at), .text(entry.conflict), .text(entry.sentHLC)]
            })
        writes += session.inserts(
            "INSERT INTO fields (record_id, path, value, revision, hlc, device_id, author, at, conflict_id)",
            rows: plan.fields.map { key, field in
                [.text(key.record), .text(key.path), .text(field.value), .int(field.revision), .text(field.hlc), .text(field.device),
                 .text(field.author), .text(field.at), .text(field.conflict)]
            },
            tail: """
                ON CONFLICT (record_id, path) DO UPDATE SET value = excluded.value, revision = excluded.revision, hlc = excluded.hlc,
                    device_id = excluded.device_id, author = excluded.author, at = excluded.at, conflict_id = excluded.conflict_id
                """)
        if let device = plan.receipt?.device ?? plan.sync?.device {
            writes += session.inserts(
                "INSERT INTO applied (device_id, seq, outcome, revision, conflict_id, receipt, fingerprint)",
                rows: plan.outcomes.map { seq, outcome in
                    [.text(device), .int(seq), .text(outcome.outcome.rawValue), .int(outcome.revision), .text(outcome.conflict),
                     .text(outcome.receipt), .text(outcome.fingerprint)]
                })
        } else {
            precondition(plan.outcomes.isEmpty, "stored outcomes come with the receipt that acknowledges them")
        }
        writes += session.inserts("INSERT INTO conflicts (id, record_id, path, status, opened_at)", rows: plan.conflicts.map {
            [.text($0.id), .text($0.record), .text($0.path), .text("open"), .text($0.at)]
        })
        writes += session.inserts("INSERT INTO conflict_candidates (conflict_id, position, value, author, device_id, at, hlc)", rows: plan.candidates.map {
            [.text($0.conflict), .int(Int64($0.position)), .text($0.candidate.value), .text($0.candidate.author), .text($0.candidate.device),
             .text($0.candidate.time), .text($0.candidate.hlc)]
        })
        if let (receipt, device, user) = plan.receipt {
            let records = String(decoding: try JSONEncoder().encode(receipt.records), as: UTF8.self)
            writes.append(session.write(
                "INSERT INTO receipts (reference, device_id, user_id, at, records, changes) VALUES ($1, $2, $3, $4, $5, $6)",
                [.text(receipt.reference), .text(device), .int(user), .text(receipt.serverTime), .text(records), .int(Int64(receipt.changes))]))
        }
        if let (device, user, at) = plan.sync {
            writes.append(session.write(ServerQueries.recordSync, [.text(device), .int(user), .text(at)]))
        }
        try await session.perform(writes)
        // The person index follows the referrals it reads, in this transaction.
        try await PersonIndexing.reindex(PersonIndexing.touched(by: plan), in: session)
    }

    /// `WITH name(columns) AS (VALUES …)` holding `rows`, and its binds
    /// numbered from `$1` (the caller's own binds follow). Values are cast so
    /// PostgreSQL knows their types (`types`, one per column: `TEXT`, `BIGINT`).
    static func values(_ name: String, _ columns: [String], _ types: [String], _ rows: [[SQLBind]]) -> (sql: String, binds: [SQLBind]) {
        var binds: [SQLBind] = []
        var tuples: [String] = []
        for row in rows {
            let first = binds.count + 1
            tuples.append("(" + row.indices.map { "CAST($\(first + $0) AS \(types[$0]))" }.joined(separator: ", ") + ")")
            binds.append(contentsOf: row)
        }
        return ("WITH \(name)(\(columns.joined(separator: ", "))) AS (VALUES \(tuples.joined(separator: ", ")))", binds)
    }
}
