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

/// Record-level paths the front door writes; devices may not. They reach the
/// referrer's devices through the ordinary pull.
public enum IntakePath {
    public static let acknowledgedAt = "@acknowledged_at"
    public static let acknowledgedBy = "@acknowledged_by"
    public static let outcome = "@outcome"
    public static let outcomeNote = "@outcome_note"
    public static let decidedAt = "@decided_at"
    public static let decidedBy = "@decided_by"
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

    public init(id: String, kind: String, receipt: String?, submittedAt: String, acknowledged: Bool, acknowledgedAt: String?, ackDue: String, overdue: Bool, outcome: String?) {
        self.id = id
        self.kind = kind
        self.receipt = receipt
        self.submittedAt = submittedAt
        self.acknowledged = acknowledged
        self.acknowledgedAt = acknowledgedAt
        self.ackDue = ackDue
        self.overdue = overdue
        self.outcome = outcome
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, receipt, submittedAt = "submitted_at", acknowledged, acknowledgedAt = "acknowledged_at"
        case ackDue = "ack_due", overdue, outcome
    }
}

/// A submitted referral as intake reads it: every current value by path.
public struct ReferralDocument: Codable, Sendable, Equatable {
    public var id: String
    public var owner: String
    public var createdAt: String
    public var fields: [String: String]

    public init(id: String, owner: String, createdAt: String, fields: [String: String]) {
        self.id = id
        self.owner = owner
        self.createdAt = createdAt
        self.fields = fields
    }

    enum CodingKeys: String, CodingKey { case id, owner, createdAt = "created_at", fields }
}

public struct DecisionRequest: Codable, Sendable, Equatable {
    public var outcome: String
    public var note: String

    public init(outcome: String, note: String) {
        self.outcome = outcome
        self.note = note
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
