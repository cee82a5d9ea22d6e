import Foundation
import SyncCore

/// What intake writes: acknowledgements, ratings, decisions and "seen:
/// decision stands". Each is a record-level write in the change log, by the
/// acting user, so it reaches the referrer's devices on their next pull
/// (except the front door's own words, `IntakePath.internalPaths`). What
/// intake reads (the queue, a referral with its clocks, its history) is in
/// `FrontDoor+Queue.swift` and `FrontDoor+Reading.swift`; admins' conflict
/// resolutions are in `Conflicts/`.
struct FrontDoor {
    let forms: FormRegistry
    /// Every version's fields (`FormCatalog.union`): a referral may be on any.
    var form: ReferralForm { forms.current.union }
    let clock: any WallClock
    /// Working days and office hours, for the clocks.
    let calendar: WorkingCalendar
    /// The authority's clocks (`authority.json`'s `clocks`, or the defaults).
    var rules: FrontDoorClocks { calendar.authority.frontDoorClocks }
    /// What search looks in, in memory, shared by the API and the console.
    let search = SearchIndex()
    /// The person index in memory, for the queue's flags.
    let people = PeopleCache()

    init(forms: FormRegistry, clock: any WallClock, authority: Authority) {
        self.forms = forms
        self.clock = clock
        self.calendar = WorkingCalendar(authority: authority)
    }

    /// The longest reason intake may give for a changed decision, or an admin for a resolution.
    static let maximumReasonLength = 2_000

    /// Why a staff write (intake's or an admin's) is refused: a 404, 400 or 409.
    enum Refusal: Error {
        case notFound(String)
        case invalid(String)
        /// The request is well formed but the record's state forbids it (409).
        case conflict(String)
    }

    struct Acknowledgement: Codable, Sendable {
        let id: String
        let acknowledgedAt: String
        let acknowledgedBy: String

        enum CodingKeys: String, CodingKey { case id, acknowledgedAt = "acknowledged_at", acknowledgedBy = "acknowledged_by" }
    }

    typealias Decision = DecisionReply

    /// Records the acknowledgement once; acknowledging again returns the first.
    func acknowledge(_ record: String, by user: User, device: String, in transaction: any SyncTransaction) async throws -> Acknowledgement {
        try await requireSubmitted(record, in: transaction)
        if let at = try await transaction.field(record: record, path: IntakePath.acknowledgedAt)?.value,
            let by = try await transaction.field(record: record, path: IntakePath.acknowledgedBy)?.value
        {
            return Acknowledgement(id: record, acknowledgedAt: at, acknowledgedBy: by)
        }
        let at = Timestamp.string(clock.now())
        try await write([(IntakePath.acknowledgedAt, at), (IntakePath.acknowledgedBy, user.name)], record: record, user: user, device: device, at: at, in: transaction)
        return Acknowledgement(id: record, acknowledgedAt: at, acknowledgedBy: user.name)
    }

    /// Records the decision and the feedback note (acknowledging first if that
    /// was not done). A referral already decided is refused (409) unless the
    /// request changes the decision with a reason; every decision stays on the
    /// record as `@decision.N`, and `@outcome` and its siblings show the latest.
    func decide(_ record: String, _ request: DecisionRequest, by user: User, device: String, in transaction: any SyncTransaction) async throws -> Decision {
        guard ReferralOutcome(rawValue: request.outcome) != nil else {
            throw Refusal.invalid("'\(request.outcome.prefix(40))' is not an outcome; the outcomes are \(ReferralOutcome.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let note = request.note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !note.isEmpty else {
            throw Refusal.invalid("A decision needs a feedback note for the referrer (1 to \(FieldType.maximumTextLength) characters).")
        }
        guard note.count <= FieldType.maximumTextLength else {
            throw Refusal.invalid("The feedback note has \(note.count) characters; the most is \(FieldType.maximumTextLength).")
        }
        let change = request.change ?? false
        let reason = request.reason?.trimmingCharacters(in: .whitespacesAndNewlines)
        if change {
            guard let reason, !reason.isEmpty else {
                throw Refusal.invalid("Changing a decision needs a reason, for the record (1 to \(Self.maximumReasonLength) characters).")
            }
            guard reason.count <= Self.maximumReasonLength else {
                throw Refusal.invalid("The reason has \(reason.count) characters; the most is \(Self.maximumReasonLength).")
            }
        } else if let reason, !reason.isEmpty {
            throw Refusal.invalid("A reason goes only with a change of decision; send change: true with it, or leave it out.")
        }
        try await requireSubmitted(record, in: transaction)
        var history = try await decisions(of: record, in: transaction)
        if let latest = history.last, !change {
            throw Refusal.conflict(
                "Referral \(record) was already decided at \(latest.decidedAt) by \(latest.decidedBy): \(latest.title). "
                    + "To change the decision, send change: true with a reason (field intake decide --change --reason TEXT); the earlier decision stays on the record.")
        }
        if history.isEmpty, change {
            throw Refusal.conflict("Referral \(record) has no decision to change; send the first decision without change.")
        }
        _ = try await acknowledge(record, by: user, device: device, in: transaction)
        let at = Timestamp.string(clock.now())
        var writes: [(String, String?)] = []
        if history.count == 1, try await transaction.field(record: record, path: IntakePath.decision(1)) == nil {
            // Decided before decisions were kept one by one: keep that one first.
            writes.append((IntakePath.decision(1), history[0].stored))
        }
        let decision = DecisionRecord(outcome: request.outcome, note: note, decidedAt: at, decidedBy: user.name, reason: change ? reason : nil)
        history.append(decision)
        writes += [
            (IntakePath.decision(history.count), decision.stored),
            (IntakePath.outcome, request.outcome), (IntakePath.outcomeNote, note),
            (IntakePath.decidedAt, at), (IntakePath.decidedBy, user.name),
        ]
        try await write(writes, record: record, user: user, device: device, at: at, in: transaction)
        return Decision(id: record, outcome: request.outcome, note: note, decidedAt: at, decidedBy: user.name, number: history.count, reason: decision.reason)
    }

    /// A RAG rating as the front door recorded it.
    typealias Rating = RatingReply

    /// Rates a submitted referral red, amber or green with a reason
    /// (1 to `maximumReasonLength` characters), acknowledging it first if
    /// that was not done. A new rating replaces the current one and restarts
    /// the decision clock (`FrontDoorClocks.decideByRating`); the change log
    /// keeps every earlier rating. The reason is internal (never pulled by
    /// the referrer's devices) unless `feedback` is true: then it is also
    /// written as `@rating_feedback`, which the referrer sees labelled as the
    /// front door's feedback; a later rating without it clears that.
    /// - Throws: `Refusal.invalid` for an unknown rating or a missing or
    ///   too long reason, `Refusal.notFound` if no submitted referral has the id.
    func rate(
        _ record: String, rating: String, reason: String, feedback: Bool = false, by user: User, device: String, in transaction: any SyncTransaction
    ) async throws -> Rating {
        guard RAGRating(rawValue: rating) != nil else {
            throw Refusal.invalid("'\(rating.prefix(40))' is not a RAG rating; the ratings are \(RAGRating.allCases.map(\.rawValue).joined(separator: ", ")).")
        }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw Refusal.invalid("A RAG rating needs a reason (1 to \(Self.maximumReasonLength) characters).") }
        guard reason.count <= Self.maximumReasonLength else {
            throw Refusal.invalid("The reason has \(reason.count) characters; the most is \(Self.maximumReasonLength).")
        }
        try await requireSubmitted(record, in: transaction)
        _ = try await acknowledge(record, by: user, device: device, in: transaction)
        let at = Timestamp.string(clock.now())
        var writes: [(String, String?)] = [(IntakePath.rating, rating), (IntakePath.ratingReason, reason), (IntakePath.ratedAt, at), (IntakePath.ratedBy, user.name)]
        if feedback {
            writes.append((IntakePath.ratingFeedback, reason))
        } else if try await transaction.field(record: record, path: IntakePath.ratingFeedback)?.value != nil {
            writes.append((IntakePath.ratingFeedback, nil))
        }
        try await write(writes, record: record, user: user, device: device, at: at, in: transaction)
        return Rating(id: record, rating: rating, reason: reason, ratedAt: at, ratedBy: user.name, feedback: feedback)
    }

    /// Records that the front door saw what changed after it last
    /// acknowledged, decided or saw the referral, and that its decision
    /// stands: `@seen_at`, `@seen_by` (the referrer sees that their change
    /// was seen) and the note (1 to `maximumReasonLength` characters,
    /// internal). The CHANGED flag clears until the next change.
    /// - Throws: `Refusal.invalid` for a missing or too long note,
    ///   `Refusal.notFound` if no submitted referral has the id,
    ///   `Refusal.conflict` if it has no decision yet.
    func seen(_ record: String, note: String, by user: User, device: String, in transaction: any SyncTransaction) async throws -> SeenReply {
        let note = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !note.isEmpty else {
            throw Refusal.invalid("Marking new information as seen needs a note for the record: why the decision stands (1 to \(Self.maximumReasonLength) characters).")
        }
        guard note.count <= Self.maximumReasonLength else {
            throw Refusal.invalid("The note has \(note.count) characters; the most is \(Self.maximumReasonLength).")
        }
        try await requireSubmitted(record, in: transaction)
        guard try await transaction.field(record: record, path: IntakePath.decidedAt)?.value != nil else {
            throw Refusal.conflict("Referral \(record) has no decision yet, so no decision can stand; record one (that clears CHANGED too).")
        }
        let at = Timestamp.string(clock.now())
        try await write(
            [(IntakePath.seenAt, at), (IntakePath.seenBy, user.name), (IntakePath.seenNote, note)], record: record, user: user, device: device, at: at,
            in: transaction)
        return SeenReply(id: record, seenAt: at, seenBy: user.name, note: note)
    }

    /// The decisions recorded on a referral, oldest first.
    private func decisions(of record: String, in transaction: any SyncTransaction) async throws -> [DecisionRecord] {
        var values: [String: String] = [:]
        var number = 1
        while let value = try await transaction.field(record: record, path: IntakePath.decision(number))?.value {
            values[IntakePath.decision(number)] = value
            number += 1
        }
        for path in [IntakePath.outcome, IntakePath.outcomeNote, IntakePath.decidedAt, IntakePath.decidedBy] {
            values[path] = try await transaction.field(record: record, path: path)?.value
        }
        return DecisionRecord.history(in: values)
    }

    private func requireSubmitted(_ record: String, in transaction: any SyncTransaction) async throws {
        // Drafts and unknown ids get the same answer: intake never learns a draft exists.
        guard try await transaction.recordStatus(record) == ReferralStatus.submitted.rawValue else {
            throw Refusal.notFound("No submitted referral has id '\(record.prefix(40))'.")
        }
    }

    private func write(_ values: [(String, String?)], record: String, user: User, device: String, at: String, in transaction: any SyncTransaction) async throws {
        let stamp = HLCStamp.next(after: HLCStamp(wall: 0, counter: 0, device: device), now: clock.now()).description
        for (path, value) in values {
            let revision = try await transaction.append(LogEntry(
                kind: .write, record: record, path: path, value: value, author: user.name, device: device,
                seq: nil, hlc: stamp, at: at, conflict: nil))
            try await transaction.setField(record: record, path: path, ServerField(
                value: value, revision: revision, hlc: stamp, device: device, author: user.name, at: at, conflict: nil))
        }
    }
}
