import Foundation
import Hummingbird
import HummingbirdTLS
import Logging
import HTTPTypes
import SyncCore

/// One log line per request: method, route, status and time. Never bodies,
/// tokens or query values, so no referral content reaches the logs.
/// (Hummingbird's `LogRequestsMiddleware` logs the whole URI, query
/// included: a console search's child's name would reach the log.)
struct RequestLogMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        do {
            let response = try await next(request, context)
            context.logger.info("request", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
                "ms": "\(Self.milliseconds(since: start))",
            ])
            return response
        } catch let error as any HTTPResponseError {
            context.logger.notice("request refused", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "status": "\(error.status.code)",
                "ms": "\(Self.milliseconds(since: start))",
            ])
            throw error
        } catch {
            context.logger.error("request failed", metadata: [
                "method": "\(request.method)", "path": "\(request.uri.path)", "error": "\(type(of: error))",
            ])
            throw error
        }
    }

    static func milliseconds(since start: ContinuousClock.Instant) -> String {
        let elapsed = ContinuousClock.now - start
        return String(format: "%.2f", Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)
    }
}
