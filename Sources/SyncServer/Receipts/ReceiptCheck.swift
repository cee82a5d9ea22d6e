import Foundation
import SyncCore

/// Checks a signed receipt (docs/security.md, "What a receipt proves"):
/// its signature against `keys`, and, given the store it came from, that
/// the store still holds every change it names and its audit chain still
/// holds the head it names.
struct ReceiptCheck {
    let keys: [ReceiptPublicKey]
    let storage: (any SyncStorage)?

    /// What a check found, for the report.
    struct Finding {
        var document: ReceiptDocument
        var key: ReceiptPublicKey
    }

    /// - Throws: `ReceiptError`, the first thing that does not hold.
    func check(_ signed: SignedReceipt) async throws -> Finding {
        let (document, key) = try signed.verify(with: keys)
        guard let storage else { return Finding(document: document, key: key) }
        for referral in document.referrals {
            let held = try await storage.loggedChangeDigests(device: document.device, record: referral.id, seqs: referral.changes.map(\.seq))
            for change in referral.changes where held[change.seq]?.contains(change.sha256) != true {
                throw ReceiptError.changeMissing(receipt: document.receipt, seq: change.seq, record: referral.id)
            }
        }
        if let head = document.audit {
            let answer = try await storage.checkAuditHead(head)
            if let failure = answer.failure {
                throw ReceiptError.chainMissing(receipt: document.receipt, serverTime: document.serverTime, position: head.position, detail: failure)
            }
        }
        return Finding(document: document, key: key)
    }

    /// Reads a receipt file as `field receipt export` writes it.
    /// - Throws: `OperatorError` naming the file.
    static func read(_ path: String) throws -> SignedReceipt {
        guard let data = FileManager.default.contents(atPath: path) else { throw OperatorError("Cannot read the receipt '\(path)'.") }
        guard let signed = try? JSONDecoder().decode(SignedReceipt.self, from: data) else {
            throw OperatorError("'\(path)' is not a signed receipt (a JSON object with protected, payload and signature, as `field receipt export` writes).")
        }
        return signed
    }

    /// One line about a receipt that holds.
    static func describe(_ finding: Finding, checkedStore: Bool) -> String {
        let document = finding.document
        let referrals = document.referrals.map { $0.reference ?? "draft \($0.id.prefix(8))" }.joined(separator: ", ")
        var line = "Receipt \(document.receipt) of \(document.serverTime) is genuine: signed by key \(finding.key.kid)"
            + "; \(document.user) on device \(document.device.prefix(8)), \(document.changeCount) change\(document.changeCount == 1 ? "" : "s") to \(referrals)"
        if checkedStore {
            line += "; the server holds every change it names"
            if let head = document.audit { line += " and its audit trail holds entry \(head.position)" }
        }
        return line + "."
    }
}
