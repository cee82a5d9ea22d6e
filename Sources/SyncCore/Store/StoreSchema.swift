import GRDB

/// The device store's schema, as migrations from v1. A migration is never
/// edited once released: add a new one.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // The device itself: one row. `next_seq` numbers the device's changes
            // 1, 2, 3…; the last hybrid-logical-clock stamp keeps stamps monotonic
            // even when the wall clock goes back.
            try db.execute(sql: """
                CREATE TABLE device (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    device_id TEXT NOT NULL,
                    author TEXT NOT NULL,
                    next_seq INTEGER NOT NULL DEFAULT 1,
                    hlc_wall INTEGER NOT NULL DEFAULT 0,
                    hlc_counter INTEGER NOT NULL DEFAULT 0,
                    created_at TEXT NOT NULL
                );
                CREATE TABLE referral (
                    id TEXT PRIMARY KEY,
                    created_at TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                -- The value each field shows now. A cleared field keeps its row
                -- (value NULL) so that its base revision survives.
                CREATE TABLE field_value (
                    referral_id TEXT NOT NULL REFERENCES referral(id),
                    path TEXT NOT NULL,
                    value TEXT,
                    base_rev INTEGER NOT NULL DEFAULT 0,
                    updated_at TEXT NOT NULL,
                    PRIMARY KEY (referral_id, path)
                ) WITHOUT ROWID;
                -- Every edit ever made on this device, never rewritten.
                CREATE TABLE history (
                    id INTEGER PRIMARY KEY,
                    referral_id TEXT NOT NULL REFERENCES referral(id),
                    path TEXT NOT NULL,
                    old_value TEXT,
                    new_value TEXT,
                    author TEXT NOT NULL,
                    device_id TEXT NOT NULL,
                    at TEXT NOT NULL,
                    hlc TEXT NOT NULL
                );
                CREATE INDEX history_by_referral ON history(referral_id, path, id);
                -- Changes waiting to be pushed. Edits of a field before a push
                -- coalesce into its open row (sent_at NULL), which keeps the first
                -- base revision; once sent, a row is frozen so that a retry with
                -- the same seq always carries the same value.
                CREATE TABLE outbox (
                    seq INTEGER PRIMARY KEY,
                    referral_id TEXT NOT NULL REFERENCES referral(id),
                    path TEXT NOT NULL,
                    value TEXT,
                    base_rev INTEGER NOT NULL,
                    hlc TEXT NOT NULL,
                    author TEXT NOT NULL,
                    edits INTEGER NOT NULL DEFAULT 1,
                    created_at TEXT NOT NULL,
                    sent_at TEXT
                );
                CREATE UNIQUE INDEX outbox_open_change ON outbox(referral_id, path) WHERE sent_at IS NULL;
                """)
        }
        migrator.registerMigration("v2-sync") { db in
            // The server this device syncs with, how far it has pulled, the
            // changes the server refused (kept, with the reason), conflicts as
            // the server reports them, and receipts.
            try db.execute(sql: """
                ALTER TABLE device ADD COLUMN server_url TEXT;
                ALTER TABLE device ADD COLUMN token TEXT;
                ALTER TABLE device ADD COLUMN role TEXT;
                ALTER TABLE device ADD COLUMN pull_cursor INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE outbox ADD COLUMN rejected_reason TEXT;
                ALTER TABLE history ADD COLUMN origin TEXT NOT NULL DEFAULT 'local';
                CREATE TABLE conflict (
                    id TEXT PRIMARY KEY,
                    referral_id TEXT NOT NULL REFERENCES referral(id),
                    path TEXT NOT NULL,
                    status TEXT NOT NULL,
                    candidates TEXT NOT NULL,
                    updated_at TEXT NOT NULL
                );
                CREATE INDEX conflict_by_referral ON conflict(referral_id, path);
                CREATE TABLE receipt (
                    reference TEXT PRIMARY KEY,
                    server_time TEXT NOT NULL,
                    changes INTEGER NOT NULL
                );
                CREATE TABLE receipt_referral (
                    reference TEXT NOT NULL REFERENCES receipt(reference),
                    referral_id TEXT NOT NULL,
                    PRIMARY KEY (reference, referral_id)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-outbox-index") { db in
            // Pending changes by referral and field, sent or not: status, pulls
            // and reads ask for them on every command.
            try db.execute(sql: "CREATE INDEX outbox_by_field ON outbox(referral_id, path)")
        }
        migrator.registerMigration("v4-received") { db in
            // When the server acknowledged the submission, and under which
            // receipt: the front door's deadlines run from there.
            try db.execute(sql: """
                ALTER TABLE referral ADD COLUMN received_at TEXT;
                ALTER TABLE referral ADD COLUMN received_receipt TEXT;
                """)
        }
        migrator.registerMigration("v5-keyring") { db in
            // The data key that seals referral content, wrapped under a key
            // derived from the passphrase (see ContentCipher and Keyring).
            try db.execute(sql: """
                CREATE TABLE keyring (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    kdf TEXT NOT NULL,
                    log2_n INTEGER NOT NULL,
                    block_size INTEGER NOT NULL,
                    parallelism INTEGER NOT NULL,
                    salt BLOB NOT NULL,
                    wrapped_key BLOB NOT NULL,
                    changed_at TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v6-server-ca") { db in
            // The private certificate authority `field login --ca` trusts
            // for this server (PEM), used by every later call.
            try db.execute(sql: "ALTER TABLE device ADD COLUMN server_ca TEXT")
        }
        migrator.registerMigration("v7-recovery") { db in
            // What heals a device or a server that went back in time
            // (docs/protocol.md, "Recovery"):
            // - the server's epoch the device last synced under;
            // - how far this device's clock is from the server's (ms, device
            //   minus server), and the offset it last told the user about;
            // - while reconciling with a restored server: the history line the
            //   reconciliation started after, and what the device held then;
            // - refusals the device sends again by itself (`rejected_retry`).
            try db.execute(sql: """
                ALTER TABLE device ADD COLUMN server_epoch TEXT;
                ALTER TABLE device ADD COLUMN clock_offset_ms INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE device ADD COLUMN clock_noted_ms INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE device ADD COLUMN reconcile_after INTEGER;
                ALTER TABLE outbox ADD COLUMN rejected_retry INTEGER NOT NULL DEFAULT 0;
                CREATE TABLE reconcile_snapshot (
                    referral_id TEXT NOT NULL,
                    path TEXT NOT NULL,
                    value BLOB,
                    hlc TEXT NOT NULL,
                    PRIMARY KEY (referral_id, path)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v8-conflict-resolution") { db in
            // Who resolved a conflict, when and why (sealed JSON), for `field status`.
            try db.execute(sql: "ALTER TABLE conflict ADD COLUMN resolution BLOB")
        }
        migrator.registerMigration("v9-form-versions") { db in
            // Form versions fetched from the server (version 1 is built in): docs/form.md.
            try db.execute(sql: """
                CREATE TABLE form_version (
                    version INTEGER PRIMARY KEY,
                    document TEXT NOT NULL,
                    fetched_at TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v10-signed-receipts") { db in
            // Signed receipts (docs/security.md): each receipt as the server
            // signed it, what it names of the audit chain, and whether it
            // checked out here; the server's receipt keys, pinned at login;
            // and what the audit head check found.
            try db.execute(sql: """
                ALTER TABLE receipt ADD COLUMN signed TEXT;
                ALTER TABLE receipt ADD COLUMN audit_position INTEGER;
                ALTER TABLE receipt ADD COLUMN audit_hash TEXT;
                ALTER TABLE receipt ADD COLUMN problem TEXT;
                CREATE TABLE receipt_key (
                    kid TEXT PRIMARY KEY,
                    x TEXT NOT NULL,
                    created TEXT,
                    retired TEXT,
                    pinned_at TEXT NOT NULL
                );
                CREATE TABLE audit_finding (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    receipt TEXT,
                    message TEXT NOT NULL
                );
                """)
        }
        migrator.registerMigration("v11-attachments") { db in
            // Attachments (docs/field-cli.md, "Attachments"): each file once,
            // by the SHA-256 of its content, whichever referrals name it; its
            // content in the chunks it is sent in, each sealed like a value
            // (`ContentCipher.sealChunk`); `received_at` once the server said
            // it holds the whole file.
            try db.execute(sql: """
                CREATE TABLE attachment (
                    sha256 TEXT PRIMARY KEY,
                    media_type TEXT NOT NULL,
                    size INTEGER NOT NULL,
                    created_at TEXT NOT NULL,
                    received_at TEXT
                );
                CREATE TABLE attachment_chunk (
                    sha256 TEXT NOT NULL REFERENCES attachment(sha256) ON DELETE CASCADE,
                    position INTEGER NOT NULL,
                    sealed BLOB NOT NULL,
                    PRIMARY KEY (sha256, position)
                );
                """)
        }
        return migrator
    }

    /// Seals the content a store written before encryption holds in clear
    /// (values, history, pending changes and their refusal reasons, conflict
    /// candidates, the server token); returns whether there was any. Runs once, when the keyring is made.
    static func sealPlaintext(_ db: Database, cipher: ContentCipher) throws -> Bool {
        var sealed = 0
        func seal(table: String, key: String, columns: [String], record: String, path: String) throws {
            for column in columns {
                let rows = try Row.fetchAll(db, sql: """
                    SELECT \(key) AS key, \(record) AS record, \(path) AS path, \(column) AS value
                    FROM \(table) WHERE typeof(\(column)) = 'text'
                    """)
                for row in rows where !ContentCipher.isStructural(row["path"]) {
                    let value: String = row["value"]
                    try db.execute(
                        sql: "UPDATE \(table) SET \(column) = ? WHERE \(key) = ?",
                        arguments: [cipher.seal(value, record: row["record"], path: row["path"]), row["key"] as DatabaseValue])
                    sealed += 1
                }
            }
        }
        try seal(table: "field_value", key: "referral_id || ' ' || path", columns: ["value"], record: "referral_id", path: "path")
        try seal(table: "history", key: "id", columns: ["old_value", "new_value"], record: "referral_id", path: "path")
        try seal(table: "outbox", key: "seq", columns: ["value"], record: "referral_id", path: "path")
        try seal(table: "outbox", key: "seq", columns: ["rejected_reason"], record: "referral_id", path: "'@rejected.' || seq")
        try seal(table: "conflict", key: "id", columns: ["candidates"], record: "referral_id", path: "'@conflict.' || id")
        try seal(table: "device", key: "id", columns: ["token"], record: "'device'", path: "'@token'")
        return sealed > 0
    }
}
