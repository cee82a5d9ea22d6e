import Crypto
import Foundation
import GRDB
import _CryptoExtras

/// How a passphrase becomes the key that unlocks a device's store: scrypt,
/// which is memory-hard, with its cost recorded beside the salt so that a
/// store made with one cost still opens when the default changes.
public struct KeyDerivation: Sendable, Equatable {
    /// log2 of scrypt's N (the memory and time cost).
    public var log2N: Int
    public var blockSize: Int
    public var parallelism: Int

    /// 2^17 × 8 × 128 bytes = 128 MiB per derivation, OWASP's recommendation
    /// for scrypt. Paid once per one-shot command, once per session.
    public static let standard = KeyDerivation(log2N: 17, blockSize: 8, parallelism: 1)
    /// 1 MiB: for tests, which open hundreds of stores. Never for real data.
    public static let testing = KeyDerivation(log2N: 10, blockSize: 8, parallelism: 1)

    public init(log2N: Int, blockSize: Int, parallelism: Int) {
        self.log2N = log2N
        self.blockSize = blockSize
        self.parallelism = parallelism
    }

    /// One derivation of a fixed passphrase, for benchmarks.
    public func benchmarkDerivation() throws {
        _ = try key(from: "benchmark passphrase", salt: Data(count: 16))
    }

    func key(from passphrase: String, salt: Data) throws -> SymmetricKey {
        let memory = 128 * blockSize * (1 << log2N) * parallelism
        return try KDF.Scrypt.deriveKey(
            from: Array(passphrase.utf8), salt: salt, outputByteCount: 32, rounds: 1 << log2N,
            blockSize: blockSize, parallelism: parallelism, maxMemory: memory + (1 << 20))
    }
}

/// Seals referral content before it reaches SQLite, so that neither the
/// database file nor its WAL or journal ever holds it in clear.
///
/// Each value is encrypted with AES-256-GCM under a key drawn from the store's
/// data key. The nonce is synthetic (an HMAC of the value and where it lives,
/// as in AES-GCM-SIV's construction), so the same value in the same field
/// always seals to the same bytes: the store's own consistency checks compare
/// sealed values in SQL, and a field's value, its history line and its
/// outbox entry stay byte-equal. The referral id and the path are
/// authenticated with the value, so a sealed value moved to another field or
/// referral fails to open instead of showing the wrong thing.
///
/// Only the values the store's queries must see stay in clear: a referral's
/// kind and status, and the markers that say a group item exists. Paths,
/// ids, times and authors are not content and stay in clear too.
// SymmetricKey is immutable once made (its bytes are never written again) but
// is not marked Sendable by this swift-crypto.
struct ContentCipher: @unchecked Sendable {
    private let sealingKey: SymmetricKey
    /// HMAC-SHA256 under the nonce key with the key already absorbed: each
    /// seal copies it (a value copy of two hash states) instead of padding
    /// and hashing the key again, which a pulled page does thousands of times.
    private let nonceMAC: HMAC<SHA256>
    private static let version: UInt8 = 1

    init(dataKey: SymmetricKey) {
        sealingKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, info: Data("field content seal v1".utf8), outputByteCount: 32)
        let nonceKey = HKDF<SHA256>.deriveKey(inputKeyMaterial: dataKey, info: Data("field content nonce v1".utf8), outputByteCount: 32)
        nonceMAC = HMAC<SHA256>(key: nonceKey)
    }

    /// The form's repeating groups, whose item markers stay in clear.
    private static let groupKeys = Set(ReferralForm.standard.groups.map(\.key))

    /// Record-level values the store's own queries read: never content.
    static func isStructural(_ path: String) -> Bool {
        let bytes = path.utf8
        guard let first = bytes.first else { return false }
        if first == UInt8(ascii: "@") { return path == RecordPath.kind || path == RecordPath.status || path == RecordPath.form }
        // A group item's marker: `<group>.<uuid>`, whose value is `present`.
        // Most paths fail on the first test: what follows the first dot is
        // not 36 bytes, or holds a dot of its own.
        guard let dot = bytes.firstIndex(of: UInt8(ascii: ".")) else { return false }
        let item = bytes[bytes.index(after: dot)...]
        guard item.count == 36, !item.contains(UInt8(ascii: ".")) else { return false }
        return groupKeys.contains(String(path[..<dot])) && UUID(uuidString: String(path[path.index(after: dot)...])) != nil
    }

    /// Values are padded to a multiple of this before sealing, so that a
    /// sealed answer's length does not give it away (`yes` and `no`, `low`
    /// and `high` seal to the same length).
    static let padding = 32

    /// What SQLite stores for `value` at `path` of `record`: NULL, the value
    /// itself for structural paths, or a sealed blob.
    func seal(_ value: String?, record: String, path: String) -> DatabaseValue {
        guard let value else { return .null }
        if Self.isStructural(path) { return value.databaseValue }
        // ISO/IEC 7816-4 padding: 0x80, then zeros to the next multiple.
        var plaintext = Data(value.utf8)
        plaintext.append(0x80)
        plaintext.append(contentsOf: repeatElement(0, count: (Self.padding - plaintext.count % Self.padding) % Self.padding))
        return sealed(plaintext, context: Self.context(record: record, path: path)).databaseValue
    }

    /// `plaintext` sealed with AES-256-GCM, `context` authenticated with it,
    /// under a synthetic nonce (an HMAC of the context and the plaintext):
    /// the version byte, then the nonce, ciphertext and tag.
    private func sealed(_ plaintext: Data, context: Data) -> Data {
        var mac = nonceMAC
        mac.update(data: context)
        mac.update(data: [UInt8(0)])
        mac.update(data: plaintext)
        let tag = mac.finalize()
        do {
            let nonce = try tag.withUnsafeBytes { try AES.GCM.Nonce(data: UnsafeRawBufferPointer(rebasing: $0.prefix(12))) }
            let box = try AES.GCM.seal(plaintext, using: sealingKey, nonce: nonce, authenticating: context)
            var sealed = Data([Self.version])
            sealed.append(box.combined!)
            return sealed
        } catch {
            // AES-GCM with a 12-byte nonce and a 256-bit key cannot fail.
            preconditionFailure("AES-GCM sealing failed: \(error)")
        }
    }

    /// The value SQLite holds, opened. Text is accepted only where values are
    /// kept in clear: content found in clear was put there behind the store's
    /// back, and is refused like a sealed value that does not open.
    func open(_ stored: DatabaseValue, record: String, path: String) throws -> String? {
        switch stored.storage {
        case .null:
            return nil
        case .string(let text):
            guard Self.isStructural(path) else { throw StoreError.unreadable(record: record, path: path) }
            return text
        case .blob(let data):
            guard data.first == Self.version, data.count >= 1 + 12 + 16 + Self.padding else {
                throw StoreError.unreadable(record: record, path: path)
            }
            let padded: Data
            do {
                let box = try AES.GCM.SealedBox(combined: data.dropFirst())
                padded = try AES.GCM.open(box, using: sealingKey, authenticating: Self.context(record: record, path: path))
            } catch {
                throw StoreError.unreadable(record: record, path: path)
            }
            guard let end = padded.lastIndex(where: { $0 != 0 }), padded[end] == 0x80 else {
                throw StoreError.unreadable(record: record, path: path)
            }
            return String(decoding: padded[padded.startIndex..<end], as: UTF8.self)
        default:
            throw StoreError.unreadable(record: record, path: path)
        }
    }

    /// Opens a column of a fetched row.
    func open(_ row: Row, _ column: String, record: String, path: String) throws -> String? {
        try open(row[column] as DatabaseValue, record: record, path: path)
    }

    /// One chunk of an attachment's content (`AttachmentChunks`), sealed
    /// with AES-256-GCM under the store's key. The nonce is synthetic, as
    /// for values, so the same chunk always seals to the same bytes; the
    /// attachment's SHA-256 and the chunk's position are authenticated with
    /// it, so a chunk moved to another place fails to open.
    func sealChunk(_ bytes: Data, sha256: String, position: Int) -> Data {
        sealed(bytes, context: Self.chunkContext(sha256: sha256, position: position))
    }

    /// A sealed chunk, opened.
    /// - Throws: `StoreError.unreadableAttachment` when it does not open.
    func openChunk(_ sealed: Data, sha256: String, position: Int) throws -> Data {
        guard sealed.first == Self.version, sealed.count >= 1 + 12 + 16 else { throw StoreError.unreadableAttachment(sha256) }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst())
            return try AES.GCM.open(box, using: sealingKey, authenticating: Self.chunkContext(sha256: sha256, position: position))
        } catch {
            throw StoreError.unreadableAttachment(sha256)
        }
    }

    private static func chunkContext(sha256: String, position: Int) -> Data {
        Data("attachment\u{0}\(sha256)\u{0}\(position)".utf8)
    }

    private static func context(record: String, path: String) -> Data {
        var context = Data(record.utf8)
        context.append(0)
        context.append(contentsOf: path.utf8)
        return context
    }
}

/// The store's data key, kept wrapped (AES-GCM) under a key derived from the
/// passphrase. Changing the passphrase rewraps the data key: nothing else is
/// rewritten, so no referral data is touched.
enum Keyring {
    private static let label = Data("field keyring v1".utf8)

    struct Stored {
        var derivation: KeyDerivation
        var salt: Data
        var wrappedKey: Data
    }

    static func load(_ db: Database) throws -> Stored? {
        guard try db.tableExists("keyring"), let row = try Row.fetchOne(db, sql: "SELECT * FROM keyring") else { return nil }
        // Read defensively: a keyring altered to absurd costs must not crash or hang.
        func value<T: DatabaseValueConvertible>(_ column: String, as type: T.Type) -> T? {
            T.fromDatabaseValue(row[column] as DatabaseValue)
        }
        guard value("kdf", as: String.self) == "scrypt",
            let log2N = value("log2_n", as: Int.self), (10...20).contains(log2N),
            let blockSize = value("block_size", as: Int.self), (1...32).contains(blockSize),
            let parallelism = value("parallelism", as: Int.self), (1...4).contains(parallelism),
            let salt = value("salt", as: Data.self), salt.count >= 16,
            let wrappedKey = value("wrapped_key", as: Data.self)
        else { throw StoreError.unreadable(record: "device", path: "@keyring") }
        return Stored(
            derivation: KeyDerivation(log2N: log2N, blockSize: blockSize, parallelism: parallelism),
            salt: salt, wrappedKey: wrappedKey)
    }

    /// The data key, or `wrongPassphrase` when the passphrase does not open it.
    static func unwrap(_ stored: Stored, passphrase: String) throws -> SymmetricKey {
        let wrapping = try stored.derivation.key(from: passphrase, salt: stored.salt)
        do {
            let box = try AES.GCM.SealedBox(combined: stored.wrappedKey)
            return SymmetricKey(data: try AES.GCM.open(box, using: wrapping, authenticating: label))
        } catch {
            throw StoreError.wrongPassphrase
        }
    }

    static func wrap(_ dataKey: SymmetricKey, passphrase: String, derivation: KeyDerivation) throws -> Stored {
        let salt = Data(SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) })
        let wrapping = try derivation.key(from: passphrase, salt: salt)
        let keyBytes = dataKey.withUnsafeBytes { Data($0) }
        let box = try AES.GCM.seal(keyBytes, using: wrapping, authenticating: label)
        return Stored(derivation: derivation, salt: salt, wrappedKey: box.combined!)
    }

    static func save(_ stored: Stored, db: Database, at: String) throws {
        try db.execute(sql: """
            INSERT INTO keyring (id, kdf, log2_n, block_size, parallelism, salt, wrapped_key, changed_at) VALUES (1, 'scrypt', ?, ?, ?, ?, ?, ?)
            ON CONFLICT (id) DO UPDATE SET log2_n = excluded.log2_n, block_size = excluded.block_size,
                parallelism = excluded.parallelism, salt = excluded.salt, wrapped_key = excluded.wrapped_key,
                changed_at = excluded.changed_at
            """,
            arguments: [stored.derivation.log2N, stored.derivation.blockSize, stored.derivation.parallelism,
                        stored.salt, stored.wrappedKey, at])
    }

    /// A new passphrase must be worth deriving a key from.
    static func checkNew(_ passphrase: String) throws {
        guard passphrase.count >= 8 else { throw StoreError.weakPassphrase(length: passphrase.count) }
    }
}
