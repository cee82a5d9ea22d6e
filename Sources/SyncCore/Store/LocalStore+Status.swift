import Foundation
import GRDB

/// A referral's sync state, as `field status` shows it.
public struct SyncStatus: Sendable, Equatable {
    public struct LocalConflict: Sendable, Equatable {
        public var id: String
        public var path: String
        public var status: String
        public var candidates: [ConflictCandidate]
    }

    public struct ResolvedConflict: Sendable, Equatable {
        public var id: String
        public var path: String
        public var resolution: ConflictState.Resolution
    }

    public var id: UUID
    public var status: ReferralStatus
    /// Changes not yet acknowledged by the server (refused ones excluded).
    public var pending: Int
    /// Changes the server refused, with its reasons; they stay on the device.
    public var rejected: [PendingChange]
    public var lastReceipt: Receipt?
    public var conflicts: [LocalConflict]
    /// Conflicts an admin has resolved, with who, when and why, oldest first.
    public var resolved: [ResolvedConflict] = []
    /// When the server acknowledged the submission (deadlines run from here).
    public var receivedAt: Date?
    /// Record-level values the front door wrote (`@acknowledged_at`, `@outcome`…,
    /// and every decision as `@decision.N`).
    public var frontDoor: [String: String]

    /// Every decision the front door recorded, oldest first.
    public var decisions: [DecisionRecord] { DecisionRecord.history(in: frontDoor) }
}

extension LocalStore {
    /// The sync state of one referral, or of every referral when `id` is nil.
    public func syncStatus(of id: UUID? = nil) throws -> [SyncStatus] {
        let ids = try id.map { [$0] } ?? summaries().map(\.id)
        // Counts of what waits, and the refused changes opened: the values
        // waiting are not shown, so not opened (a sync runs this before and
        // after, on thousands of them).
        let rejected = try pendingChanges(where: "rejected_reason IS NOT NULL", limit: Int.max)
        return try writer.read { db in
            var waiting: [String: Int] = [:]
            for row in try Row.fetchAll(db.cachedStatement(sql: "SELECT referral_id, count(*) FROM outbox WHERE rejected_reason IS NULL GROUP BY referral_id")) {
                waiting[row[0]] = row[1]
            }
            let refused = Dictionary(grouping: rejected, by: \.record)
            return try ids.map { id in
                let key = id.lowercased
                let status = try String.fetchOne(
                    db.cachedStatement(sql: "SELECT value FROM field_value WHERE referral_id = ? AND path = '@status'"), arguments: [key])
                let receipt = try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT r.* FROM receipt r JOIN receipt_referral rr ON rr.reference = r.reference
                    WHERE rr.referral_id = ? ORDER BY r.server_time DESC, r.rowid DESC LIMIT 1
                    """), arguments: [key]).map {
                    Receipt(reference: $0["reference"], serverTime: $0["server_time"], records: [key], changes: $0["changes"])
                }
                let conflicts = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT * FROM conflict WHERE referral_id = ? AND status = 'open' ORDER BY path"), arguments: [key]
                ).map { row in
                    let candidates = try cipher.open(row, "candidates", record: key, path: Self.conflictPath(row["id"])) ?? "[]"
                    return SyncStatus.LocalConflict(
                        id: row["id"], path: row["path"], status: row["status"],
                        candidates: (try? JSONDecoder().decode([ConflictCandidate].self, from: Data(candidates.utf8))) ?? [])
                }
                let resolved = try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT id, path, resolution FROM conflict WHERE referral_id = ? AND status = 'resolved' AND resolution IS NOT NULL ORDER BY updated_at, id"),
                    arguments: [key]
                ).compactMap { row -> SyncStatus.ResolvedConflict? in
                    guard let text = try cipher.open(row, "resolution", record: key, path: Self.resolutionPath(row["id"])),
                        let resolution = try? JSONDecoder().decode(ConflictState.Resolution.self, from: Data(text.utf8))
                    else { return nil }
                    return SyncStatus.ResolvedConflict(id: row["id"], path: row["path"], resolution: resolution)
                }
                let receivedAt = try String.fetchOne(db.cachedStatement(sql: "SELECT received_at FROM referral WHERE id = ?"), arguments: [key]).flatMap { Timestamp.date($0) }
                let frontDoor = Dictionary(uniqueKeysWithValues: try Row.fetchAll(
                    db.cachedStatement(sql: "SELECT path, value FROM field_value WHERE referral_id = ? AND (path IN ('@acknowledged_at', '@acknowledged_by', '@outcome', '@outcome_note', '@decided_at', '@decided_by', '@rating', '@rating_feedback', '@rated_at', '@rated_by', '@reference', '@seen_at', '@seen_by') OR path LIKE '@decision.%') AND value IS NOT NULL"),
                    arguments: [key]
                ).map { row in (row["path"] as String, try cipher.open(row, "value", record: key, path: row["path"]) ?? "") })
                return SyncStatus(
                    id: id, status: status.flatMap(ReferralStatus.init(rawValue:)) ?? .draft,
                    pending: waiting[key] ?? 0,
                    rejected: refused[id] ?? [],
                    lastReceipt: receipt, conflicts: conflicts, resolved: resolved, receivedAt: receivedAt, frontDoor: frontDoor)
            }
        }
    }
}
