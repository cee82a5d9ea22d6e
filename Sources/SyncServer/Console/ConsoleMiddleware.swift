import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// The console's security headers on every answer, and its errors as pages:
/// no framing, no script, nothing from elsewhere, nothing cached.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    static let headers: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as ConsoleError {
            response = try error.response(from: request, context: context)
        } catch let error as StorageError {
            response = try ConsoleError(StorageErrorMiddleware.status(of: error), error.description).response(from: request, context: context)
        } catch let error as APIError {
            // A refusal from the shared engines (a 404 for an id the user may not see, …): a page, not JSON.
            response = try ConsoleError(error.status, error.message).response(from: request, context: context)
        }
        for field in Self.headers where response.headers[field.name] == nil || field.name == .cacheControl {
            response.headers[field.name] = field.value
        }
        return response
    }
}
