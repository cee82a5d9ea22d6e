import Foundation
import SyncCore

/// Who may still sign in, and with what: the operator's changes to a user's
/// access (`sync-server user rotate-token|disable|enable|set-role`), each one
/// transaction with its audit entry and with the end of what the old access
/// gave (console sessions, devices' tokens).
extension SQLStore {
    func replaceToken(of name: String, tokenHash: String, by: String, reason: String?, at: String) async throws -> Bool {
        try await writing { transaction in
            guard let id = try await transaction.sql.rows(
                "UPDATE users SET token_hash = $1 WHERE name = $2 RETURNING id", [.text(tokenHash), .text(name)]).first?.int("id")
            else { return false }
            try await Self.endSignIns(of: id, devices: true, in: transaction)
            try await transaction.audit(AuditEvent(at: at, actor: by, action: "rotate-token", record: nil, detail: OperatorActor.detail("user=\(name)", reason: reason)))
            return true
        }
    }

    func setDisabled(_ disabled: Bool, user name: String, by: String, reason: String?, at: String) async throws -> AccessChange {
        try await writing { transaction in
            guard let row = try await transaction.sql.rows("SELECT id, disabled_at FROM users WHERE name = $1", [.text(name)]).first,
                let id = try row.int("id")
            else { return .noSuchUser }
            let since = try row.text("disabled_at")
            guard (since != nil) != disabled else { return .unchanged }
            if disabled {
                try await transaction.sql.run("UPDATE users SET disabled_at = $1, disabled_by = $2 WHERE id = $3", [.text(at), .text(by), .int(id)])
                try await Self.endSignIns(of: id, devices: false, in: transaction)
            } else {
                try await transaction.sql.run("UPDATE users SET disabled_at = NULL, disabled_by = NULL WHERE id = $1", [.int(id)])
            }
            try await transaction.audit(AuditEvent(
                at: at, actor: by, action: disabled ? "disable-user" : "enable-user", record: nil,
                detail: OperatorActor.detail("user=\(name)", reason: reason)))
            return .changed(previous: since)
        }
    }

    func setRole(of name: String, to role: Role, by: String, reason: String?, at: String) async throws -> AccessChange {
        try await writing { transaction in
            guard let row = try await transaction.sql.rows("SELECT id, role FROM users WHERE name = $1", [.text(name)]).first,
                let id = try row.int("id"), let previous = try row.text("role")
            else { return .noSuchUser }
            guard previous != role.rawValue else { return .unchanged }
            try await transaction.sql.run("UPDATE users SET role = $1 WHERE id = $2", [.text(role.rawValue), .int(id)])
            try await Self.endSignIns(of: id, devices: false, in: transaction)
            try await transaction.audit(AuditEvent(
                at: at, actor: by, action: "set-role", record: nil, detail: OperatorActor.detail("user=\(name) from=\(previous) to=\(role.rawValue)", reason: reason)))
            return .changed(previous: previous)
        }
    }

    /// Ends the user's console sessions and, with `devices`, the tokens
    /// their devices were given when they registered.
    static func endSignIns(of user: Int64, devices: Bool, in transaction: any SQLTransaction) async throws {
        try await transaction.sql.run("DELETE FROM console_sessions WHERE user_id = $1", [.int(user)])
        if devices {
            // A revoked device keeps its token, for its way out (the wipe report).
            try await transaction.sql.run("UPDATE devices SET token_hash = NULL WHERE user_id = $1 AND revoked_at IS NULL", [.int(user)])
        }
    }
}
