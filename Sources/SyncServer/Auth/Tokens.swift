import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// Bearer tokens: 256 random bits, shown once when a user is added; the server
/// keeps only their SHA-256.
enum Tokens {
    /// A user's token (`fld_…`), or with `prefix: "fld_dev_"` a device's.
    static func make(prefix: String = "fld_") -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        return prefix + Hex.string(bytes)
    }

    static func hash(_ token: String) -> String {
        Hex.string(SHA256.hash(data: Data(token.utf8)))
    }

    /// Whether two hashes are equal, in time that does not depend on where
    /// they differ. Tokens are looked up by their SHA-256, so a timing
    /// difference in the lookup tells an attacker about the hash of their own
    /// guess, never about a stored token; storage confirms the row it found
    /// with this comparison.
    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let a = Array(a.utf8), b = Array(b.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

/// The request context: who is calling, once authenticated.
struct SyncRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    var user: User?
    /// The device whose own token signed the request in (nil for a user token).
    var signedInDevice: String?
    /// The peer's address, the rate limiter's key when there is no `Field-Device`.
    let remoteAddress: String?
    /// Who the request proved to be, shared by every copy of this context:
    /// what the audit entry of a refusal names (`DeniedAuditMiddleware`).
    let caller = Caller()

    init(source: Source) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// Resolves `Authorization: Bearer <token>` to a user; 401 otherwise. The
/// token itself is never logged. Failed attempts are counted per device
/// (`Field-Device`, else the remote address) and, with a higher allowance,
/// per remote address whatever the device says (a client that changes its
/// `Field-Device` on every guess still runs out): past either allowance a
/// wrong token gets 429 with `Retry-After` instead of 401. A valid token is
/// never refused for others' failures: anyone can name a victim's device in
/// `Field-Device`, so a count that blocked valid tokens would let ten bad
/// guesses lock that device out (issue 26). A disabled user's token, or
/// their devices', gets 403 (`user-disabled`) and nothing is taken.
struct AuthenticationMiddleware: RouterMiddleware {
    typealias Context = SyncRequestContext
    let storage: any SyncStorage
    let limiter: AuthFailureLimiter
    let addressLimiter: AuthFailureLimiter

    static let revokedMessage = "This device has been revoked: it must erase its referral data now."
    static let deviceHeader = HTTPField.Name("Field-Device")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let key = Self.limiterKey(request, context)
        let address = "address " + (context.remoteAddress ?? "unknown")
        func failed(_ message: String) -> APIError {
            for (limiter, key) in [(limiter, key), (addressLimiter, address)] {
                if let wait = limiter.retryAfter(key) {
                    return APIError(
                        .tooManyRequests,
                        "Too many failed sign-ins from \(key); try again in \(wait) seconds.",
                        headers: [.retryAfter: "\(wait)"])
                }
            }
            limiter.recordFailure(key)
            if key != address { addressLimiter.recordFailure(address) }
            return APIError(.unauthorized, message)
        }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else {
            throw failed("Send a bearer token: `Authorization: Bearer <token>`.")
        }
        let token = String(header.dropFirst("Bearer ".count)).trimmingCharacters(in: .whitespaces)
        // A token of the wrong shape is refused without a look-up.
        guard token.utf8.count <= 128 else { throw failed("The token is not valid.") }
        let hash = Tokens.hash(token)
        // One statement: the token as a user's or a device's, and whether the
        // device the request names is revoked.
        let named = request.headers[Self.deviceHeader]
        guard let signIn = try await storage.signIn(tokenHash: hash, device: named) else {
            let failure = failed("The token is not valid: it may have been replaced (ask your administrator for the new one, then run `field login` again).")
            // A revoked device whose token ended too (the user's token
            // rotated, which ends their devices' tokens) must still be told
            // to erase itself: the thief of a lost laptop has no new token.
            if failure.status == .unauthorized, let named, let revocation = try await storage.revocation(of: named), revocation != "wiped" {
                throw Self.revoked(RevokeMode(rawValue: revocation))
            }
            throw failure
        }
        // A valid token names its user, in the audit entry of any refusal that follows.
        context.caller.name = signIn.user.name
        // A device's token works for that device only.
        if let device = signIn.tokenDevice, named != device {
            throw failed("This token belongs to another device; send it with that device's Field-Device header.")
        }
        var context = context
        context.user = signIn.user
        context.signedInDevice = signIn.tokenDevice
        context.logger[metadataKey: "user"] = "\(signIn.user.name)"
        // A revoked device gets 410 on everything but what it does on its way
        // out: its report that it erased its data and, revoked with "send
        // submitted work first", the pushes of its submitted referrals and
        // the upload of the files they name (not for a disabled user, from
        // whom nothing is taken). Checked before
        // the user's being disabled, so that a disabled user's revoked laptop
        // still erases itself.
        if signIn.namedDeviceRevoked {
            let mode = signIn.namedDeviceRevokeMode
            let allowed = request.uri.path == "/v1/devices/wiped"
                || (mode == .sendSubmitted && !signIn.userDisabled
                    && (request.uri.path == "/v1/push" || (request.method == .post && request.uri.path.hasPrefix("/v1/attachments"))))
            if !allowed { throw Self.revoked(mode) }
        } else if signIn.userDisabled {
            throw APIError(.forbidden, Self.disabledMessage(signIn.user.name), code: ErrorCode.userDisabled)
        }
        return try await next(request, context)
    }

    /// The 410 a revoked device gets, with the code that tells it how to go
    /// (`ErrorCode.deviceRevoked`, `.deviceRevokedSendSubmitted`).
    static func revoked(_ mode: RevokeMode?) -> APIError {
        APIError(.gone, revokedMessage, code: mode == .sendSubmitted ? ErrorCode.deviceRevokedSendSubmitted : ErrorCode.deviceRevoked)
    }

    static func disabledMessage(_ name: String) -> String {
        "The account \(name) has been disabled by the operator, so nothing from it is taken; what this device has not sent stays on it. Ask your administrator."
    }

    /// The device the request says it comes from, else the peer's address.
    static func limiterKey(_ request: Request, _ context: Context) -> String {
        if let device = request.headers[deviceHeader], !device.isEmpty { return "device " + device.prefix(64) }
        return "address " + (context.remoteAddress ?? "unknown")
    }
}

/// An error that chooses its own status and answers `{"error": {"message": …}}`.
struct APIError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    /// Extra headers, such as `Retry-After` on a 429.
    let headers: HTTPFields
    /// A machine-readable cause for clients that act on it (`ErrorCode`).
    let code: String?

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], code: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.code = code
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(ErrorBody(message: message, code: code))
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
