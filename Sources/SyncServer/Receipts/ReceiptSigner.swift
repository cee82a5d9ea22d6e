import Crypto
import Foundation
import Logging
import Synchronization
import SyncCore

/// The server's receipt signing key (docs/security.md, "Signed receipts"):
/// an Ed25519 private key in a file of its own, `0600`, as a private JWK
/// (RFC 8037: `{"kty":"OKP","crv":"Ed25519","x":…,"d":…,"kid":…}`),
/// created at the first start. Its public half is recorded in the store
/// (`receipt_keys`), where it stays after a rotation, so that every receipt
/// the server ever signed can still be checked (`/v1/keys`).
///
/// `sync-server key rotate` replaces the file (atomically) and retires the
/// old key in the store; a running server signs its next receipt with the
/// new one. Instances sharing a PostgreSQL
/// database share the file (copied to each, like the TLS key); an instance
/// with its own key records it at start, and `/v1/keys` serves every key.
final class ReceiptSigner: Sendable {
    let path: String
    private let state: Mutex<State>

    private struct State {
        var key: ReceiptSigningKey
        var fileIdentity: FileIdentity?
    }

    /// The file's inode and modification time: a rotation changes both.
    struct FileIdentity: Equatable {
        var inode: UInt64
        var seconds: Int64
        var nanoseconds: Int64
    }

    /// Loads the key at `path`, or creates it (`0600`) when there is none,
    /// and records its public half in `storage`.
    /// - Throws: `OperatorError` naming the file when it cannot be read,
    ///   created or is not an Ed25519 private JWK.
    init(path: String, storage: any SyncStorage, clock: any WallClock, logger: Logger) async throws {
        self.path = path
        let at = Timestamp.string(clock.now())
        let key: ReceiptSigningKey
        if FileManager.default.fileExists(atPath: path) {
            key = try ReceiptKeyFile.read(path)
            if ReceiptKeyFile.narrow(path) {
                logger.warning("the receipt key file was readable by others; it is now 0600", metadata: ["file": "\(path)"])
            }
        } else {
            key = ReceiptSigningKey(Curve25519.Signing.PrivateKey(), created: at)
            try ReceiptKeyFile.create(key, at: path)
            logger.notice("receipt signing key created", metadata: ["file": "\(path)", "kid": "\(key.id)"])
        }
        try await storage.addReceiptKey(key.publicKey, retiringOthers: false, at: at, audit: nil)
        if let retired = try await storage.receiptKeys().first(where: { $0.kid == key.id })?.retired {
            // `key rotate` was given another file than this instance's, or this file was copied back.
            logger.warning("this instance's receipt key was retired; rotate it with this instance's --receipt-key", metadata: [
                "file": "\(path)", "kid": "\(key.id)", "retired": "\(retired)",
            ])
        }
        state = Mutex(State(key: key, fileIdentity: ReceiptKeyFile.identity(path)))
    }

    /// The key to sign with now: the file's, read again when it changed
    /// (one `stat` per receipt, a few microseconds, so that a rotation
    /// takes effect with the next push).
    var current: ReceiptSigningKey {
        state.withLock { state in
            let identity = ReceiptKeyFile.identity(path)
            if identity != state.fileIdentity, let key = try? ReceiptKeyFile.read(path) {
                state.key = key
                state.fileIdentity = identity
            }
            return state.key
        }
    }

    /// Signs `document` with the current key.
    func sign(_ document: ReceiptDocument) throws -> SignedReceipt {
        try SignedReceipt.sign(document, with: current)
    }
}

/// The receipt key's file: a private JWK, `0600`, written once and replaced
/// whole (a new file renamed over it).
enum ReceiptKeyFile {
    private struct PrivateJWK: Codable {
        var kty = "OKP"
        var crv = "Ed25519"
        var x: String
        var d: String
        var kid: String
        var created: String?
    }

    /// Where the key lives unless `--receipt-key` says: beside a SQLite
    /// database (`DB.receipt-key`), else in the working directory.
    static func defaultPath(for storage: StorageOptions) -> String {
        storage.postgresURL == nil ? storage.db + ".receipt-key" : "sync-server.receipt-key"
    }

    /// - Throws: `OperatorError` naming the file.
    static func read(_ path: String) throws -> ReceiptSigningKey {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw OperatorError("Cannot read the receipt key '\(path)': check its owner and permissions.")
        }
        guard let jwk = try? JSONDecoder().decode(PrivateJWK.self, from: data), jwk.kty == "OKP", jwk.crv == "Ed25519",
              let raw = Base64URL.decode(jwk.d), let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw)
        else {
            throw OperatorError("The receipt key '\(path)' is not an Ed25519 private key (a JWK with \"kty\":\"OKP\", \"crv\":\"Ed25519\" and \"d\").")
        }
        return ReceiptSigningKey(key, created: jwk.created)
    }

    /// Writes `key` to a new file at `path`, `0600`, flushed; refuses to overwrite.
    /// - Throws: `OperatorError` naming the file.
    static func create(_ key: ReceiptSigningKey, at path: String) throws {
        let jwk = PrivateJWK(
            x: key.publicKey.x, d: Base64URL.encode(key.privateKey.rawRepresentation), kid: key.id, created: key.publicKey.created)
        var data = try JSONEncoder.sorted.encode(jwk)
        data.append(0x0A)
        let descriptor = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            throw OperatorError("Cannot create the receipt key '\(path)': \(String(cString: strerror(errno))).")
        }
        defer { close(descriptor) }
        let written = data.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(descriptor) == 0 else {
            unlink(path)
            throw OperatorError("Cannot write the receipt key '\(path)': \(String(cString: strerror(errno))).")
        }
    }

    /// Replaces the key at `path` with `key`: written beside it, then renamed
    /// over it, so that a reader sees the old key or the new, whole.
    /// - Throws: `OperatorError` naming the file.
    static func replace(_ path: String, with key: ReceiptSigningKey) throws {
        let next = path + ".next"
        unlink(next)
        try create(key, at: next)
        guard rename(next, path) == 0 else {
            unlink(next)
            throw OperatorError("Cannot replace the receipt key '\(path)': \(String(cString: strerror(errno))).")
        }
    }

    /// Narrows the file to `0600`; true when it was wider.
    @discardableResult
    static func narrow(_ path: String) -> Bool {
        guard let mode = (try? FileManager.default.attributesOfItem(atPath: path))?[.posixPermissions] as? Int, mode & 0o077 != 0 else { return false }
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return true
    }

    /// One `stat` (Foundation's `attributesOfItem` also looks up the owner's
    /// and group's names, which costs more than signing the receipt).
    static func identity(_ path: String) -> ReceiptSigner.FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return ReceiptSigner.FileIdentity(
            inode: UInt64(info.st_ino), seconds: Int64(info.st_mtim.tv_sec), nanoseconds: Int64(info.st_mtim.tv_nsec))
    }
}
