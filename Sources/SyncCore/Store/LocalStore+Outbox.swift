import Foundation
import GRDB

// The outbox: every change this device made, from the moment it is recorded
// until the server has settled it, in one place. Its life, in order:
// - queue: `record` (LocalStore+Writes.swift) queues each edit, coalescing
//   edits of a field not yet sent;
// - read: what is waiting, what the next push takes, what a wipe would lose;
// - send: `pushStep` takes the last reply and marks the next batch sent;
// - settle: `applyPush` removes what the server acknowledged and keeps what
//   it refused, with the reason; a change that cannot be sent is refused here;
// - renumber: changes to send again (after `field retry`, a restored server,
//   an old refusal whose cause is gone) get new numbers past the server's.
// docs/architecture.md draws it; SYNC.md gives the rules.

// MARK: - Queue

extension LocalStore {
    /// Queues one recorded edit (its value sealed): it supersedes a change of
    /// the field the server refused for its content (the refused value stays
    /// in the history), and coalesces into the field's open entry, keeping
    /// that entry's first base revision and its number; otherwise it is a new
    /// change numbered `nextSeq`, which moves on. Runs inside `record`'s
    /// write transaction.
    func queue(
        _ sealed: DatabaseValue, referral referralID: String, path: String, baseRevision: Int64, stamp: HLCStamp, author: String, at: String,
        nextSeq: inout Int64, db: Database
    ) throws {
        try db.run("DELETE FROM outbox WHERE referral_id = ? AND path = ? AND rejected_reason IS NOT NULL AND rejected_retry = 0",
            [referralID, path])
        try db.run("""
                UPDATE outbox SET value = ?, hlc = ?, author = ?, edits = edits + 1
                WHERE referral_id = ? AND path = ? AND sent_at IS NULL
                """,
            [sealed, stamp.description, author, referralID, path])
        if db.changesCount == 0 {
            try db.run("""
                    INSERT INTO outbox (seq, referral_id, path, value, base_rev, hlc, author, created_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                [nextSeq, referralID, path, sealed, baseRevision, stamp.description, author, at])
            nextSeq += 1
        }
    }
}

// MARK: - Read

/// The changes waiting: what the next push sends.
extension LocalStore {
    /// The outbox, in the order the changes were first made.
    public func pendingChanges() throws -> [PendingChange] {
        try pendingChanges(where: "1", limit: Int.max)
    }

    func pendingChanges(where condition: String, limit: Int) throws -> [PendingChange] {
        try writer.read { db in try pendingChanges(db, where: condition, limit: limit) }
    }

    func pendingChanges(_ db: Database, where condition: String, limit: Int) throws -> [PendingChange] {
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE \(condition) ORDER BY seq LIMIT ?", arguments: [limit]).map { row in
                let record: String = row["referral_id"]
                let path: String = row["path"]
                return PendingChange(
                    seq: row["seq"], record: UUID(uuidString: record)!, path: path,
                    value: try cipher.open(row, "value", record: record, path: path), baseRevision: row["base_rev"],
                    hlc: HLCStamp(row["hlc"]) ?? HLCStamp(wall: 0, counter: 0, device: deviceID),
                    author: row["author"], edits: row["edits"],
                    sentAt: (row["sent_at"] as String?).flatMap { Timestamp.date($0) },
                    rejectedReason: try cipher.open(row, "rejected_reason", record: record, path: Self.rejectionPath(row["seq"])))
            }
    }

    /// How many changes the next pushes would send (refused ones left out).
    public func pushableCount() throws -> Int {
        try writer.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM outbox WHERE rejected_reason IS NULL") ?? 0 }
    }

    /// The referrals with work the server has not accepted (any change in
    /// the outbox, refused ones included), oldest first: what erasing the
    /// device would destroy (`WipeReport`). Ids, statuses and counts only.
    public func unsentWork() throws -> [WipeReport.ErasedReferral] {
        let counts = try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT referral_id, count(*) AS changes FROM outbox GROUP BY referral_id ORDER BY min(seq)")
                .map { ($0["referral_id"] as String, $0["changes"] as Int) }
        }
        return try counts.map { id, changes in
            let referral = try UUID(uuidString: id).map(referral)
            return WipeReport.ErasedReferral(
                id: id, status: referral?.status.rawValue ?? ReferralStatus.draft.rawValue,
                immediateRisk: referral?.values["urgency.immediate_risk"] == "yes", unsentChanges: changes)
        }
    }

    /// The next changes to push of referrals that are submitted on this
    /// device, oldest first: what a device revoked with "send submitted work
    /// first" still sends. Refused changes stay out.
    public func submittedChangesToPush(limit: Int) throws -> [PendingChange] {
        let submitted = try summaries().filter { $0.status == .submitted }.map { "'\($0.id.lowercased)'" }
        guard !submitted.isEmpty else { return [] }
        return try pendingChanges(where: "rejected_reason IS NULL AND referral_id IN (\(submitted.joined(separator: ",")))", limit: limit)
    }

    /// The next changes to push, oldest first: sent-but-unanswered ones again
    /// (same seq, same value), then new ones. Refused changes stay out.
    public func changesToPush(limit: Int) throws -> [PendingChange] {
        try pendingChanges(where: "rejected_reason IS NULL", limit: limit)
    }
}

// MARK: - Send

extension LocalStore {
    /// One step of a push, in one transaction: takes the reply to the batch
    /// sent last (`after`, if any) and notes the server's time, then picks the
    /// next batch and marks it sent, so a sync of many batches commits once
    /// a batch rather than twice.
    ///
    /// The next batch is not picked when the reply asks for changes to be sent
    /// again under new numbers (`PushTally.toResend`): those are renumbered
    /// first, with the changes not yet sent.
    /// - Parameters:
    ///   - limit: the most changes to consider.
    ///   - unsendable: why a change can never be sent, or nil; such a change
    ///     is refused on the device (`refuseUnsent`) in the same transaction.
    ///   - choose: the batch to send out of the candidates (a non-empty prefix).
    public func pushStep(
        after reply: (response: PushResponse, sent: [PendingChange])?, limit: Int,
        unsendable: (PendingChange) -> String?, choose: ([PendingChange]) -> [PendingChange]
    ) throws -> PushStep {
        let at = Timestamp.string(clock.now())
        return try writer.write { db in
            var step = PushStep()
            if let reply {
                let tally = try applyPush(reply.response, sent: reply.sent, db: db)
                step.tally = tally
                step.clock = try noteServerTime(reply.response.serverTime, db: db)
                if tally.toResend > 0 { return step }
            }
            while true {
                let candidates = try pendingChanges(db, where: "rejected_reason IS NULL", limit: limit)
                let refused = candidates.compactMap { change in unsendable(change).map { (change.seq, $0) } }
                if !refused.isEmpty {
                    for (seq, reason) in refused { try refuseUnsent(seq, reason: reason, db: db) }
                    step.refused += refused.count
                    continue
                }
                guard !candidates.isEmpty else { return step }
                step.batch = choose(candidates)
                step.rest = candidates.count > step.batch.count || candidates.count >= limit
                for change in step.batch {
                    try db.run("UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL", [at, change.seq])
                }
                step.epoch = try String.fetchOne(db, sql: "SELECT server_epoch FROM device")
                step.cursor = try Int64.fetchOne(db, sql: "SELECT pull_cursor FROM device") ?? 0
                return step
            }
        }
    }

    /// Records that changes were sent. A sent change is frozen: a later edit of
    /// its field queues a new change, so a retry with the same seq always
    /// carries the same value and the server's idempotency can hold.
    ///
    /// - warning: Call this in the same transaction order as the send: mark
    ///   first, then send, so a crash between the two only causes a harmless retry.
    public func markSent(_ seqs: [Int64]) throws {
        let at = Timestamp.string(clock.now())
        try writer.write { db in
            for seq in seqs {
                try db.execute(sql: "UPDATE outbox SET sent_at = ? WHERE seq = ? AND sent_at IS NULL", arguments: [at, seq])
            }
        }
    }
}

/// What one push step (`LocalStore.pushStep`) did and what it picked.
public struct PushStep: Sendable {
    /// What the reply taken did (nil when none was given).
    public var tally: PushTally?
    /// Set when the device's clock is newly found off from the server's.
    public var clock: ClockNotice?
    /// Changes refused on the device as unsendable in this step.
    public var refused = 0
    /// The next batch, marked sent; empty when nothing is left to push.
    public var batch: [PendingChange] = []
    /// Whether more changes were waiting than the batch holds.
    public var rest = false
    /// The server epoch and pull cursor the batch's push carries.
    public var epoch: String?
    public var cursor: Int64 = 0
}

// MARK: - Settle

extension LocalStore {
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

    /// Refuses a change on the device, as a server refusal would be kept: it
    /// stays in the outbox with `reason` (sealed like the value: it may
    /// quote it), out of every push until its field is written again or
    /// `field retry` asks for it. For a change no server can take (too large),
    /// so that the changes behind it still go.
    public func refuseUnsent(_ seq: Int64, reason: String) throws {
        try writer.write { db in try refuseUnsent(seq, reason: reason, db: db) }
    }

    func refuseUnsent(_ seq: Int64, reason: String, db: Database) throws {
        guard let record = try String.fetchOne(db, sql: "SELECT referral_id FROM outbox WHERE seq = ?", arguments: [seq]) else { return }
        try db.execute(
            sql: "UPDATE outbox SET rejected_reason = ?, rejected_retry = 0 WHERE seq = ?",
            arguments: [cipher.seal(reason, record: record, path: Self.rejectionPath(seq)), seq])
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

// MARK: - Renumber

extension LocalStore {
    /// Refusals from servers before this version whose cause has gone away
    /// (a clock stamp ahead of the server's; a change number reused after a
    /// restore) become changes to send again; returns how many were requeued.
    @discardableResult
    public func requeueLegacyRefusals() throws -> Int {
        let causes = ["is not a clock stamp this server accepts", "was already used for a different change; log in again"]
        let refused = try pendingChanges(where: "rejected_reason IS NOT NULL AND rejected_retry = 0", limit: Int.max)
        let stale = refused.filter { change in causes.contains { change.rejectedReason?.contains($0) == true } }
        guard !stale.isEmpty else { return 0 }
        try writer.write { db in
            for change in stale { try db.run("UPDATE outbox SET rejected_retry = 1 WHERE seq = ?", [change.seq]) }
        }
        return try renumberForResend(past: nil)
    }

    /// `field retry`: sends a referral's refused changes again on the next
    /// sync, as they are (a field edited since already carries its new value).
    /// Returns how many were requeued.
    /// - Throws: `StoreError.notFound` for an unknown referral.
    @discardableResult
    public func retryRefused(_ id: UUID) throws -> Int {
        _ = try referral(id)
        try writer.write { db in
            try db.run("UPDATE outbox SET rejected_retry = 1 WHERE referral_id = ? AND rejected_reason IS NOT NULL", [id.lowercased])
        }
        return try renumberForResend(past: nil)
    }

    /// Gives every change marked to send again, and every change not yet
    /// sent, new numbers past `lastSeq` (the server's highest from this
    /// device) and past every number used here, keeping their order, so the
    /// next push carries them. A marked change whose field has a later change
    /// already sent is superseded by it and leaves the outbox (its value stays
    /// in the history). A field has one change at most waiting to be sent
    /// (`outbox_open_change`): when two of one field move (a marked change,
    /// and an edit made while it was in flight), both keep their order and
    /// go out in the next push, and the earlier counts as sent (in flight)
    /// so that only the later takes further edits. Returns how many marked
    /// changes were requeued.
    @discardableResult
    public func renumberForResend(past lastSeq: Int64?) throws -> Int {
        try writer.write { db in
            let marked = try Row.fetchAll(db, sql: "SELECT seq, referral_id, path FROM outbox WHERE rejected_retry = 1 ORDER BY seq")
            guard !marked.isEmpty else { return 0 }
            var superseded = 0
            for row in marked {
                let laterSent = try Bool.fetchOne(db, sql: """
                    SELECT EXISTS (SELECT 1 FROM outbox WHERE referral_id = ? AND path = ? AND seq > ?
                                   AND sent_at IS NOT NULL AND rejected_reason IS NULL)
                    """, arguments: [row["referral_id"] as String, row["path"] as String, row["seq"] as Int64]) ?? false
                if laterSent {
                    try db.run("DELETE FROM outbox WHERE seq = ?", [row["seq"] as Int64])
                    superseded += 1
                }
            }
            let moving = try Row.fetchAll(db, sql: """
                SELECT seq, referral_id, path FROM outbox WHERE rejected_retry = 1 OR (sent_at IS NULL AND rejected_reason IS NULL) ORDER BY seq
                """)
            // The last moving change of each field stays open to edits; an
            // earlier one of the same field is sent with it, as in flight.
            // (Found by the convergence property on PostgreSQL, seed 137: a
            // change refused for a reused number and an edit of its field
            // made while it was in flight were both reopened.)
            func field(_ row: Row) -> String { (row["referral_id"] as String) + "\u{1F}" + (row["path"] as String) }
            var last: [String: Int64] = [:]
            for row in moving { last[field(row)] = row["seq"] }
            let now = Timestamp.string(clock.now())
            let highest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM outbox") ?? 0
            var next = max(try Int64.fetchOne(db, sql: "SELECT next_seq FROM device") ?? 1, (lastSeq ?? 0) + 1, highest + 1)
            for row in moving {
                let seq: Int64 = row["seq"]
                let open = last[field(row)] == seq
                try db.run("""
                    UPDATE outbox SET seq = ?, rejected_reason = NULL, rejected_retry = 0,
                        sent_at = CASE WHEN ? THEN NULL ELSE coalesce(sent_at, ?) END
                    WHERE seq = ?
                    """, [next, open, now, seq])
                next += 1
            }
            try db.run("UPDATE device SET next_seq = ?", [next])
            return marked.count - superseded
        }
    }
}
