import Foundation
import GRDB

/// Merges in: each pulled page stored with its cursor, the device side of
/// SYNC.md's pull (push replies are settled in LocalStore+Outbox.swift).
extension LocalStore {
    public func pullCursor() throws -> Int64 {
        try writer.read { db in try Int64.fetchOne(db, sql: "SELECT pull_cursor FROM device") ?? 0 }
    }

    /// Stores one pulled page and then its cursor, in one transaction, so a
    /// broken pull resumes where it stopped. A field with a local edit not yet
    /// acknowledged keeps its value and its old base revision: the next push
    /// meets the conflict instead of hiding it.
    ///
    /// What the page needs from the store (its referrals, their fields' values
    /// and revisions, pending edits, open conflicts) is read once, up front;
    /// the page's values are sealed, compared with what is stored by their
    /// sealed bytes (sealing is deterministic, so nothing is opened), and
    /// written with statements compiled once: nothing just written is read
    /// back.
    @discardableResult
    public func applyPull(_ page: PullResponse) throws -> Int {
        try writer.write { db in try applyPull(page, db: db) }
    }

    /// `applyPull` with, first and in the same transaction, a push reply
    /// (`applyPush`) and then the page's server time noted
    /// (`noteServerTime`): a sync's last push and its first page cost one
    /// commit, not three.
    func applyPull(
        _ page: PullResponse, after push: (response: PushResponse, sent: [PendingChange])?
    ) throws -> (pulled: Int, tally: PushTally?, clock: ClockNotice?) {
        try writer.write { db in
            let tally = try push.map { try applyPush($0.response, sent: $0.sent, db: db) }
            let pulled = try applyPull(page, db: db)
            return (pulled, tally, try noteServerTime(page.serverTime, db: db))
        }
    }

    private func applyPull(_ page: PullResponse, db: Database) throws -> Int {
        var applied = 0
        let latest = try db.row("SELECT hlc_wall, hlc_counter, device_id FROM device")!
        var stamp = HLCStamp(wall: latest["hlc_wall"], counter: latest["hlc_counter"], device: latest["device_id"])
        var state = try PageState(db, records: Array(Set(page.changes.map(\.record))))
        var touched: [String: String] = [:]
        let history = try db.cachedStatement(sql: """
            INSERT INTO history (referral_id, path, old_value, new_value, author, device_id, at, hlc, origin)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'server')
            """)
        let upsert = try db.cachedStatement(sql: """
            INSERT INTO field_value (referral_id, path, value, base_rev, updated_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (referral_id, path) DO UPDATE SET value = excluded.value, base_rev = excluded.base_rev,
                updated_at = excluded.updated_at
            """)

        for change in page.changes {
            if !state.known.contains(change.record) {
                try db.run("INSERT INTO referral (id, created_at, created_by, updated_at) VALUES (?, ?, ?, ?)",
                    [change.record, change.at, change.author, change.at])
                state.known.insert(change.record)
            }
            let key = FieldKey(record: change.record, path: change.path)
            if !state.pending.contains(key) {
                let sealed = cipher.seal(change.value, record: change.record, path: change.path)
                let old = state.fields[key]
                // Already this state (this device's own write coming back), or
                // a page re-read after an interruption: never taken back.
                let same = old.map { $0.value == sealed && $0.revision == change.revision } ?? false
                if !same, (old?.revision ?? Int64.min) <= change.revision {
                    if old == nil || old?.value != sealed {
                        try history.execute(arguments: [
                            change.record, change.path, old?.value ?? .null, sealed, change.author, change.device, change.at, change.hlc,
                        ])
                    }
                    try upsert.execute(arguments: [change.record, change.path, sealed, change.revision, change.at])
                    state.fields[key] = (sealed, change.revision)
                    applied += 1
                    touched[change.record] = max(touched[change.record] ?? "", change.at)
                }
            }
            if change.conflict != nil || state.openConflicts.contains(key) {
                try storeConflictState(change.conflict, referral: change.record, path: change.path, at: change.at, db: db)
                if change.conflict?.status == "open" { state.openConflicts.insert(key) } else { state.openConflicts.remove(key) }
            }
            // Receiving a stamp moves this device's clock past it.
            if let remote = HLCStamp(change.hlc), (remote.wall, remote.counter) > (stamp.wall, stamp.counter) {
                stamp = HLCStamp(wall: remote.wall, counter: remote.counter, device: stamp.device)
            }
        }
        for (record, at) in touched {
            try db.run("UPDATE referral SET updated_at = max(updated_at, ?) WHERE id = ?", [at, record])
        }
        try db.run("UPDATE device SET pull_cursor = ?, hlc_wall = ?, hlc_counter = ?",
            [page.cursor, stamp.wall, stamp.counter])
        return applied
    }

    /// A field of a referral, as a dictionary key.
    struct FieldKey: Hashable {
        var record: String
        var path: String
    }

    /// What a pulled page needs to know of the store, read once per page:
    /// which of its referrals exist, their fields' stored (sealed) values and
    /// revisions, the fields with an unrefused pending change, and the open
    /// conflicts.
    struct PageState {
        var known: Set<String> = []
        var fields: [FieldKey: (value: DatabaseValue, revision: Int64)] = [:]
        var pending: Set<FieldKey> = []
        var openConflicts: Set<FieldKey> = []

        init(_ db: Database, records: [String]) throws {
            guard !records.isEmpty else { return }
            // SQLite's limit on a statement's variables, with room to spare.
            for chunk in stride(from: 0, to: records.count, by: 500).map({ records[$0..<min($0 + 500, records.count)] }) {
                let placeholders = chunk.map { _ in "?" }.joined(separator: ",")
                let arguments = StatementArguments(Array(chunk))
                let found = try String.fetchSet(db, sql: "SELECT id FROM referral WHERE id IN (\(placeholders))", arguments: arguments)
                // A cold pull's referrals are all new: nothing else to ask.
                guard !found.isEmpty else { continue }
                known.formUnion(found)
                let rows = try Row.fetchCursor(
                    db, sql: "SELECT referral_id, path, value, base_rev FROM field_value WHERE referral_id IN (\(placeholders))", arguments: arguments)
                while let row = try rows.next() {
                    fields[FieldKey(record: row[0], path: row[1])] = (row[2], row[3])
                }
                for row in try Row.fetchAll(
                    db, sql: "SELECT DISTINCT referral_id, path FROM outbox WHERE rejected_reason IS NULL AND referral_id IN (\(placeholders))",
                    arguments: arguments)
                {
                    pending.insert(FieldKey(record: row[0], path: row[1]))
                }
                for row in try Row.fetchAll(
                    db, sql: "SELECT referral_id, path FROM conflict WHERE status = 'open' AND referral_id IN (\(placeholders))", arguments: arguments)
                {
                    openConflicts.insert(FieldKey(record: row[0], path: row[1]))
                }
            }
        }
    }

    /// Sets a field to the server's state, with a history line if its value
    /// changes; returns false when the field already had that state (as for
    /// the device's own writes coming back in a pull).
    @discardableResult
    func adopt(
        value: String?, revision: Int64, referral: String, path: String, author: String, device: String, at: String,
        hlc: String, db: Database
    ) throws -> Bool {
        let old = try db.row("SELECT value, base_rev FROM field_value WHERE referral_id = ? AND path = ?", [referral, path])
        // Sealing is deterministic: equal sealed bytes are equal values, so nothing is opened.
        let sealed = cipher.seal(value, record: referral, path: path)
        let oldValue = old?["value"] as DatabaseValue?
        if let old, oldValue == sealed, (old[1] as Int64) == revision { return false }
        // A page re-read after an interruption must not take a field back.
        if let old, (old[1] as Int64) > revision { return false }
        if old == nil || oldValue != sealed {
            try db.run("""
                    INSERT INTO history (referral_id, path, old_value, new_value, author, device_id, at, hlc, origin)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'server')
                    """,
                [referral, path, old?["value"] as DatabaseValue? ?? .null, sealed, author, device, at, hlc])
        }
        try db.run("""
                INSERT INTO field_value (referral_id, path, value, base_rev, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (referral_id, path) DO UPDATE SET value = excluded.value, base_rev = excluded.base_rev,
                    updated_at = excluded.updated_at
                """,
            [referral, path, sealed, revision, at])
        return true
    }

    private func storeConflictState(_ conflict: ConflictState?, referral: String, path: String, at: String, db: Database) throws {
        guard let conflict else {
            try db.run("UPDATE conflict SET status = 'resolved', updated_at = ? WHERE referral_id = ? AND path = ? AND status = 'open'",
                [at, referral, path])
            return
        }
        let candidates = String(decoding: try JSONEncoder().encode(conflict.candidates), as: UTF8.self)
        // The reason may quote the referral: sealed like the candidates.
        let resolution = try conflict.resolution.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }
        try db.run("""
                INSERT INTO conflict (id, referral_id, path, status, candidates, updated_at, resolution) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET status = excluded.status, candidates = excluded.candidates, updated_at = excluded.updated_at,
                    resolution = coalesce(excluded.resolution, conflict.resolution)
                """,
            [conflict.id, referral, path, conflict.status, cipher.seal(candidates, record: referral, path: Self.conflictPath(conflict.id)), at,
             resolution.map { cipher.seal($0, record: referral, path: Self.resolutionPath(conflict.id)) }])
    }

    /// Where the device's own secrets and a conflict's candidates are sealed:
    /// not form paths, so never mistaken for one.
    static let deviceRecord = "device"
    static let tokenPath = "@token"
    static func conflictPath(_ id: String) -> String { "@conflict.\(id)" }
    static func resolutionPath(_ id: String) -> String { "@resolution.\(id)" }
    static func rejectionPath(_ seq: Int64) -> String { "@rejected.\(seq)" }
}
