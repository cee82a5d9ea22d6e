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

extension FrontDoor {
    /// Intake's decision about two children in two referrals: `confirm` (the
    /// same child: their chronologies join), `reject` (not the same: never
    /// suggested again) or `undo` (the pair's decision removed), with a reason
    /// (1 to `maximumReasonLength` characters). One audit entry per referral
    /// (`confirm-match`, `reject-match`, `undo-match`), naming both people by
    /// key and never by name. Nothing in either referral changes.
    /// - Throws: `APIError` 400 for a bad decision, reason or pair, 404 for a
    ///   person the index does not hold, 409 when the pair already has a
    ///   decision (undo it first) or, for `undo`, has none.
    func recordMatchDecision(_ request: MatchDecisionRequest, by user: User, device: String, in storage: any SyncStorage) async throws -> MatchDecisionReply {
        let decision: PersonLink.Decision?
        switch request.decision {
        case "confirm": decision = .confirmed
        case "reject": decision = .rejected
        case "undo": decision = nil
        default:
            throw APIError(.badRequest, "'\(TerminalText.visible(String(request.decision.prefix(40))))' is not a match decision; the decisions are confirm, reject and undo.")
        }
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw APIError(.badRequest, "A match decision needs a reason, for the record (1 to \(Self.maximumReasonLength) characters).") }
        guard reason.count <= Self.maximumReasonLength else {
            throw APIError(.badRequest, "The reason has \(reason.count) characters; the most is \(Self.maximumReasonLength).")
        }
        guard request.person != request.other else { throw APIError(.badRequest, "A person cannot be matched with themselves; name two people.") }
        var people: [IndexedPerson] = []
        for key in [request.person, request.other] {
            let parts = key.split(separator: "/", maxSplits: 1).map(String.init)
            guard parts.count == 2, UUID.isCanonical(parts[0]), parts[1].hasPrefix("children.") else {
                throw APIError(.badRequest, "'\(TerminalText.visible(String(key.prefix(80))))' is not a child's key (<referral id>/children.<item id>).")
            }
            guard let person = try await storage.people(of: [parts[0]]).first(where: { $0.key == key }) else {
                throw APIError(.notFound, "No submitted referral names the child '\(TerminalText.visible(String(key.prefix(80))))'.")
            }
            people.append(person)
        }
        guard people[0].record != people[1].record else {
            throw APIError(.badRequest, "Both children are in referral \(people[0].record); two children of one referral are not a match.")
        }
        let pair = PersonLink.pair(request.person, request.other)
        let at = Timestamp.string(clock.now())
        let link = decision.map { PersonLink(a: pair.a, b: pair.b, decision: $0, reason: reason, decidedBy: user.name, decidedAt: at) }
        let action = decision.map { $0 == .confirmed ? "confirm-match" : "reject-match" } ?? "undo-match"
        let previous = try await storage.setPersonLink(pair: pair, check: { current in
            if decision == nil, current == nil {
                throw APIError(.conflict, "These two children have no match decision to undo.")
            }
            if decision != nil, let current {
                throw APIError(.conflict,
                    "These two children were already \(current.decision.rawValue) by \(current.decidedBy) at \(current.decidedAt); undo that first (field intake match undo), then decide again.")
            }
        }, to: link, audit: [people[0], people[1]].map { person in
            AuditEvent(
                at: at, actor: user.name, action: action, record: person.record,
                detail: "person=\(person.key) other=\(person.key == request.person ? request.other : request.person) device=\(device)")
        })
        return MatchDecisionReply(
            person: request.person, other: request.other, decision: link?.decision.rawValue ?? "undone", decidedBy: user.name, decidedAt: at,
            previous: previous?.decision.rawValue)
    }
}
