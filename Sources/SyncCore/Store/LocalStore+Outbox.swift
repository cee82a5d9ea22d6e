import Foundation
import GRDB

/// The changes going out: what the next push sends.
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
