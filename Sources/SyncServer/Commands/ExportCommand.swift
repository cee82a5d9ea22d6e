import ArgumentParser
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SyncCore

/// `sync-server export`: submitted referrals for a case-management system,
/// on standard output, a page at a time (docs/export.md).
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write submitted referrals changed after a cursor as FHIR R4, CSV or JSON on standard output; the next cursor on standard error.",
        discussion: "Start with --since 0 and pass the printed cursor next time: a referral changed again (a new decision, a late edit) comes again. The same as GET /v1/export for intake and admin users. Every export is an audit entry.")
    @Option(help: "The cursor an earlier export printed; 0 for everything.") var since: Int64 = 0
    @Option(help: "fhir, csv or json.") var format = "json"
    @Option(help: "At most this many referrals (1 to 1,000).") var limit = 100
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let (since, format, limit): (Int64, ExportFormat, Int)
        do {
            (since, format, limit) = try ExportRoutes.parameters(since: String(self.since), format: self.format, limit: String(self.limit))
        } catch let error as APIError {
            throw OperatorError(error.message)
        }
        let store = try await storage.open()
        var page = try await store.exportPage(since: since, limit: limit)
        if format == .fhir { try await page.addAttachments(from: store) }
        // The same Patient for the same child across referrals, as GET /v1/export gives it.
        let patients = format == .fhir ? try await ExportPatients.read(for: page, in: store) : ExportPatients()
        let body = try format.render(
            page, form: try await FormRegistry(storage: store).reload().union, next: "/v1/export?format=\(format.rawValue)&since=\(page.cursor)&limit=\(limit)",
            patients: patients)
        try await store.audit(ExportRoutes.auditEvent(page, format: format, since: since, actor: OperatorActor.current, at: Timestamp.string(Date())))
        FileHandle.standardOutput.write(body)
        FileHandle.standardError.write(Data("Exported \(page.referrals.count) referral(s); next cursor \(page.cursor)\(page.more ? " (more waiting)" : "").\n".utf8))
    }
}
