import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SyncCore

/// Only users with one of `roles` get past: everyone else a 403 that says why.
struct RoleGuard: RouterMiddleware {
    typealias Context = SyncRequestContext
    let roles: Set<Role>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let user = context.user!
        guard roles.contains(user.role) else {
            let needed = roles.map(\.rawValue).sorted().joined(separator: " or ")
            throw APIError(.forbidden, "This needs the \(needed) role; \(user.name) is \(user.role.rawValue).")
        }
        return try await next(request, context)
    }
}

/// `/v1/intake/…` (intake role), and devices' revocation and wipe reports.
struct FrontDoorRoutes {
    let storage: any SyncStorage
    let frontDoor: FrontDoor
    let calendar: WorkingCalendar

    func add(to api: RouterGroup<SyncRequestContext>) {
        let intake = api.group("intake").add(middleware: RoleGuard(roles: [.intake]))
        intake.get("queue", use: queue)
        intake.get("referrals/:id", use: referral)
        intake.post("referrals/:id/acknowledge", use: acknowledge)
        intake.post("referrals/:id/decision", use: decide)
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
        switch try await storage.revoke(device: id, by: context.user!.name, at: Timestamp.string(frontDoor.clock.now()), mode: mode) {
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

    /// The queue in triage order: immediate risk first, then by the
    /// acknowledgement deadline, then first submitted first; `?view=` picks
    /// which referrals (`QueueView`, default all).
    @Sendable func queue(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let viewName = request.uri.queryParameters.get("view") ?? QueueView.all.rawValue
        guard let view = QueueView(rawValue: viewName) else {
            throw APIError(.badRequest, "'view' must be one of \(QueueView.allCases.map(\.rawValue).joined(separator: ", ")); got '\(viewName.prefix(40))'.")
        }
        let now = frontDoor.clock.now()
        let entries = Self.queue(try await storage.submittedReferrals(), view: view, now: now, calendar: calendar)
        // Names of children are referral content: who read the queue is on the record.
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: context.user!.name, action: "read-queue", record: nil, detail: "view=\(view.rawValue) referrals=\(entries.count)"))
        context.logger.info("intake queue read", metadata: ["referrals": "\(entries.count)", "view": "\(view.rawValue)"])
        return try SyncRoutes.json(entries)
    }

    /// `rows` as the queue lists them in `view`: immediate risk first, then
    /// by the acknowledgement deadline (`calendar`), then first submitted first.
    static func queue(_ rows: [SubmittedReferral], view: QueueView, now: Date, calendar: WorkingCalendar) -> [QueueEntry] {
        rows.enumerated().map { position, row in
            let submitted = Timestamp.date(row.submittedAt) ?? now
            let due = calendar.acknowledgementDue(receivedAt: submitted)
            let entry = QueueEntry(
                id: row.id, kind: row.kind, receipt: row.receipt, submittedAt: row.submittedAt,
                acknowledged: row.acknowledgedAt != nil, acknowledgedAt: row.acknowledgedAt,
                ackDue: Timestamp.string(due), overdue: row.acknowledgedAt == nil && now > due, outcome: row.outcome,
                changedAt: row.changedAt, openConflicts: row.openConflicts, childName: row.childName, children: row.children,
                agency: row.agency, immediateRisk: row.immediateRisk)
            return (entry: entry, due: due, position: position)
        }
        .filter { $0.entry.belongs(in: view) }
        .sorted { ($0.entry.immediateRisk ? 0 : 1, $0.due, $0.position) < ($1.entry.immediateRisk ? 0 : 1, $1.due, $1.position) }
        .map(\.entry)
    }

    @Sendable func referral(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard var document = try await storage.document(id), document.fields[RecordPath.status] == ReferralStatus.submitted.rawValue else {
            throw APIError(.notFound, "No submitted referral has id '\(id.prefix(40))'.")
        }
        // What changed after the front door saw it, and what waits for an admin.
        document.conflicts = frontDoor.forms.labelled(try await storage.conflicts(all: false).filter { $0.record == id })
        document.changes = try await storage.changesSinceFrontDoor(of: id)
        // Every read of referral content is attributable.
        try await storage.audit(AuditEvent(at: Timestamp.string(frontDoor.clock.now()), actor: context.user!.name, action: "read", record: id, detail: ""))
        context.logger.notice("referral read", metadata: ["record": "\(id)"])
        return try SyncRoutes.json(document)
    }

    @Sendable func acknowledge(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        let result = try await storage.recorded { try await frontDoor.acknowledge(id, by: user, device: device, in: $0) } audit: {
            AuditEvent(at: $0.acknowledgedAt, actor: user.name, action: "acknowledge", record: id, detail: "device=\(device)")
        }
        context.logger.notice("referral acknowledged", metadata: ["record": "\(id)"])
        return try SyncRoutes.json(result)
    }

    @Sendable func decide(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(DecisionRequest.self, from: &request)
        let result = try await storage.recorded { try await frontDoor.decide(id, body, by: user, device: device, in: $0) } audit: {
            // The reason is the worker's words about the referral: the record keeps it, the audit line does not.
            AuditEvent(
                at: $0.decidedAt, actor: user.name, action: $0.number == 1 ? "decide" : "change-decision", record: id,
                detail: "device=\(device) outcome=\($0.outcome) decision=\($0.number)")
        }
        context.logger.notice("referral decided", metadata: ["record": "\(id)", "outcome": "\(body.outcome)", "decision": "\(result.number)"])
        return try SyncRoutes.json(result)
    }
}
