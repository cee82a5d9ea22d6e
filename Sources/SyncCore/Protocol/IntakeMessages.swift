import Foundation

/// What the front door decides after a referral (REFERRALS.md, "Outcomes").
/// Referrals are never labelled "malicious".
public enum ReferralOutcome: String, Codable, Sendable, CaseIterable {
    case childInNeedAssessment = "s17-assessment"
    case emergencyProtection = "emergency-protection"
    case section47 = "s47-enquiry"
    case otherAgencyOrEarlyHelp = "early-help-or-other-agency"
    case adviceGiven = "advice-given"
    case noFurtherAction = "no-further-action"

    public var title: String {
        switch self {
        case .childInNeedAssessment: "Child in need, assessment justified (s17)"
        case .emergencyProtection: "Emergency protective action"
        case .section47: "s47 enquiry and/or new or updated assessment"
        case .otherAgencyOrEarlyHelp: "Referral to another agency or early help"
        case .adviceGiven: "Advice and information given"
        case .noFurtherAction: "No further action"
        }
    }
}

/// The front door's RAG rating of a referral: how worried it is, given with
/// a reason, always shown in words as well as colour.
public enum RAGRating: String, Codable, Sendable, CaseIterable {
    case red, amber, green

    /// The rating in words, for people who do not see colour.
    public var title: String {
        switch self {
        case .red: "Red: serious concern"
        case .amber: "Amber: some concern"
        case .green: "Green: low concern"
        }
    }
}

/// The device id the server records for staff writes made in the web
/// console (`/console/`), where no registered device is involved: the
/// change log and conflict candidates show it instead of a device's id.
public enum ConsoleDevice {
    public static let id = "web-console"
}

/// A referral's own reference (`IntakePath.reference`) as people read it out
/// and type it: `F-XXXX-XXXX` in Crockford's base 32, which has no I, L, O
/// or U, so a misheard O is 0 and an I or L is 1.
public enum ReferralReference {
    /// `text` in Crockford's digits: upper case, O as 0, I and L as 1, nothing but letters and digits kept.
    public static func crockford(_ text: String) -> String {
        String(text.uppercased().compactMap { character -> Character? in
            switch character {
            case "O": "0"
            case "I", "L": "1"
            default: character.isASCII && (character.isLetter || character.isNumber) ? character : nil
            }
        })
    }

    /// The canonical `F-XXXX-XXXX` for a reference typed any way (`f mj5s w39t`,
    /// `FMJ5SW39T`, `F-MJ5S-W39O`), or nil when `text` is not one.
    public static func canonical(_ text: String) -> String? {
        var digits = crockford(text)
        if digits.count == 9, digits.hasPrefix("F") { digits.removeFirst() }
        guard digits.count == 8 else { return nil }
        return "F-" + digits.prefix(4) + "-" + digits.suffix(4)
    }
}

/// The author and device id the server records for what it writes itself,
/// such as a referral's own reference (`IntakePath.reference`).
public enum ServerDevice {
    public static let id = "sync-server"
}

/// Record-level paths the front door writes; devices may not. They reach the
/// referrer's devices through the ordinary pull.
public enum IntakePath {
    /// The current RAG rating (`RAGRating`), its reason, who rated and when;
    /// a new rating replaces them, and the change log keeps every earlier one.
    public static let rating = "@rating"
    public static let ratingReason = "@rating_reason"
    public static let ratedAt = "@rated_at"
    public static let ratedBy = "@rated_by"

    /// What the front door shares of a rating with the referrer: the reason,
    /// only when the duty worker marked it as feedback. `@rating_reason`
    /// itself is internal (`internalPaths`).
    public static let ratingFeedback = "@rating_feedback"

    /// The referral's own reference (`F-XXXX-XXXX`), given by the server when
    /// it is first submitted and never changed: the one the referrer quotes,
    /// the queue, search, exports and the FHIR bundle use. Receipts stay per push.
    public static let reference = "@reference"

    /// The front door saw what changed after its decision, and the decision
    /// stands ("seen: decision stands"): when, who, and the worker's note.
    public static let seenAt = "@seen_at"
    public static let seenBy = "@seen_by"
    public static let seenNote = "@seen_note"

    /// The front door's own words, never sent to the referrer's devices:
    /// a practitioner's pull leaves them out.
    public static let internalPaths: Set<String> = [ratingReason, seenNote]

    public static let acknowledgedAt = "@acknowledged_at"
    public static let acknowledgedBy = "@acknowledged_by"
    public static let outcome = "@outcome"
    public static let outcomeNote = "@outcome_note"
    public static let decidedAt = "@decided_at"
    public static let decidedBy = "@decided_by"
    /// Every decision ever recorded, one path each: `@decision.1`, `@decision.2`…
    /// Each holds a `DecisionRecord` as JSON. `@outcome` and its siblings
    /// always repeat the latest, so a device that knows nothing of the
    /// history still shows the current decision.
    public static let decisionPrefix = "@decision."

    /// The path of the `number`th decision (1-based).
    public static func decision(_ number: Int) -> String { "\(decisionPrefix)\(number)" }

    /// The number of a decision path, or nil if `path` is not one.
    public static func decisionNumber(_ path: String) -> Int? {
        guard path.hasPrefix(decisionPrefix), let number = Int(path.dropFirst(decisionPrefix.count)), number >= 1 else { return nil }
        return number
    }
}

/// One decision on a referral, as the front door recorded it: what, the
/// feedback note, who, when, and (for a change of an earlier decision) why.
/// Decisions are never overwritten: a change is a new record.
public struct DecisionRecord: Codable, Sendable, Equatable {
    public var outcome: String
    public var note: String
    public var decidedAt: String
    public var decidedBy: String
    /// Why an earlier decision was changed; nil for the first decision.
    @NullEncoded public var reason: String?

    public init(outcome: String, note: String, decidedAt: String, decidedBy: String, reason: String?) {
        self.outcome = outcome
        self.note = note
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey { case outcome, note, decidedAt = "decided_at", decidedBy = "decided_by", reason }

    /// The outcome's title, or its key if this version does not know it.
    public var title: String { ReferralOutcome(rawValue: outcome)?.title ?? outcome }

    /// The stored form (`@decision.N`): compact JSON with sorted keys.
    public var stored: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }

    /// Every decision in a referral's values, oldest first. A referral decided
    /// before decisions were kept one by one has only `@outcome` and its
    /// siblings: that decision is returned alone.
    public static func history(in values: [String: String]) -> [DecisionRecord] {
        let numbered = values.compactMap { path, value -> (Int, DecisionRecord)? in
            guard let number = IntakePath.decisionNumber(path),
                let record = try? JSONDecoder().decode(DecisionRecord.self, from: Data(value.utf8))
            else { return nil }
            return (number, record)
        }
        if !numbered.isEmpty { return numbered.sorted { $0.0 < $1.0 }.map(\.1) }
        guard let outcome = values[IntakePath.outcome] else { return [] }
        return [DecisionRecord(
            outcome: outcome, note: values[IntakePath.outcomeNote] ?? "", decidedAt: values[IntakePath.decidedAt] ?? "",
            decidedBy: values[IntakePath.decidedBy] ?? "", reason: nil)]
    }
}

/// One line of the intake queue.
public struct QueueEntry: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    @NullEncoded public var receipt: String?
    public var submittedAt: String
    public var acknowledged: Bool
    @NullEncoded public var acknowledgedAt: String?
    public var ackDue: String
    public var overdue: Bool
    @NullEncoded public var outcome: String?
    /// Whether a practitioner's change (a value, a conflict candidate)
    /// arrived after the front door last acknowledged or decided the referral.
    public var changed: Bool
    /// When the latest such change arrived; null if none.
    @NullEncoded public var changedAt: String?
    /// How many of the referral's conflicts wait for an admin.
    public var openConflicts: Int
    /// The first child's full name (by when the child was added), if given.
    @NullEncoded public var childName: String?
    /// How many children the referral names.
    public var children: Int
    /// The referrer's agency, if given.
    @NullEncoded public var agency: String?
    /// The referrer answered that a child is at immediate risk.
    public var immediateRisk: Bool
    /// An allegation against an adult who works with children (`kind` lado).
    public var lado: Bool
    /// The referral's own reference (`IntakePath.reference`); null before the server gave one.
    @NullEncoded public var reference: String?
    /// The referrer's answer to "Is the child currently safe?" (`yes`, `no`), if given.
    @NullEncoded public var childSafeNow: String?
    /// The referrer's own deadline, as written.
    @NullEncoded public var deadline: String?
    /// The front door's RAG rating (`RAGRating`), if rated.
    @NullEncoded public var rating: String?
    /// When the decision is due (`FrontDoorClocks`: by rating, else from receipt).
    public var decideDue: String
    /// Not decided by `decideDue`.
    public var decisionOverdue: Bool
    /// For a child referred before: "3 referrals in 12 months from 3
    /// agencies" (this one included; the same child by NHS number or a
    /// confirmed match, `RecentReferrals.flag`).
    @NullEncoded public var knownReferrals: String?
    /// Possible matches in the window for intake to confirm or reject.
    public var possibleMatches: Int = 0
    /// The authority's accumulation rule's flag, when lower-level concerns add up (`AccumulationRule`).
    @NullEncoded public var accumulation: String?

    public init(
        id: String, kind: String, receipt: String?, submittedAt: String, acknowledged: Bool, acknowledgedAt: String?, ackDue: String,
        overdue: Bool, outcome: String?, changedAt: String? = nil, openConflicts: Int = 0, childName: String? = nil, children: Int = 0,
        agency: String? = nil, immediateRisk: Bool = false, reference: String? = nil, childSafeNow: String? = nil, deadline: String? = nil,
        rating: String? = nil, decideDue: String? = nil, decisionOverdue: Bool = false
    ) {
        self.reference = reference
        self.childSafeNow = childSafeNow
        self.deadline = deadline
        self.rating = rating
        self.decideDue = decideDue ?? ackDue
        self.decisionOverdue = decisionOverdue
        self.id = id
        self.kind = kind
        self.receipt = receipt
        self.submittedAt = submittedAt
        self.acknowledged = acknowledged
        self.acknowledgedAt = acknowledgedAt
        self.ackDue = ackDue
        self.overdue = overdue
        self.outcome = outcome
        self.changed = changedAt != nil
        self.changedAt = changedAt
        self.openConflicts = openConflicts
        self.childName = childName
        self.children = children
        self.agency = agency
        self.immediateRisk = immediateRisk
        self.lado = kind == ReferralKind.lado.rawValue
    }

    /// Whether the entry belongs in a view of the queue.
    public func belongs(in view: QueueView) -> Bool {
        switch view {
        case .all: true
        case .active: outcome == nil || changed || openConflicts > 0
        case .open: outcome == nil
        case .overdue: overdue || decisionOverdue
        case .decided: outcome != nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, receipt, submittedAt = "submitted_at", acknowledged, acknowledgedAt = "acknowledged_at"
        case ackDue = "ack_due", overdue, outcome, changed, changedAt = "changed_at", openConflicts = "open_conflicts"
        case childName = "child_name", children, agency, immediateRisk = "immediate_risk", lado
        case reference, childSafeNow = "child_safe_now", deadline, rating, decideDue = "decide_due", decisionOverdue = "decision_overdue"
        case knownReferrals = "known_referrals", possibleMatches = "possible_matches", accumulation
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        kind = try container.decode(String.self, forKey: .kind)
        receipt = try container.decodeIfPresent(String.self, forKey: .receipt)
        submittedAt = try container.decode(String.self, forKey: .submittedAt)
        acknowledged = try container.decode(Bool.self, forKey: .acknowledged)
        acknowledgedAt = try container.decodeIfPresent(String.self, forKey: .acknowledgedAt)
        ackDue = try container.decode(String.self, forKey: .ackDue)
        overdue = try container.decode(Bool.self, forKey: .overdue)
        outcome = try container.decodeIfPresent(String.self, forKey: .outcome)
        changed = try container.decode(Bool.self, forKey: .changed)
        changedAt = try container.decodeIfPresent(String.self, forKey: .changedAt)
        openConflicts = try container.decode(Int.self, forKey: .openConflicts)
        childName = try container.decodeIfPresent(String.self, forKey: .childName)
        children = try container.decode(Int.self, forKey: .children)
        agency = try container.decodeIfPresent(String.self, forKey: .agency)
        immediateRisk = try container.decode(Bool.self, forKey: .immediateRisk)
        lado = try container.decode(Bool.self, forKey: .lado)
        // A server from before the front door's clocks sends none of these.
        reference = try container.decodeIfPresent(String.self, forKey: .reference)
        childSafeNow = try container.decodeIfPresent(String.self, forKey: .childSafeNow)
        deadline = try container.decodeIfPresent(String.self, forKey: .deadline)
        rating = try container.decodeIfPresent(String.self, forKey: .rating)
        decideDue = try container.decodeIfPresent(String.self, forKey: .decideDue) ?? ackDue
        decisionOverdue = try container.decodeIfPresent(Bool.self, forKey: .decisionOverdue) ?? false
        // A server from before the person index sends none of these.
        knownReferrals = try container.decodeIfPresent(String.self, forKey: .knownReferrals)
        possibleMatches = try container.decodeIfPresent(Int.self, forKey: .possibleMatches) ?? 0
        accumulation = try container.decodeIfPresent(String.self, forKey: .accumulation)
    }

    /// The child is not safe now, as the referrer answered.
    public var notSafeNow: Bool { childSafeNow == "no" }

    /// What the referrer and the front door call it: the reference, else the receipt, else the id's start.
    public var shownReference: String { reference ?? receipt ?? String(id.prefix(13)) }
}

/// Which referrals the intake queue lists (`GET /v1/intake/queue?view=`).
public enum QueueView: String, Codable, Sendable, CaseIterable {
    /// Every submitted referral (the API's default).
    case all
    /// What still needs the front door: undecided referrals, and decided ones
    /// changed since the decision or with an open conflict (the CLI's default).
    case active
    /// Not decided yet.
    case open
    /// Not acknowledged, or not decided, by its deadline.
    case overdue
    /// Decided.
    case decided
}

/// A submitted referral as intake reads it: every current value by path, its
/// open conflicts with their candidates, what changed after the front door
/// last acknowledged, decided or saw it, and its clocks.
public struct ReferralDocument: Codable, Sendable, Equatable {
    public var id: String
    public var owner: String
    public var createdAt: String
    public var fields: [String: String]
    /// Open conflicts on the referral's fields, every candidate included.
    public var conflicts: [ConflictSummary]
    /// Changes that arrived after the front door last acknowledged, decided
    /// or saw the referral, oldest first (empty before an acknowledgement).
    public var changes: [ReferralChange]
    /// When it was first submitted, and under which push's receipt.
    @NullEncoded public var submittedAt: String?
    @NullEncoded public var receipt: String?
    /// The front door's clocks at the time of reading (`WorkingCalendar.clocks`).
    public var clocks: [ReferralClock]

    public init(
        id: String, owner: String, createdAt: String, fields: [String: String], conflicts: [ConflictSummary] = [], changes: [ReferralChange] = [],
        submittedAt: String? = nil, receipt: String? = nil, clocks: [ReferralClock] = []
    ) {
        self.id = id
        self.owner = owner
        self.createdAt = createdAt
        self.fields = fields
        self.conflicts = conflicts
        self.changes = changes
        self.submittedAt = submittedAt
        self.receipt = receipt
        self.clocks = clocks
    }

    enum CodingKeys: String, CodingKey { case id, owner, createdAt = "created_at", fields, conflicts, changes, submittedAt = "submitted_at", receipt, clocks }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        owner = try container.decode(String.self, forKey: .owner)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        fields = try container.decode([String: String].self, forKey: .fields)
        // A server from before conflicts, changes and clocks were sent sends none of them.
        conflicts = try container.decodeIfPresent([ConflictSummary].self, forKey: .conflicts) ?? []
        changes = try container.decodeIfPresent([ReferralChange].self, forKey: .changes) ?? []
        submittedAt = try container.decodeIfPresent(String.self, forKey: .submittedAt)
        receipt = try container.decodeIfPresent(String.self, forKey: .receipt)
        clocks = try container.decodeIfPresent([ReferralClock].self, forKey: .clocks) ?? []
    }

    /// The referral's own reference, else its first receipt, else the start of its id.
    public var reference: String { fields[IntakePath.reference] ?? receipt ?? String(id.prefix(13)) }
}

/// One entry of a referral's change log, as intake sees what changed: which
/// field, when the server took it, who wrote it, and how (`write`: the field
/// took the value; `candidate`: it became one side of a conflict or lost;
/// `conflict`: the field's conflict state changed), with the value it
/// brought and the one the front door last saw.
public struct ReferralChange: Codable, Sendable, Equatable {
    public var path: String
    public var at: String
    public var by: String
    public var kind: String
    /// The value this change brought (null: cleared).
    @NullEncoded public var value: String?
    /// The field's value when the front door last acknowledged, decided or saw the referral (null: none).
    @NullEncoded public var previous: String?

    public init(path: String, at: String, by: String, kind: String, value: String? = nil, previous: String? = nil) {
        self.path = path
        self.at = at
        self.by = by
        self.kind = kind
        self.value = value
        self.previous = previous
    }

    enum CodingKeys: String, CodingKey { case path, at, by, kind, value, previous }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decode(String.self, forKey: .path)
        at = try container.decode(String.self, forKey: .at)
        by = try container.decode(String.self, forKey: .by)
        kind = try container.decode(String.self, forKey: .kind)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        previous = try container.decodeIfPresent(String.self, forKey: .previous)
    }
}

/// The front door saw what changed after its decision, and the decision
/// stands: the note is for the record (internal, never sent to the referrer).
public struct SeenRequest: Codable, Sendable, Equatable {
    public var note: String

    public init(note: String) { self.note = note }
}

/// What `POST /v1/intake/referrals/{id}/seen` recorded.
public struct SeenReply: Codable, Sendable, Equatable {
    public var id: String
    public var seenAt: String
    public var seenBy: String
    public var note: String

    public init(id: String, seenAt: String, seenBy: String, note: String) {
        self.id = id
        self.seenAt = seenAt
        self.seenBy = seenBy
        self.note = note
    }

    enum CodingKeys: String, CodingKey { case id, seenAt = "seen_at", seenBy = "seen_by", note }
}

/// Intake's RAG rating of a referral: the rating, the reason (internal),
/// and whether the reason is also sent to the referrer as feedback.
public struct RatingRequest: Codable, Sendable, Equatable {
    public var rating: String
    public var reason: String
    /// True to send the reason to the referrer (`IntakePath.ratingFeedback`); absent or false keeps it internal.
    public var feedback: Bool?

    public init(rating: String, reason: String, feedback: Bool? = nil) {
        self.rating = rating
        self.reason = reason
        self.feedback = feedback
    }
}

/// What `POST /v1/intake/referrals/{id}/rating` recorded.
public struct RatingReply: Codable, Sendable, Equatable {
    public var id: String
    public var rating: String
    public var reason: String
    public var ratedAt: String
    public var ratedBy: String
    /// Whether the reason was sent to the referrer as feedback.
    public var feedback: Bool

    public init(id: String, rating: String, reason: String, ratedAt: String, ratedBy: String, feedback: Bool) {
        self.id = id
        self.rating = rating
        self.reason = reason
        self.ratedAt = ratedAt
        self.ratedBy = ratedBy
        self.feedback = feedback
    }

    enum CodingKeys: String, CodingKey { case id, rating, reason, ratedAt = "rated_at", ratedBy = "rated_by", feedback }
}

/// One entry of a referral's history (`GET /v1/intake/referrals/{id}/history`),
/// in the order the server took them: a value written, a conflict candidate,
/// a conflict opened or settled, an acknowledgement, rating, decision or
/// "seen" note (each a record-level `@` path), with who, when and from which device.
public struct ReferralHistoryEntry: Codable, Sendable, Equatable {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        revision = try container.decode(Int64.self, forKey: .revision)
        kind = try container.decode(String.self, forKey: .kind)
        path = try container.decode(String.self, forKey: .path)
        value = try container.decodeIfPresent(String.self, forKey: .value)
        by = try container.decode(String.self, forKey: .by)
        device = try container.decode(String.self, forKey: .device)
        at = try container.decode(String.self, forKey: .at)
        conflict = try container.decodeIfPresent(String.self, forKey: .conflict)
        reason = try container.decodeIfPresent(String.self, forKey: .reason)
        reachesReferrer = try container.decodeIfPresent(Bool.self, forKey: .reachesReferrer) ?? (kind != "candidate" && !IntakePath.internalPaths.contains(path))
    }

    public var revision: Int64
    /// `write`, `candidate`, `conflict` (a change log entry), or `resolution` (an admin settled a conflict).
    public var kind: String
    public var path: String
    @NullEncoded public var value: String?
    public var by: String
    public var device: String
    public var at: String
    /// The conflict the entry belongs to, if any.
    @NullEncoded public var conflict: String?
    /// For a resolution: why the admin chose the value.
    @NullEncoded public var reason: String?
    /// Whether the referrer's devices receive the entry: false for a
    /// conflict candidate and for the front door's own words (`IntakePath.internalPaths`).
    public var reachesReferrer: Bool

    enum CodingKeys: String, CodingKey { case revision, kind, path, value, by, device, at, conflict, reason, reachesReferrer = "reaches_referrer" }

    public init(revision: Int64, kind: String, path: String, value: String?, by: String, device: String, at: String, conflict: String? = nil, reason: String? = nil) {
        self.reachesReferrer = kind != "candidate" && !IntakePath.internalPaths.contains(path)
        self.revision = revision
        self.kind = kind
        self.path = path
        self.value = value
        self.by = by
        self.device = device
        self.at = at
        self.conflict = conflict
        self.reason = reason
    }
}

/// Intake's decision on a referral. A referral already decided answers 409
/// unless the request says it changes that decision (`change: true`) and why
/// (`reason`); the earlier decision stays on the record.
public struct DecisionRequest: Codable, Sendable, Equatable {
    public var outcome: String
    public var note: String
    /// True to replace an earlier decision; absent or false for the first.
    public var change: Bool?
    /// Why the earlier decision is changed; required with `change`.
    public var reason: String?

    public init(outcome: String, note: String, change: Bool? = nil, reason: String? = nil) {
        self.outcome = outcome
        self.note = note
        self.change = change
        self.reason = reason
    }
}

/// The server's answer to a decision: what was recorded, and which decision it is.
public struct DecisionReply: Codable, Sendable, Equatable {
    public var id: String
    public var outcome: String
    public var note: String
    public var decidedAt: String
    public var decidedBy: String
    /// Which decision this is: 1 for the first, more after changes.
    public var number: Int
    /// Why an earlier decision was changed; null for the first.
    @NullEncoded public var reason: String?

    public init(id: String, outcome: String, note: String, decidedAt: String, decidedBy: String, number: Int, reason: String?) {
        self.id = id
        self.outcome = outcome
        self.note = note
        self.decidedAt = decidedAt
        self.decidedBy = decidedBy
        self.number = number
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case id, outcome, note, decidedAt = "decided_at", decidedBy = "decided_by", number, reason
    }
}

/// An admin's decision on a conflict: a candidate by number (1-based), or a value.
public struct ResolutionRequest: Codable, Sendable, Equatable {
    public var pick: Int?
    public var value: String?
    public var reason: String

    public init(pick: Int?, value: String?, reason: String) {
        self.pick = pick
        self.value = value
        self.reason = reason
    }
}

/// A conflict as admins list it.
public struct ConflictSummary: Codable, Sendable, Equatable {
    public var id: String
    public var record: String
    public var path: String
    public var question: String
    public var status: String
    public var candidates: [ConflictCandidate]
    public var resolution: Resolution?

    public struct Resolution: Codable, Sendable, Equatable {
        public var value: String?
        public var by: String
        public var at: String
        public var reason: String
        public var revision: Int64

        public init(value: String?, by: String, at: String, reason: String, revision: Int64) {
            self.value = value
            self.by = by
            self.at = at
            self.reason = reason
            self.revision = revision
        }
    }

    public init(id: String, record: String, path: String, question: String, status: String, candidates: [ConflictCandidate], resolution: Resolution?) {
        self.id = id
        self.record = record
        self.path = path
        self.question = question
        self.status = status
        self.candidates = candidates
        self.resolution = resolution
    }
}
