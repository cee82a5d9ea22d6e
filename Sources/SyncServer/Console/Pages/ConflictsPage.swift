import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The admins' conflicts page (`ConsoleTemplates.conflicts`): open conflicts with every candidate, and the resolved ones.
struct ConflictsPage {
    struct Candidate {
        let conflict: String
        let number: Int
        let value: String
        let author: String
        let device: String
        let time: String
    }

    struct Open {
        let id: String
        let record: String
        let path: String
        let question: String
        let csrf: String
        /// The answers a choice question takes, as people type them; nil for free text.
        let choices: String?
        let candidates: [Candidate]
    }

    struct Resolved {
        let question: String
        let record: String
        let value: String
        let by: String
        let at: String
        let reason: String
    }

    let open: [Open]
    let resolved: [Resolved]
    let hasResolved: Bool
    let notice: String?
    let error: String?
}

extension ConsoleRoutes {
    @Sendable func conflicts(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.admin])
        let notice = try Self.query(DoneQuery.self, request, staff: staff).done == "resolved" ? "Conflict resolved; every device gets the value on its next sync." : nil
        return try await conflictsPage(staff: staff, notice: notice)
    }

    private func conflictsPage(staff: Staff, status: HTTPResponse.Status = .ok, notice: String? = nil, error: String? = nil) async throws -> Response {
        let all = frontDoor.forms.labelled(try await storage.conflicts(all: true))
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read-conflicts", record: nil,
            detail: "records=\(Set(all.map(\.record)).sorted().joined(separator: ",")) console"))
        let open = all.filter { $0.status == "open" }.map { conflict in
            ConflictsPage.Open(
                id: conflict.id, record: conflict.record, path: conflict.path, question: conflict.question, csrf: staff.csrf,
                choices: choices(at: conflict.path),
                candidates: conflict.candidates.enumerated().map { index, candidate in
                    ConflictsPage.Candidate(
                        conflict: conflict.id, number: index + 1, value: display(candidate.value, at: conflict.path),
                        author: candidate.author, device: deviceName(candidate.device), time: local(candidate.time))
                })
        }
        let resolved = all.compactMap { conflict -> ConflictsPage.Resolved? in
            guard let decision = conflict.resolution else { return nil }
            return ConflictsPage.Resolved(
                question: conflict.question, record: conflict.record, value: display(decision.value, at: conflict.path),
                by: decision.by, at: local(decision.at), reason: decision.reason)
        }
        return try page(
            "conflicts", title: "Conflicts", staff: staff, current: .conflicts, status: status,
            ConflictsPage(open: open, resolved: resolved, hasResolved: !resolved.isEmpty, notice: notice, error: error))
    }

    struct ResolveForm: Decodable {
        var csrf: String?
        var pick: String?
        var value: String?
        var reason: String?
    }

    @Sendable func resolve(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(ResolveForm.self, request, context, roles: [.admin]) { $0.csrf }
        let value = form.value.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        let pick = value == nil ? form.pick.flatMap { Int($0) } : nil
        if value == nil, pick == nil {
            return try await conflictsPage(staff: staff, status: .badRequest, error: "Pick a candidate or write a merged value, and give a reason; nothing was changed.")
        }
        let conflict = frontDoor.forms.labelled(try await storage.conflicts(all: true)).first { $0.id == id }
        var stored = value
        // A merged value is typed as people read it ("Given", "14/03/2019"): stored as the form keeps it.
        if let typed = value, let path = conflict?.path, let field = frontDoor.form.field(atStoredPath: path)?.1 {
            do {
                stored = try field.type.normalize(typed, now: clock.now(), timeZone: TimeZone(identifier: authority.timeZone) ?? .gmt)
            } catch {
                return try await conflictsPage(staff: staff, status: .badRequest, error: "\(error) Nothing was changed.")
            }
        }
        let body = ResolutionRequest(pick: pick, value: stored, reason: form.reason ?? "")
        do {
            let result = try await resolution.record(id, body, by: staff.user, device: ConsoleDevice.id, in: storage)
            context.logger.notice("conflict resolved", metadata: ["conflict": "\(id)", "revision": "\(result.revision)", "via": "console"])
            return .redirect(to: "/console/conflicts?done=resolved", type: .normal)
        } catch let error as APIError {
            return try await conflictsPage(staff: staff, status: error.status, error: error.message)
        }
    }

}
