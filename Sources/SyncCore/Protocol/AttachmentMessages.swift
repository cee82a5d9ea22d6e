import Foundation

/// `POST /v1/attachments`: a device says which file it is about to send
/// (docs/protocol.md, "Attachments"). Idempotent: offering a file again
/// (after a cut, a killed `field`, a server restart) answers what the server
/// holds of it, so only the missing chunks are sent.
public struct AttachmentOffer: Codable, Sendable, Equatable {
    /// The content's SHA-256, 64 lowercase hex digits.
    public var sha256: String
    /// The content's size in bytes.
    public var size: Int64
    /// `image/jpeg`, `image/png`, `image/heic` or `application/pdf`.
    public var mediaType: String

    public init(sha256: String, size: Int64, mediaType: String) {
        self.sha256 = sha256
        self.size = size
        self.mediaType = mediaType
    }

    enum CodingKeys: String, CodingKey {
        case sha256, size, mediaType = "media_type"
    }
}

/// What the server holds of one attachment: the reply to an offer, to each
/// chunk and to `GET /v1/attachments/{sha256}`.
public struct AttachmentStatus: Codable, Sendable, Equatable {
    public var sha256: String
    public var size: Int64
    public var mediaType: String
    /// The chunk size in bytes (`AttachmentChunks.size`): chunk `i` is bytes
    /// `i × chunk_size` up to the next chunk or the end.
    public var chunkSize: Int
    public var chunkCount: Int
    /// The chunks the server holds, by index, ascending.
    public var held: [Int]
    /// Whether the whole file was received and its SHA-256 checked: only
    /// then may a referral's field name it.
    public var received: Bool

    public init(sha256: String, size: Int64, mediaType: String, chunkSize: Int, chunkCount: Int, held: [Int], received: Bool) {
        self.sha256 = sha256
        self.size = size
        self.mediaType = mediaType
        self.chunkSize = chunkSize
        self.chunkCount = chunkCount
        self.held = held
        self.received = received
    }

    /// The chunks still to send, ascending.
    public var missing: [Int] {
        let have = Set(held)
        return (0..<chunkCount).filter { !have.contains($0) }
    }

    enum CodingKeys: String, CodingKey {
        case sha256, size, mediaType = "media_type", chunkSize = "chunk_size", chunkCount = "chunk_count", held, received
    }
}
