import Foundation

/// `GET /v1/forms`: every published form version, oldest first
/// (docs/protocol.md, "Form versions"). Each version's document is at
/// `GET /v1/forms/{version}` (a `FormDocument`).
public struct FormVersionList: Codable, Sendable, Equatable {
    /// The newest version.
    public var latest: Int
    public var versions: [FormVersionSummary]

    public init(latest: Int, versions: [FormVersionSummary]) {
        self.latest = latest
        self.versions = versions
    }
}

/// One published form version.
public struct FormVersionSummary: Codable, Sendable, Equatable {
    public var version: Int
    /// SHA-256 of the version's document as served, lowercase hex.
    public var digest: String
    /// When it was published (ISO 8601, UTC); nil for version 1, the built-in form.
    public var publishedAt: String?
    /// Who published it; nil for version 1.
    public var publishedBy: String?

    public init(version: Int, digest: String, publishedAt: String?, publishedBy: String?) {
        self.version = version
        self.digest = digest
        self.publishedAt = publishedAt
        self.publishedBy = publishedBy
    }

    enum CodingKeys: String, CodingKey {
        case version, digest, publishedAt = "published_at", publishedBy = "published_by"
    }
}
