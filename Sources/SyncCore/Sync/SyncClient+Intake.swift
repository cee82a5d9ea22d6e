import Foundation

/// Intake's calls added with the decision history and the triaged queue.
/// Online only, like the rest of the front door's calls.
extension SyncClient {
    /// Records a decision; with `change`, replaces the current decision
    /// (`reason` says why), keeping the earlier one on the record. A second
    /// decision without `change` is refused by the server (409).
    public func recordDecision(_ id: String, outcome: ReferralOutcome, note: String, change: Bool = false, reason: String? = nil) async throws -> DecisionReply {
        let body = try JSONEncoder().encode(DecisionRequest(outcome: outcome.rawValue, note: note, change: change ? true : nil, reason: reason))
        return try decode(DecisionReply.self, try await call("the decision") { try await transport.post("v1/intake/referrals/\(id)/decision", body: body) }, what: "the decision")
    }

    /// The intake queue in triage order (undecided referrals at immediate
    /// risk first, then by the next clock due), only the referrals `view`
    /// picks, and of those only what matches `search` (a child's name,
    /// reference, agency, NHS number or id prefix), `rating` (red, amber,
    /// green or unrated) and `agency`, when given.
    public func queue(view: QueueView, search: String? = nil, rating: String? = nil, agency: String? = nil) async throws -> [QueueEntry] {
        var query = [URLQueryItem(name: "view", value: view.rawValue)]
        if let search { query.append(URLQueryItem(name: "q", value: search)) }
        if let rating { query.append(URLQueryItem(name: "rating", value: rating)) }
        if let agency { query.append(URLQueryItem(name: "agency", value: agency)) }
        return try decode([QueueEntry].self, try await call("the queue") { try await transport.get("v1/intake/queue", query: query) }, what: "the queue")
    }

    /// Rates a referral red, amber or green with a reason; `feedback` also sends the reason to the referrer.
    public func rate(_ id: String, rating: RAGRating, reason: String, feedback: Bool) async throws -> RatingReply {
        let body = try JSONEncoder().encode(RatingRequest(rating: rating.rawValue, reason: reason, feedback: feedback ? true : nil))
        return try decode(RatingReply.self, try await call("the rating") { try await transport.post("v1/intake/referrals/\(id)/rating", body: body) }, what: "the rating")
    }

    /// Records that the front door saw the changes since its decision, and the decision stands.
    public func markSeen(_ id: String, note: String) async throws -> SeenReply {
        let body = try JSONEncoder().encode(SeenRequest(note: note))
        return try decode(SeenReply.self, try await call("the note") { try await transport.post("v1/intake/referrals/\(id)/seen", body: body) }, what: "the note")
    }

    /// A submitted referral's whole history, oldest first.
    public func referralHistory(_ id: String) async throws -> [ReferralHistoryEntry] {
        try decode([ReferralHistoryEntry].self, try await call("the history") { try await transport.get("v1/intake/referrals/\(id)/history", query: []) }, what: "the history")
    }

    /// What the front door knows of a referral's children and household from other referrals (`RelatedReferrals`).
    public func relatedReferrals(_ id: String) async throws -> RelatedReferrals {
        try decode(RelatedReferrals.self, try await call("the related referrals") { try await transport.get("v1/intake/referrals/\(id)/related", query: []) },
                   what: "the related referrals")
    }

    /// Confirms, rejects or undoes a possible match between two children (`MatchDecisionRequest`).
    public func decideMatch(_ request: MatchDecisionRequest) async throws -> MatchDecisionReply {
        let body = try JSONEncoder().encode(request)
        return try decode(MatchDecisionReply.self, try await call("the match decision") { try await transport.post("v1/intake/matches", body: body) },
                          what: "the match decision")
    }

    /// Fetches the published form versions up to `version` that this device
    /// lacks (an intake laptop reading a referral written on a version it
    /// has not synced yet); returns the newest version it then has.
    @discardableResult
    public func fetchForms(upTo version: Int) async throws -> Int {
        guard version > store.form.version else { return store.form.version }
        var summary = SyncSummary()
        summary.serverFormVersion = version
        try await fetchForms(into: &summary)
        return store.form.version
    }

    /// A submitted referral's attachment (intake, admin), checked against
    /// its SHA-256 before it is returned; audited on the server.
    /// - Throws: `SyncError`, or `.unreadableReply` when the bytes do not match the hash.
    public func attachment(_ reference: AttachmentReference, of id: String) async throws -> Data {
        let reply = try await call("the attachment") { try await transport.get("v1/intake/referrals/\(id)/attachments/\(reference.sha256)", query: []) }
        guard AttachmentReference(of: reply.body) == reference else {
            throw SyncError.unreadableReply("the attachment (its bytes do not match sha256:\(reference.short)…)")
        }
        return reply.body
    }
}
