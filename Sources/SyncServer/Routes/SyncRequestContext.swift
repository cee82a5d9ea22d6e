import Foundation
import Hummingbird
import SyncCore

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
