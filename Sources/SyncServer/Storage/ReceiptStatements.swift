import Foundation
import SyncCore

/// The SQL behind signed receipts, the same on both backends: a push's
/// receipt completed with the audit head and stored as signed, the receipt
/// keys, and the checks `audit verify --receipts`, `receipt verify` and a
/// device's sync ask for (docs/protocol.md, "Signed receipts").
enum ReceiptStatements {
    /// The chain's last entry, nil while it is empty.
    static func head(in session: any SQLSession) async throws -> AuditHead? {
        try await session.rows("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1", []).first.map {
            AuditHead(position: try $0.int("id")!, hash: try $0.text("hash")!)
        }
    }

    /// Gives `document` the chain's `head`, signs it with `seal` and stores
    /// the signed receipt beside the push's receipt row (already written by
    /// the push). Nil when there is no `seal` (a test's store without keys).
    static func seal(_ document: ReceiptDocument, head: AuditHead?, with seal: ReceiptSeal?, in session: any SQLSession) async throws -> SignedReceipt? {
        guard let seal else { return nil }
        var document = document
        document.audit = head
        let signed = try seal(document)
        try await session.run(
            "UPDATE receipts SET document = $1 WHERE reference = $2",
            [.text(String(decoding: try signed.encoded(), as: UTF8.self)), .text(document.receipt)])
        return signed
    }

    /// The chain's length and the hash of the entry at `$1`, in one statement.
    static let headCheck = "SELECT (SELECT coalesce(max(id), 0) FROM audit) AS length, (SELECT hash FROM audit WHERE id = $1) AS hash"

    /// Whether a chain of `length` entries whose entry at `head.position` has `hash` holds `head`.
    static func check(_ head: AuditHead, length: Int64, hash: String?) -> AuditHeadCheck {
        AuditHeadCheck(position: head.position, holds: hash == head.hash, length: length)
    }

    /// A stored signed receipt, read back.
    static func decode(_ text: String?) -> SignedReceipt? {
        text.flatMap { try? JSONDecoder().decode(SignedReceipt.self, from: Data($0.utf8)) }
    }
}

extension SQLStore {
    func receiptKeys() async throws -> [ReceiptPublicKey] {
        try await connected { session in
            try await session.rows("SELECT kid, x, created_at, retired_at FROM receipt_keys ORDER BY created_at, kid", []).map { row in
                ReceiptPublicKey(x: try row.text("x")!, kid: try row.text("kid")!, created: try row.text("created_at"), retired: try row.text("retired_at"))
            }
        }
    }

    func addReceiptKey(_ key: ReceiptPublicKey, retiringOthers: Bool, at: String, audit: AuditEvent?) async throws {
        try await writing { transaction in
            let held = try await transaction.sql.rows("SELECT x FROM receipt_keys WHERE kid = $1", [.text(key.kid)]).first
            if held == nil {
                try await transaction.sql.run(
                    "INSERT INTO receipt_keys (kid, x, created_at, retired_at) VALUES ($1, $2, $3, NULL)",
                    [.text(key.kid), .text(key.x), .text(key.created ?? at)])
            }
            if retiringOthers {
                try await transaction.sql.run(
                    "UPDATE receipt_keys SET retired_at = $1 WHERE kid <> $2 AND retired_at IS NULL", [.text(at), .text(key.kid)])
            }
            if let audit { try await transaction.audit(audit) }
        }
    }

    func checkAuditHead(_ head: AuditHead) async throws -> AuditHeadCheck {
        try await chainPendingAudit()
        return try await connected { session in
            let row = try await session.rows(ReceiptStatements.headCheck, [.int(head.position)]).first
            return ReceiptStatements.check(head, length: try row?.int("length") ?? 0, hash: try row?.text("hash"))
        }
    }

    func loggedChangeDigests(device: String, record: String, seqs: [Int64]) async throws -> [Int64: Set<String>] {
        guard !seqs.isEmpty else { return [:] }
        let wanted = Set(seqs)
        return try await reading { session in
            var digests: [Int64: Set<String>] = [:]
            // By referral (the log's index leads with it), then device and number.
            for row in try await session.rows(
                "SELECT seq, path, value, hlc, sent_hlc FROM change_log WHERE record_id = $1 AND device_id = $2 AND seq IS NOT NULL",
                [.text(record), .text(device)])
            {
                guard let seq = try row.int("seq"), wanted.contains(seq) else { continue }
                let hlc = try row.text("sent_hlc") ?? row.text("hlc")!
                digests[seq, default: []].insert(ChangeDigest.sha256(
                    device: device, seq: seq, record: record, path: try row.text("path")!, hlc: hlc, value: try row.text("value")))
            }
            return digests
        }
    }

    func signedReceipt(_ reference: String) async throws -> SignedReceipt? {
        try await connected { session in
            ReceiptStatements.decode(try await session.rows("SELECT document FROM receipts WHERE reference = $1", [.text(reference)]).first?.text("document"))
        }
    }
}
