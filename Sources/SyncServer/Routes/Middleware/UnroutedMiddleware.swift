import Foundation
import Hummingbird
import HummingbirdTLS
import HTTPTypes
import SyncCore

/// Answers requests no route took: 405 with `Allow` for a known path asked with
/// another method, a JSON 404 for an unknown path.
struct UnroutedMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    /// Path templates (`/v1/intake/referrals/{id}`) split into components, with their methods.
    let templates: [(components: [Substring], methods: [String])]

    init(routes: [(HTTPRequest.Method, String)]) {
        var methods: [String: [String]] = [:]
        for (method, path) in routes { methods[path, default: []].append(method.rawValue) }
        templates = methods.map { (path, methods) in (path.split(separator: "/"), methods.sorted()) }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let components = request.uri.path.split(separator: "/")
        let allowed = templates.filter { template in
            template.components.count == components.count
                && zip(template.components, components).allSatisfy { $0.hasPrefix("{") || $0 == $1 }
        }.flatMap(\.methods)
        guard allowed.isEmpty else {
            let list = allowed.sorted().joined(separator: ", ")
            if request.uri.path.hasPrefix("/console") {
                throw ConsoleError(
                    .methodNotAllowed, "This console address answers \(list) only; open the page from the console's links.", headers: [.allow: list])
            }
            throw APIError(
                .methodNotAllowed, "\(request.method.rawValue.prefix(20)) is not a method of this route; it answers \(list).",
                headers: [.allow: list])
        }
        if request.uri.path.hasPrefix("/console/") {
            throw ConsoleError(.notFound, "The console has no page '\(request.uri.path.prefix(60))'.")
        }
        throw APIError(.notFound, "There is no route '\(request.uri.path.prefix(60))'.")
    }
}
