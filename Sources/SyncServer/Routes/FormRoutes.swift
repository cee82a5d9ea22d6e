import Foundation
import Hummingbird
import NIOCore
import SyncCore

/// `GET /v1/forms` and `GET /v1/forms/{version}` (every signed-in role): the
/// published form versions, which devices fetch when a pull says a newer one
/// exists (docs/form.md, docs/protocol.md "Form versions").
struct FormRoutes {
    let storage: any SyncStorage
    let forms: FormRegistry

    func add(to api: RouterGroup<SyncRequestContext>) {
        api.get("forms", use: list)
        api.get("forms/{version}", use: version)
    }

    /// Every version: number, SHA-256 of its document, when and by whom published.
    @Sendable func list(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let published = try await storage.publishedForms()
        let builtIn = FormVersionSummary(version: 1, digest: ReferralForm.standard.document.digest, publishedAt: nil, publishedBy: nil)
        let versions = [builtIn] + published.map {
            FormVersionSummary(version: $0.version, digest: $0.digest, publishedAt: $0.publishedAt, publishedBy: $0.publishedBy)
        }
        return try SyncRoutes.json(FormVersionList(latest: versions.count, versions: versions))
    }

    /// One version's form document (`FormDocument`, keys sorted).
    /// - Throws: `APIError` 400 for a version that is not a whole number from
    ///   1, 404 for one not published.
    @Sendable func version(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let text = try context.parameters.require("version")
        guard let number = Int(text), number >= 1, String(number) == text else {
            throw APIError(.badRequest, "'\(text.prefix(40))' is not a form version (a whole number from 1).")
        }
        let catalog = try await forms.catalog(holding: number)
        guard let form = catalog.form(version: number) else {
            throw APIError(.notFound, "Form version \(number) is not published; the newest is \(catalog.latest.version).")
        }
        var response = Response(
            status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: form.document.encoded())))
        response.headers[.eTag] = "\"\(form.document.digest)\""
        return response
    }

}
