import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// Bearer tokens: 256 random bits, shown once when a user is added; the server
/// keeps only their SHA-256.
enum Tokens {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return "fld_" + bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func hash(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// The request context: who is calling, once authenticated.
struct SyncRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var user: User?

    init(source: Source) {
        coreContext = .init(source: source)
    }
}

/// Resolves `Authorization: Bearer <token>` to a user; 401 otherwise. The
/// token itself is never logged.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let storage: any SyncStorage

    static let revokedMessage = "This device has been revoked: it must erase its referral data now."

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw APIError(.unauthorized, "Send a bearer token: `Authorization: Bearer <token>`.")
        }
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        guard let user = try storage.user(tokenHash: Tokens.hash(token)) else {
            throw APIError(.unauthorized, "The token is not valid.")
        }
        var context = context
        context.user = user
        context.logger[metadataKey: "user"] = "\(user.name)"
        // A revoked device gets 410 on everything but its report that it erased its data.
        if let device = request.headers[HTTPField.Name("Field-Device")!], request.uri.path != "/v1/devices/wiped",
            try storage.isRevoked(device: device)
        {
            throw APIError(.gone, Self.revokedMessage)
        }
        return try await next(request, context)
    }
}

/// An error that chooses its own status and answers `{"error": {"message": …}}`.
struct APIError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String

    init(_ status: HTTPResponse.Status, _ message: String) {
        self.status = status
        self.message = message
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(ErrorBody(message: message))
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
