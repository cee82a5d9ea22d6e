import Crypto
import Foundation
import GRDB
import SyncCore

/// One entry of the audit trail: who did what, when, to which referral. It
/// never holds referral content, only ids, counts and receipt references.
struct AuditEvent: Sendable, Equatable {
    var at: String
    var actor: String
    var action: String
    var record: String?
    var detail: String
}

/// The audit trail is append-only and hash-chained: each entry's hash covers
/// the previous entry's hash and its own fields, so changing, removing or
/// reordering an entry breaks every hash after it. `sync-server audit verify`
/// walks the chain and names the first entry that does not match.
enum AuditTrail {
    static let genesis = String(repeating: "0", count: 64)

    static func hash(previous: String, id: Int64, _ event: AuditEvent) -> String {
        let text = [previous, String(id), event.at, event.actor, event.action, event.record ?? "", event.detail].joined(separator: "\u{1F}")
        return Hex.string(SHA256.hash(data: Data(text.utf8)))
    }

    /// Appends an entry after the chain's head; runs inside the caller's
    /// write transaction, which holds the chain's turn
    /// (`SQLTransaction.takeAuditTurn`).
    static func append(_ event: AuditEvent, in session: any SQLSession) async throws {
        let last = try await session.rows("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", []).first
        let id = (try last?.int("id") ?? 0) + 1
        let previous = try last?.text("hash") ?? genesis
        try await session.run(
            "INSERT INTO audit (id, at, actor, action, record_id, detail, previous_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [.int(id), .text(event.at), .text(event.actor), .text(event.action), .text(event.record), .text(event.detail), .text(previous),
             .text(hash(previous: previous, id: id, event))])
    }

    enum Verification: Equatable {
        case intact(entries: Int)
        case broken(id: Int64, description: String)
    }

    /// One stored entry, as `verify` reads it.
    struct Entry {
        var id: Int64
        var event: AuditEvent
        var previousHash: String
        var hash: String
    }

    static func verify(db: Database) throws -> Verification {
        var entries: [Entry] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT * FROM audit ORDER BY id")
        while let row = try rows.next() {
            entries.append(Entry(
                id: row["id"], event: AuditEvent(at: row["at"], actor: row["actor"], action: row["action"], record: row["record_id"], detail: row["detail"]),
                previousHash: row["previous_hash"], hash: row["hash"]))
        }
        return verify(entries)
    }

    /// Walks the chain in id order; the same check for every backend.
    static func verify(_ entries: [Entry]) -> Verification {
        var previous = genesis
        var expectedID: Int64 = 1
        for entry in entries {
            let id = entry.id
            let event = entry.event
            let described = "entry \(id) (\(event.action) by \(event.actor) at \(event.at))"
            guard id == expectedID else {
                return .broken(id: expectedID, description: "entry \(expectedID) is missing; the next one is \(described)")
            }
            guard entry.previousHash == previous, entry.hash == hash(previous: previous, id: id, event) else {
                return .broken(id: id, description: described)
            }
            previous = entry.hash
            expectedID += 1
        }
        return .intact(entries: Int(expectedID - 1))
    }
}
