import Crypto
import Foundation
import SyncCore

/// One attachment as the server holds it (`attachments`), without its content.
struct StoredAttachment: Sendable, Equatable {
    var sha256: String
    var size: Int64
    var mediaType: String
    var chunkCount: Int
    /// When the whole file was received and checked; nil while chunks are missing.
    var receivedAt: String?
    /// FHIR R4's `Attachment.hash`: SHA-1 of the content, base64.
    var sha1: String?
}

/// An attachment a referral names (`attachments.<item>.file`), for the
/// console, the intake API and the FHIR export.
struct ReferralAttachmentListing: Sendable, Equatable {
    /// The group item's id.
    var item: String
    var sha256: String
    var label: String?
    /// Who attached it: the user and device of the change that set `file`, and when.
    var attachedBy: String
    var device: String
    var at: String
    /// Nil when the server does not hold the file (it never should, once named).
    var stored: StoredAttachment?
}

/// Why an attachment request was refused (the routes turn each into a 4xx).
enum AttachmentRefusal: Error, Equatable {
    /// Offered again with another size or kind than the first offer.
    case mismatch(String)
    /// No offer was made for this SHA-256.
    case notOffered(String)
    /// A chunk position outside the file, or a chunk of the wrong length.
    case badChunk(String)
    /// The chunks held do not make the file: all were dropped.
    case corrupt(String)
    /// The first chunk is not the kind the offer named.
    case wrongKind(String)
}

/// Where attachments are kept: part of `SyncStorage`, written once for both
/// backends (`SQLStore`'s extension below).
protocol AttachmentStorage: Sendable {
    /// Records an offer and answers what is held (`AttachmentRefusal.mismatch`).
    func offerAttachment(_ offer: AttachmentOffer, by user: Int64, device: String?, at: String) async throws -> AttachmentStatus
    /// What the server holds of an attachment; nil if it was never offered.
    func attachmentStatus(_ sha256: String) async throws -> AttachmentStatus?
    /// Stores one checked chunk; checks the whole once the last arrives.
    /// `completed` is true when this chunk made the file received.
    func storeChunk(_ sha256: String, position: Int, bytes: Data, at: String) async throws -> (status: AttachmentStatus, completed: Bool)
    /// The attachments a referral names now, oldest first.
    func attachments(of record: String) async throws -> [ReferralAttachmentListing]
    /// A received attachment's content; nil when it is not held whole.
    func attachmentContent(_ sha256: String) async throws -> (StoredAttachment, Data)?
}

/// Attachments in the database (docs/protocol.md, "Attachments"), written
/// once for both backends over `SQLSession`: every instance sees the same
/// files, and backups, restores and `migrate-store` carry them.
extension SQLStore {
    /// Records an offer and answers what is held; a second offer of the same
    /// content is a no-op. An offer with another size or kind replaces an
    /// earlier one not yet received (its chunks dropped): whoever knows a
    /// file's hash cannot block its upload by offering it first with a wrong
    /// size, since only the whole file's hash makes it received.
    /// - Throws: `AttachmentRefusal.mismatch` when the file was received
    ///   whole with another size or kind.
    func offerAttachment(_ offer: AttachmentOffer, by user: Int64, device: String?, at: String) async throws -> AttachmentStatus {
        try await writing { transaction in
            try await transaction.sql.run("""
                INSERT INTO attachments (sha256, size, media_type, chunk_size, chunk_count, offered_by, offered_device, offered_at)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (sha256) DO NOTHING
                """, [.text(offer.sha256), .int(offer.size), .text(offer.mediaType), .int(Int64(AttachmentChunks.size)),
                      .int(Int64(AttachmentChunks.count(of: offer.size))), .int(user), .text(device), .text(at)])
            var status = try await Self.attachmentStatus(offer.sha256, in: transaction.sql)!
            if !status.received, status.size != offer.size || status.mediaType != offer.mediaType {
                try await transaction.sql.run("DELETE FROM attachment_chunks WHERE sha256 = $1", [.text(offer.sha256)])
                try await transaction.sql.run("""
                    UPDATE attachments SET size = $1, media_type = $2, chunk_count = $3, offered_by = $4, offered_device = $5, offered_at = $6
                    WHERE sha256 = $7
                    """, [.int(offer.size), .text(offer.mediaType), .int(Int64(AttachmentChunks.count(of: offer.size))), .int(user), .text(device),
                          .text(at), .text(offer.sha256)])
                status = try await Self.attachmentStatus(offer.sha256, in: transaction.sql)!
            }
            guard status.size == offer.size, status.mediaType == offer.mediaType else {
                throw AttachmentRefusal.mismatch(
                    "sha256:\(offer.sha256.prefix(12))… was received whole as \(status.size) bytes of \(status.mediaType), not \(offer.size) bytes of \(offer.mediaType); a file's hash fixes both.")
            }
            return status
        }
    }

    /// What the server holds of an attachment; nil if it was never offered.
    func attachmentStatus(_ sha256: String) async throws -> AttachmentStatus? {
        try await reading { try await Self.attachmentStatus(sha256, in: $0) }
    }

    static func attachmentStatus(_ sha256: String, in session: any SQLSession) async throws -> AttachmentStatus? {
        guard let row = try await session.rows(
            "SELECT size, media_type, chunk_size, chunk_count, received_at FROM attachments WHERE sha256 = $1", [.text(sha256)]).first
        else { return nil }
        let held = try await session.rows(
            "SELECT position FROM attachment_chunks WHERE sha256 = $1 ORDER BY position", [.text(sha256)]).map { Int(try $0.int("position")!) }
        return AttachmentStatus(
            sha256: sha256, size: try row.int("size")!, mediaType: try row.text("media_type")!, chunkSize: Int(try row.int("chunk_size")!),
            chunkCount: Int(try row.int("chunk_count")!), held: held, received: try row.text("received_at") != nil)
    }

    /// Stores one chunk, already checked against its digest (a chunk held
    /// already is a no-op). When it completes the file, the whole is read
    /// back in order and checked against its SHA-256: a match marks it
    /// received (`completed`); a mismatch drops every chunk (`AttachmentRefusal.corrupt`).
    func storeChunk(_ sha256: String, position: Int, bytes: Data, at: String) async throws -> (status: AttachmentStatus, completed: Bool) {
        let status = try await writing { transaction -> AttachmentStatus in
            guard let status = try await Self.attachmentStatus(sha256, in: transaction.sql) else {
                throw AttachmentRefusal.notOffered("sha256:\(sha256.prefix(12))… was not offered; POST /v1/attachments first.")
            }
            guard position < status.chunkCount else {
                throw AttachmentRefusal.badChunk("Chunk \(position) is past the end of sha256:\(sha256.prefix(12))…, which has \(status.chunkCount) chunk(s) (0 to \(status.chunkCount - 1)).")
            }
            let expected = AttachmentChunks.range(position, of: status.size).count
            guard bytes.count == expected else {
                throw AttachmentRefusal.badChunk("Chunk \(position) of sha256:\(sha256.prefix(12))… must be \(expected) bytes; it was \(bytes.count).")
            }
            // The kind is read from the content, not taken on the offer's word.
            if position == 0, AttachmentMediaType.sniff(bytes)?.rawValue != status.mediaType {
                throw AttachmentRefusal.wrongKind(
                    "The first bytes of sha256:\(sha256.prefix(12))… are not a \(AttachmentMediaType(rawValue: status.mediaType)?.name ?? status.mediaType) file, as its offer said; it was not stored.")
            }
            guard !status.received, !status.held.contains(position) else { return status }
            try await transaction.sql.run(
                "INSERT INTO attachment_chunks (sha256, position, bytes) VALUES ($1, $2, $3) ON CONFLICT (sha256, position) DO NOTHING",
                [.text(sha256), .int(Int64(position)), .blob(bytes)])
            var held = status
            held.held = (status.held + [position]).sorted()
            return held
        }
        guard !status.received, status.held.count == status.chunkCount else { return (status, false) }
        // The whole, read back outside the writer's turn, then marked.
        let (sha256Digest, sha1Digest) = try await reading { session -> (String, String) in
            var whole = SHA256()
            var insecure = Insecure.SHA1()
            for position in 0..<status.chunkCount {
                guard let bytes = try await session.rows(
                    "SELECT bytes FROM attachment_chunks WHERE sha256 = $1 AND position = $2", [.text(sha256), .int(Int64(position))]).first?.blob("bytes")
                else { continue }
                whole.update(data: bytes)
                insecure.update(data: bytes)
            }
            return (Hex.string(whole.finalize()), Data(insecure.finalize()).base64EncodedString())
        }
        guard sha256Digest == sha256 else {
            // Dropped in a transaction of its own, committed before the refusal.
            try await writing { transaction in
                try await transaction.sql.run("DELETE FROM attachment_chunks WHERE sha256 = $1", [.text(sha256)])
            }
            throw AttachmentRefusal.corrupt(
                "The \(status.chunkCount) chunk(s) received do not make sha256:\(sha256.prefix(12))… (they hash to \(sha256Digest.prefix(12))…), so all were dropped; send the file again.")
        }
        return try await writing { transaction in
            // Marked once: of two uploads completing the same file at once, one marks it.
            let marked = try await transaction.sql.rows(
                "UPDATE attachments SET received_at = $1, sha1 = $2 WHERE sha256 = $3 AND received_at IS NULL RETURNING sha256",
                [.text(at), .text(sha1Digest), .text(sha256)])
            return (try await Self.attachmentStatus(sha256, in: transaction.sql)!, !marked.isEmpty)
        }
    }

    /// The attachments referral `record` names now, in the order they were
    /// attached, each with who attached it (the change that set its `file`).
    func attachments(of record: String) async throws -> [ReferralAttachmentListing] {
        try await reading { session in
            let files = try await session.rows("""
                SELECT f.path, f.value, f.author, f.device_id, f.at, l.value AS label, m.value AS marker
                FROM fields f
                LEFT JOIN fields l ON l.record_id = f.record_id AND l.path = substr(f.path, 1, length(f.path) - 4) || 'label'
                LEFT JOIN fields m ON m.record_id = f.record_id AND m.path = substr(f.path, 1, length(f.path) - 5)
                WHERE f.record_id = $1 AND f.path LIKE 'attachments.%.file' AND f.value IS NOT NULL
                ORDER BY f.revision
                """, [.text(record)])
            var listings: [ReferralAttachmentListing] = []
            for row in files where try row.text("marker") == ItemMarker.present {
                guard let reference = try row.text("value").flatMap(AttachmentReference.init(stored:)) else { continue }
                let path = try row.text("path")!
                let item = String(path.dropFirst("attachments.".count).dropLast(".file".count))
                listings.append(ReferralAttachmentListing(
                    item: item, sha256: reference.sha256, label: try row.text("label"), attachedBy: try row.text("author")!,
                    device: try row.text("device_id")!, at: try row.text("at")!, stored: try await Self.storedAttachment(reference.sha256, in: session)))
            }
            // In the order they were attached: item ids are time-ordered, as devices number them.
            return listings.sorted { $0.item < $1.item }
        }
    }

    static func storedAttachment(_ sha256: String, in session: any SQLSession) async throws -> StoredAttachment? {
        try await session.rows(
            "SELECT size, media_type, chunk_count, received_at, sha1 FROM attachments WHERE sha256 = $1", [.text(sha256)]
        ).first.map {
            StoredAttachment(
                sha256: sha256, size: try $0.int("size")!, mediaType: try $0.text("media_type")!, chunkCount: Int(try $0.int("chunk_count")!),
                receivedAt: try $0.text("received_at"), sha1: try $0.text("sha1"))
        }
    }

    /// The content of a received attachment, in order; nil when it is not held whole.
    func attachmentContent(_ sha256: String) async throws -> (StoredAttachment, Data)? {
        try await reading { session in
            guard let stored = try await Self.storedAttachment(sha256, in: session), stored.receivedAt != nil else { return nil }
            var content = Data(capacity: Int(stored.size))
            for position in 0..<stored.chunkCount {
                guard let bytes = try await session.rows(
                    "SELECT bytes FROM attachment_chunks WHERE sha256 = $1 AND position = $2", [.text(sha256), .int(Int64(position))]).first?.blob("bytes")
                else { return nil }
                content.append(bytes)
            }
            return (stored, content)
        }
    }
}
