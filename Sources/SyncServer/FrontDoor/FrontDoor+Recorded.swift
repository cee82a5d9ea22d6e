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
            let shown = TerminalText.visible(key.count > 120 ? String(key.prefix(120)) + "…" : key)
            guard parts.count == 2, UUID.isCanonical(parts[0]), parts[1].hasPrefix("children."),
                UUID.isCanonical(String(parts[1].dropFirst("children.".count)))
            else {
                throw APIError(.badRequest,
                    "'\(shown)' is not a child's key: give <referral id>/children.<item id> as `field intake related` prints it (not a position such as children.1).")
            }
            if let person = try await storage.people(of: [parts[0]]).first(where: { $0.key == key }) {
                people.append(person)
            } else if decision != nil {
                throw APIError(.notFound, "No submitted referral names the child '\(shown)'.")
            }
        }
        if decision != nil, people[0].record == people[1].record {
            throw APIError(.badRequest, "Both children are in referral \(people[0].record); two children of one referral are not a match.")
        }
        if let decision { try await checkJoin(people[0], people[1], decision, in: storage) }
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
        }, to: link, audit: [request.person, request.other].map { key in
            AuditEvent(
                at: at, actor: user.name, action: action, record: String(key.split(separator: "/")[0]),
                detail: "person=\(key) other=\(key == request.person ? request.other : request.person) device=\(device)")
        })
        return MatchDecisionReply(
            person: request.person, other: request.other, decision: link?.decision.rawValue ?? "undone", decidedBy: user.name, decidedAt: at,
            previous: previous?.decision.rawValue)
    }

    /// Refuses a decision that would contradict what the front door already
    /// holds (a 409 naming why; never a child's values, which stay out of
    /// logs): confirming two children already joined, or whose groups have
    /// different valid NHS numbers, or one of whom was rejected against
    /// someone in the other's group; rejecting two children who share an NHS
    /// number (the same child by rule) or who are joined through confirmed matches.
    private func checkJoin(_ a: IndexedPerson, _ b: IndexedPerson, _ decision: PersonLink.Decision, in storage: any SyncStorage) async throws {
        let pair = PersonLink.pair(a.key, b.key)
        // A decision about this very pair: the store's own check answers (already confirmed or rejected; undo first).
        guard try await !storage.personLinks(touching: [a.key]).contains(where: { $0.a == pair.a && $0.b == pair.b }) else { return }
        let source = Self.source(storage)
        let mine = try await Self.matches(of: a, in: source)
        let joined = mine.same.first { $0.person.key == b.key }
        switch decision {
        case .confirmed:
            if let joined {
                throw APIError(.conflict, "These two children are already the same child (\(joined.kind == .sameNHSNumber ? "the same NHS number" : "through confirmed matches")); there is nothing to confirm.")
            }
            let theirs = try await Self.matches(of: b, in: source)
            if !mine.nhsNumbers.isEmpty, !theirs.nhsNumbers.isEmpty, mine.nhsNumbers.isDisjoint(with: theirs.nhsNumbers) {
                throw APIError(.conflict,
                    "These children's referrals give different valid NHS numbers (directly or through the matches already confirmed), and two different NHS numbers are never the same child; if one is mistyped, the referrer corrects it.")
            }
            for person in theirs.group {
                if let rejected = mine.excluded[person.key] {
                    throw APIError(.conflict,
                        "\(person.key) was rejected as not the same child as someone in this child's group (by \(rejected.decidedBy) at \(rejected.decidedAt)); undo that rejection first.")
                }
            }
            for person in mine.group {
                if let rejected = theirs.excluded[person.key] {
                    throw APIError(.conflict,
                        "\(person.key) was rejected as not the same child as someone in the other child's group (by \(rejected.decidedBy) at \(rejected.decidedAt)); undo that rejection first.")
                }
            }
        case .rejected:
            if let number = a.nhsNumber, number == b.nhsNumber {
                throw APIError(.conflict,
                    "These two children have the same NHS number, so they are the same child by rule; if one number is mistyped, the referrer corrects it and the link goes.")
            }
            if joined != nil {
                throw APIError(.conflict, "These two children are joined through other confirmed matches; undo the confirmation that joins them first.")
            }
        }
    }
}
