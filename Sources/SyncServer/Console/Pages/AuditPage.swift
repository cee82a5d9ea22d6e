import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The admins' view of the audit trail, with its chain check (`ConsoleTemplates.audit`).
struct AuditPage {
    struct Entry {
        let id: Int64
        let at: String
        let actor: String
        let action: String
        let record: String
        let detail: String
    }

    let verification: String
    let verifiedClass: String
    let user: String
    let referral: String
    let action: String
    let caption: String
    let entries: [Entry]
}

extension ConsoleRoutes {
    @Sendable func audit(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.admin])
        struct Query: Decodable {
            var user: String?
            var action: String?
            var referral: String?
        }
        let query = try Self.query(Query.self, request, staff: staff)
        func given(_ value: String?) -> String? {
            value.flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) }
        }
        let filter = AuditFilter(actor: given(query.user), action: given(query.action), record: given(query.referral)?.lowercased(), limit: 500)
        if let record = filter.record, !record.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
            throw ConsoleError(.badRequest, "'\(record.prefix(40))' is not a referral id or the start of one (hex digits and hyphens).", staff: staff)
        }
        let verification = try await storage.verifyAudit()
        let entries = try await storage.auditEntries(filter)
        try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read-audit", record: nil, detail: "console"))
        let verified: String
        switch verification {
        case .intact(let count): verified = "intact: \(count) entries, each chained to the one before."
        case .broken(let id, let description): verified = "BROKEN at entry \(id): \(description). Tell the operator (docs/operations.md)."
        }
        let caption = "\(entries.count) entr\(entries.count == 1 ? "y" : "ies"), newest first" + (entries.count == filter.limit ? " (the newest \(filter.limit))" : "")
        let verifiedClass: String = if case .intact = verification { "verified" } else { "broken" }
        return try page(
            "audit", title: "Audit trail", staff: staff, current: .audit,
            AuditPage(
                verification: verified, verifiedClass: verifiedClass, user: filter.actor ?? "", referral: filter.record ?? "", action: filter.action ?? "",
                caption: caption,
                entries: entries.reversed().map {
                    AuditPage.Entry(
                        id: $0.id, at: local($0.event.at), actor: $0.event.actor, action: $0.event.action, record: $0.event.record ?? "",
                        detail: $0.event.detail)
                }))
    }

}
