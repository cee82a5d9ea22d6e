import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// What the intake and conflict routes share: who acts, and a staff write
/// with its audit entry in one transaction.
extension SyncStorage {
    /// The user and the device they act from (`Field-Device`, registered to them).
    func actingDevice(_ request: Request, _ context: SyncRequestContext) async throws -> (User, String) {
        let user = context.user!
        guard let device = request.headers[HTTPField.Name("Field-Device")!], try await deviceOwner(device) == user.id else {
            throw APIError(.forbidden, "Send the id of a device registered to \(user.name) in the Field-Device header; run `field login` first.")
        }
        return (user, device)
    }

    /// Runs a front-door write and its audit entry in one transaction, and
    /// turns the front door's refusals into 404s, 400s and 409s.
    func recorded<T>(_ action: (any SyncTransaction) async throws -> T, audit: (T) -> AuditEvent) async throws -> T {
        do {
            return try await write { transaction in
                let result = try await action(transaction)
                try await transaction.audit(audit(result))
                return result
            }
        } catch FrontDoor.Refusal.notFound(let message) {
            throw APIError(.notFound, message)
        } catch FrontDoor.Refusal.invalid(let message) {
            throw APIError(.badRequest, message)
        } catch FrontDoor.Refusal.conflict(let message) {
            throw APIError(.conflict, message)
        }
    }
}
