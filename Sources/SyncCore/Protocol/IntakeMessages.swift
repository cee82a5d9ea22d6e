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

/// Record-level paths the front door writes; devices may not. They reach the
/// referrer's devices through the ordinary pull.
public enum IntakePath {
    /// The current RAG rating (`RAGRating`), its reason, who rated and when;
    /// a new rating replaces them, and the change log keeps every earlier one.
    public static let rating = "@rating"
    public static let ratingReason = "@rating_reason"
    public static let ratedAt = "@rated_at"
    public static let ratedBy = "@rated_by"

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

    public init(
        id: String, kind: String, receipt: String?, submittedAt: String, acknowledged: Bool, acknowledgedAt: String?, ackDue: String,
        overdue: Bool, outcome: String?, changedAt: String? = nil, openConflicts: Int = 0, childName: String? = nil, children: Int = 0,
        agency: String? = nil, immediateRisk: Bool = false
    ) {
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
        case .overdue: overdue
        case .decided: outcome != nil
        }
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, receipt, submittedAt = "submitted_at", acknowledged, acknowledgedAt = "acknowledged_at"
        case ackDue = "ack_due", overdue, outcome, changed, changedAt = "changed_at", openConflicts = "open_conflicts"
        case childName = "child_name", children, agency, immediateRisk = "immediate_risk", lado
    }
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
    /// Not acknowledged by the deadline.
    case overdue
    /// Decided.
    case decided
}

/// A submitted referral as intake reads it: every current value by path, its
/// open conflicts with their candidates, and what changed after the front
/// door last acknowledged or decided it.
public struct ReferralDocument: Codable, Sendable, Equatable {
    public var id: String
    public var owner: String
    public var createdAt: String
    public var fields: [String: String]
    /// Open conflicts on the referral's fields, every candidate included.
    public var conflicts: [ConflictSummary]
    /// Changes that arrived after the front door last acknowledged or
    /// decided, oldest first (empty before an acknowledgement).
    public var changes: [ReferralChange]

    public init(id: String, owner: String, createdAt: String, fields: [String: String], conflicts: [ConflictSummary] = [], changes: [ReferralChange] = []) {
        self.id = id
        self.owner = owner
        self.createdAt = createdAt
        self.fields = fields
        self.conflicts = conflicts
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey { case id, owner, createdAt = "created_at", fields, conflicts, changes }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        owner = try container.decode(String.self, forKey: .owner)
        createdAt = try container.decode(String.self, forKey: .createdAt)
        fields = try container.decode([String: String].self, forKey: .fields)
        // A server from before conflicts and changes were sent sends neither.
        conflicts = try container.decodeIfPresent([ConflictSummary].self, forKey: .conflicts) ?? []
        changes = try container.decodeIfPresent([ReferralChange].self, forKey: .changes) ?? []
    }
}

/// One entry of a referral's change log, as intake sees what changed: which
/// field, when the server took it, who wrote it, and how (`write`: the field
/// took the value; `candidate`: it became one side of a conflict or lost;
/// `conflict`: the field's conflict state changed).
public struct ReferralChange: Codable, Sendable, Equatable {
    public var path: String
    public var at: String
    public var by: String
    public var kind: String

    public init(path: String, at: String, by: String, kind: String) {
        self.path = path
        self.at = at
        self.by = by
        self.kind = kind
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
