import Foundation
import SyncCore

/// A user as `sync-server user list` shows them: never their token or its hash.
struct UserSummary: Sendable, Equatable {
    var name: String
    var role: String
    var createdAt: String
    /// When the operator disabled the user, and who; nil while they may sign in.
    var disabledAt: String? = nil
    var disabledBy: String? = nil
}

/// A device as `sync-server device list` shows it.
struct DeviceSummary: Sendable, Equatable {
    var id: String
    var user: String
    var registeredAt: String
    /// When it last pushed or pulled (nil if it never has since the server recorded it).
    var lastSyncAt: String?
    var revokedAt: String?
    var revokedBy: String?
    /// When it reported that it erased its referral data after being revoked.
    var wipedAt: String?
    /// How it was revoked (nil for a device revoked before modes were recorded: erase).
    var revokeMode: RevokeMode? = nil
    /// What unsent work it reported erasing (nil if it has not erased, or reported nothing).
    var erasedUnsent: WipeReport? = nil
}

/// Which audit entries `sync-server audit show` lists. Every filter is
/// optional; together they all apply.
struct AuditFilter: Sendable, Equatable {
    /// Exactly this actor (a user name, or `operator`).
    var actor: String?
    /// Exactly this action (`push`, `revoke`, …).
    var action: String?
    /// A referral id or a prefix of one: entries about it, or pushes and
    /// pulls that list it among their records. Hex digits and hyphens only.
    var record: String?
    /// Entries at or after this time (`2026-11-23` or `2026-11-23T10:00:00Z`).
    var since: String?
    /// At most this many, the latest ones.
    var limit: Int = 100
}

/// One audit entry as listed, with its position in the chain.
struct AuditListing: Sendable, Equatable {
    var id: Int64
    var event: AuditEvent
}

extension ServerQueries {
    /// Users by name: name, role, created_at.
    static let users = "SELECT name, role, created_at, disabled_at, disabled_by FROM users ORDER BY name"

    /// Devices by user then registration, optionally of one user (`$1`, or NULL for all).
    static let devices = """
        SELECT d.id, u.name, d.registered_at, d.last_sync_at, d.revoked_at, d.revoked_by, d.wiped_at, d.revoke_mode, d.erased_unsent
        FROM devices d JOIN users u ON u.id = d.user_id
        WHERE CAST($1 AS TEXT) IS NULL OR u.name = CAST($1 AS TEXT)
        ORDER BY u.name, d.registered_at, d.id
        """

    /// `$1`: a device id or the start of one, hex digits and hyphens only (no LIKE wildcards).
    static let devicesByPrefix = "SELECT id FROM devices WHERE id LIKE $1 || '%' ORDER BY id LIMIT 10"

    /// `$1`: a device, `$2`: its user, `$3`: now. Records that it synced.
    static let recordSync = "UPDATE devices SET last_sync_at = $3 WHERE id = $1 AND user_id = $2"

    /// The audit entries `filter` selects, latest `limit` first, with the
    /// statement's binds in order (`$1`, `$2`, …).
    static func audit(_ filter: AuditFilter) -> (sql: String, binds: [String]) {
        var conditions: [String] = []
        var binds: [String] = []
        func bind(_ value: String) -> String {
            binds.append(value)
            return "$\(binds.count)"
        }
        if let actor = filter.actor { conditions.append("actor = \(bind(actor))") }
        if let action = filter.action { conditions.append("action = \(bind(action))") }
        if let record = filter.record {
            // `record` holds hex digits and hyphens only: no LIKE wildcards.
            let prefix = bind(record)
            conditions.append("(record_id LIKE \(prefix) || '%' OR detail LIKE '%records=' || \(prefix) || '%' OR detail LIKE '%records=%,' || \(prefix) || '%')")
        }
        if let since = filter.since { conditions.append("at >= \(bind(since))") }
        let condition = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        return ("SELECT id, at, actor, action, record_id, detail FROM audit \(condition) ORDER BY id DESC LIMIT \(max(1, filter.limit))", binds)
    }
}
