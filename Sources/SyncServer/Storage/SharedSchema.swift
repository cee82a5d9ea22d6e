import Foundation

/// Schema changes written once for both backends, applied by each after its
/// own released history (`SQLiteStorage.migrator`, `PostgresStorage.migrations`),
/// in order, each once. The SQL is what SQLite and PostgreSQL both read:
/// `TEXT` and `BIGINT` columns, `ALTER TABLE … ADD COLUMN`, no
/// `AUTOINCREMENT` or `SERIAL`, statements separated by `;` (PostgreSQL's
/// runner sends them one at a time). `SchemaParityTests` checks that the
/// two backends end with the same tables and columns. A released change is
/// never edited: add a new one.
enum SharedSchema {
    static let migrations: [(name: String, sql: String)] = [
        // The web console (docs/console.md): staff sign in with a password
        // (bcrypt, never the text) and, where the operator asks for it, a
        // TOTP code; a signed-in browser holds a session, kept here hashed
        // (SHA-256 of its cookie) so that every instance knows it.
        ("s1-console", """
            ALTER TABLE users ADD COLUMN password_hash TEXT;
            ALTER TABLE users ADD COLUMN totp_secret TEXT;
            CREATE TABLE console_sessions (
                token_hash TEXT PRIMARY KEY,
                user_id BIGINT NOT NULL REFERENCES users(id),
                created_at TEXT NOT NULL,
                last_seen_at TEXT NOT NULL
            );
            CREATE INDEX console_sessions_by_user ON console_sessions(user_id)
            """),
        // The authority's own form versions (docs/form.md): version 1 is the
        // built-in form and never stored; each publish adds the next, as the
        // JSON document devices fetch, with its SHA-256.
        ("s2-form-versions", """
            CREATE TABLE form_versions (
                version BIGINT PRIMARY KEY,
                document TEXT NOT NULL,
                digest TEXT NOT NULL,
                published_at TEXT NOT NULL,
                published_by TEXT NOT NULL
            )
            """),
        // Access that ends with its reason (issue 26): a user the operator
        // disabled (`sync-server user disable`) is refused everywhere, their
        // devices' unsent work kept on the devices; a device revoked records
        // how (`erase`, or `send-submitted` for a leaver's laptop) and, once
        // it has erased, what unsent work it reported destroying.
        ("s3-access", """
            ALTER TABLE users ADD COLUMN disabled_at TEXT;
            ALTER TABLE users ADD COLUMN disabled_by TEXT;
            ALTER TABLE devices ADD COLUMN revoke_mode TEXT;
            ALTER TABLE devices ADD COLUMN erased_unsent TEXT
            """),
        // The front door works from the record (issue 27): each referral's
        // own reference (`@reference`, given at its first submission) is
        // unique, and found by it; the queue and search find a referral's
        // record-level values by path.
        ("s4-referral-reference", """
            CREATE UNIQUE INDEX fields_by_reference ON fields(value) WHERE path = '@reference';
            CREATE INDEX fields_for_search ON fields(record_id, path, value) WHERE \(ServerQueries.searchable)
            """),
        // A child's earlier referrals, joined (issue 28, docs/intake.md): the
        // person index over every submitted referral's children and
        // household members (`PersonIndexing`, kept in the transaction that
        // changes them) with the keys it is looked up by (`PersonKeys`), and
        // intake's decisions about pairs of them.
        ("s5-person-index", """
            CREATE TABLE people (
                record_id TEXT NOT NULL,
                item TEXT NOT NULL,
                role TEXT NOT NULL,
                name TEXT,
                folded TEXT NOT NULL,
                name_key TEXT NOT NULL,
                known_as TEXT,
                date_of_birth TEXT,
                nhs_number TEXT,
                postcode TEXT,
                address TEXT,
                PRIMARY KEY (record_id, item)
            );
            CREATE TABLE person_keys (
                key TEXT NOT NULL,
                record_id TEXT NOT NULL,
                item TEXT NOT NULL,
                PRIMARY KEY (record_id, item, key)
            );
            CREATE INDEX person_keys_by_key ON person_keys(key);
            CREATE TABLE person_links (
                person_a TEXT NOT NULL,
                person_b TEXT NOT NULL,
                decision TEXT NOT NULL,
                reason TEXT NOT NULL,
                decided_by TEXT NOT NULL,
                decided_at TEXT NOT NULL,
                PRIMARY KEY (person_a, person_b)
            );
            CREATE INDEX person_links_by_b ON person_links(person_b)
            """),
        // Signed receipts (issue 29, docs/protocol.md "Signed receipts"):
        // each push's receipt as the server signed it (a JWS), so that a
        // retry gets the same bytes, and the public half of every receipt
        // key the server has had, rotated ones kept, for `/v1/keys` and for
        // checking what they signed. The private key is a file, never here.
        ("s6-signed-receipts", """
            ALTER TABLE receipts ADD COLUMN document TEXT;
            CREATE TABLE receipt_keys (
                kid TEXT PRIMARY KEY,
                x TEXT NOT NULL,
                created_at TEXT NOT NULL,
                retired_at TEXT
            )
            """),
        // A device's first pull reads its user's referrals, not the whole
        // log: a practitioner's by owner (issue 30; `SQLiteStorage.pull`).
        ("s7-records-by-owner", """
            CREATE INDEX records_by_owner ON records(owner_id, id)
            """),
        // Attachments (issue 31, docs/protocol.md "Attachments"): each file
        // once, by the SHA-256 of its content, in the database so that every
        // instance sees it and backups, restores and `migrate-store` carry it;
        // its chunks as they arrive (`BYTEA`: SQLite keeps the bytes as a
        // blob). `received_at` is set once the chunks make the file, checked
        // against its SHA-256; until then no referral may name it. `sha1`
        // (base64) is FHIR R4's `Attachment.hash`.
        ("s8-attachments", """
            CREATE TABLE attachments (
                sha256 TEXT PRIMARY KEY,
                size BIGINT NOT NULL,
                media_type TEXT NOT NULL,
                chunk_size BIGINT NOT NULL,
                chunk_count BIGINT NOT NULL,
                offered_by BIGINT NOT NULL,
                offered_device TEXT,
                offered_at TEXT NOT NULL,
                received_at TEXT,
                sha1 TEXT
            );
            CREATE TABLE attachment_chunks (
                sha256 TEXT NOT NULL,
                position BIGINT NOT NULL,
                bytes BYTEA NOT NULL,
                PRIMARY KEY (sha256, position)
            )
            """),
    ]
}
