import Foundation
import Hummingbird
import SyncCore

/// `GET /v1/keys`: the public half of every receipt key the server has had
/// (a JWK set, RFC 7517 §5; each key RFC 8037's Ed25519 JWK with its
/// thumbprint as `kid`, and when it was made and retired). Open to anyone:
/// whoever checks a receipt needs them, and they are public. A device pins
/// them at `field login` (docs/security.md).
struct ReceiptKeyRoutes {
    let storage: any SyncStorage

    @Sendable func keys(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let set = ReceiptKeySet(keys: try await storage.receiptKeys())
        var response = try SyncRoutes.json(set)
        response.headers[.contentType] = "application/jwk-set+json"
        return response
    }
}
