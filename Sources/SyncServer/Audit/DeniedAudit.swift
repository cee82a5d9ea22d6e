import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Synchronization
import SyncCore

/// Who a request proved to be, set by whatever proved it (the API's
/// `AuthenticationMiddleware`, the console's `ConsoleSessions.require`, a
/// sign-in refused after its password matched) and read by
/// `DeniedAuditMiddleware`, which runs outside them and so never sees the
/// context they pass on: the one object every copy of a request's context shares.
final class Caller: Sendable {
    private let state = Mutex<String?>(nil)

    /// The user's name; nil until a token, a session or a password proved one.
    var name: String? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// Refused requests to referral, export and staff routes, on the audit
/// trail (issue 29, item 4): what `DeniedAuditMiddleware` writes, through
/// `DeniedAttempts`, which keeps a flood from filling the trail.
struct DeniedAudit: Sendable {
    let storage: any SyncStorage
    let attempts: DeniedAttempts

    /// The statuses that are a refusal: no or a bad token (401), a role or a
    /// user that may not (403), and a referral, conflict or device that is
    /// not there for this caller (404).
    static let refusals: Set<Int> = [401, 403, 404]

    /// Seconds between the running server's sweeps for windows that closed.
    static let sweepInterval: Int64 = 15

    /// Whether refusals on `route` (a route's pattern, `context.endpointPath`)
    /// are audited: every route that reads or writes referral data or is a
    /// staff action: `/v1/push`, `/v1/pull`, `/v1/intake/…`,
    /// `/v1/conflicts…`, `/v1/devices/{id}/revoke`, `/v1/export`, and every
    /// console page but the home address, the stylesheet and sign-out (the
    /// sign-in form is: a refused sign-in is a denied attempt). Registration,
    /// the form versions and a device's wipe report are not: they hold no
    /// referral data, and their failed tokens count against the sign-in limits.
    static func isAudited(_ route: String) -> Bool {
        switch route {
        case "/v1/push", "/v1/pull", "/v1/export", "/v1/conflicts", "/v1/devices/{id}/revoke": true
        case "/console", "/console/", "/console/style.css", "/console/sign-out": false
        default: route.hasPrefix("/v1/intake/") || route.hasPrefix("/v1/conflicts/") || route.hasPrefix("/console/")
        }
    }

    /// The attempt a refused request was, or nil when its route is not audited.
    /// The referral id is taken from the route's `{id}` under `referrals`
    /// only when it is a referral id (a UUID, written lowercase); a
    /// conflict's or device's id is kept when it is hex digits and hyphens
    /// (at most 64); anything else someone typed is left out.
    static func attempt(status: Int, _ request: Request, _ context: SyncRequestContext) -> DeniedAttempt? {
        guard refusals.contains(status) || status == 303, let route = context.endpointPath, isAudited(route) else { return nil }
        let id = context.parameters.get("id")
        var record: String?
        var named: String?
        if let id {
            if route.contains("/referrals/{id}") {
                record = UUID.isCanonical(id.lowercased()) ? id.lowercased() : nil
            } else if id.count <= 64, !id.isEmpty, id.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                named = (route.contains("/conflicts/") ? "conflict=" : "device=") + id.lowercased()
            }
        }
        return DeniedAttempt(
            actor: context.caller.name ?? DeniedAttempt.anonymous, address: context.remoteAddress ?? "unknown",
            method: String(request.method.rawValue.prefix(16)), route: route, status: status, record: record, named: named)
    }

    /// Counts a refused request and writes what the limiter lets through,
    /// with any summaries due. A failed write is logged (status and route
    /// only) and never changes the answer.
    func note(_ attempt: DeniedAttempt, logger: Logger) async {
        await write(attempts.admit(attempt), logger: logger)
    }

    /// Writes the summaries of windows that have closed (all of them with `all`).
    func sweep(all: Bool = false, logger: Logger) async {
        await write(attempts.sweep(all: all), logger: logger)
    }

    private func write(_ events: [AuditEvent], logger: Logger) async {
        for event in events {
            do {
                try await storage.audit(event)
            } catch {
                logger.warning("a denied attempt's audit entry was not written", metadata: ["actor": "\(event.actor)", "error": "\(type(of: error))"])
            }
        }
    }
}
