import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// "Known to the front door" as the referral page shows it
/// (`ConsoleTemplates.known`, docs/console.md): the children's other
/// referrals and the household's, each child's possible matches with forms
/// to confirm or reject them, and rejected ones with a form to undo.
struct KnownSection {
    struct Glance {
        let id: String
        let reference: String
        let submitted: String
        let agency: String
        let rating: String
        let outcome: String
        let summary: String
        let why: String
        let current: Bool
    }

    struct Match {
        let person: String
        let other: String
        let who: String
        let referral: Glance
        let score: Int
        let reasons: String
        let decided: String?
    }

    struct Child {
        let id: String
        let item: String
        let name: String
        let chronologyCount: Int
        let same: [Match]
        let possible: [Match]
        let rejected: [Match]
        let hasPossible: Bool
        let hasRejected: Bool
    }

    /// "3 referrals in 12 months from 3 agencies", or a sentence that there are none.
    let recent: String
    /// The count when the child was referred before (a flag), else nil.
    let recentFlag: String?
    let accumulation: String?
    let known: [Glance]
    let hasKnown: Bool
    let children: [Child]
    let canMatch: Bool
    let csrf: String

    /// A referral as a row: in words, its times local; `current` when it is the page's own.
    static func glance(_ referral: ReferralGlance, why: String = "", current: String, local: (String) -> String) -> Glance {
        Glance(
            id: referral.id, reference: referral.reference ?? String(referral.id.prefix(13)), submitted: referral.submittedAt.isEmpty ? "" : local(referral.submittedAt),
            agency: referral.agency ?? "(not given)", rating: referral.rating.flatMap { RAGRating(rawValue: $0)?.title } ?? "not rated",
            outcome: referral.outcome.flatMap { ReferralOutcome(rawValue: $0)?.title } ?? "not decided",
            summary: TerminalText.oneLine(referral.summary ?? ""), why: why, current: referral.id == current)
    }

    init(_ related: RelatedReferrals, staff: Staff, local: (String) -> String) {
        func glance(_ referral: ReferralGlance, why: String = "") -> Glance { Self.glance(referral, why: why, current: related.id, local: local) }
        var why: [String: [String]] = [:]
        for child in related.children {
            for match in child.matches where match.kind == .sameNHSNumber || match.kind == .confirmed {
                why[match.referral.id, default: []].append(
                    "\(child.name ?? "a child") here: \(match.kind == .sameNHSNumber ? "same NHS number" : "confirmed by \(match.decidedBy ?? "?")")")
            }
        }
        for relation in related.household { why[relation.referral.id, default: []].append("household: " + relation.reasons.joined(separator: "; ")) }
        recent = related.recent.flag ?? "No other referral about these children in the last \(related.recent.months) months."
        recentFlag = related.recent.flag
        accumulation = related.accumulation
        known = related.known.map { glance($0, why: (why[$0.id] ?? []).joined(separator: "; ")) }
        hasKnown = !known.isEmpty
        children = related.children.map { child in
            func match(_ relation: PersonRelation) -> Match {
                Match(
                    person: child.person, other: relation.person,
                    who: "\(relation.name ?? "(no name)")\(relation.dateOfBirth.map { ", born \($0)" } ?? "")", referral: glance(relation.referral),
                    score: relation.score ?? 0, reasons: relation.reasons.joined(separator: "; "),
                    decided: relation.decidedBy.map { "\($0), \(relation.decidedAt.map(local) ?? "")\(relation.decisionReason.map { ": \($0)" } ?? "")" })
            }
            let possible = child.matches.filter { $0.kind == .possible }.map(match)
            let rejected = child.matches.filter { $0.kind == .rejected }.map(match)
            return Child(
                id: related.id, item: String(child.person.split(separator: "/").last ?? ""),
                name: "\(child.name ?? "(no name)")\(child.dateOfBirth.map { ", born \($0)" } ?? "")", chronologyCount: child.chronology.count,
                same: child.matches.filter { $0.kind == .sameNHSNumber || $0.kind == .confirmed }.map(match),
                possible: possible, rejected: rejected, hasPossible: !possible.isEmpty, hasRejected: !rejected.isEmpty)
        }
        canMatch = staff.user.role == .intake || staff.user.role == .admin
        csrf = staff.csrf
    }
}

/// A child's chronology as its page shows it (`ConsoleTemplates.chronology`):
/// every referral about the same child, oldest first.
struct ChronologyPage {
    let id: String
    let reference: String
    let heading: String
    let entries: [KnownSection.Glance]
    let zone: String
    let recent: String
    let accumulation: String?
}

extension ConsoleRoutes {
    /// `GET /console/referrals/{id}/children/{item}`: one child's chronology, audited as `read-chronology`.
    @Sendable func chronology(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let id = try context.parameters.require("id")
        let item = try context.parameters.require("item")
        let now = clock.now()
        guard UUID(uuidString: id) != nil, let related = try await frontDoor.related(id, in: storage, now: now),
            let child = related.children.first(where: { $0.person == "\(id)/\(item)" })
        else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))' with the child '\(item.prefix(60))'.", staff: staff)
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: staff.user.name, action: "read-chronology", record: id,
            detail: "person=\(child.person) referrals=\(child.chronology.count) console"))
        let section = KnownSection(related, staff: staff, local: local)
        let page = ChronologyPage(
            id: id, reference: related.reference ?? String(id.prefix(13)),
            heading: "Chronology of \(child.name ?? "a child")\(child.dateOfBirth.map { ", born \($0)" } ?? "")",
            entries: child.chronology.map { KnownSection.glance($0, current: id, local: local) },
            zone: authority.timeZone, recent: section.recent, accumulation: section.accumulation)
        return try self.page("chronology", title: page.heading, staff: staff, page)
    }

    struct MatchForm: Decodable {
        var csrf: String?
        var person: String?
        var other: String?
        var decision: String?
        var reason: String?
    }

    /// `POST /console/referrals/{id}/matches`: confirm, reject or undo a
    /// possible match from the referral's page (`FrontDoor.recordMatchDecision`).
    @Sendable func decideMatch(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(MatchForm.self, request, context, roles: [.intake, .admin]) { $0.csrf }
        let body = MatchDecisionRequest(person: form.person ?? "", other: form.other ?? "", decision: form.decision ?? "", reason: form.reason ?? "")
        do {
            let reply = try await frontDoor.recordMatchDecision(body, by: staff.user, device: ConsoleDevice.id, in: storage)
            context.logger.notice("console match decided", metadata: ["decision": "\(reply.decision)"])
            return .redirect(to: "/console/referrals/\(id)?done=match-\(reply.decision)#known-heading", type: .normal)
        } catch let error as APIError {
            return try await referralPage(id, staff: staff, context: context, status: error.status, error: error.message)
        }
    }
}
