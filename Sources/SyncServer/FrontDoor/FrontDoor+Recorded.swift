import Foundation
import SyncCore

/// The front door's writes as both surfaces (the API and the console) make
/// them: each in one write transaction with its audit entry, worded once
/// here. The audit line names the action, the device and the choice made,
/// never the worker's words about the referral (the record keeps those).
/// - Throws: `APIError` 404, 400 or 409 for the write's `Refusal`s (`SyncStorage.recorded`).
extension FrontDoor {
    func recordAcknowledgement(_ record: String, by user: User, device: String, in storage: any SyncStorage) async throws -> Acknowledgement {
        try await storage.recorded { try await acknowledge(record, by: user, device: device, in: $0) } audit: {
            AuditEvent(at: $0.acknowledgedAt, actor: user.name, action: "acknowledge", record: record, detail: "device=\(device)")
        }
    }

    func recordRating(
        _ record: String, _ request: RatingRequest, by user: User, device: String, in storage: any SyncStorage
    ) async throws -> Rating {
        try await storage.recorded {
            try await rate(record, rating: request.rating, reason: request.reason, feedback: request.feedback ?? false, by: user, device: device, in: $0)
        } audit: {
            AuditEvent(at: $0.ratedAt, actor: user.name, action: "rate", record: record, detail: "device=\(device) rating=\($0.rating) feedback=\($0.feedback)")
        }
    }

    /// "Seen: decision stands", refused (409) when nothing changed since the front door last looked.
    func recordSeen(_ record: String, note: String, by user: User, device: String, in storage: any SyncStorage) async throws -> SeenReply {
        if try await storage.recordStatuses([record])[record] == ReferralStatus.submitted.rawValue,
            try await storage.changesSinceFrontDoor(of: record).isEmpty
        {
            throw APIError(.conflict, "Nothing has changed in referral \(record) since the front door last acknowledged, decided or saw it; there is nothing to mark as seen.")
        }
        return try await storage.recorded { try await seen(record, note: note, by: user, device: device, in: $0) } audit: {
            AuditEvent(at: $0.seenAt, actor: user.name, action: "seen-decision-stands", record: record, detail: "device=\(device)")
        }
    }

    func recordDecision(_ record: String, _ request: DecisionRequest, by user: User, device: String, in storage: any SyncStorage) async throws -> Decision {
        try await storage.recorded { try await decide(record, request, by: user, device: device, in: $0) } audit: {
            AuditEvent(
                at: $0.decidedAt, actor: user.name, action: $0.number == 1 ? "decide" : "change-decision", record: record,
                detail: "device=\(device) outcome=\($0.outcome) decision=\($0.number)")
        }
    }
}
