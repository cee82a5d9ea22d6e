import Foundation

/// What the front door knows of a referral's children and household from
/// its other referrals (`GET /v1/intake/referrals/{id}/related`,
/// `field intake related`, the console's referral page): intake and
/// admins only, every reading audited (docs/intake.md, "Known to the front door").
public struct RelatedReferrals: Codable, Sendable, Equatable {
    public var id: String
    public var reference: String?
    /// Each child of this referral, with the people in other referrals who are or may be them.
    public var children: [ChildRelations]
    /// Other referrals about this household (the same address, someone named in both).
    public var household: [HouseholdRelation]
    /// Every other referral about a child here (the same child: same NHS
    /// number or confirmed) or this household, oldest first: what the
    /// procedure calls previous involvement. Possible matches not yet
    /// confirmed are in `children[].matches`, not here.
    public var known: [ReferralGlance]
    /// Referrals about this referral's children in the rule's window (this one
    /// included), and from how many agencies: "3 referrals in 12 months from 3 agencies".
    public var recent: RecentReferrals
    /// Set when the authority's accumulation rule flags this referral's children.
    public var accumulation: String?

    public init(
        id: String, reference: String?, children: [ChildRelations], household: [HouseholdRelation], known: [ReferralGlance], recent: RecentReferrals,
        accumulation: String?
    ) {
        (self.id, self.reference, self.children, self.household, self.known, self.recent, self.accumulation) =
            (id, reference, children, household, known, recent, accumulation)
    }
}

/// A referral at a glance, as "known to the front door" lists it.
public struct ReferralGlance: Codable, Sendable, Equatable {
    public var id: String
    public var reference: String?
    public var submittedAt: String
    public var agency: String?
    /// red, amber or green; nil when not rated.
    public var rating: String?
    /// The latest decision's outcome (`ReferralOutcome`); nil while undecided.
    public var outcome: String?
    /// The concern's summary as the referrer wrote it.
    public var summary: String?

    public init(id: String, reference: String?, submittedAt: String, agency: String?, rating: String?, outcome: String?, summary: String?) {
        (self.id, self.reference, self.submittedAt, self.agency, self.rating, self.outcome, self.summary) =
            (id, reference, submittedAt, agency, rating, outcome, summary)
    }

    enum CodingKeys: String, CodingKey {
        case id, reference, submittedAt = "submitted_at", agency, rating, outcome, summary
    }
}

/// One child of a referral and who they are, or may be, elsewhere.
public struct ChildRelations: Codable, Sendable, Equatable {
    /// `IndexedPerson.key`: `<referral id>/children.<item id>`.
    public var person: String
    public var name: String?
    public var dateOfBirth: String?
    /// People in other referrals: the same child, a possible match, or a rejected one (kept so it can be undone).
    public var matches: [PersonRelation]
    /// The child's referrals, oldest first: this one and every referral
    /// about the same child (same NHS number or confirmed, followed from one to the next).
    public var chronology: [ReferralGlance]

    public init(person: String, name: String?, dateOfBirth: String?, matches: [PersonRelation], chronology: [ReferralGlance]) {
        (self.person, self.name, self.dateOfBirth, self.matches, self.chronology) = (person, name, dateOfBirth, matches, chronology)
    }

    enum CodingKeys: String, CodingKey {
        case person, name, dateOfBirth = "date_of_birth", matches, chronology
    }
}

/// A person in another referral matched to one here, and why.
public struct PersonRelation: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        /// The same NHS number: the same child.
        case sameNHSNumber = "same-nhs-number"
        /// Intake confirmed they are the same child.
        case confirmed
        /// Scored as possibly the same child: for intake to confirm or reject.
        case possible
        /// Intake said they are not the same child: not suggested again.
        case rejected
    }

    public var person: String
    public var name: String?
    public var dateOfBirth: String?
    public var kind: Kind
    /// 0 to 100 (`PersonMatch.score`); nil for a decision on a pair matching no longer scores.
    public var score: Int?
    public var reasons: [String]
    public var referral: ReferralGlance
    /// Who decided, when, and why, for a confirmed or rejected pair.
    public var decidedBy: String?
    public var decidedAt: String?
    public var decisionReason: String?

    public init(
        person: String, name: String?, dateOfBirth: String?, kind: Kind, score: Int?, reasons: [String], referral: ReferralGlance,
        decidedBy: String? = nil, decidedAt: String? = nil, decisionReason: String? = nil
    ) {
        (self.person, self.name, self.dateOfBirth, self.kind, self.score, self.reasons, self.referral) =
            (person, name, dateOfBirth, kind, score, reasons, referral)
        (self.decidedBy, self.decidedAt, self.decisionReason) = (decidedBy, decidedAt, decisionReason)
    }

    enum CodingKeys: String, CodingKey {
        case person, name, dateOfBirth = "date_of_birth", kind, score, reasons, referral, decidedBy = "decided_by", decidedAt = "decided_at"
        case decisionReason = "decision_reason"
    }
}

/// Another referral about the same household, and why.
public struct HouseholdRelation: Codable, Sendable, Equatable {
    public var referral: ReferralGlance
    public var reasons: [String]

    public init(referral: ReferralGlance, reasons: [String]) {
        (self.referral, self.reasons) = (referral, reasons)
    }
}

/// Referrals about a referral's children within the accumulation rule's window.
public struct RecentReferrals: Codable, Sendable, Equatable {
    /// This referral included.
    public var referrals: Int
    public var agencies: Int
    public var months: Int
    /// Possible matches in the window not yet confirmed or rejected (not counted in `referrals`).
    public var possible: Int

    public init(referrals: Int, agencies: Int, months: Int, possible: Int) {
        (self.referrals, self.agencies, self.months, self.possible) = (referrals, agencies, months, possible)
    }

    /// "3 referrals in 12 months from 3 agencies", or nil for a child referred only this once.
    public var flag: String? {
        guard referrals > 1 else { return nil }
        return "\(referrals) referrals in \(months) months from \(agencies) agenc\(agencies == 1 ? "y" : "ies")"
    }
}

/// Intake's decision about a possible match (`POST /v1/intake/matches`): the same child or not, with a reason.
public struct MatchDecisionRequest: Codable, Sendable, Equatable {
    /// `IndexedPerson.key`s of the pair, in any order.
    public var person: String
    public var other: String
    /// `confirm`, `reject` or `undo`.
    public var decision: String
    public var reason: String

    public init(person: String, other: String, decision: String, reason: String) {
        (self.person, self.other, self.decision, self.reason) = (person, other, decision, reason)
    }
}

/// What a match decision stored.
public struct MatchDecisionReply: Codable, Sendable, Equatable {
    public var person: String
    public var other: String
    /// `confirmed`, `rejected`, or `undone`.
    public var decision: String
    public var decidedBy: String
    public var decidedAt: String
    /// What the pair had before (`confirmed` or `rejected`), when it had a decision.
    public var previous: String?

    public init(person: String, other: String, decision: String, decidedBy: String, decidedAt: String, previous: String?) {
        (self.person, self.other, self.decision, self.decidedBy, self.decidedAt, self.previous) = (person, other, decision, decidedBy, decidedAt, previous)
    }

    enum CodingKeys: String, CodingKey {
        case person, other, decision, decidedBy = "decided_by", decidedAt = "decided_at", previous
    }
}
