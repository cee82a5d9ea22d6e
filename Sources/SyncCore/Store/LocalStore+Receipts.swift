import Foundation
import GRDB

/// A receipt as this device keeps it (`field receipt show`).
public struct StoredReceipt: Sendable, Equatable {
    public var reference: String
    public var serverTime: String
    public var changes: Int
    /// The receipt as the server signed it; nil from a server before signed receipts.
    public var signed: SignedReceipt?
    /// What was wrong with it when it arrived (unsigned by a pinned key,
    /// altered, or not naming what was sent), in one sentence; nil when it checked out.
    public var problem: String?
    /// The referrals it covers, by id.
    public var referrals: [String]
}

/// A finding of the audit head check: the server's chain no longer holds
/// a head this device was given (docs/security.md).
public struct AuditFinding: Sendable, Equatable, Codable {
    public var at: String
    public var receipt: String?
    public var message: String
}

extension LocalStore {
    // MARK: The server's receipt keys, pinned

    /// Pins `keys` (the server's `/v1/keys`): keys already pinned stay as
    /// they were (a key's id is its thumbprint, so a pinned key cannot be
    /// swapped for another under its id); new ones are added. Returns how
    /// many were new.
    @discardableResult
    public func pinReceiptKeys(_ keys: [ReceiptPublicKey]) throws -> Int {
        let now = Timestamp.string(clock.now())
        return try writer.write { db in
            var added = 0
            for key in keys where key.kid == ReceiptPublicKey.thumbprint(x: key.x) {
                if try db.row("SELECT 1 FROM receipt_key WHERE kid = ?", [key.kid]) != nil {
                    // Only when it was retired may change: the key itself cannot.
                    try db.run("UPDATE receipt_key SET retired = coalesce(retired, ?) WHERE kid = ?", [key.retired, key.kid])
                    continue
                }
                try db.run("INSERT INTO receipt_key (kid, x, created, retired, pinned_at) VALUES (?, ?, ?, ?, ?)",
                    [key.kid, key.x, key.created, key.retired, now])
                added += 1
            }
            return added
        }
    }

    /// The receipt keys this device pinned, oldest first.
    public func pinnedReceiptKeys() throws -> [ReceiptPublicKey] {
        try writer.read { db in try Self.pinnedKeys(db) }
    }

    static func pinnedKeys(_ db: Database) throws -> [ReceiptPublicKey] {
        try Row.fetchAll(db, sql: "SELECT kid, x, created, retired FROM receipt_key ORDER BY pinned_at, kid").map {
            ReceiptPublicKey(x: $0["x"], kid: $0["kid"], created: $0["created"], retired: $0["retired"])
        }
    }

    // MARK: Receipts kept

    /// Stores a push reply's receipt, checked against what was sent (inside
    /// `applyPush`'s transaction): its signature by a pinned key, that it is
    /// this device's and this reference's, and that it names every change
    /// acknowledged under it with the SHA-256 of the change as sent.
    /// Returns what was wrong with it (nil when it checked out), and whether
    /// the cause is a key not pinned here (the caller fetches the server's
    /// keys and calls `reassess`).
    @discardableResult
    func keep(_ receipt: Receipt, response: PushResponse, sent: [Int64: PendingChange], db: Database) throws -> (problem: String?, unknownKey: Bool) {
        let (problem, head, unknownKey) = try assess(receipt, response: response, sent: sent, db: db)
        try db.run("""
            INSERT INTO receipt (reference, server_time, changes, signed, audit_position, audit_hash, problem) VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (reference) DO UPDATE SET signed = coalesce(receipt.signed, excluded.signed),
                audit_position = coalesce(receipt.audit_position, excluded.audit_position), audit_hash = coalesce(receipt.audit_hash, excluded.audit_hash),
                problem = CASE WHEN receipt.signed IS NULL THEN excluded.problem ELSE receipt.problem END
            """,
            [receipt.reference, receipt.serverTime, receipt.changes, try receipt.signed.map { String(decoding: try $0.encoded(), as: UTF8.self) },
             head?.position, head?.hash, problem])
        for record in receipt.records {
            try db.run("INSERT OR IGNORE INTO receipt_referral (reference, referral_id) VALUES (?, ?)", [receipt.reference, record])
        }
        return (problem, unknownKey)
    }

    /// The receipt checked: what is wrong (nil if nothing), the audit head it gives, whether its key is unknown here.
    private func assess(_ receipt: Receipt, response: PushResponse, sent: [Int64: PendingChange], db: Database) throws -> (String?, AuditHead?, Bool) {
        guard let signed = receipt.signed else { return (nil, nil, false) }
        let acknowledged = response.outcomes.filter { $0.receipt == receipt.reference && ($0.outcome == .applied || $0.outcome == .conflict) }
        do {
            let document = try signed.verify(with: try Self.pinnedKeys(db)).document
            let problem = Self.mismatch(document, receipt: receipt, device: deviceID, acknowledged: acknowledged.compactMap { sent[$0.seq] })
            return (problem, problem == nil ? document.audit : nil, false)
        } catch let error as ReceiptError {
            if case .unknownKey = error { return (error.description, nil, true) }
            return (error.description, nil, false)
        }
    }

    /// Checks a kept receipt again (once the server's keys were fetched after
    /// it named one not pinned here) and records what it finds; returns the problem, if any.
    public func reassess(_ receipt: Receipt, response: PushResponse, sent: [PendingChange]) throws -> String? {
        let bySeq = Dictionary(sent.map { ($0.seq, $0) }, uniquingKeysWith: { first, _ in first })
        return try writer.write { db in
            let (problem, head, _) = try assess(receipt, response: response, sent: bySeq, db: db)
            try db.run("UPDATE receipt SET problem = ?, audit_position = ?, audit_hash = ? WHERE reference = ? AND signed IS NOT NULL",
                [problem, head?.position, head?.hash, receipt.reference])
            return problem
        }
    }

    /// What is wrong with a verified `document` for this push, or nil: it
    /// must be `receipt`'s, for `device`, and name each of `acknowledged`
    /// with the SHA-256 of the change as sent.
    public static func mismatch(_ document: ReceiptDocument, receipt: Receipt, device: String, acknowledged: [PendingChange]) -> String? {
        guard document.receipt == receipt.reference else {
            return "The signed receipt is \(document.receipt.prefix(20)), not \(receipt.reference): the server sent another push's receipt."
        }
        guard document.device == device else {
            return "Receipt \(receipt.reference) is signed for device \(document.device.prefix(36)), not this one."
        }
        var named: [Int64: String] = [:]
        for referral in document.referrals {
            for change in referral.changes { named[change.seq] = change.sha256 }
        }
        for change in acknowledged {
            let sent = ChangeDigest.sha256(
                device: device, seq: change.seq, record: change.record.lowercased, path: change.path, hlc: change.hlc.description, value: change.value)
            guard let hash = named[change.seq] else {
                return "Receipt \(receipt.reference) does not name change \(change.seq), which the server acknowledged under it."
            }
            guard hash == sent else {
                return "Receipt \(receipt.reference) names change \(change.seq) with another SHA-256 than the change this device sent."
            }
        }
        return nil
    }

    /// Receipts this device keeps, newest first: all, or those whose
    /// reference is `reference`, or that cover the referral `referral` (an id).
    public func receipts(reference: String? = nil, referral: String? = nil) throws -> [StoredReceipt] {
        try writer.read { db in
            var sql = "SELECT r.*, (SELECT group_concat(referral_id, ' ') FROM receipt_referral rr WHERE rr.reference = r.reference) AS referrals FROM receipt r"
            var arguments: StatementArguments = []
            if let reference {
                sql += " WHERE upper(r.reference) = upper(?)"
                arguments += [reference]
            } else if let referral {
                sql += " WHERE r.reference IN (SELECT reference FROM receipt_referral WHERE referral_id = ?)"
                arguments += [referral]
            }
            sql += " ORDER BY r.server_time DESC, r.rowid DESC"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                StoredReceipt(
                    reference: row["reference"], serverTime: row["server_time"], changes: row["changes"],
                    signed: (row["signed"] as String?).flatMap { try? JSONDecoder().decode(SignedReceipt.self, from: Data($0.utf8)) },
                    problem: row["problem"], referrals: ((row["referrals"] as String?) ?? "").split(separator: " ").map(String.init))
            }
        }
    }

    /// The receipt under which the server acknowledged a referral's submission, once it has.
    public func submissionReceipt(of referral: String) throws -> String? {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT received_receipt FROM referral WHERE id = ?", arguments: [referral]) }
    }

    // MARK: The audit head, held outside the server

    /// The audit head of the newest receipt that checked out here, to
    /// present at the next sync, with that receipt's reference and time.
    public func newestAuditHead() throws -> (head: AuditHead, receipt: String, serverTime: String)? {
        try writer.read { db in
            // The head as the signed document gives it (the columns are a copy, which an edit of the store could change).
            try Row.fetchAll(db, sql: "SELECT reference, signed FROM receipt WHERE audit_position IS NOT NULL AND problem IS NULL ORDER BY rowid DESC LIMIT 5")
                .lazy.compactMap { row -> (AuditHead, String, String)? in
                    guard let text: String = row["signed"], let signed = try? JSONDecoder().decode(SignedReceipt.self, from: Data(text.utf8)),
                          let document = try? signed.verifiedHead(with: try Self.pinnedKeys(db)), let head = document.audit else { return nil }
                    return (head, document.receipt, document.serverTime)
                }.first
        }
    }

    /// Records that the server's chain no longer holds a head: once per receipt.
    public func recordAuditFinding(receipt: String?, message: String) throws {
        let now = Timestamp.string(clock.now())
        try writer.write { db in
            if let receipt, try db.row("SELECT 1 FROM audit_finding WHERE receipt = ?", [receipt]) != nil { return }
            try db.run("INSERT INTO audit_finding (at, receipt, message) VALUES (?, ?, ?)", [now, receipt, message])
        }
    }

    /// What the audit head checks found, oldest first.
    public func auditFindings() throws -> [AuditFinding] {
        try writer.read { db in
            try Row.fetchAll(db, sql: "SELECT at, receipt, message FROM audit_finding ORDER BY id").map {
                AuditFinding(at: $0["at"], receipt: $0["receipt"], message: $0["message"])
            }
        }
    }
}
