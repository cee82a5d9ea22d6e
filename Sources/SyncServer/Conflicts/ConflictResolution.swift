import Foundation
import SyncCore

/// Where conflicts are settled (admin role). A conflict is detected by the
/// push engine (`ConflictDetection.swift`), listed by the storage
/// (`SyncStorage.conflicts(all:)`), and resolved here: the admin picks a
/// candidate or gives a value, with a reason (SYNC.md, "Conflicts").
struct ConflictResolution {
    let forms: FormRegistry
    /// Every version's fields (`FormCatalog.union`): a referral may be on any.
    var form: ReferralForm { forms.current.union }
    let clock: any WallClock

    /// Settles a conflict and writes its audit entry, in one transaction:
    /// what both the API (`POST /v1/conflicts/{id}/resolve`, `field
    /// resolve`) and the console's conflicts page call, so both leave the
    /// same entry (`auditEvent`).
    /// - Throws: `APIError` 400 for a bad pick, value or reason, 404 for an
    ///   unknown conflict, 409 for one already resolved (`SyncStorage.recorded`).
    func record(_ id: String, _ request: ResolutionRequest, by user: User, device: String, in storage: any SyncStorage) async throws -> ConflictSummary.Resolution {
        try await storage.recorded { try await resolve(id, request, by: user, device: device, in: $0) } audit: {
            Self.auditEvent(conflict: id, record: $0.record, $0.resolution, by: user, device: device)
        }.resolution
    }

    /// A resolution's audit entry (`resolve`): who, the conflict's referral
    /// as `record_id` (so the referral's own trail lists it), the conflict,
    /// the new revision and the device (`web-console` from the console);
    /// never the value chosen or the reason, which are referral content.
    static func auditEvent(conflict id: String, record: String, _ resolution: ConflictSummary.Resolution, by user: User, device: String) -> AuditEvent {
        AuditEvent(at: resolution.at, actor: user.name, action: "resolve", record: record, detail: "conflict=\(id) revision=\(resolution.revision) device=\(device)")
    }

    /// Settles a conflict: the decision is a new revision of the field that
    /// supersedes every candidate; the conflict keeps its candidates, the
    /// value chosen, who, when and why. Returns the conflict's referral with
    /// the resolution. Call `record`, which writes the audit entry with it.
    func resolve(
        _ id: String, _ request: ResolutionRequest, by user: User, device: String, in transaction: any SyncTransaction
    ) async throws -> (record: String, resolution: ConflictSummary.Resolution) {
        let reason = request.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw FrontDoor.Refusal.invalid("A resolution needs a reason, for the record.") }
        guard reason.count <= FrontDoor.maximumReasonLength else {
            throw FrontDoor.Refusal.invalid("The reason has \(reason.count) characters; the most is \(FrontDoor.maximumReasonLength).")
        }
        guard let place = try await transaction.conflictPlace(id) else { throw FrontDoor.Refusal.notFound("No conflict has id '\(id.prefix(40))'.") }
        guard place.open else { throw FrontDoor.Refusal.conflict("Conflict \(id) is already resolved.") }
        let value: String?
        switch (request.pick, request.value) {
        case (let pick?, nil):
            let candidates = try await transaction.conflict(id)?.candidates ?? []
            guard pick >= 1, pick <= candidates.count else {
                throw FrontDoor.Refusal.invalid("Conflict \(id) has \(candidates.count) candidates; \(pick) is not one of them.")
            }
            value = candidates[pick - 1].value
        case (nil, let typed?):
            if case .failure(let refusal) = form.rules(forStoredPath: place.path, value: typed) { throw FrontDoor.Refusal.invalid(refusal.reason) }
            value = typed
        default:
            throw FrontDoor.Refusal.invalid("Give either a candidate to pick or a value, not both and not neither.")
        }
        let at = Timestamp.string(clock.now())
        let stamp = HLCStamp.next(after: HLCStamp(wall: 0, counter: 0, device: device), now: clock.now()).description
        let revision = try await transaction.append(LogEntry(
            kind: .write, record: place.record, path: place.path, value: value, author: user.name, device: device,
            seq: nil, hlc: stamp, at: at, conflict: id))
        try await transaction.setField(record: place.record, path: place.path, ServerField(
            value: value, revision: revision, hlc: stamp, device: device, author: user.name, at: at, conflict: nil))
        try await transaction.markResolved(id, value: value, by: user.name, at: at, reason: reason, revision: revision)
        return (place.record, .init(value: value, by: user.name, at: at, reason: reason, revision: revision))
    }
}
