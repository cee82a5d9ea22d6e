import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdBcrypt
import HummingbirdOTP
import NIOPosix
import SyncCore

/// What the console's sign-in and sessions need from `serve`.
struct ConsoleConfiguration: Sendable {
    /// A session unused for this long ends (seconds; default 30 minutes).
    var idleTimeout: TimeInterval = 30 * 60
    /// Roles whose users must give a TOTP code (RFC 6238) as well as their
    /// password (`serve --require-totp ROLE`). A user who has a TOTP secret
    /// gives a code whatever their role.
    var secondFactorRoles: Set<Role> = []
    /// Cookies are `Secure` when the server speaks HTTPS.
    var secure = false
}

/// A signed-in member of staff, for one request.
struct Staff: Sendable {
    let user: User
    /// The session's cookie value; never stored (the server keeps its SHA-256).
    let token: String
    /// The session's CSRF token, derived from the cookie (`ConsoleSessions.csrf`).
    var csrf: String { ConsoleSessions.csrf(for: token) }
}

/// Staff sign-in and sessions for the web console (docs/console.md).
///
/// - Passwords are bcrypt hashes (hummingbird-auth's `Bcrypt`, cost 12),
///   checked on NIO's blocking thread pool, never on the request's thread.
/// - A second factor is a TOTP code (hummingbird-auth's `TOTP`: SHA-1,
///   6 digits, 30 s), accepted one step either side for clock drift.
/// - A session is a random cookie (`HttpOnly`, `SameSite=Strict`, `Path=/console`,
///   `Secure` under TLS); the store keeps its SHA-256 with the time it was
///   last used, so every instance knows it and an idle one ends.
/// - Every form carries a CSRF token: the SHA-256 of the session's cookie
///   with a label (or, before sign-in, a random value also sent as a cookie).
///   A cross-site page can read neither.
/// - Failed sign-ins count against the user name and the remote address
///   (`AuthFailureLimiter`, the API's limits): past either, 429 with `Retry-After`.
struct ConsoleSessions: Sendable {
    let storage: any SyncStorage
    let clock: any WallClock
    let configuration: ConsoleConfiguration
    let limiter: AuthFailureLimiter
    let addressLimiter: AuthFailureLimiter

    static let cookie = "field_console"
    static let signInCookie = "field_console_sign_in"
    /// The sign-in cookie's name under TLS: the `__Host-` prefix makes the
    /// browser take it only from this host, over HTTPS, for the whole site
    /// (RFC 6265bis, "Cookie Name Prefixes"), so a sibling subdomain cannot
    /// plant a sign-in token of its choosing beside a form it forged.
    static let hostSignInCookie = "__Host-field_console_sign_in"

    /// The sign-in cookie's name on this server.
    var signInCookieName: String { configuration.secure ? Self.hostSignInCookie : Self.signInCookie }
    /// bcrypt's cost: 2^12 rounds, about a quarter of a second here.
    static let bcryptCost: UInt8 = 12

    /// A bcrypt hash of nothing anyone types, checked when the user name is
    /// unknown so that a wrong name takes as long as a wrong password.
    private static let decoyHash = Bcrypt.hash("decoy password never used", cost: bcryptCost)

    /// The CSRF token of a session: SHA-256 of a label and its cookie, hex.
    static func csrf(for token: String) -> String {
        Hex.string(SHA256.hash(data: Data("console-csrf:\(token)".utf8)))
    }

    /// The signed-in staff member of `request`, if their session is live
    /// and their role is one of `roles`. Whoever a live session proves is
    /// named on `context.caller`, for the audit entry of a refusal (`DeniedAudit`).
    /// - Throws: `ConsoleError.signIn` (a redirect to the sign-in page) with
    ///   no live session; `ConsoleError` 403 for another role.
    func require(_ request: Request, _ context: SyncRequestContext, roles: Set<Role>) async throws -> Staff {
        guard let token = request.cookies[Self.cookie]?.value, !token.isEmpty else { throw ConsoleError.signIn }
        let now = clock.now()
        guard let user = try await storage.touchConsoleSession(
            tokenHash: Tokens.hash(token), at: Timestamp.string(now), notBefore: Timestamp.string(now.addingTimeInterval(-configuration.idleTimeout)))
        else { throw ConsoleError.signIn }
        context.caller.name = user.name
        guard roles.contains(user.role) else {
            let needed = roles.map(\.rawValue).sorted().joined(separator: " or ")
            throw ConsoleError(.forbidden, "This page is for the \(needed) role; \(user.name) is \(user.role.rawValue).", staff: Staff(user: user, token: token))
        }
        return Staff(user: user, token: token)
    }

    /// `value` if it is a sign-in token as `Tokens.make` writes them (64
    /// hex digits), else nil: an empty or made-up cookie never matches.
    static func wellFormedSignInToken(_ value: String) -> String? {
        value.utf8.count == 64 && value.allSatisfy(\.isHexDigit) ? value : nil
    }

    /// Refuses a form whose CSRF token is not `expected`: 403, and nothing changes.
    static func checkCSRF(_ sent: String?, expected: String, staff: Staff? = nil) throws {
        guard let sent, Tokens.constantTimeEqual(sent, expected) else {
            throw ConsoleError(
                .forbidden,
                "This form did not come from the console (its security token is missing or out of date), so nothing was changed; reload the page and try again.",
                staff: staff)
        }
    }

    /// Why a sign-in failed, in one sentence for the page.
    enum Refusal: Error {
        case credentials
        /// The operator disabled the account (`sync-server user disable`).
        case disabled
        case practitioner
        case needsSecondFactor(String)
        case code
        case limited(Int)
    }

    /// Checks a sign-in and opens a session: the session's token.
    /// - Throws: `Refusal`; every refusal but `.limited` counts as a failure.
    func signIn(name: String, password: String, code: String?, address: String) async throws -> (Staff, ConsoleCredential) {
        let nameKey = "console user \(name.prefix(64))"
        let addressKey = "address \(address)"
        for (limiter, key) in [(limiter, nameKey), (addressLimiter, addressKey)] {
            if let wait = limiter.retryAfter(key) { throw Refusal.limited(wait) }
        }
        func failed(_ refusal: Refusal) -> Refusal {
            limiter.recordFailure(nameKey)
            addressLimiter.recordFailure(addressKey)
            return refusal
        }
        let credential = try await storage.consoleCredential(name: name)
        let hash = credential?.passwordHash
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash ?? Self.decoyHash) }
        guard let credential, credential.passwordHash != nil, matches else { throw failed(.credentials) }
        let user = credential.user
        // Told only to someone who knows the password.
        guard !credential.disabled else { throw failed(.disabled) }
        guard user.role != .practitioner else { throw failed(.practitioner) }
        if configuration.secondFactorRoles.contains(user.role) || credential.totpSecret != nil {
            guard let secret = credential.totpSecret else { throw failed(.needsSecondFactor(user.name)) }
            guard let code, Self.codeMatches(code, secret: secret, at: clock.now()) else { throw failed(.code) }
        }
        let token = Tokens.make(prefix: "fcs_")
        let now = clock.now()
        try await storage.openConsoleSession(
            tokenHash: Tokens.hash(token), user: user.id, at: Timestamp.string(now),
            expiredBefore: Timestamp.string(now.addingTimeInterval(-configuration.idleTimeout)))
        return (Staff(user: user, token: token), credential)
    }

    /// Whether `code` is the TOTP of `secret` at `date`, one 30-second step either side.
    static func codeMatches(_ code: String, secret: String, at date: Date) -> Bool {
        let digits = code.filter { !$0.isWhitespace }
        guard digits.count == 6, let number = Int(digits) else { return false }
        let totp = TOTP(secret: secret)
        return [-30.0, 0, 30].contains { totp.compute(date: date.addingTimeInterval($0)) == number }
    }

    /// A new TOTP secret: 20 random letters and digits (the key is their
    /// bytes, as hummingbird-auth's `TOTP` takes it), and its `otpauth://` URI.
    static func newSecondFactor(for name: String) -> (secret: String, uri: String) {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        let secret = String((0..<20).map { _ in alphabet.randomElement(using: &generator)! })
        return (secret, TOTP(secret: secret).createAuthenticatorURL(label: "sync-server:\(name)", issuer: "sync-server"))
    }

    /// The session cookie: `HttpOnly`, `SameSite=Strict`, the console's path only, `Secure` under TLS.
    func sessionCookie(_ token: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: Self.cookie, value: token, maxAge: maxAge, path: "/console", secure: configuration.secure, httpOnly: true, sameSite: .strict)
    }

    /// The sign-in form's CSRF cookie, made with the form.
    func signInCookie(_ value: String, maxAge: Int? = nil) -> Cookie {
        Cookie(
            name: signInCookieName, value: value, maxAge: maxAge, path: configuration.secure ? "/" : "/console", secure: configuration.secure,
            httpOnly: true, sameSite: .strict)
    }
}
