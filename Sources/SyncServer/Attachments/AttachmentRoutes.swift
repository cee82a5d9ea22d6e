import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// `/v1/attachments…`: a device's resumable upload of the files its
/// referrals name, and `/v1/intake/referrals/{id}/attachments/{sha256}`:
/// the front door's download (docs/protocol.md, "Attachments").
struct AttachmentRoutes {
    let storage: any SyncStorage
    let forms: FormRegistry
    let clock: any WallClock

    func add(to api: RouterGroup<SyncRequestContext>) {
        let upload = api.group("attachments").add(middleware: RoleGuard(roles: [.practitioner]))
        upload.post(use: offer)
        upload.get(":sha256", use: status)
        upload.post(":sha256/chunks/:position", use: chunk)
        api.group("intake").add(middleware: RoleGuard(roles: [.intake, .admin])).get("referrals/:id/attachments/:sha256", use: download)
    }

    /// `POST /v1/attachments`, body `AttachmentOffer`: 200 `AttachmentStatus`
    /// (what the server holds; a second offer of the same content is a
    /// no-op). 400 for a bad hash or size, 413 over the largest file any
    /// form version allows, 415 for a kind other than JPEG, PNG, HEIC or
    /// PDF, 409 when the same hash was received whole with another size or
    /// kind (an offer not yet received is replaced, its chunks dropped).
    @Sendable func offer(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (user, device) = try await storage.actingDevice(request, context)
        var request = request
        let offer = try await SyncRoutes.decode(AttachmentOffer.self, from: &request)
        guard AttachmentReference(sha256: offer.sha256) != nil else {
            throw APIError(.badRequest, "'sha256' must be the file's SHA-256 as 64 lowercase hex digits; got '\(offer.sha256.prefix(80))'.")
        }
        guard offer.size >= 1 else { throw APIError(.badRequest, "'size' must be the file's size in bytes (1 or more); got \(offer.size).") }
        guard AttachmentMediaType(rawValue: offer.mediaType) != nil else {
            throw APIError(.unsupportedMediaType, "'\(offer.mediaType.prefix(60))' is not a kind of file a referral may carry (\(AttachmentMediaType.allCases.map(\.rawValue).joined(separator: ", "))).")
        }
        let limit = largestFile()
        guard offer.size <= limit else {
            throw APIError(.contentTooLarge, "The file is \(offer.size) bytes; the form allows at most \(limit) bytes a file.")
        }
        do {
            let status = try await storage.offerAttachment(offer, by: user.id, device: device, at: Timestamp.string(clock.now()))
            context.logger.info("attachment offered", metadata: ["sha256": "\(offer.sha256.prefix(12))", "held": "\(status.held.count)/\(status.chunkCount)"])
            return try SyncRoutes.json(status)
        } catch AttachmentRefusal.mismatch(let message) {
            throw APIError(.conflict, message)
        }
    }

    /// `GET /v1/attachments/{sha256}`: 200 `AttachmentStatus`; 404 if never offered.
    @Sendable func status(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let sha256 = try Self.digest(context)
        guard let status = try await storage.attachmentStatus(sha256) else {
            throw APIError(.notFound, "No attachment sha256:\(sha256.prefix(12))… was offered; POST /v1/attachments first.")
        }
        return try SyncRoutes.json(status)
    }

    /// `POST /v1/attachments/{sha256}/chunks/{position}`, the chunk's bytes
    /// as the body (`application/octet-stream`) with `Content-Digest:
    /// sha-256=:<base64>:` (RFC 9530): 200 `AttachmentStatus` once stored
    /// (a chunk held already is a no-op). 400 for a position past the end,
    /// a wrong length or a missing digest; 403 without a registered
    /// `Field-Device`; 404 if not offered; 415 when the first chunk is not
    /// the kind the offer named; 422
    /// `chunk-corrupt` when the bytes do not match the digest (nothing
    /// stored), `attachment-corrupt` when the last chunk completes a file
    /// whose whole does not match its SHA-256 (every chunk dropped).
    @Sendable func chunk(_ request: Request, context: SyncRequestContext) async throws -> Response {
        // Every write is attributable to a registered device.
        let (_, device) = try await storage.actingDevice(request, context)
        let sha256 = try Self.digest(context)
        let typed = try context.parameters.require("position")
        guard let position = Int(typed), position >= 0, String(position) == typed else {
            throw APIError(.badRequest, "'\(typed.prefix(20))' is not a chunk position (0 or more).")
        }
        guard let header = request.headers[HTTPField.Name("Content-Digest")!] else {
            throw APIError(.badRequest, "A chunk needs its SHA-256 in a Content-Digest header (sha-256=:<base64>:, RFC 9530).")
        }
        guard let claimed = Self.sha256(inContentDigest: header) else {
            throw APIError(.badRequest, "The Content-Digest header '\(header.prefix(80))' has no sha-256 digest (sha-256=:<base64 of 32 bytes>:).")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: AttachmentChunks.size)
        } catch {
            throw APIError(.contentTooLarge, "A chunk is at most \(AttachmentChunks.size) bytes.")
        }
        let bytes = Data(body.readableBytesView)
        guard Data(SHA256.hash(data: bytes)) == claimed else {
            throw APIError(.unprocessableContent, "Chunk \(position) of sha256:\(sha256.prefix(12))… does not match its Content-Digest (damaged on the way?); it was not stored, send it again.", code: ErrorCode.chunkCorrupt)
        }
        do {
            let (status, completed) = try await storage.storeChunk(sha256, position: position, bytes: bytes, at: Timestamp.string(clock.now()))
            if completed {
                // Who sent a file, and from which device, is in the audit trail (never its content).
                try await storage.audit(AuditEvent(
                    at: Timestamp.string(clock.now()), actor: context.user!.name, action: "attachment-received", record: nil,
                    detail: "sha256=\(sha256) bytes=\(status.size) type=\(status.mediaType) device=\(device)"))
                context.logger.info("attachment received", metadata: ["sha256": "\(sha256.prefix(12))", "bytes": "\(status.size)"])
            }
            return try SyncRoutes.json(status)
        } catch AttachmentRefusal.notOffered(let message) {
            throw APIError(.notFound, message)
        } catch AttachmentRefusal.badChunk(let message) {
            throw APIError(.badRequest, message)
        } catch AttachmentRefusal.wrongKind(let message) {
            throw APIError(.unsupportedMediaType, message)
        } catch AttachmentRefusal.corrupt(let message) {
            context.logger.warning("attachment dropped: chunks did not match its hash", metadata: ["sha256": "\(sha256.prefix(12))"])
            throw APIError(.unprocessableContent, message, code: ErrorCode.attachmentCorrupt)
        }
    }

    /// `GET /v1/intake/referrals/{id}/attachments/{sha256}` (intake, admin):
    /// the file's bytes with its type, as a download, audited as
    /// `attachment-download` (the referral, the hash and the size; never the
    /// content). 404 unless the submitted referral names the file now.
    @Sendable func download(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        let sha256 = try Self.digest(context)
        let (stored, content) = try await Self.content(of: sha256, in: id, storage: storage)
        try await storage.audit(AuditEvent(
            at: Timestamp.string(clock.now()), actor: context.user!.name, action: "attachment-download", record: id,
            detail: "sha256=\(sha256) bytes=\(stored.size)"))
        return Self.file(stored, content, inline: false)
    }

    /// The content of `sha256` if submitted referral `id` names it now.
    /// - Throws: `APIError` 404 otherwise.
    static func content(of sha256: String, in id: String, storage: any SyncStorage) async throws -> (StoredAttachment, Data) {
        guard UUID.isCanonical(id), try await storage.recordStatuses([id])[id] == ReferralStatus.submitted.rawValue else {
            throw APIError(.notFound, "No submitted referral has id '\(id.prefix(40))'.")
        }
        guard try await storage.attachments(of: id).contains(where: { $0.sha256 == sha256 }),
              let found = try await storage.attachmentContent(sha256)
        else {
            throw APIError(.notFound, "Referral \(id) has no attachment sha256:\(sha256.prefix(12))….")
        }
        return found
    }

    /// The file as a response: its own type, `nosniff`, never cached, and
    /// either shown (`inline`) or saved under a name made of the hash.
    static func file(_ stored: StoredAttachment, _ content: Data, inline: Bool) -> Response {
        let type = AttachmentMediaType(rawValue: stored.mediaType)
        let name = "attachment-\(stored.sha256.prefix(12)).\(type?.fileExtension ?? "bin")"
        return Response(
            status: .ok,
            headers: [
                .contentType: stored.mediaType, .contentDisposition: "\(inline ? "inline" : "attachment"); filename=\"\(name)\"",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff", .cacheControl: "no-store",
                HTTPField.Name("Content-Digest")!: "sha-256=:\(Data(hexDigest: stored.sha256)?.base64EncodedString() ?? ""):",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: content)))
    }

    /// The route's `sha256` parameter, checked.
    static func digest(_ context: SyncRequestContext) throws -> String {
        let sha256 = try context.parameters.require("sha256")
        guard AttachmentReference(sha256: sha256) != nil else {
            throw APIError(.badRequest, "'\(sha256.prefix(80))' is not an attachment's SHA-256 (64 lowercase hex digits).")
        }
        return sha256
    }

    /// The 32 bytes of the `sha-256` member of a `Content-Digest` header
    /// (RFC 9530: a dictionary of `algorithm=:base64:`); nil if absent or malformed.
    static func sha256(inContentDigest header: String) -> Data? {
        for member in header.split(separator: ",") {
            let parts = member.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "sha-256" else { continue }
            let value = parts[1]
            guard value.hasPrefix(":"), value.hasSuffix(":"), value.count > 2 else { return nil }
            guard let bytes = Data(base64Encoded: String(value.dropFirst().dropLast())), bytes.count == 32 else { return nil }
            return bytes
        }
        return nil
    }

    /// The largest file any form version's attachment field allows.
    func largestFile() -> Int64 {
        forms.current.versions.flatMap(\.patterns).compactMap { $0.field.type.attachmentLimits?.fileBytes }.max() ?? AttachmentLimits.standard.fileBytes
    }
}

extension Data {
    /// Bytes from lowercase or uppercase hex; nil for anything else.
    init?(hexDigest hex: String) {
        guard hex.utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(hex.utf8.count / 2)
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        self.init(bytes)
    }
}
