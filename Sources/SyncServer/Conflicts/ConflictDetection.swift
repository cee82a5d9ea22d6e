import Foundation
import SyncCore

/// How a push finds a conflict: `PushEngine.merge` calls this when a change
/// is concurrent with the field's value and its merge policy says `conflict`
/// (`MergeRule`), or when the field already has an open conflict.
extension PushEngine {
    /// Opens a conflict on the field (the standing value and the incoming
    /// one as its first candidates), or adds the incoming value to the
    /// conflict already open there. The incoming value goes to the log as a
    /// candidate; the field keeps its value provisionally and its conflict
    /// state becomes a change of its own, which devices pull.
    func openOrJoinConflict(
        _ change: WireChange, field: ServerField, entry: LogEntry, device: String, user: User, at: String, receipt: String,
        in plan: inout PlanBuilder
    ) -> (StoredOutcome, ServerField) {
        var entry = entry
        let candidate = ConflictCandidate(value: change.value, author: user.name, device: device, time: at, hlc: change.hlc)
        let conflictID: String
        if let open = field.conflict {
            conflictID = open
            plan.addCandidate(candidate, to: open)
        } else {
            conflictID = ids.next().lowercased
            let standing = ConflictCandidate(value: field.value, author: field.author, device: field.device, time: field.at, hlc: field.hlc)
            plan.openConflict(conflictID, record: change.record, path: change.path, candidates: [standing, candidate], at: at)
        }
        entry.kind = .candidate
        entry.conflict = conflictID
        _ = plan.append(entry)
        // The conflict state is itself a change devices pull; the field
        // keeps its value provisionally.
        let stateRevision = plan.append(LogEntry(
            kind: .conflict, record: change.record, path: change.path, value: field.value, author: user.name,
            device: device, seq: nil, hlc: change.hlc, at: at, conflict: conflictID))
        var updated = field
        updated.revision = stateRevision
        updated.conflict = conflictID
        plan.setField(change.record, change.path, updated)
        return (StoredOutcome(outcome: .conflict, revision: nil, conflict: conflictID, receipt: receipt), updated)
    }
}
