import Crypto
import Foundation
import GRDB

/// The device's store: one SQLite file in WAL mode holding referrals, the value
/// each field shows, every local edit (history) and the changes waiting to be
/// pushed (outbox).
///
/// Each public write method is one transaction that keeps every invariant:
/// a value, its history line and its outbox entry are written together or not
/// at all, so a crash at any point leaves the store consistent. Commits are
/// synchronous (`synchronous = FULL`): a write the method returned from
/// survives a power cut.
///
/// Referral content is sealed (AES-GCM, see `ContentCipher`) before SQLite
/// sees it, under a data key that only the passphrase unlocks; SQLite's
/// `secure_delete` overwrites what it frees.
public struct LocalStore: Sendable {
    /// The form versions this device has: the built-in one and those fetched
    /// from the server (`storeFormVersion`), read when the store opens.
    public var forms: FormCatalog { formShelf.current }
    /// The newest form version this device has: new drafts are written on it.
    public var form: ReferralForm { forms.latest }
    let formShelf: FormShelf
    /// This device's id, made on first open.
    public let deviceID: String
    let writer: DatabaseQueue
    let clock: any WallClock
    let ids: any IDGenerator
    let cipher: ContentCipher
    /// Where `today` and times typed without an offset are read.
    let timeZone: TimeZone

    /// Opens (creating if needed) the store at `path`, migrates it and unlocks
    /// it with `passphrase`.
    ///
    /// A new store (or one written before encryption, whose content is then
    /// sealed and the file vacuumed) takes `passphrase` as its own, derived
    /// with `keyDerivation`; an existing one throws `StoreError.wrongPassphrase`
    /// and changes nothing when the passphrase does not open it.
    /// - Parameter author: who this device writes as, recorded on first open.
    public init(
        path: String, author: String, passphrase: String, keyDerivation: KeyDerivation = .standard,
        clock: any WallClock = SystemClock(), ids: (any IDGenerator)? = nil,
        timeZone: TimeZone = .current
    ) throws {
        var configuration = Configuration()
        // WAL, set here rather than with GRDB's `journalMode = .wal`: that
        // sets `synchronous = NORMAL` after `prepareDatabase` runs (so commits
        // were not flushed), and makes a throwaway table whenever the WAL file
        // is missing (every one-shot command: one more write and flush).
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            _ = try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // What SQLite frees is overwritten, not left for a file reader.
            try db.execute(sql: "PRAGMA secure_delete = ON")
        }
        let writer = try DatabaseQueue(path: path, configuration: configuration)
        // The passphrase is checked before anything is migrated or written.
        let existing = try writer.read(Keyring.load)
        let opened = try existing.map { ContentCipher(dataKey: try Keyring.unwrap($0, passphrase: passphrase)) }
        if opened == nil { try Keyring.checkNew(passphrase) }
        try StoreSchema.migrator.migrate(writer)
        self.cipher = try opened ?? Self.makeKeyring(writer, passphrase: passphrase, keyDerivation: keyDerivation, now: clock.now())
        let ids = ids ?? UUIDv7Generator(clock: clock)
        self.deviceID = try writer.write { db in
            if let existing = try String.fetchOne(db, sql: "SELECT device_id FROM device") {
                return existing
            }
            let deviceID = ids.next().lowercased
            try db.execute(
                sql: "INSERT INTO device (id, device_id, author, created_at) VALUES (1, ?, ?, ?)",
                arguments: [deviceID, author, Timestamp.string(clock.now())])
            return deviceID
        }
        self.writer = writer
        self.clock = clock
        self.ids = ids
        self.formShelf = FormShelf(try writer.read(Self.storedForms))
        self.timeZone = timeZone
    }

    /// Whether the store at `path` exists and has its keyring, so that its
    /// passphrase was chosen already (a new or pre-encryption store takes the
    /// passphrase it is first opened with, which a person should type twice).
    public static func hasKeyring(at path: String) -> Bool {
        guard FileManager.default.fileExists(atPath: path) else { return false }
        var configuration = Configuration()
        configuration.readonly = true
        guard let queue = try? DatabaseQueue(path: path, configuration: configuration) else { return false }
        do {
            return try queue.read(Keyring.load) != nil
        } catch {
            return true  // a keyring that does not read: opening will say so
        }
    }

    /// A new data key for a store that has none yet, wrapped under the
    /// passphrase; a store written before encryption has its content sealed
    /// in the same transaction, then the file is vacuumed.
    private static func makeKeyring(
        _ writer: DatabaseQueue, passphrase: String, keyDerivation: KeyDerivation, now: Date
    ) throws -> ContentCipher {
        let dataKey = SymmetricKey(size: .bits256)
        let wrapped = try Keyring.wrap(dataKey, passphrase: passphrase, derivation: keyDerivation)
        let cipher = ContentCipher(dataKey: dataKey)
        let created: Bool? = try writer.write { db in
            // Another process may have made the keyring since: use that one.
            guard try Keyring.load(db) == nil else { return nil }
            // Sealed content without a keyring cannot be opened by any key made now.
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM field_value WHERE typeof(value) = 'blob')") == true {
                throw StoreError.keyringMissing
            }
            try Keyring.save(wrapped, db: db, at: Timestamp.string(now))
            return try StoreSchema.sealPlaintext(db, cipher: cipher)
        }
        guard let sealedExisting = created else {
            return ContentCipher(dataKey: try Keyring.unwrap(try writer.read(Keyring.load)!, passphrase: passphrase))
        }
        if sealedExisting {
            // The clear text lived in pages now free: rewrite the file without them.
            try writer.vacuum()
            try checkpoint(writer)
        }
        return cipher
    }

    /// Copies the WAL into the file and empties it, retrying while a reader
    /// holds it, so that what was overwritten leaves the WAL too.
    private static func checkpoint(_ writer: DatabaseQueue) throws {
        for _ in 0..<5 {
            let busy = try writer.writeWithoutTransaction { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(TRUNCATE)").map { $0[0] as Int } ?? 0
            }
            if busy == 0 { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    /// Changes the passphrase: the data key is rewrapped under the new one, in
    /// one transaction, and the old wrapping is overwritten on disk. Referral
    /// data is not rewritten, so nothing can be lost on the way; the data key
    /// stays the same, so a copy of the file taken earlier still opens with
    /// the old passphrase (docs/security.md).
    public func changePassphrase(from current: String, to new: String, keyDerivation: KeyDerivation = .standard) throws {
        try Keyring.checkNew(new)
        guard let stored = try writer.read(Keyring.load) else { throw StoreError.wrongPassphrase }
        let dataKey = try Keyring.unwrap(stored, passphrase: current)
        let rewrapped = try Keyring.wrap(dataKey, passphrase: new, derivation: keyDerivation)
        try writer.write { db in try Keyring.save(rewrapped, db: db, at: Timestamp.string(clock.now())) }
        try Self.checkpoint(writer)
    }

    /// Erases every referral, value, history line, pending change, conflict,
    /// receipt and attachment, and the server token, overwriting what SQLite frees
    /// (`secure_delete`) and emptying the WAL. For a revoked device.
    ///
    /// The device also takes a new id, numbering its changes from 1 again:
    /// the server refuses the old id for good, so a new login registers this
    /// laptop as a new device (docs/field-cli.md, "A revoked laptop").
    /// `deviceID` keeps the old id until the store is opened again.
    public func wipe() throws {
        try writer.writeWithoutTransaction { db in
            try db.inTransaction {
                for table in ["audit_finding", "receipt_referral", "receipt", "conflict", "outbox", "history", "field_value", "referral", "reconcile_snapshot", "attachment_chunk", "attachment"] {
                    try db.execute(sql: "DELETE FROM \(table)")
                }
                try db.execute(
                    sql: "UPDATE device SET token = NULL, pull_cursor = 0, reconcile_after = NULL, device_id = ?, next_seq = 1",
                    arguments: [ids.next().lowercased])
                return .commit
            }
            try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)")
        }
    }

    /// Who this device writes as.
    public func author() throws -> String {
        try writer.read { db in try String.fetchOne(db, sql: "SELECT author FROM device") ?? "" }
    }

    /// Checks the file with SQLite's own integrity check and the store's
    /// invariants; returns one sentence per problem (none when all is well).
    /// - every field's value is the new value of its latest history line;
    /// - the latest outbox change of a field carries the value the field shows;
    /// - the device's next seq is above every seq it has used.
    public func integrityProblems() throws -> [String] {
        try writer.read { db in
            let rows = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            var problems = rows == ["ok"] ? [] : rows
            let drifted = try Row.fetchAll(db, sql: """
                SELECT f.referral_id, f.path FROM field_value f
                LEFT JOIN history h ON h.id = (SELECT max(id) FROM history WHERE referral_id = f.referral_id AND path = f.path)
                WHERE h.id IS NULL OR h.new_value IS NOT f.value
                """)
            problems += drifted.map { "Field \($0["path"] as String) of referral \($0["referral_id"] as String) does not match its latest history line." }
            let unqueued = try Row.fetchAll(db, sql: """
                SELECT o.referral_id, o.path FROM outbox o
                JOIN field_value f ON f.referral_id = o.referral_id AND f.path = o.path
                WHERE o.seq = (SELECT max(seq) FROM outbox WHERE referral_id = o.referral_id AND path = o.path)
                  AND o.value IS NOT f.value
                """)
            problems += unqueued.map { "The pending change of \($0["path"] as String) in referral \($0["referral_id"] as String) does not carry the value shown." }
            if try Bool.fetchOne(db, sql: "SELECT (SELECT next_seq FROM device) <= (SELECT max(seq) FROM outbox)") == true {
                problems.append("The device's next change number is not above the changes already queued.")
            }
            return problems
        }
    }
}
