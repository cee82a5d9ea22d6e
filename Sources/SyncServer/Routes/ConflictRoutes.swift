import Foundation
import Hummingbird
import SyncCore

/// `/v1/conflicts/…` (admin role): the open (or all) conflicts with every
/// candidate, and their resolution.
struct ConflictRoutes {
    let storage: any SyncStorage
    let resolution: ConflictResolution

    func add(to api: RouterGroup<SyncRequestContext>) {
        let admin = api.group("conflicts").add(middleware: RoleGuard(roles: [.admin]))
        admin.get(use: conflicts)
        admin.post(":id/resolve", use: resolve)
    }

    @Sendable func conflicts(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let status = request.uri.queryParameters.get("status") ?? "open"
        guard ["open", "all"].contains(status) else {
            throw APIError(.badRequest, "'status' must be open or all; got '\(status.prefix(40))'.")
        }
        let all = status == "all"
        let conflicts = resolution.forms.labelled(try await storage.conflicts(all: all))
        try await storage.audit(AuditEvent(
            at: Timestamp.string(resolution.clock.now()), actor: context.user!.name, action: "read-conflicts", record: nil,
            detail: "records=\(Set(conflicts.map(\.record)).sorted().joined(separator: ","))"))
        return try SyncRoutes.json(conflicts)
    }

    @Sendable func resolve(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let body = try await SyncRoutes.decode(ResolutionRequest.self, from: &request)
        let result = try await resolution.record(id, body, by: user, device: device, in: storage)
        context.logger.notice("conflict resolved", metadata: ["conflict": "\(id)", "revision": "\(result.revision)"])
        return try SyncRoutes.json(result)
    }
}
