import Foundation
import SyncCore

extension FrontDoor {
    /// A submitted referral as intake reads it (API, console and CLI alike):
    /// its values, open conflicts worded by every form version, what changed
    /// since the front door last acknowledged, decided or saw it (with the
    /// value it had then), when and under which receipt it was first
    /// submitted, and its clocks at `now`. Nil for a draft or an unknown id:
    /// intake never learns a draft exists.
    func document(_ id: String, in storage: any SyncStorage, now: Date) async throws -> ReferralDocument? {
        guard var document = try await storage.document(id), document.fields[RecordPath.status] == ReferralStatus.submitted.rawValue else {
            return nil
        }
        document.conflicts = forms.labelled(try await storage.conflicts(all: false).filter { $0.record == id })
        document.changes = try await storage.changesSinceFrontDoor(of: id)
        let row = try await storage.submittedReferrals(among: [id]).first
        document.submittedAt = row?.submittedAt ?? document.createdAt
        document.receipt = row?.receipt
        document.clocks = row.map { clocks(of: $0, now: now) }
            ?? calendar.clocks(ClockFacts(receivedAt: Timestamp.date(document.createdAt) ?? now, fields: document.fields), now: now, rules: rules)
        return document
    }

    /// A submitted referral's whole history, oldest first; nil for a draft or an unknown id.
    func history(_ id: String, in storage: any SyncStorage) async throws -> [ReferralHistoryEntry]? {
        guard try await storage.recordStatuses([id])[id] == ReferralStatus.submitted.rawValue else { return nil }
        return try await storage.history(of: id)
    }

    /// A referral's history as CSV (RFC 4180, every cell quoted and
    /// neutralised as the exports' are): one line per entry, oldest first.
    static func historyCSV(_ entries: [ReferralHistoryEntry]) -> String {
        var lines = [["revision", "at", "kind", "path", "value", "by", "device", "conflict", "reason", "reaches_referrer"].joined(separator: ",")]
        for entry in entries {
            let cells = [
                "\(entry.revision)", entry.at, entry.kind, entry.path, entry.value ?? "", entry.by, entry.device, entry.conflict ?? "", entry.reason ?? "",
                entry.reachesReferrer ? "yes" : "no",
            ]
            lines.append(cells.map(ReferralExport.quote).joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }
}
