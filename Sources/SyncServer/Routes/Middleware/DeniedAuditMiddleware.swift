import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// Writes an audit entry (`denied`) for each refused request to an audited
/// route (`DeniedAudit.isAudited`): a 401, 403 or 404, thrown or returned,
/// and on the console the redirect to sign in that a page answers without a
/// live session. Put outside the API's `AuthenticationMiddleware` (so it
/// sees its 401s) and inside the console's `ConsoleMiddleware` (so it sees
/// the refusals that become pages).
struct DeniedAuditMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let audit: DeniedAudit

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            let response = try await next(request, context)
            // A console page answers "sign in first" by throwing; a returned 303 is a write's redirect.
            if response.status != .seeOther, let attempt = DeniedAudit.attempt(status: Int(response.status.code), request, context) {
                await audit.note(attempt, logger: context.logger)
            }
            return response
        } catch let error as any HTTPResponseError {
            let status = Int(error.status.code)
            if status != 303 || (error as? ConsoleError)?.status == .seeOther, let attempt = DeniedAudit.attempt(status: status, request, context) {
                await audit.note(attempt, logger: context.logger)
            }
            throw error
        }
    }
}
