import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The sign-in page (`ConsoleTemplates.signIn`).
struct SignInPage {
    let csrf: String
    let username: String
    let error: String?
    let notice: String?
}

/// Signing in and out of the console (docs/console.md, "Signing in").
extension ConsoleRoutes {
    @Sendable func home(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.intake, .admin])
        return .redirect(to: Self.start(for: staff.user.role), type: .normal)
    }

    @Sendable func signInPage(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let notice = (try? URLEncodedFormDecoder().decode(DoneQuery.self, from: request.uri.query ?? ""))?.done == "signed-out" ? "You have signed out." : nil
        return try signInForm(status: .ok, username: "", error: nil, notice: notice, existing: request.cookies[sessions.signInCookieName]?.value)
    }

    /// The sign-in form with its CSRF value, sent as a cookie too: the one
    /// the browser already holds (so that two open sign-in pages both
    /// work), else a new one.
    private func signInForm(
        status: HTTPResponse.Status, username: String, error: String?, notice: String? = nil, existing: String? = nil, headers: HTTPFields = [:]
    ) throws -> Response {
        let csrf = existing.flatMap(ConsoleSessions.wellFormedSignInToken) ?? Tokens.make(prefix: "")
        var response = try page(
            "sign-in", title: "Sign in", staff: nil, status: status, headers: headers,
            SignInPage(csrf: csrf, username: username, error: error, notice: notice))
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
            case .disabled, .practitioner, .needsSecondFactor:
                // The password was right: the refusal's audit entry names the user (`DeniedAudit`).
                context.caller.name = name
            case .credentials, .code, .limited:
                break
            }
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
        let staff = try? await sessions.require(request, context, roles: [.intake, .admin, .practitioner])
        try await storage.closeConsoleSession(tokenHash: Tokens.hash(token))
        if let staff {
            try await storage.audit(AuditEvent(at: Timestamp.string(clock.now()), actor: staff.user.name, action: "console-sign-out", record: nil, detail: ""))
        }
        var response = Response.redirect(to: "/console/sign-in?done=signed-out", type: .normal)
        response.setCookie(sessions.sessionCookie("", maxAge: 0))
        return response
    }

}
