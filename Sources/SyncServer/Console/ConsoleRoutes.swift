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

    var clock: any WallClock { frontDoor.clock }

    func add(to router: Router<SyncRequestContext>) {
        let console = router.group("console").add(middleware: ConsoleMiddleware())
        console.get(use: home)
        console.get("style.css", use: style)
        console.get("sign-in", use: signInPage)
        console.post("sign-in", use: signIn)
        console.post("sign-out", use: signOut)
        console.get("queue", use: queue)
        console.get("referrals/:id", use: referral)
        console.post("referrals/:id/acknowledge", use: acknowledge)
        console.post("referrals/:id/rating", use: rate)
        console.post("referrals/:id/decision", use: decide)
        console.get("conflicts", use: conflicts)
        console.post("conflicts/:id/resolve", use: resolve)
        console.get("devices", use: devices)
        console.get("devices/:id/revoke", use: confirmRevoke)
        console.post("devices/:id/revoke", use: revoke)
        console.get("audit", use: audit)
    }

    // MARK: Signing in and out

    @Sendable func home(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.intake, .admin])
        return .redirect(to: Self.start(for: staff.user.role), type: .normal)
    }

    static func start(for role: Role) -> String { role == .admin ? "/console/conflicts" : "/console/queue" }

    @Sendable func style(_ request: Request, context: SyncRequestContext) async throws -> Response {
        Response(
            status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-cache"],
            body: .init(byteBuffer: ByteBuffer(string: ConsoleTemplates.stylesheet)))
    }

    @Sendable func signInPage(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let notice = request.uri.queryParameters.get("done") == "signed-out" ? "You have signed out." : nil
        return try signInForm(status: .ok, username: "", error: nil, notice: notice, existing: request.cookies[sessions.signInCookieName]?.value)
    }

    /// The sign-in form with its CSRF value, sent as a cookie too: the one
    /// the browser already holds (so that two open sign-in pages both
    /// work), else a new one.
    private func signInForm(
        status: HTTPResponse.Status, username: String, error: String?, notice: String? = nil, existing: String? = nil, headers: HTTPFields = [:]
    ) throws -> Response {
        let csrf = existing.flatMap(ConsoleSessions.wellFormedSignInToken) ?? Tokens.make(prefix: "")
        var response = try page("sign-in", title: "Sign in", staff: nil, status: status, headers: headers, [
            "csrf": csrf, "username": username, "error": error as Any, "notice": notice as Any,
        ])
        response.setCookie(sessions.signInCookie(csrf, maxAge: 3600))
        return response
    }

    struct SignInForm: Decodable {
        var csrf: String?
        var username: String?
        var password: String?
        var code: String?
    }

    @Sendable func signIn(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let form = try await Self.form(SignInForm.self, request)
        // Both the cookie set with the form and the form's copy of it, or
        // nothing: a page on another site can send neither (the cookie is
        // SameSite=Strict), so it cannot sign a duty worker in as someone else.
        guard let expected = request.cookies[sessions.signInCookieName].flatMap({ ConsoleSessions.wellFormedSignInToken($0.value) }) else {
            throw ConsoleError(
                .forbidden,
                "This sign-in did not come from the console's own sign-in page (its security cookie is missing), so nobody was signed in; open the sign-in page and try again.")
        }
        try ConsoleSessions.checkCSRF(form.csrf, expected: expected)
        let name = (form.username ?? "").trimmingCharacters(in: .whitespaces)
        let code = form.code.flatMap { $0.isEmpty ? nil : $0 }
        do {
            let (staff, _) = try await sessions.signIn(
                name: name, password: form.password ?? "", code: code, address: context.remoteAddress ?? "unknown")
            try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "console-sign-in", record: nil, detail: ""))
            context.logger.notice("console sign-in", metadata: ["user": "\(staff.user.name)"])
            var response = Response.redirect(to: Self.start(for: staff.user.role), type: .normal)
            response.setCookie(sessions.sessionCookie(staff.token))
            response.setCookie(sessions.signInCookie("", maxAge: 0))
            return response
        } catch let refusal as ConsoleSessions.Refusal {
            context.logger.notice("console sign-in refused", metadata: ["reason": "\(refusal)"])
            switch refusal {
            case .credentials:
                return try signInForm(status: .unauthorized, username: name, error: Self.wrongCredentials)
            case .disabled:
                return try signInForm(
                    status: .forbidden, username: name, error: "This account has been disabled; ask the operator if you should still have access.")
            case .practitioner:
                return try signInForm(
                    status: .forbidden, username: name,
                    error: "Practitioners cannot sign in here: the console is for the front door's intake and admin roles; use field on your own device.")
            case .needsSecondFactor(let user):
                return try signInForm(
                    status: .forbidden, username: name,
                    error: "Your role must sign in with a code from an authenticator app, and your account has none yet: ask the operator to run `sync-server user totp \(user)`.")
            case .code:
                // The same sentence as a wrong password: a wrong code must not confirm the password.
                return try signInForm(status: .unauthorized, username: name, error: Self.wrongCredentials)
            case .limited(let wait):
                return try signInForm(
                    status: .tooManyRequests, username: name, error: "Too many failed sign-ins; try again in \(wait) seconds.",
                    headers: [.retryAfter: "\(wait)"])
            }
        }
    }

    static let wrongCredentials = "The user name, password or code is not right (a code is needed only if your account has an authenticator app)."

    struct TokenForm: Decodable {
        var csrf: String?
    }

    @Sendable func signOut(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let form = try await Self.form(TokenForm.self, request)
        guard let token = request.cookies[ConsoleSessions.cookie]?.value, !token.isEmpty else {
            return .redirect(to: "/console/sign-in", type: .normal)
        }
        try ConsoleSessions.checkCSRF(form.csrf, expected: ConsoleSessions.csrf(for: token))
        let staff = try? await sessions.require(request, roles: [.intake, .admin, .practitioner])
        try await storage.closeConsoleSession(tokenHash: Tokens.hash(token))
        if let staff {
            try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "console-sign-out", record: nil, detail: ""))
        }
        var response = Response.redirect(to: "/console/sign-in?done=signed-out", type: .normal)
        response.setCookie(sessions.sessionCookie("", maxAge: 0))
        return response
    }

    // MARK: The queue

    @Sendable func queue(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.intake])
        let viewName = request.uri.queryParameters.get("view") ?? QueueView.active.rawValue
        guard let view = QueueView(rawValue: viewName) else {
            throw ConsoleError(
                .badRequest, "'\(viewName.prefix(40))' is not a view of the queue; the views are \(QueueView.allCases.map(\.rawValue).joined(separator: ", ")).",
                staff: staff)
        }
        let now = clock.now()
        let rows = try await storage.submittedReferrals()
        let entries = FrontDoorRoutes.queue(rows, view: view, now: now, calendar: calendar)
        try await storage.audit(AuditEvent(
            at: Timestamp.string(now), actor: staff.user.name, action: "read-queue", record: nil,
            detail: "view=\(view.rawValue) referrals=\(entries.count) console"))
        let ratings = Dictionary(rows.map { ($0.id, $0.rating) }, uniquingKeysWith: { first, _ in first })
        let sameNumber = try await sharedNHSNumbers(rows)
        let items: [[String: Any]] = entries.map { entry in
            let rating = ratings[entry.id].flatMap { $0 }
            return [
                "id": entry.id, "receipt": entry.receipt ?? entry.id.prefix(13), "kind": ReferralKind(rawValue: entry.kind)?.title ?? entry.kind,
                "child": entry.childName.map { entry.children > 1 ? "\($0) and \(entry.children - 1) more" : $0 } ?? "(no child named)",
                "submitted": local(entry.submittedAt), "due": local(entry.ackDue), "overdue": entry.overdue,
                "immediateRisk": entry.immediateRisk, "lado": entry.kind == ReferralKind.lado.rawValue,
                "conflicts": entry.openConflicts > 0 ? "\(entry.openConflicts)" : false as Any,
                "sameNHS": (sameNumber[entry.id] ?? []).map { ["id": $0.id, "receipt": $0.receipt] },
                "changed": entry.changedAt != nil,
                "rating": rating as Any, "ratingTitle": rating.flatMap { RAGRating(rawValue: $0)?.title } ?? "",
                "state": entry.outcome.map { "Decided: \(ReferralOutcome(rawValue: $0)?.title ?? $0)" } ?? (entry.acknowledged ? "Acknowledged" : "New"),
            ]
        }
        let labels: [(QueueView, String)] = [
            (.active, "Needs the front door"), (.open, "Not decided"), (.overdue, "Overdue"), (.decided, "Decided"), (.all, "All"),
        ]
        let overdue = FrontDoorRoutes.queue(rows, view: .overdue, now: now, calendar: calendar).count
        return try page("queue", title: "Queue", staff: staff, current: "atQueue", [
            "zone": authority.timeZone, "entries": items, "hasEntries": !items.isEmpty,
            "caption": "\(labels.first { $0.0 == view }?.1 ?? view.rawValue): \(items.count) referral(s)",
            "overdueCount": overdue > 0 ? "\(overdue)" : false as Any,
            "views": labels.map { ["value": $0.0.rawValue, "label": $0.1, "current": $0.0 == view] as [String: Any] },
        ])
    }

    /// For each submitted referral, the other open (undecided) referrals
    /// whose children share one of its children's NHS numbers (digits
    /// compared, spacing ignored): the same child may have been referred twice.
    private func sharedNHSNumbers(_ rows: [SubmittedReferral]) async throws -> [String: [(id: String, receipt: String)]] {
        let open = Set(rows.filter { $0.outcome == nil }.map(\.id))
        let receipts = Dictionary(rows.map { ($0.id, $0.receipt ?? String($0.id.prefix(13))) }, uniquingKeysWith: { first, _ in first })
        var byNumber: [String: Set<String>] = [:]
        for (record, number) in try await storage.submittedNHSNumbers() {
            let digits = NHSNumber.digits(number) ?? number.filter(\.isNumber)
            guard !digits.isEmpty else { continue }
            byNumber[digits, default: []].insert(record)
        }
        var shared: [String: Set<String>] = [:]
        for records in byNumber.values where records.count > 1 {
            for record in records { shared[record, default: []].formUnion(records.subtracting([record]).intersection(open)) }
        }
        return shared.mapValues { others in others.sorted().map { ($0, receipts[$0] ?? String($0.prefix(13))) } }
            .filter { !$0.value.isEmpty }
    }

    // MARK: A referral

    @Sendable func referral(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.intake, .admin])
        let id = try context.parameters.require("id")
        let notice = request.uri.queryParameters.get("done").flatMap { Self.referralNotices[$0] }
        return try await referralPage(id, staff: staff, context: context, notice: notice)
    }

    /// What a write did, shown after its redirect (`?done=`): the form's
    /// address never stays in the address bar, so reloading sends nothing again.
    static let referralNotices = [
        "acknowledged": "Acknowledged.", "rated": "RAG rating recorded.",
        "decided": "Decision recorded; the referrer sees it on their next sync.",
    ]

    /// The referral's page, read and audited; `notice` or `error` on top after a write.
    private func referralPage(
        _ id: String, staff: Staff, context: SyncRequestContext, status: HTTPResponse.Status = .ok, notice: String? = nil, error: String? = nil,
        draft: [String: String] = [:]
    ) async throws -> Response {
        guard let document = try await storage.document(id), document.fields[RecordPath.status] == ReferralStatus.submitted.rawValue,
            let uuid = UUID(uuidString: id)
        else {
            throw ConsoleError(.notFound, "No submitted referral has id '\(id.prefix(40))'.", staff: staff)
        }
        let conflicts = frontDoor.forms.labelled(try await storage.conflicts(all: false).filter { $0.record == document.id })
        let submitted = try await storage.submittedReferrals()
        let receipt = submitted.first { $0.id == document.id }
        let sameNumber = try await sharedNHSNumbers(submitted)[document.id] ?? []
        // Every read of referral content is attributable.
        try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read", record: document.id, detail: "console"))
        context.logger.notice("referral read", metadata: ["record": "\(document.id)", "via": "console"])
        let changes = try await storage.changesSinceFrontDoor(of: document.id)
        let view = ReferralPage(document: document, id: uuid, conflicts: conflicts, changes: changes, form: frontDoor.form, local: local)
        var values = view.values
        let submittedAt = receipt?.submittedAt ?? document.createdAt
        let due = calendar.acknowledgementDue(receivedAt: Timestamp.date(submittedAt) ?? clock.now())
        let fields = document.fields
        values["receipt"] = receipt?.receipt ?? String(document.id.prefix(13))
        values["submitted"] = local(submittedAt)
        values["due"] = local(Timestamp.string(due))
        values["overdue"] = fields[IntakePath.acknowledgedAt] == nil && clock.now() > due
        values["acknowledged"] = fields[IntakePath.acknowledgedAt] != nil
        values["acknowledgedAt"] = fields[IntakePath.acknowledgedAt].map(local) ?? ""
        values["acknowledgedBy"] = fields[IntakePath.acknowledgedBy] ?? ""
        values["rating"] = fields[IntakePath.rating] as Any
        values["ratingTitle"] = fields[IntakePath.rating].flatMap { RAGRating(rawValue: $0)?.title } ?? ""
        values["ratingReason"] = fields[IntakePath.ratingReason] ?? ""
        values["ratedBy"] = fields[IntakePath.ratedBy] ?? ""
        values["ratedAt"] = fields[IntakePath.ratedAt].map(local) ?? ""
        let decisions = DecisionRecord.history(in: fields)
        values["decisions"] = decisions.enumerated().map { index, decision in
            [
                "title": decision.title, "note": decision.note, "by": decision.decidedBy, "at": local(decision.decidedAt),
                "reason": decision.reason as Any, "current": index == decisions.count - 1,
            ] as [String: Any]
        }
        values["hasDecisions"] = !decisions.isEmpty
        values["decided"] = !decisions.isEmpty
        values["canAct"] = staff.user.role == .intake
        values["csrf"] = staff.csrf
        values["ratings"] = RAGRating.allCases.map { ["value": $0.rawValue, "title": $0.title, "current": fields[IntakePath.rating] == $0.rawValue] as [String: Any] }
        values["outcomes"] = ReferralOutcome.allCases.map { ["value": $0.rawValue, "title": $0.title] }
        values["notice"] = notice as Any
        values["error"] = error as Any
        values["draftNote"] = draft["note"] ?? ""
        values["draftReason"] = draft["reason"] ?? ""
        values["draftRatingReason"] = draft["ratingReason"] ?? ""
        values["sameNHS"] = sameNumber.map { ["id": $0.id, "receipt": $0.receipt] }
        return try page("referral", title: "Referral \(values["receipt"]!)", staff: staff, status: status, values)
    }

    @Sendable func acknowledge(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, _) = try await staffForm(TokenForm.self, request, context, roles: [.intake]) { $0.csrf }
        return try await write(id, staff: staff, context: context, done: "acknowledged") {
            try await storage.recorded {
                try await frontDoor.acknowledge(id, by: staff.user, device: ConsoleDevice.id, in: $0)
            } audit: {
                AuditEvent(at: $0.acknowledgedAt, actor: staff.user.name, action: "acknowledge", record: id, detail: "device=\(ConsoleDevice.id)")
            }
        }
    }

    struct RatingForm: Decodable {
        var csrf: String?
        var rating: String?
        var reason: String?
    }

    @Sendable func rate(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(RatingForm.self, request, context, roles: [.intake]) { $0.csrf }
        guard let rating = form.rating, !rating.isEmpty else {
            return try await referralPage(
                id, staff: staff, context: context, status: .badRequest, error: "Choose a rating (red, amber or green) before recording it; nothing was changed.",
                draft: ["ratingReason": form.reason ?? ""])
        }
        return try await write(id, staff: staff, context: context, done: "rated", draft: ["ratingReason": form.reason ?? ""]) {
            try await storage.recorded {
                try await frontDoor.rate(id, rating: rating, reason: form.reason ?? "", by: staff.user, device: ConsoleDevice.id, in: $0)
            } audit: {
                // The reason is the worker's words about the referral: the record keeps it, the audit line does not.
                AuditEvent(at: $0.ratedAt, actor: staff.user.name, action: "rate", record: id, detail: "device=\(ConsoleDevice.id) rating=\($0.rating)")
            }
        }
    }

    struct DecisionForm: Decodable {
        var csrf: String?
        var outcome: String?
        var note: String?
        var reason: String?
    }

    @Sendable func decide(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(DecisionForm.self, request, context, roles: [.intake]) { $0.csrf }
        let reason = form.reason.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        let draft = ["note": form.note ?? "", "reason": form.reason ?? ""]
        guard let outcome = form.outcome, !outcome.isEmpty else {
            return try await referralPage(
                id, staff: staff, context: context, status: .badRequest, error: "Choose an outcome before recording the decision; nothing was changed.", draft: draft)
        }
        // Decided by someone else while this page was open: say so in the console's words, keep what was typed.
        if reason == nil, let fields = try await storage.document(id)?.fields, let latest = DecisionRecord.history(in: fields).last {
            return try await referralPage(
                id, staff: staff, context: context, status: .conflict,
                error: "This referral is already decided (\(latest.title), by \(latest.decidedBy) at \(local(latest.decidedAt))), so yours was not recorded; that decision is shown above. To change it, say why in the box for the reason and record it again.",
                draft: draft)
        }
        let body = DecisionRequest(outcome: outcome, note: form.note ?? "", change: reason != nil ? true : nil, reason: reason)
        return try await write(id, staff: staff, context: context, done: "decided", draft: draft) {
            try await storage.recorded {
                try await frontDoor.decide(id, body, by: staff.user, device: ConsoleDevice.id, in: $0)
            } audit: {
                AuditEvent(
                    at: $0.decidedAt, actor: staff.user.name, action: $0.number == 1 ? "decide" : "change-decision", record: id,
                    detail: "device=\(ConsoleDevice.id) outcome=\($0.outcome) decision=\($0.number)")
            }
        }
    }

    /// Runs a front-door write and shows the referral again: with `done` on
    /// top, or with the refusal's sentence and its status (nothing changed).
    private func write<T>(
        _ id: String, staff: Staff, context: SyncRequestContext, done: String, draft: [String: String] = [:], _ body: () async throws -> T
    ) async throws -> Response {
        do {
            _ = try await body()
            context.logger.notice("console write", metadata: ["record": "\(id)"])
            return .redirect(to: "/console/referrals/\(id)?done=\(done)", type: .normal)
        } catch let error as APIError where error.status == .notFound {
            throw ConsoleError(.notFound, error.message, staff: staff)
        } catch let error as APIError {
            return try await referralPage(id, staff: staff, context: context, status: error.status, error: error.message, draft: draft)
        }
    }

    // MARK: Conflicts

    @Sendable func conflicts(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.admin])
        let notice = request.uri.queryParameters.get("done") == "resolved" ? "Conflict resolved; every device gets the value on its next sync." : nil
        return try await conflictsPage(staff: staff, notice: notice)
    }

    private func conflictsPage(staff: Staff, status: HTTPResponse.Status = .ok, notice: String? = nil, error: String? = nil) async throws -> Response {
        let all = frontDoor.forms.labelled(try await storage.conflicts(all: true))
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: staff.user.name, action: "read-conflicts", record: nil,
            detail: "records=\(Set(all.map(\.record)).sorted().joined(separator: ",")) console"))
        let open: [[String: Any]] = all.filter { $0.status == "open" }.map { conflict in
            [
                "id": conflict.id, "record": conflict.record, "path": conflict.path, "question": conflict.question, "csrf": staff.csrf,
                "choices": choices(at: conflict.path) as Any,
                "candidates": conflict.candidates.enumerated().map { index, candidate in
                    [
                        "conflict": conflict.id, "number": index + 1, "value": display(candidate.value, at: conflict.path),
                        "author": candidate.author, "device": deviceName(candidate.device), "time": local(candidate.time),
                    ] as [String: Any]
                },
            ]
        }
        let resolved: [[String: Any]] = all.compactMap { conflict in
            guard let decision = conflict.resolution else { return nil }
            return [
                "question": conflict.question, "record": conflict.record, "value": display(decision.value, at: conflict.path),
                "by": decision.by, "at": local(decision.at), "reason": decision.reason,
            ]
        }
        return try page("conflicts", title: "Conflicts", staff: staff, current: "atConflicts", status: status, [
            "open": open, "resolved": resolved, "hasResolved": !resolved.isEmpty, "notice": notice as Any, "error": error as Any,
        ])
    }

    struct ResolveForm: Decodable {
        var csrf: String?
        var pick: String?
        var value: String?
        var reason: String?
    }

    @Sendable func resolve(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(ResolveForm.self, request, context, roles: [.admin]) { $0.csrf }
        let value = form.value.flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        let pick = value == nil ? form.pick.flatMap { Int($0) } : nil
        if value == nil, pick == nil {
            return try await conflictsPage(staff: staff, status: .badRequest, error: "Pick a candidate or write a merged value, and give a reason; nothing was changed.")
        }
        let conflict = frontDoor.forms.labelled(try await storage.conflicts(all: true)).first { $0.id == id }
        var stored = value
        // A merged value is typed as people read it ("Given", "14/03/2019"): stored as the form keeps it.
        if let typed = value, let path = conflict?.path, let field = frontDoor.form.field(atStoredPath: path)?.1 {
            do {
                stored = try field.type.normalize(typed, now: clock.now(), timeZone: TimeZone(identifier: authority.timeZone) ?? .gmt)
            } catch {
                return try await conflictsPage(staff: staff, status: .badRequest, error: "\(error) Nothing was changed.")
            }
        }
        let body = ResolutionRequest(pick: pick, value: stored, reason: form.reason ?? "")
        do {
            let result = try await storage.recorded {
                try await resolution.resolve(id, body, by: staff.user, device: ConsoleDevice.id, in: $0)
            } audit: {
                AuditEvent(
                    at: $0.at, actor: staff.user.name, action: "resolve", record: conflict?.record,
                    detail: "conflict=\(id) revision=\($0.revision) device=\(ConsoleDevice.id)")
            }
            context.logger.notice("conflict resolved", metadata: ["conflict": "\(id)", "revision": "\(result.revision)", "via": "console"])
            return .redirect(to: "/console/conflicts?done=resolved", type: .normal)
        } catch let error as APIError {
            return try await conflictsPage(staff: staff, status: error.status, error: error.message)
        }
    }

    // MARK: Devices

    @Sendable func devices(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.admin])
        let revoked = request.uri.queryParameters.get("revoked").flatMap { id in id.allSatisfy { $0.isHexDigit || $0 == "-" } ? id : nil }
        return try await devicesPage(staff: staff, notice: revoked.map { "Device \($0) is revoked." })
    }

    private func devicesPage(staff: Staff, notice: String? = nil) async throws -> Response {
        let users = try await storage.users().map {
            ["name": $0.name, "role": $0.role, "created": local($0.createdAt), "state": $0.disabledAt.map { "Disabled \(local($0))" } ?? "Active"]
        }
        let summaries = try await storage.devices(user: nil)
        let devices: [[String: Any]] = summaries.map { device in
            [
                "id": device.id, "user": device.user, "registered": local(device.registeredAt), "lastSync": device.lastSyncAt.map(local) ?? "never",
                "revoked": device.revokedAt != nil,
                "state": device.revokedAt.map { at in
                    "Revoked \(local(at)) by \(device.revokedBy ?? "?")" + (device.revokeMode == .sendSubmitted ? " (submitted work first)" : "")
                        + (device.wipedAt.map { "; wiped \(local($0))" } ?? "")
                } ?? "Active",
                "erased": device.erasedUnsent?.alert as Any,
            ]
        }
        let erased = summaries.filter { $0.erasedUnsent?.alert != nil }.count
        return try page("devices", title: "Devices", staff: staff, current: "atDevices", [
            "users": users, "devices": devices, "notice": notice as Any, "erasedCount": erased > 0 ? erased as Any : Optional<Int>.none as Any,
        ])
    }

    @Sendable func confirmRevoke(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.admin])
        let id = try context.parameters.require("id")
        guard let device = try await storage.devices(user: nil).first(where: { $0.id == id }) else {
            throw ConsoleError(.notFound, "No device has id '\(id.prefix(40))'.", staff: staff)
        }
        if let at = device.revokedAt {
            throw ConsoleError(.conflict, "Device \(id) was already revoked at \(local(at)) by \(device.revokedBy ?? "?").", staff: staff)
        }
        return try page("revoke", title: "Revoke a device", staff: staff, current: "atDevices", [
            "id": device.id, "user": device.user, "registered": local(device.registeredAt), "lastSync": device.lastSyncAt.map(local) ?? "never",
            "csrf": staff.csrf,
        ])
    }

    struct RevokeForm: Decodable {
        var csrf: String?
        var confirm: String?
        var mode: String?
    }

    @Sendable func revoke(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(RevokeForm.self, request, context, roles: [.admin]) { $0.csrf }
        guard form.confirm == "yes" else {
            throw ConsoleError(.badRequest, "Revoking a device needs its confirmation page; nothing was changed.", staff: staff)
        }
        guard let mode = RevokeMode(rawValue: form.mode ?? RevokeMode.erase.rawValue) else {
            throw ConsoleError(.badRequest, "'\(form.mode!.prefix(40))' is not a way to revoke (erase or send-submitted); nothing was changed.", staff: staff)
        }
        switch try await storage.revoke(device: id, by: staff.user.name, at: Timestamp.string(clock.now()), mode: mode) {
        case .noSuchDevice:
            throw ConsoleError(.notFound, "No device has id '\(id.prefix(40))'.", staff: staff)
        case .alreadyRevoked(let at, let by):
            throw ConsoleError(.conflict, "Device \(id) was already revoked at \(local(at)) by \(by); nothing was changed.", staff: staff)
        case .revoked:
            break
        }
        context.logger.notice("device revoked", metadata: ["device": "\(id)", "via": "console", "mode": "\(mode.rawValue)"])
        return .redirect(to: "/console/devices?revoked=\(id)", type: .normal)
    }

    // MARK: Audit

    @Sendable func audit(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, roles: [.admin])
        let query = Self.formQuery(request.uri.query ?? "")
        func parameter(_ name: String) -> String? {
            query[name].flatMap { $0.trimmingCharacters(in: .whitespaces).isEmpty ? nil : $0.trimmingCharacters(in: .whitespaces) }
        }
        let filter = AuditFilter(actor: parameter("user"), action: parameter("action"), record: parameter("referral")?.lowercased(), limit: 500)
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
        return try page("audit", title: "Audit trail", staff: staff, current: "atAudit", [
            "verification": verified, "verifiedClass": { if case .intact = verification { "verified" } else { "broken" } }(),
            "user": filter.actor ?? "", "referral": filter.record ?? "", "action": filter.action ?? "",
            "caption": "\(entries.count) entr\(entries.count == 1 ? "y" : "ies"), newest first\(entries.count == filter.limit ? " (the newest \(filter.limit))" : "")",
            "entries": entries.reversed().map {
                ["id": $0.id, "at": local($0.event.at), "actor": $0.event.actor, "action": $0.event.action, "record": $0.event.record ?? "", "detail": $0.event.detail]
                    as [String: Any]
            },
        ])
    }

    // MARK: Support

    /// A POST's form, after its session and CSRF token are checked: the
    /// staff member, the `:id` parameter and the form.
    private func staffForm<F: Decodable>(
        _ type: F.Type, _ request: Request, _ context: SyncRequestContext, roles: Set<Role>, csrf: (F) -> String?
    ) async throws -> (Staff, String, F) {
        let staff = try await sessions.require(request, roles: roles)
        let form = try await Self.form(type, request)
        try ConsoleSessions.checkCSRF(csrf(form), expected: staff.csrf, staff: staff)
        return (staff, try context.parameters.require("id"), form)
    }

    /// A query string as a GET form sends it (`application/x-www-form-urlencoded`:
    /// `+` is a space), by name; the first value of each.
    static func formQuery(_ query: String) -> [String: String] {
        var values: [String: String] = [:]
        for pair in query.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String { String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            let name = decode(parts[0])
            if values[name] == nil { values[name] = parts.count > 1 ? decode(parts[1]) : "" }
        }
        return values
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

    /// Renders `template` inside the layout, with the security headers.
    func page(
        _ template: String, title: String, staff: Staff?, current: String? = nil, status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:], _ values: [String: Any]
    ) throws -> Response {
        try Self.page(template, title: title, staff: staff, current: current, status: status, headers: headers, values)
    }

    static func page(
        _ template: String, title: String, staff: Staff?, current: String? = nil, status: HTTPResponse.Status = .ok,
        headers: HTTPFields = [:], _ values: [String: Any]
    ) throws -> Response {
        let body = ConsoleTemplates.library.render(clean(values) ?? [:], withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body]
        if let staff {
            var nav: [String: Any] = [
                "name": staff.user.name, "role": staff.user.role.rawValue, "csrf": staff.csrf,
                "intake": staff.user.role == .intake, "admin": staff.user.role == .admin,
            ]
            if let current { nav[current] = true }
            layout["staff"] = nav
        }
        let html = ConsoleTemplates.library.render(layout, withTemplate: "layout") ?? ""
        var fields = headers
        fields[.contentType] = "text/html; charset=utf-8"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// `value` with every nil optional left out, in dictionaries and arrays
    /// too: Mustache should see a missing key (a false section), not "nil".
    static func clean(_ value: Any) -> Any? {
        let mirror = Mirror(reflecting: value)
        if mirror.displayStyle == .optional {
            guard let wrapped = mirror.children.first?.value else { return nil }
            return clean(wrapped)
        }
        if let dictionary = value as? [String: Any] { return dictionary.compactMapValues(clean) }
        if let array = value as? [[String: Any]] { return array.map { $0.compactMapValues(clean) } }
        return value
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
        device == ConsoleDevice.id ? "web console" : "device …\(device.suffix(4))"
    }
}

/// A refusal shown as a console page: its status and one sentence; a
/// redirect to the sign-in page when there is no live session.
struct ConsoleError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    /// Who was signed in, so the page keeps its navigation.
    var staff: Staff?
    /// Extra headers, such as `Allow` on a 405.
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, staff: Staff? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.staff = staff
        self.headers = headers
    }

    /// No live session: go and sign in.
    static let signIn = ConsoleError(.seeOther, "Sign in first.")

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if status == .seeOther { return .redirect(to: "/console/sign-in", type: .normal) }
        let heading: String
        switch status {
        case .notFound: heading = "Not found"
        case .forbidden: heading = "Not allowed"
        default: heading = "Not done"
        }
        var fields = ConsoleMiddleware.headers
        for field in headers { fields[field.name] = field.value }
        return try ConsoleRoutes.page("message", title: heading, staff: staff, status: status, headers: fields, [
            "heading": heading, "text": message,
            "link": staff.map { ConsoleRoutes.start(for: $0.user.role) } ?? "/console/sign-in",
            "linkText": staff == nil ? "Sign in" : "Back to the console",
        ])
    }
}

/// The console's security headers on every answer, and its errors as pages:
/// no framing, no script, nothing from elsewhere, nothing cached.
struct ConsoleMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext

    static let headers: HTTPFields = [
        HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        HTTPField.Name("X-Frame-Options")!: "DENY",
        HTTPField.Name("X-Content-Type-Options")!: "nosniff",
        HTTPField.Name("Referrer-Policy")!: "no-referrer",
        .cacheControl: "no-store",
    ]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as ConsoleError {
            response = try error.response(from: request, context: context)
        } catch let error as StorageError {
            response = try ConsoleError(error.status, error.description).response(from: request, context: context)
        } catch let error as APIError {
            // A refusal from the shared engines (a 404 for an id the user may not see, …): a page, not JSON.
            response = try ConsoleError(error.status, error.message).response(from: request, context: context)
        }
        for field in Self.headers where response.headers[field.name] == nil || field.name == .cacheControl {
            response.headers[field.name] = field.value
        }
        return response
    }
}

/// A referral as its console page shows it: every section of the form in
/// order, each answer with what the guidance misses and any open conflict.
struct ReferralPage {
    let values: [String: Any]

    /// - Parameters:
    ///   - changes: what changed after the front door last acknowledged or decided (`SyncStorage.changesSinceFrontDoor`).
    ///   - local: a stored timestamp in the authority's local time.
    init(
        document: ReferralDocument, id: UUID, conflicts: [ConflictSummary], changes: [ReferralChange], form: ReferralForm,
        local: (String) -> String
    ) {
        let created = Timestamp.date(document.createdAt) ?? Date(timeIntervalSince1970: 0)
        let referral = Referral(id: id, createdAt: created, createdBy: document.owner, updatedAt: created, values: document.fields)
        let shown = referral.visibleValues
        let missing = Dictionary(Guidance.check(referral, form: form).warnings.map { ($0.path, $0.message) }, uniquingKeysWith: { first, _ in first })
        let conflicted = Dictionary(conflicts.map { ($0.path, $0) }, uniquingKeysWith: { first, _ in first })
        let changed = Dictionary(
            changes.filter { $0.kind == "write" || $0.kind == "candidate" }.map { ($0.path, $0) }, uniquingKeysWith: { _, last in last })
        let since = document.fields[IntakePath.decidedAt] != nil ? "decided it" : "acknowledged it"
        func anchor(_ path: String) -> String { path.replacingOccurrences(of: ".", with: "-") }
        func answer(_ field: FormField, path: String) -> [String: Any] {
            var answer: [String: Any] = [
                "question": field.question, "value": shown[path].map { field.type.display($0) } as Any, "anchor": anchor(path),
            ]
            if let change = changed[path] {
                answer["changed"] = true
                answer["changedBy"] = change.by
                answer["changedAt"] = local(change.at)
                answer["changedSince"] = since
            }
            if let message = missing[path] ?? missing[field.key] { answer["missing"] = message }
            if let conflict = conflicted[path] {
                answer["conflict"] = true
                answer["candidates"] = conflict.candidates.map {
                    [
                        "value": $0.value.map { field.type.display($0) } ?? "(cleared)", "author": $0.author,
                        "device": $0.device == ConsoleDevice.id ? "web console" : "device …\($0.device.suffix(4))", "time": local($0.time),
                    ]
                }
            }
            return answer
        }
        var sections: [[String: Any]] = []
        var missingCount = 0
        for section in form.sections where section.applies(to: referral.kind) {
            var items: [[String: Any]] = []
            if section.isGroup {
                for (index, item) in referral.items(of: section.key).enumerated() {
                    let fields = section.fields.filter { $0.applies(to: referral.kind) }.map {
                        answer($0, path: "\(section.key).\(item.lowercased).\($0.key)")
                    }
                    items.append(["label": "\(section.itemName!.capitalized) \(index + 1)", "fields": fields])
                }
            } else {
                let fields = section.fields.filter { $0.applies(to: referral.kind) }.map { answer($0, path: "\(section.key).\($0.key)") }
                items.append(["fields": fields])
            }
            missingCount += items.flatMap { ($0["fields"] as? [[String: Any]]) ?? [] }.filter { $0["missing"] != nil }.count
            sections.append([
                "key": section.key, "title": section.title, "items": items,
                "emptyText": section.isGroup ? "No \(section.itemName!) added." : "",
            ])
        }
        let consent: String
        switch shown["consent.status"] {
        case "given": consent = "given" + (shown["consent.given_by"].map { " (\($0))" } ?? "")
        case "refused": consent = "REFUSED" + (shown["consent.reason"].map { "; the referral goes ahead because: \($0)" } ?? "; no reason recorded")
        case "not-sought": consent = "NOT SOUGHT" + (shown["consent.reason"].map { "; because: \($0)" } ?? "; no reason recorded")
        default: consent = "not recorded"
        }
        let anonymity = shown["referrer.anonymity_requested"] == "yes"
            ? "the referrer ASKED TO REMAIN ANONYMOUS (recorded; it cannot be guaranteed)"
            : "the referrer has not asked to remain anonymous"
        values = [
            "id": document.id, "owner": document.owner, "kindTitle": referral.kind.title, "sections": sections,
            "immediateRisk": shown["urgency.immediate_risk"] == "yes", "lado": referral.kind == .lado,
            "consent": consent, "anonymity": anonymity,
            "conflictCount": conflicts.isEmpty ? false as Any : "\(conflicts.count)", "missingCount": missingCount == 0 ? false as Any : "\(missingCount)",
            "changedSince": since, "hasChanges": !changed.isEmpty,
            "changes": changed.values.sorted { $0.at < $1.at }.enumerated().map { index, change in
                [
                    "anchor": anchor(change.path), "question": form.field(atStoredPath: change.path)?.1.question ?? change.path,
                    "by": change.by, "at": local(change.at), "last": index == changed.count - 1,
                ] as [String: Any]
            },
        ]
    }
}
