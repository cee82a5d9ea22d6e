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

    /// The intake queue in triage order (immediate risk first, then by the
    /// acknowledgement deadline), only the referrals `view` picks.
    public func queue(view: QueueView) async throws -> [QueueEntry] {
        let query = [URLQueryItem(name: "view", value: view.rawValue)]
        return try decode([QueueEntry].self, try await call("the queue") { try await transport.get("v1/intake/queue", query: query) }, what: "the queue")
    }
}
