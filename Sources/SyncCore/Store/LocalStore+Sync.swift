import Foundation
import GRDB

/// The server this device is registered with.
public struct ServerLogin: Sendable, Equatable {
    public var server: String
    public var token: String
    public var user: String
    public var role: Role
    /// PEM certificates of the authorities trusted for this server instead of
    /// the system's (`field login --ca`), or nil.
    public var ca: String?

    public init(server: String, token: String, user: String, role: Role, ca: String? = nil) {
        self.server = server
        self.token = token
        self.user = user
        self.role = role
        self.ca = ca
    }
}

/// What one push reply did to the device.
public struct PushTally: Sendable, Equatable {
    public var applied = 0
    public var conflicts = 0
    /// Refused, whatever the cause (those to send again included).
    public var rejected = 0
    /// Refused for the device's state, not the content: sent again under new numbers.
    public var toResend = 0
    /// What was wrong with the reply's signed receipt, in one sentence (nil when it checked out).
    public var receiptProblem: String?
    /// Whether that is only that its key is not pinned here (rotated since login).
    public var receiptKeyUnknown = false
}

/// Changes in (push replies), merges in (pulls): the device side of SYNC.md.
extension LocalStore {
    /// - Parameter lastSeq: the highest change number the server has from this
    ///   device; the device numbers its next changes past it (a device restored
    ///   from a backup would otherwise reuse numbers).
    public func saveLogin(_ login: ServerLogin, lastSeq: Int64? = nil) throws {
        try writer.write { db in
            try db.run("UPDATE device SET server_url = ?, token = ?, role = ?, author = ?, server_ca = ?, next_seq = max(next_seq, ?)",
                [login.server, cipher.seal(login.token, record: Self.deviceRecord, path: Self.tokenPath), login.role.rawValue,
                 login.user, login.ca, (lastSeq ?? 0) + 1])
        }
    }

    public func login() throws -> ServerLogin? {
        try writer.read { db in
            guard let row = try db.row("SELECT server_url, token, author, role, server_ca FROM device"),
                let server: String = row["server_url"],
                let token = try cipher.open(row, "token", record: Self.deviceRecord, path: Self.tokenPath)
            else { return nil }
            return ServerLogin(server: server, token: token, user: row["author"], role: Role(rawValue: row["role"] ?? "") ?? .practitioner, ca: row["server_ca"])
        }
    }

    /// The next changes to push, oldest first: sent-but-unanswered ones again
    /// (same seq, same value), then new ones. Refused changes stay out.
    public func changesToPush(limit: Int) throws -> [PendingChange] {
        try pendingChanges(where: "rejected_reason IS NULL", limit: limit)
    }

    /// Takes a push reply, in one transaction: acknowledged changes leave the
    /// outbox and their fields take the server's state (unless edited again
    /// meanwhile, whose base then moves to this device's own new revision);
    /// refused changes stay, with the reason; the receipt is kept.
    @discardableResult
    public func applyPush(_ response: PushResponse, sent: [PendingChange]) throws -> PushTally {
        try writer.write { db in try applyPush(response, sent: sent, db: db) }
    }

    func applyPush(_ response: PushResponse, sent: [PendingChange], db: Database) throws -> PushTally {
        let bySeq = Dictionary(sent.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        var tally = PushTally()
        do {
            let now = Timestamp.string(clock.now())
            // How many unrefused outbox entries each sent field has, read once
            // for the batch and kept current below as entries leave or are
            // refused: an entry left after this one's is a later edit.
            var unanswered = try Self.unrefusedCounts(db, records: Array(Set(sent.map(\.record.lowercased))))
            var answered = Set<Int64>()
            for outcome in response.outcomes {
                guard let change = bySeq[outcome.seq], answered.insert(outcome.seq).inserted else { continue }
                let key = FieldKey(record: change.record.lowercased, path: change.path)
                unanswered[key, default: 1] -= 1
                let effective = outcome.outcome == .duplicate ? (outcome.original ?? .applied) : outcome.outcome
                switch effective {
                case .rejected, .duplicate:
                    tally.rejected += 1
                    if outcome.retry == true { tally.toResend += 1 }
                    // A refusal may quote the value refused: sealed like it.
                    try db.run("UPDATE outbox SET rejected_reason = ?, rejected_retry = ? WHERE seq = ?",
                        [cipher.seal(outcome.reason ?? "Refused by the server.", record: change.record.lowercased,
                                     path: Self.rejectionPath(change.seq)), outcome.retry == true, change.seq])
                    continue
                case .conflict:
                    tally.conflicts += 1
                case .applied:
                    tally.applied += 1
                }
                try db.run("DELETE FROM outbox WHERE seq = ?", [change.seq])
                let referral = change.record.lowercased
                if change.path == RecordPath.status, change.value == ReferralStatus.submitted.rawValue,
                    let receipt = outcome.receipt, let at = response.receipt?.serverTime ?? Optional(now)
                {
                    try db.run(
                        "UPDATE referral SET received_at = coalesce(received_at, ?), received_receipt = coalesce(received_receipt, ?) WHERE id = ?",
                        [at, receipt, referral])
                }
                let later = unanswered[key] ?? 0
                // Applied exactly as sent (not merged, not outvoted): the field
                // is now this device's own write.
                let asSent = effective == .applied
                    && (outcome.current == nil || (outcome.current?.value == change.value && outcome.current?.revision == outcome.revision && outcome.current?.conflict == nil))
                if later > 0 {
                    // Edited again since. Only when the server kept what was
                    // sent has this device seen the field's latest revision;
                    // after a merge or a lost lww, the newer edit keeps its old
                    // base so that it meets the other side's value again.
                    if asSent, let revision = outcome.revision {
                        try db.run("UPDATE outbox SET base_rev = ? WHERE referral_id = ? AND path = ? AND base_rev = ?",
                            [revision, referral, change.path, change.baseRevision])
                        try db.run("UPDATE field_value SET base_rev = ? WHERE referral_id = ? AND path = ?",
                            [revision, referral, change.path])
                    }
                } else if let current = outcome.current {
                    try adopt(
                        value: current.value, revision: current.revision, referral: referral, path: change.path,
                        author: "server", device: "server", at: now, hlc: change.hlc.description, db: db)
                } else if let revision = outcome.revision {
                    // Applied as sent: the field keeps its value at the new revision.
                    try db.run("UPDATE field_value SET base_rev = ? WHERE referral_id = ? AND path = ?", [revision, referral, change.path])
                }
                if let conflict = outcome.current?.conflict {
                    try db.run("""
                            INSERT INTO conflict (id, referral_id, path, status, candidates, updated_at) VALUES (?, ?, ?, 'open', ?, ?)
                            ON CONFLICT (id) DO NOTHING
                            """,
                        [conflict, referral, change.path, cipher.seal("[]", record: referral, path: Self.conflictPath(conflict)), now])
                }
            }
            if let receipt = response.receipt {
                (tally.receiptProblem, tally.receiptKeyUnknown) = try keep(receipt, response: response, sent: bySeq, db: db)
            }
        }
        return tally
    }

    /// Per field of `records`, how many outbox entries are not refused.
    static func unrefusedCounts(_ db: Database, records: [String]) throws -> [FieldKey: Int] {
        var counts: [FieldKey: Int] = [:]
        for start in stride(from: 0, to: records.count, by: 500) {
            let chunk = Array(records[start..<min(start + 500, records.count)])
            let rows = try Row.fetchCursor(db, sql: """
                SELECT referral_id, path, count(*) FROM outbox WHERE rejected_reason IS NULL AND referral_id IN (\(chunk.map { _ in "?" }.joined(separator: ",")))
                GROUP BY referral_id, path
                """, arguments: StatementArguments(chunk))
            while let row = try rows.next() { counts[FieldKey(record: row[0], path: row[1])] = row[2] }
        }
        return counts
    }

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
    private func adopt(
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
