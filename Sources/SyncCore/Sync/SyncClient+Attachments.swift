import Crypto
import Foundation

/// The attachment upload a sync makes before it pushes (docs/protocol.md,
/// "Attachments"): each file a pending change names is offered, the server
/// answers which chunks it holds, and only the missing ones are sent, each
/// with its SHA-256 in `Content-Digest` (RFC 9530). A cut connection, a
/// killed `field` or a restarted server costs at most the chunk that was
/// in flight: the next sync offers the file again and sends the rest.
/// A file is either received whole, or refused (its changes refused on the
/// device), or the sync stops before it pushes: so a change naming a file
/// the server lacks is never sent, and a referral never points at one.
extension SyncClient {
    /// Uploads what `LocalStore.pendingUploads` lists, each until the server
    /// holds it whole or refuses it.
    /// - Throws: `SyncError` when the connection fails or the server cannot
    ///   take a chunk now: what was sent stays sent, the rest goes next
    ///   time, and nothing is pushed in this sync.
    func uploadAttachments(into summary: inout SyncSummary, progress: @Sendable (SyncProgress) -> Void) async throws {
        for upload in try store.pendingUploads() {
            var sent: Int64 = 0
            do {
                sent = try await self.upload(upload, progress: progress)
            } catch SyncError.refused(let status, let message) where Self.refusesFile.contains(status) {
                // The server will not take this file (over its limit, a kind it
                // refuses, chunks that twice did not make it): its changes are
                // refused here, with the reason, so the rest of the referral
                // still goes. Any other refusal (an account disabled, a rate
                // limit) is about the request, not the file: the sync stops
                // and the changes stay for the next one.
                for seq in upload.seqs {
                    try store.refuseUnsent(seq, reason: "Not sent: the server refused the attachment sha256:\(upload.reference.short)… (\(status): \(message))")
                }
                summary.rejected += upload.seqs.count
                continue
            }
            summary.attachmentsSent = (summary.attachmentsSent ?? 0) + 1
            summary.attachmentBytesSent = (summary.attachmentBytesSent ?? 0) + sent
        }
    }

    /// Refusals that are about the file itself: a size or kind no form
    /// allows (413, 415), another size for the same hash (409), its chunks
    /// twice not making it (422).
    static let refusesFile: Set<Int> = [409, 413, 415, 422]

    /// Offers one file and sends the chunks the server lacks; returns the
    /// bytes sent. A file whose chunks the server found not to make it
    /// (`attachment-corrupt`: it dropped them) is sent again once, whole.
    func upload(_ upload: PendingUpload, progress: @Sendable (SyncProgress) -> Void) async throws -> Int64 {
        let offer = try JSONEncoder().encode(AttachmentOffer(sha256: upload.reference.sha256, size: upload.size, mediaType: upload.mediaType.rawValue))
        var sent: Int64 = 0
        for attempt in 0..<2 {
            var status = try decode(
                AttachmentStatus.self, try await call("the attachment offer") { try await transport.post("v1/attachments", body: offer) },
                what: "the attachment offer")
            var held = Int64(status.held.count) * Int64(status.chunkSize)
            do {
                for position in status.missing {
                    let chunk = try store.attachmentChunk(upload.reference, position: position)
                    let digest = "Content-Digest: sha-256=:\(Data(SHA256.hash(data: chunk)).base64EncodedString()):"
                    let reply = try await call("an attachment chunk") {
                        try await transport.post(
                            "v1/attachments/\(upload.reference.sha256)/chunks/\(position)", bytes: chunk,
                            contentType: "application/octet-stream", headers: [digest])
                    }
                    status = try decode(AttachmentStatus.self, reply, what: "an attachment chunk")
                    sent += Int64(chunk.count)
                    held += Int64(chunk.count)
                    progress(.uploading(sha256: upload.reference.sha256, done: min(held, upload.size), total: upload.size))
                }
            } catch SyncError.refused(422, _) where attempt == 0 {
                continue  // dropped by the server (a chunk or the whole did not check): once more
            }
            if status.received {
                try store.markReceived(upload.reference)
                return sent
            }
            if attempt == 1 { break }
        }
        throw SyncError.refused(status: 422, message: "The server did not receive sha256:\(upload.reference.short)… whole after two tries.")
    }
}
