import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

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
