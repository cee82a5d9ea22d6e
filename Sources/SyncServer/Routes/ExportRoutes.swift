import Foundation
import Hummingbird
import NIOCore
import SyncCore

/// `GET /v1/export` (intake and admin roles): submitted referrals for a
/// case-management system, a page at a time, resumable by cursor
/// (docs/export.md). Every page served is an audit entry naming its referrals.
struct ExportRoutes {
    let storage: any SyncStorage
    let forms: FormRegistry
    let clock: any WallClock

    /// The most referrals one page may hold.
    static let maximumPage = 1_000

    func add(to api: RouterGroup<SyncRequestContext>) {
        api.group("export").add(middleware: RoleGuard(roles: [.intake, .admin])).get(use: export)
    }

    /// The query's cursor, format and page size, each checked.
    /// - Throws: `APIError` 400 naming the bad value.
    static func parameters(since: String?, format: String?, limit: String?) throws -> (Int64, ExportFormat, Int) {
        let sinceText = since ?? "0"
        guard let cursor = Int64(sinceText), cursor >= 0 else {
            throw APIError(.badRequest, "'since' must be a cursor from an earlier export (a whole number from 0); got '\(sinceText.prefix(40))'.")
        }
        let formatText = format ?? "json"
        guard let format = ExportFormat(rawValue: formatText) else {
            throw APIError(.badRequest, "'format' must be one of \(ExportFormat.allCases.map(\.rawValue).joined(separator: ", ")); got '\(formatText.prefix(40))'.")
        }
        let limitText = limit ?? "100"
        guard let size = Int(limitText), (1...maximumPage).contains(size) else {
            throw APIError(.badRequest, "'limit' must be a whole number from 1 to \(maximumPage); got '\(limitText.prefix(40))'.")
        }
        return (cursor, format, size)
    }

    @Sendable func export(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let query = request.uri.queryParameters
        let (since, format, limit) = try Self.parameters(since: query.get("since"), format: query.get("format"), limit: query.get("limit"))
        var page = try await storage.exportPage(since: since, limit: limit)
        if format == .fhir { try await page.addAttachments(from: storage) }
        let patients = format == .fhir ? try await ExportPatients.read(for: page, in: storage) : ExportPatients()
        let body = try format.render(
            page, form: try await forms.reload().union, next: "/v1/export?format=\(format.rawValue)&since=\(page.cursor)&limit=\(limit)", patients: patients)
        try await storage.audit(Self.auditEvent(page, format: format, since: since, actor: context.user!.name, at: Timestamp.string(clock.now())))
        context.logger.notice("export served", metadata: ["format": "\(format.rawValue)", "referrals": "\(page.referrals.count)"])
        var response = Response(status: .ok, headers: [.contentType: format.contentType], body: .init(byteBuffer: ByteBuffer(bytes: body)))
        response.headers[.init("Export-Cursor")!] = String(page.cursor)
        response.headers[.init("Export-More")!] = page.more ? "true" : "false"
        return response
    }

    /// Who exported which referrals, never their content.
    static func auditEvent(_ page: ExportPage, format: ExportFormat, since: Int64, actor: String, at: String) -> AuditEvent {
        AuditEvent(
            at: at, actor: actor, action: "export", record: nil,
            detail: "format=\(format.rawValue) since=\(since) cursor=\(page.cursor) referrals=\(page.referrals.count) records=\(page.referrals.map(\.document.id).joined(separator: ","))")
    }
}
