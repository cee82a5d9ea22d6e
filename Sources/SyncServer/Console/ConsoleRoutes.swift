import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// `/console/…`: the front door's web console (docs/console.md). Server-rendered
/// pages (`ConsoleTemplates`), no script; every form is a POST with a CSRF
/// token. Intake works the queue and its referrals; admins settle conflicts,
/// revoke devices and read the audit trail. Writes go through the same
/// engines as the API (`FrontDoor`, `ConflictResolution`, `SyncStorage.revoke`),
/// each with its audit entry in the same transaction; the change log
/// records them with the device `ConsoleDevice.id`. A referral the user may
/// not see is a 404, as through the API.
struct ConsoleRoutes {
    let storage: any SyncStorage
    let sessions: ConsoleSessions
    let frontDoor: FrontDoor
    let resolution: ConflictResolution
    let calendar: WorkingCalendar
    let authority: Authority
    /// Where a refused page (no session, another role, a referral not there, a missing CSRF token) is audited.
    let deniedAudit: DeniedAudit

    var clock: any WallClock { frontDoor.clock }

    func add(to router: Router<SyncRequestContext>) {
        // Inside the error pages' middleware, so the refusals are seen as they are thrown.
        let console = router.group("console").add(middleware: ConsoleMiddleware()).add(middleware: DeniedAuditMiddleware(audit: deniedAudit))
        console.get(use: home)
        console.get("style.css", use: style)
        console.get("sign-in", use: signInPage)
        console.post("sign-in", use: signIn)
        console.post("sign-out", use: signOut)
        console.get("queue", use: queue)
        console.get("queue.csv", use: queueCSV)
        console.get("referrals/:id", use: referral)
        console.get("referrals/:id/history", use: history)
        console.get("referrals/:id/history.csv", use: historyCSV)
        console.get("referrals/:id/children/:item", use: chronology)
        console.get("referrals/:id/attachments/:sha256", use: attachmentPage)
        console.get("referrals/:id/attachments/:sha256/content", use: attachmentContent)
        console.get("referrals/:id/attachments/:sha256/download", use: attachmentDownload)
        console.post("referrals/:id/matches", use: decideMatch)
        console.post("referrals/:id/acknowledge", use: acknowledge)
        console.post("referrals/:id/rating", use: rate)
        console.post("referrals/:id/seen", use: seen)
        console.post("referrals/:id/decision", use: decide)
        console.get("conflicts", use: conflicts)
        console.post("conflicts/:id/resolve", use: resolve)
        console.get("devices", use: devices)
        console.get("devices/:id/revoke", use: confirmRevoke)
        console.post("devices/:id/revoke", use: revoke)
        console.get("audit", use: audit)
    }

    static func start(for role: Role) -> String { role == .admin ? "/console/conflicts" : "/console/queue" }

    @Sendable func style(_ request: Request, context: SyncRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: ConsoleTemplates.stylesheet)))
    }

    // MARK: Support

    /// A POST's form, after its session and CSRF token are checked: the
    /// staff member, the `:id` parameter and the form.
    func staffForm<F: Decodable>(
        _ type: F.Type, _ request: Request, _ context: SyncRequestContext, roles: Set<Role>, csrf: (F) -> String?
    ) async throws -> (Staff, String, F) {
        let staff = try await sessions.require(request, context, roles: roles)
        let form = try await Self.form(type, request)
        try ConsoleSessions.checkCSRF(csrf(form), expected: staff.csrf, staff: staff)
        return (staff, try context.parameters.require("id"), form)
    }

    /// The largest form body read (bytes).
    static let maximumForm = 64 * 1024

    /// Decodes an `application/x-www-form-urlencoded` body.
    /// - Throws: `ConsoleError` 413 past `maximumForm`, 400 for a body that is not a form.
    static func form<F: Decodable>(_ type: F.Type, _ request: Request) async throws -> F {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maximumForm)
        } catch {
            throw ConsoleError(.contentTooLarge, "The form is larger than \(maximumForm / 1024) KiB, so nothing was changed.")
        }
        do {
            return try URLEncodedFormDecoder().decode(type, from: String(buffer: buffer))
        } catch {
            throw ConsoleError(.badRequest, "The form could not be read (a field is malformed), so nothing was changed.")
        }
    }

    /// Which page of the navigation is the current one.
    enum Section: Sendable {
        case queue, conflicts, devices, audit
    }

    /// Renders `template` with its page model (a struct: swift-mustache
    /// reads its stored properties) inside the layout, with the security headers.
    func page(
        _ template: String, title: String, staff: Staff?, current: Section? = nil, status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:], _ model: Any
    ) throws -> Response {
        try Self.page(template, title: title, staff: staff, current: current, status: status, headers: headers, model)
    }

    static func page(
        _ template: String, title: String, staff: Staff?, current: Section? = nil, status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:], _ model: Any
    ) throws -> Response {
        let body = ConsoleTemplates.library.render(model, withTemplate: template) ?? ""
        let layout = LayoutPage(title: title, body: body, staff: staff.map { LayoutPage.Navigation(staff: $0, current: current) })
        let html = ConsoleTemplates.library.render(layout, withTemplate: "layout") ?? ""
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// What a page says after a write's redirect (`?done=…`, `?revoked=ID`).
    struct DoneQuery: Decodable {
        var done: String?
        var revoked: String?
    }

    /// A GET's query string decoded into `T` (Hummingbird's `URLEncodedFormDecoder`: `+` is a space).
    /// - Throws: `ConsoleError` 400 when a parameter is malformed.
    static func query<T: Decodable>(_ type: T.Type, _ request: Request, staff: Staff) throws -> T {
        do {
            return try URLEncodedFormDecoder().decode(type, from: request.uri.query ?? "")
        } catch {
            throw ConsoleError(.badRequest, "The address's query could not be read (a parameter is malformed).", staff: staff)
        }
    }

    /// A stored timestamp in the authority's local time: `Wed 25 Nov 2026 10:00`.
    func local(_ timestamp: String) -> String {
        guard let date = Timestamp.date(timestamp) else { return timestamp }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = TimeZone(identifier: authority.timeZone)
        formatter.dateFormat = "EEE d MMM yyyy HH:mm"
        return formatter.string(from: date)
    }

    /// A stored value as people read it (a choice's label, not its key).
    func display(_ value: String?, at path: String) -> String {
        guard let value else { return "(cleared)" }
        return frontDoor.form.field(atStoredPath: path)?.1.type.display(value) ?? value
    }

    /// The answers a choice or yes/no question takes, as people type them; nil for free text.
    func choices(at path: String) -> String? {
        switch frontDoor.form.field(atStoredPath: path)?.1.type {
        case .choice(let options)?, .multiChoice(let options)?: options.map(\.label).joined(separator: ", ")
        case .yesNo?: "yes, no"
        default: nil
        }
    }

    func deviceName(_ device: String) -> String {
        device == ConsoleDevice.id ? "web console" : device == ServerDevice.id ? "the server" : "device …\(device.suffix(4))"
    }
}
