import Foundation
import Hummingbird
import SyncCore

/// One attachment's page (`ConsoleTemplates.attachment`): what it is, who
/// attached it, and the file itself only because the reader opened it.
struct AttachmentPage {
    let id: String
    let reference: String
    let position: Int
    let count: Int
    let label: String
    let kind: String
    let size: String
    let attachedBy: String
    let device: String
    let at: String
    let sha256: String
    let image: Bool
    let pdf: Bool
    let content: String
    let download: String
}

extension ConsoleRoutes {
    /// `GET /console/referrals/{id}/attachments/{sha256}` (intake, admin):
    /// the attachment's page; its bytes come from `…/content` (audited there).
    @Sendable func attachmentPage(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let (id, sha256) = try attachmentParameters(context, staff: staff)
        guard UUID(uuidString: id) != nil, let document = try await storage.document(id),
              try await storage.recordStatuses([id])[id] == ReferralStatus.submitted.rawValue
        else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))'.", staff: staff)
        }
        let listed = try await storage.attachments(of: id)
        guard let index = listed.firstIndex(where: { $0.sha256 == sha256 }), let stored = listed[index].stored, stored.receivedAt != nil else {
            throw ConsoleError(.notFound, "Referral \(document.reference) has no attachment sha256:\(sha256.prefix(12))….", staff: staff)
        }
        let attachment = listed[index]
        let kind = AttachmentMediaType(rawValue: stored.mediaType)
        let base = "/console/referrals/\(id)/attachments/\(sha256)"
        let page = AttachmentPage(
            id: id, reference: document.reference, position: index + 1, count: listed.count, label: attachment.label ?? "Attachment \(index + 1)",
            kind: kind?.name ?? stored.mediaType, size: stored.size.byteCount, attachedBy: attachment.attachedBy,
            device: deviceName(attachment.device), at: local(attachment.at), sha256: sha256, image: kind == .jpeg || kind == .png, pdf: kind == .pdf,
            content: base + "/content", download: base + "/download")
        return try self.page("attachment", title: "\(page.label), referral \(document.reference)", staff: staff, page)
    }

    /// `GET /console/referrals/{id}/attachments/{sha256}/content`: the bytes,
    /// shown in the browser, audited as `attachment-view`.
    @Sendable func attachmentContent(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try await attachmentFile(request, context, inline: true)
    }

    /// `GET /console/referrals/{id}/attachments/{sha256}/download`: the bytes
    /// as a download, audited as `attachment-download`.
    @Sendable func attachmentDownload(_ request: Request, context: SyncRequestContext) async throws -> Response {
        try await attachmentFile(request, context, inline: false)
    }

    private func attachmentFile(_ request: Request, _ context: SyncRequestContext, inline: Bool) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        let (id, sha256) = try attachmentParameters(context, staff: staff)
        let stored: StoredAttachment, content: Data
        do {
            (stored, content) = try await AttachmentRoutes.content(of: sha256, in: id, storage: storage)
        } catch let error as APIError {
            throw ConsoleError(.notFound, error.message, staff: staff)
        }
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: inline ? "attachment-view" : "attachment-download", record: id,
            detail: "sha256=\(sha256) bytes=\(stored.size) console"))
        context.logger.notice("attachment read", metadata: ["record": "\(id)", "via": "console", "inline": "\(inline)"])
        return AttachmentRoutes.file(stored, content, inline: inline)
    }

    private func attachmentParameters(_ context: SyncRequestContext, staff: Staff) throws -> (String, String) {
        let id = try context.parameters.require("id")
        let sha256 = try context.parameters.require("sha256")
        guard AttachmentReference(sha256: sha256) != nil else {
            throw ConsoleError(.notFound, "'\(sha256.prefix(80))' is not an attachment's SHA-256.", staff: staff)
        }
        return (id, sha256)
    }
}
