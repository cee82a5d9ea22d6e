import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SyncCore

/// `/v1/intake/…` (intake role), and devices' revocation and wipe reports.
struct FrontDoorRoutes {
    let storage: any SyncStorage
    let frontDoor: FrontDoor

    func add(to api: RouterGroup<SyncRequestContext>) {
        let intake = api.group("intake").add(middleware: RoleGuard(roles: [.intake]))
        intake.get("queue", use: queue)
        intake.get("referrals/:id", use: referral)
        intake.get("referrals/:id/history", use: history)
        intake.post("referrals/:id/acknowledge", use: acknowledge)
        intake.post("referrals/:id/rating", use: rate)
        intake.post("referrals/:id/seen", use: seen)
        intake.post("referrals/:id/decision", use: decide)
        // A child's other referrals: intake and admins (docs/intake.md, "Known to the front door").
        let matching = api.group("intake").add(middleware: RoleGuard(roles: [.intake, .admin]))
        matching.get("referrals/:id/related", use: related)
        matching.post("matches", use: decideMatch)
        api.group("devices").add(middleware: RoleGuard(roles: [.admin])).post(":id/revoke", use: revoke)
        api.post("devices/wiped", use: wiped)
    }

    /// `POST /v1/devices/{id}/revoke`, body `{}` or `{"mode": "send-submitted"}`
    /// (`RevokeMode`): 200 `{"device", "status": "revoked", "mode"}`; 404 for
    /// an unknown device; 409 if it was revoked before (nothing changes).
    @Sendable func revoke(_ request: Request, context: SyncRequestContext) async throws -> Response {
        struct Body: Decodable { var mode: String? = nil }
        let id = try context.parameters.require("id")
        var request = request
        let body = try await SyncRoutes.decode(Body.self, from: &request, ifEmpty: Body())
        guard let mode = RevokeMode(rawValue: body.mode ?? RevokeMode.erase.rawValue) else {
            throw APIError(.badRequest, "'mode' must be erase or send-submitted; got '\(body.mode!.prefix(40))'.")
        }
        switch try await storage.revoke(device: id, by: context.user!.name, reason: nil, at: Timestamp.string(frontDoor.clock.now()), mode: mode) {
        case .noSuchDevice:
            throw APIError(.notFound, "No device has id '\(id.prefix(40))'.")
        case .alreadyRevoked(let at, let by):
            throw APIError(.conflict, "Device \(id) was already revoked at \(at) by \(by); nothing was changed.")
        case .revoked:
            context.logger.notice("device revoked", metadata: ["device": "\(id)", "mode": "\(mode.rawValue)"])
            return try SyncRoutes.json(["device": id, "status": "revoked", "mode": mode.rawValue])
        }
    }

    /// A revoked device reports that it erased its referral data, with what
    /// unsent work that destroyed (`WipeReport`; an older device's `{}` is an empty report).
    @Sendable func wiped(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (user, device) = try await storage.actingDevice(request, context)
        guard try await storage.isRevoked(device: device) else {
            throw APIError(.conflict, "Device \(device) is not revoked; only a revoked device reports a wipe.")
        }
        var request = request
        let report = try await SyncRoutes.decode(WipeReport.self, from: &request, ifEmpty: WipeReport())
        // What a device says is shown to admins: ids as devices make them, known statuses only.
        for erased in report.erased {
            guard UUID(uuidString: erased.id) != nil else {
                throw APIError(.badRequest, "'\(TerminalText.visible(String(erased.id.prefix(40))))' is not a referral id.")
            }
            guard ReferralStatus(rawValue: erased.status) != nil, erased.unsentChanges >= 0 else {
                throw APIError(.badRequest, "'\(TerminalText.visible(String(erased.status.prefix(40))))' is not a referral status (draft, submitted or discarded).")
            }
        }
        guard report.sentFirst >= 0, report.erased.count <= 100_000 else {
            throw APIError(.badRequest, "The wipe report's counts are out of range.")
        }
        let at = Timestamp.string(frontDoor.clock.now())
        try await storage.markWiped(device: device, by: user.name, at: at, report: report)
        if !report.erased.isEmpty {
            // Ids and counts only, never content: an admin must follow this up.
            context.logger.warning("revoked device erased unsent work", metadata: [
                "device": "\(device)", "referrals": "\(report.erased.count)",
                "submitted": "\(report.erased.filter { $0.status == "submitted" }.count)",
                "immediate_risk": "\(report.erased.filter(\.immediateRisk).count)",
            ])
        }
        return try SyncRoutes.json(["device": device, "status": "wiped"])
    }

    /// The queue in triage order (`FrontDoor.queue`): undecided referrals
    /// at immediate risk first, then by the next clock due, then first
    /// submitted first. Query: `view` (`QueueView`, default all), `q` (a
    /// search), `rating`, `agency` (`QueueFilter`).
    @Sendable func queue(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let query: QueueQuery
        do { query = try URLEncodedFormDecoder().decode(QueueQuery.self, from: request.uri.query ?? "") } catch {
            throw APIError(.badRequest, "The address's query could not be read (a parameter is malformed).")
        }
        let filter = try QueueFilter(query.parameters, defaultView: .all)
        let now = frontDoor.clock.now()
        let entries = try await frontDoor.readQueue(storage, filter: filter, now: now).listed
        // Names of children are referral content: who read the queue is on the record.
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: context.user!.name, action: "read-queue", record: nil, detail: "\(filter.audited) referrals=\(entries.count)"))
        context.logger.info("intake queue read", metadata: ["referrals": "\(entries.count)", "view": "\(filter.view.rawValue)"])
        return try SyncRoutes.json(entries)
    }

    @Sendable func referral(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let document = try await frontDoor.document(id, in: storage, now: frontDoor.clock.now()) else {
            throw APIError(.notFound, "No submitted referral has id '\(id.prefix(40))'.")
        }
        // Every read of referral content is attributable.
        try await storage.audit(AuditEvent(at: Timestamp.string(frontDoor.clock.now()), actor: context.user!.name, action: "read", record: id, detail: ""))
        context.logger.notice("referral read", metadata: ["record": "\(id)"])
        return try SyncRoutes.json(document)
    }

    /// `GET /v1/intake/referrals/{id}/history`: every entry of the
    /// referral's change log, oldest first (`ReferralHistoryEntry`), audited as `read-history`.
    @Sendable func history(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let entries = try await frontDoor.history(id, in: storage) else {
            throw APIError(.notFound, "No submitted referral has id '\(id.prefix(40))'.")
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(frontDoor.clock.now()), actor: context.user!.name, action: "read-history", record: id, detail: "entries=\(entries.count)"))
        return try SyncRoutes.json(entries)
    }

    /// `GET /v1/intake/referrals/{id}/related`: what the front door knows of
    /// the referral's children and household from other referrals
    /// (`RelatedReferrals`), audited as `read-related` (with how many
    /// referrals it showed, never who).
    @Sendable func related(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let now = frontDoor.clock.now()
        guard let related = try await frontDoor.related(id, in: storage, now: now) else {
            throw APIError(.notFound, "No submitted referral has id '\(id.prefix(40))'.")
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: context.user!.name, action: "read-related", record: id,
            detail: "referrals=\(Set(related.known.map(\.id) + related.children.flatMap { $0.matches.map(\.referral.id) }).count)"))
        return try SyncRoutes.json(related)
    }

    /// `POST /v1/intake/matches`, body `MatchDecisionRequest`: intake
    /// confirms, rejects or undoes a possible match (`FrontDoor.recordMatchDecision`).
    @Sendable func decideMatch(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(MatchDecisionRequest.self, from: &request)
        let result = try await frontDoor.recordMatchDecision(body, by: user, device: device, in: storage)
        context.logger.notice("match decided", metadata: ["decision": "\(result.decision)"])
        return try SyncRoutes.json(result)
    }

    /// `POST /v1/intake/referrals/{id}/rating`, body `RatingRequest`: 200 with what was recorded.
    @Sendable func rate(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(RatingRequest.self, from: &request)
        let result = try await frontDoor.recordRating(id, body, by: user, device: device, in: storage)
        context.logger.notice("referral rated", metadata: ["record": "\(id)", "rating": "\(result.rating)"])
        return try SyncRoutes.json(result)
    }

    /// `POST /v1/intake/referrals/{id}/seen`, body `SeenRequest`: the front
    /// door saw what changed and its decision stands (`FrontDoor.seen`).
    @Sendable func seen(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(SeenRequest.self, from: &request)
        let result = try await frontDoor.recordSeen(id, note: body.note, by: user, device: device, in: storage)
        context.logger.notice("referral changes seen", metadata: ["record": "\(id)"])
        return try SyncRoutes.json(result)
    }

    @Sendable func acknowledge(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        let result = try await frontDoor.recordAcknowledgement(id, by: user, device: device, in: storage)
        context.logger.notice("referral acknowledged", metadata: ["record": "\(id)"])
        return try SyncRoutes.json(result)
    }

    @Sendable func decide(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(DecisionRequest.self, from: &request)
        let result = try await frontDoor.recordDecision(id, body, by: user, device: device, in: storage)
        context.logger.notice("referral decided", metadata: ["record": "\(id)", "outcome": "\(body.outcome)", "decision": "\(result.number)"])
        return try SyncRoutes.json(result)
    }
}
