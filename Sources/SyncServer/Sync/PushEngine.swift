import Foundation
import SyncCore

/// Decides a push batch, change by change, over the batch's snapshot.
///
/// On the server the engine runs between a batch's read and write phases
/// (`SyncStorage.push`): storage reads once (`PushStatements.load`, a
/// `PushSnapshot`), the engine decides with no I/O and returns a
/// `WritePlan`, and storage writes it, so the number of round trips does not
/// grow with the batch and the decision is a plain function of its inputs
/// (`PushDecisionTests` runs it in process for every outcome).
///
/// For each change, in the batch's order (SYNC.md, "Push"):
/// 1. `(device, seq)` already applied: the stored outcome again, as `duplicate`;
/// 2. refused by the form or by ownership: `rejected`, nothing written;
/// 3. not concurrent (its base is the field's revision, or only this device
///    wrote since its base): `applied`, with a new revision;
/// 4. concurrent: `MergeRule` decides by the field's merge policy.
/// A device's own earlier writes are never "unseen" by its later ones: it made
/// them, in order, so a stale base from the device itself is not a conflict.
///
/// Clock stamps never refuse a change: the server orders by its revisions,
/// and a stamp ahead of its own time is bounded to that time (the device's
/// stamp is kept in the log as `sent_hlc`), so a device whose clock runs
/// ahead can neither be blocked nor win every later `lww` race.
struct PushEngine {
    let clock: any WallClock
    let ids: any IDGenerator

    struct Result {
        var response: PushResponse
        var applied = 0
        var conflicts = 0
        var rejected = 0
        var duplicates = 0
        /// For a new receipt: each referral written, its reference and the
        /// SHA-256 of each change accepted for it (`ReceiptDocument`).
        var receiptReferrals: [ReceiptDocument.ReferralChanges] = []
    }

    /// A decided batch: the reply and its counts, and what to write. The
    /// reply's revisions are the plan's placeholders until storage
    /// allocates them (`PlannedRevisions.resolve`).
    struct Decision {
        var result: Result
        var plan: WritePlan
    }

    /// A new receipt reference, from the id generator.
    func newReference() -> String { ReceiptReference.make(from: ids.next()) }

    /// Decides a push batch over `snapshot` (read for `PushNeeds(request)`),
    /// with no I/O. `reference` is the receipt reference to use unless the
    /// snapshot says it is taken (from `newReference`); `form` checks each
    /// change's path and value: on the server, every published version's
    /// fields (`FormCatalog.union`), since a draft may be on any. `epoch` is
    /// the server's, for the signed receipt's document.
    ///
    /// The plan holds the batch's whole write: the log entries, fields,
    /// stored outcomes, conflicts, the receipt and its document (signed by
    /// storage once the audit head is known), the `push` audit entry and the
    /// device's last sync.
    /// - Throws: `PlanError` when the snapshot lacks a read the decision
    ///   needs (a fault of `PushNeeds`, not of the request).
    func decide(_ request: PushRequest, user: User, reference: String, form: ReferralForm, epoch: String, snapshot: PushSnapshot) throws -> Decision {
        let now = clock.now()
        let at = Timestamp.string(now)
        var plan = PlanBuilder(snapshot: snapshot)
        var reference = reference
        for _ in 0..<8 where snapshot.takenReferences.contains(reference) {
            reference = ReceiptReference.make(from: ids.next())  // 40 random bits: a collision is rare, not impossible
        }
        var seen = Set<Int64>()
        var result = Result(response: PushResponse(outcomes: [], receipt: nil, serverTime: at))
        result.response.outcomes.reserveCapacity(request.changes.count)
        var touched: [String] = []
        var accepted: [String: [ReceiptDocument.ChangeHash]] = [:]
        var named: [String: [ReceiptDocument.AttachmentHash]] = [:]
        var owners: [String: Int64] = [:]
        var acknowledged = 0
        var duplicateReceipt: String?

        for change in request.changes {
            guard seen.insert(change.seq).inserted else {
                result.rejected += 1
                result.response.outcomes.append(ChangeOutcome(seq: change.seq, outcome: .rejected, reason: "Change \(change.seq) appears twice in this push."))
                continue
            }
            let fingerprint = Self.fingerprint(change)
            if let stored = plan.storedOutcome(change.seq), stored.fingerprint != nil, stored.fingerprint != fingerprint {
                // The device's change numbers went back (restored from a backup?):
                // answering "duplicate" would lose this change.
                result.rejected += 1
                result.response.outcomes.append(ChangeOutcome(
                    seq: change.seq, outcome: .rejected,
                    reason: "Change number \(change.seq) from this device was already used for a different change (was the device restored from a backup?); it is sent again under a new number.",
                    retry: true))
                continue
            }
            if let stored = plan.storedOutcome(change.seq) {
                result.duplicates += 1
                duplicateReceipt = duplicateReceipt ?? stored.receipt
                let current = plan.field(change.record, change.path)
                result.response.outcomes.append(ChangeOutcome(
                    seq: change.seq, outcome: .duplicate, original: stored.outcome, revision: stored.revision,
                    conflict: stored.conflict, current: current.map(Self.state), receipt: stored.receipt))
                continue
            }
            if owners[change.record] == nil, UUID.isCanonical(change.record), let owner = plan.recordOwner(change.record) {
                owners[change.record] = owner
            }
            switch validate(change, user: user, owner: owners[change.record], form: form, in: plan) {
            case .failure(let refusal):
                result.rejected += 1
                result.response.outcomes.append(ChangeOutcome(seq: change.seq, outcome: .rejected, reason: refusal.reason))
                continue
            case .success(let rules):
                if rules.isAttachment, let value = change.value {
                    // A referral never names a file the server lacks (docs/protocol.md, "Attachments").
                    guard let reference = AttachmentReference(stored: value), let size = snapshot.receivedAttachments[reference.sha256] else {
                        result.rejected += 1
                        result.response.outcomes.append(ChangeOutcome(
                            seq: change.seq, outcome: .rejected,
                            reason: "The attachment \(value.prefix(19))… has not been received whole by the server; the device uploads it (POST /v1/attachments) before it pushes the change."))
                        continue
                    }
                    if !(named[change.record] ?? []).contains(where: { $0.sha256 == reference.sha256 }) {
                        named[change.record, default: []].append(.init(sha256: reference.sha256, size: size))
                    }
                }
                if owners[change.record] == nil {
                    plan.createRecord(change.record, owner: user.id, at: at)
                    owners[change.record] = user.id
                }
                accepted[change.record, default: []].append(.init(seq: change.seq, sha256: ChangeDigest.sha256(device: request.device, change)))
                var bounded = change
                let sentHLC = Self.bound(&bounded, now: now)
                var (outcome, field) = try merge(bounded, sentHLC: sentHLC, rules: rules, device: request.device, user: user, at: at, receipt: reference, in: &plan)
                outcome.fingerprint = fingerprint
                plan.storeOutcome(outcome, seq: change.seq)
                if outcome.outcome == .conflict { result.conflicts += 1 } else { result.applied += 1 }
                acknowledged += 1
                if !touched.contains(change.record) { touched.append(change.record) }
                // `current` only when the field differs from what the device sent.
                let asSent = outcome.outcome == .applied && field.value == change.value && field.revision == outcome.revision && field.conflict == nil
                result.response.outcomes.append(ChangeOutcome(
                    seq: change.seq, outcome: outcome.outcome, revision: outcome.revision, conflict: outcome.conflict,
                    current: asSent ? nil : Self.state(field), receipt: reference))
            }
        }

        // A referral submitted for the first time gets its own reference, for its life.
        var references: [String: String] = [:]
        for record in touched where plan.recordStatus(record) == ReferralStatus.submitted.rawValue {
            if let held = plan.field(record, IntakePath.reference)?.value {
                references[record] = held
                continue
            }
            references[record] = giveReference(to: record, at: now, in: &plan)
        }
        result.receiptReferrals = touched.map { .init(id: $0, reference: references[$0], changes: accepted[$0] ?? [], attachments: named[$0]) }

        if acknowledged > 0 {
            let receipt = Receipt(reference: reference, serverTime: at, records: touched, changes: acknowledged)
            plan.storeReceipt(receipt, device: request.device, user: user.id)
            result.response.receipt = receipt
        } else if let duplicateReceipt {
            // A retry of a batch whose reply was lost: the same receipt again.
            result.response.receipt = plan.receipt(duplicateReceipt)
        }

        var written = plan.plan
        written.submitted = Set(touched.filter { plan.recordStatus($0) == ReferralStatus.submitted.rawValue })
        written.audit = AuditEvent(
            at: result.response.receipt?.serverTime ?? Timestamp.string(clock.now()), actor: user.name, action: "push",
            record: nil,
            detail: "device=\(request.device) applied=\(result.applied) conflicts=\(result.conflicts) rejected=\(result.rejected) duplicates=\(result.duplicates) receipt=\(result.response.receipt?.reference ?? "-") records=\(result.response.receipt?.records.joined(separator: ",") ?? "")")
        // In the push's own transaction: no second commit per push.
        written.sync = (request.device, user.id, Timestamp.string(clock.now()))
        if let receipt = written.receipt?.receipt {
            // Signed once storage knows the audit chain's head after the commit.
            written.receiptDocument = ReceiptDocument(
                receipt: receipt.reference, epoch: epoch, device: request.device, user: user.name,
                serverTime: receipt.serverTime, referrals: result.receiptReferrals, audit: nil)
        }
        return Decision(result: result, plan: written)
    }

    /// A referral's own reference (`IntakePath.reference`, `F-XXXX-XXXX`),
    /// unique among referrals as far as the snapshot knows (storage checks
    /// the plan's before writing and decides again if one is taken), written
    /// as a record-level value by the server: the change log carries it to
    /// the referrer's devices on their next pull.
    /// - Returns: the reference given.
    private func giveReference(to record: String, at now: Date, in plan: inout PlanBuilder) -> String {
        var reference = ReceiptReference.make(from: ids.next(), prefix: "F")
        for _ in 0..<16 where plan.referenceTaken(reference) {
            reference = ReceiptReference.make(from: ids.next(), prefix: "F")  // 40 random bits: a collision is rare, not impossible
        }
        plan.giveReference(reference)
        let entry = Self.referenceEntry(reference, for: record, at: now)
        let revision = plan.append(entry)
        plan.setField(record, IntakePath.reference, Self.field(entry, revision: revision, conflict: nil))
        return reference
    }

    /// The log entry that gives `record` its own reference, by the server.
    static func referenceEntry(_ reference: String, for record: String, at now: Date) -> LogEntry {
        let stamp = HLCStamp.next(after: HLCStamp(wall: 0, counter: 0, device: ServerDevice.id), now: now).description
        return LogEntry(
            kind: .write, record: record, path: IntakePath.reference, value: reference, author: ServerDevice.id, device: ServerDevice.id,
            seq: nil, hlc: stamp, at: Timestamp.string(now), conflict: nil)
    }

    /// A field's state after `entry` was written at `revision`.
    static func field(_ entry: LogEntry, revision: Int64, conflict: String?) -> ServerField {
        ServerField(value: entry.value, revision: revision, hlc: entry.hlc, device: entry.device, author: entry.author, at: entry.at, conflict: conflict)
    }

    /// Gives every submitted referral that has no reference yet (submitted
    /// before references existed) its own, in one transaction with an audit
    /// entry (`give-references`, by `sync-server`). Run by `serve` at start;
    /// an instance that finds none does nothing. Returns how many it gave.
    @discardableResult
    func giveMissingReferences(in storage: any SyncStorage) async throws -> Int {
        let missing = try await storage.submittedReferralsWithoutReference()
        guard !missing.isEmpty else { return 0 }
        return try await storage.write { transaction in
            var given = 0
            let now = clock.now()
            // Another instance may have given some since the read: each is checked again under the transaction.
            for record in missing where try await transaction.field(record: record, path: IntakePath.reference) == nil {
                var reference = ReceiptReference.make(from: ids.next(), prefix: "F")
                for _ in 0..<16 where try await transaction.referral(withReference: reference) != nil {
                    reference = ReceiptReference.make(from: ids.next(), prefix: "F")
                }
                let entry = Self.referenceEntry(reference, for: record, at: now)
                let revision = try await transaction.append(entry)
                try await transaction.setField(record: record, path: IntakePath.reference, Self.field(entry, revision: revision, conflict: nil))
                given += 1
            }
            if given > 0 {
                try await transaction.audit(AuditEvent(
                    at: Timestamp.string(now), actor: ServerDevice.id, action: "give-references", record: nil, detail: "referrals=\(given)"))
            }
            return given
        }
    }

    private func validate(_ change: WireChange, user: User, owner: Int64?, form: ReferralForm, in plan: PlanBuilder) -> Swift.Result<PathRules, PathRefusal> {
        guard user.role == .practitioner else {
            return .failure(PathRefusal("Only practitioners write referral content; \(user.name) is \(user.role.rawValue)."))
        }
        guard UUID.isCanonical(change.record) else {
            return .failure(PathRefusal("'\(change.record.prefix(40))' is not a referral id (a lowercase UUID)."))
        }
        guard change.seq >= 1 else {
            return .failure(PathRefusal("Change number \(change.seq) is not one a device gives (1 or more)."))
        }
        guard change.baseRevision >= 0 else {
            return .failure(PathRefusal("Base revision \(change.baseRevision) of change \(change.seq) is not a revision (0 or more)."))
        }
        guard change.hlc.utf8.count <= Self.maximumStampLength else {
            return .failure(PathRefusal("The clock stamp '\(change.hlc.prefix(40))…' has \(change.hlc.utf8.count) characters; the most is \(Self.maximumStampLength)."))
        }
        guard let stamp = HLCStamp(change.hlc), stamp.wall >= 0, stamp.counter >= 0, stamp.counter < 1_000_000 else {
            return .failure(PathRefusal("'\(change.hlc.prefix(40))' is not a clock stamp (wall milliseconds, counter and device, as 0001732350000000-0000-<device>)."))
        }
        if change.value?.utf8.contains(0) == true {
            return .failure(PathRefusal("A value may not contain a NUL character."))
        }
        if let owner, owner != user.id {
            return .failure(PathRefusal("You may not change referral \(change.record)."))
        }
        if change.path == RecordPath.status, let refusal = statusRefusal(change, in: plan) {
            return .failure(refusal)
        }
        if change.path == RecordPath.form, let current = plan.field(change.record, change.path)?.value,
           let held = Int(current), held > Int(change.value ?? "") ?? 0 {
            // A form version only goes up: an older upgrade from a device that
            // had not fetched the newer version must not take the referral back.
            return .failure(PathRefusal("Referral \(change.record) is already on form version \(held) (upgraded on another device); this device takes it on its next sync."))
        }
        return form.rules(forStoredPath: change.path, value: change.value)
    }

    /// The longest clock stamp accepted: 22 characters and a device id (36).
    static let maximumStampLength = 80

    /// Bounds a stamp ahead of the server's clock to the server's time (same
    /// counter and device, so stamps stay distinct); returns the stamp as the
    /// device sent it when it was bounded, nil otherwise.
    static func bound(_ change: inout WireChange, now: Date) -> String? {
        let millis = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
        guard let stamp = HLCStamp(change.hlc), stamp.wall > millis else { return nil }
        let sent = change.hlc
        change.hlc = HLCStamp(wall: millis, counter: stamp.counter, device: stamp.device).description
        return sent
    }

    /// Status moves forward only: a submitted referral stays submitted, and
    /// nothing goes back to draft, whatever a device that has not caught up says.
    private func statusRefusal(_ change: WireChange, in plan: PlanBuilder) -> PathRefusal? {
        guard let current = plan.field(change.record, change.path)?.value, current != change.value else { return nil }
        if current == ReferralStatus.submitted.rawValue {
            return PathRefusal("Referral \(change.record) has already been submitted; it cannot become \(change.value ?? "empty") again.")
        }
        if change.value == ReferralStatus.draft.rawValue || change.value == nil {
            return PathRefusal("Referral \(change.record) is \(current); it cannot go back to draft.")
        }
        return nil
    }

    /// What identifies a change's content, to tell a true retry from a reused seq.
    static func fingerprint(_ change: WireChange) -> String {
        "\(change.record.count):\(change.record)\(change.path.count):\(change.path)" + (change.value.map { "\($0.utf8.count):\($0)" } ?? "-")
    }

    /// Decides and plans one change; returns its outcome and the field's state after it.
    private func merge(
        _ change: WireChange, sentHLC: String?, rules: PathRules, device: String, user: User, at: String, receipt: String,
        in plan: inout PlanBuilder
    ) throws -> (StoredOutcome, ServerField) {
        let field = plan.field(change.record, change.path)
        let currentRevision = field?.revision ?? 0
        var concurrent = false
        if change.baseRevision != currentRevision {
            concurrent = try plan.otherDeviceWrote(change.record, change.path, after: change.baseRevision)
        }
        var entry = LogEntry(
            kind: .write, record: change.record, path: change.path, value: change.value, author: user.name,
            device: device, seq: change.seq, hlc: change.hlc, at: at, conflict: field?.conflict, sentHLC: sentHLC)

        // A write to a field whose conflict is still open joins it as a
        // candidate, so the admin's decision never hides it.
        let joinsOpenConflict = field?.conflict != nil && field?.value != change.value
        guard concurrent || joinsOpenConflict, let field else {
            return write(entry, conflict: field?.conflict, receipt: receipt, in: &plan)
        }
        if joinsOpenConflict && !concurrent {
            return openOrJoinConflict(change, field: field, entry: entry, device: device, user: user, at: at, receipt: receipt, in: &plan)
        }
        let decision = MergeRule.decide(
            policy: rules.policy,
            base: try plan.value(change.record, change.path, atRevision: change.baseRevision),
            current: .init(value: field.value, hlc: HLCStamp(field.hlc) ?? HLCStamp(wall: 0, counter: 0, device: "")),
            incoming: .init(value: change.value, hlc: HLCStamp(change.hlc)!),
            optionOrder: rules.optionOrder)
        switch decision {
        case .write(let value) where value == change.value:
            return write(entry, conflict: field.conflict, receipt: receipt, in: &plan)
        case .write(let merged):
            // The incoming value stays in the history; the merge becomes current.
            entry.kind = .candidate
            _ = plan.append(entry)
            entry.kind = .write
            entry.value = merged
            entry.seq = nil
            entry.sentHLC = nil
            return write(entry, conflict: field.conflict, receipt: receipt, in: &plan)
        case .keepCurrent:
            entry.kind = .candidate
            let revision = plan.append(entry)
            return (StoredOutcome(outcome: .applied, revision: revision, conflict: nil, receipt: receipt), field)
        case .conflict:
            return openOrJoinConflict(change, field: field, entry: entry, device: device, user: user, at: at, receipt: receipt, in: &plan)
        }
    }

    /// Plans `entry` as the field's new value (and the referral's status, for `@status`).
    private func write(_ entry: LogEntry, conflict: String?, receipt: String, in plan: inout PlanBuilder) -> (StoredOutcome, ServerField) {
        let revision = plan.append(entry)
        let field = Self.field(entry, revision: revision, conflict: conflict)
        plan.setField(entry.record, entry.path, field)
        if entry.path == RecordPath.status, let status = entry.value {
            plan.setRecordStatus(entry.record, status: status)
        }
        return (StoredOutcome(outcome: .applied, revision: revision, conflict: nil, receipt: receipt), field)
    }

    static func state(_ field: ServerField) -> FieldState {
        FieldState(value: field.value, revision: field.revision, conflict: field.conflict)
    }
}

/// Short references a person can read out on the phone: `R-7KQ3-M9XD`, from
/// Crockford's base 32 (no I, L, O or U).
enum ReceiptReference {
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// `prefix`-XXXX-XXXX: `R` for a push's receipt, `F` for a referral's own reference.
    static func make(from id: UUID, prefix: String = "R") -> String {
        let bytes = withUnsafeBytes(of: id.uuid) { Array($0) }
        // The last 40 bits of a v7 id are random.
        var bits: UInt64 = 0
        for byte in bytes[11..<16] { bits = bits << 8 | UInt64(byte) }
        let characters = (0..<8).map { index in alphabet[Int((bits >> UInt64(35 - 5 * index)) & 31)] }
        return prefix + "-" + String(characters[0..<4]) + "-" + String(characters[4..<8])
    }
}
