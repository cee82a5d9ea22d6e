import Foundation
import Hummingbird
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
