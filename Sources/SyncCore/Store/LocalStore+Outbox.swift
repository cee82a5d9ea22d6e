import Foundation
import GRDB

/// The changes going out: what the next push sends.
extension LocalStore {
    /// The outbox, in the order the changes were first made.
    public func pendingChanges() throws -> [PendingChange] {
        try pendingChanges(where: "1", limit: Int.max)
    }

    func pendingChanges(where condition: String, limit: Int) throws -> [PendingChange] {
        try writer.read { db in
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
