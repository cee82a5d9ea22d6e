import Foundation

/// How a referral's field names an attachment: by the SHA-256 of its
/// content, stored as `sha256:<64 lowercase hex digits>` (docs/protocol.md,
/// "Attachments"). Content-addressed: the same file attached twice, to one
/// referral or to two on two devices, is one attachment, stored once.
public struct AttachmentReference: Hashable, Sendable, CustomStringConvertible {
    /// The content's SHA-256, 64 lowercase hex digits.
    public let sha256: String

    /// The stored value's prefix.
    public static let scheme = "sha256:"

    /// A reference from a digest already known to be 64 lowercase hex digits;
    /// nil for anything else.
    public init?(sha256: String) {
        guard Self.isDigest(sha256) else { return nil }
        self.sha256 = sha256
    }

    /// The reference a stored value holds (`sha256:…`); nil for any other text.
    public init?(stored: String) {
        guard stored.hasPrefix(Self.scheme) else { return nil }
        self.init(sha256: String(stored.dropFirst(Self.scheme.count)))
    }

    /// What a field stores: `sha256:<hex>`.
    public var stored: String { Self.scheme + sha256 }
    public var description: String { stored }
    /// The first 12 digits, as people are shown it.
    public var short: String { String(sha256.prefix(12)) }

    /// Whether `text` is 64 lowercase hex digits.
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }
}

/// Where a referral's attachments live in the form: the repeating group
/// `attachments`, each item's `file` (`FieldType.attachment`) and `label`.
public enum AttachmentFields {
    public static let group = "attachments"
    public static let file = "file"
    public static let label = "label"
}

/// The kinds of file a referral may carry (docs/field-cli.md, "Attachments"):
/// photographs (JPEG, PNG, HEIC, as phones take them) and scanned or written
/// letters and body maps (PDF). The kind is read from the file's first bytes,
/// never from its name, so a renamed file is what it is.
public enum AttachmentMediaType: String, Sendable, CaseIterable, Codable {
    case jpeg = "image/jpeg"
    case png = "image/png"
    case heic = "image/heic"
    case pdf = "application/pdf"

    /// How people name it.
    public var name: String {
        switch self {
        case .jpeg: "JPEG"
        case .png: "PNG"
        case .heic: "HEIC"
        case .pdf: "PDF"
        }
    }

    /// Whether a browser shows it as an image.
    public var isImage: Bool { self != .pdf }

    /// The usual file extension, for a saved copy's name.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        case .heic: "heic"
        case .pdf: "pdf"
        }
    }

    /// The kinds, as one sentence names them: "JPEG, PNG, HEIC or PDF".
    public static let accepted = "JPEG, PNG, HEIC or PDF"

    /// The kind `content` is, read from its signature: JPEG `FF D8 FF`; PNG
    /// `89 50 4E 47 0D 0A 1A 0A`; PDF `%PDF-`; HEIC an ISO base media file
    /// whose `ftyp` box names a HEIF brand (`heic`, `heix`, `heim`, `heis`,
    /// `hevc`, `hevx`, `mif1`, `msf1`; ISO/IEC 23008-12). Nil for anything else.
    public static func sniff(_ content: Data) -> AttachmentMediaType? {
        let bytes = [UInt8](content.prefix(16))
        if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
        if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if bytes.starts(with: Array("%PDF-".utf8)) { return .pdf }
        if bytes.count >= 12, bytes[4..<8].elementsEqual("ftyp".utf8) {
            let brand = String(decoding: bytes[8..<12], as: UTF8.self)
            if ["heic", "heix", "heim", "heis", "hevc", "hevx", "mif1", "msf1"].contains(brand) { return .heic }
        }
        return nil
    }
}

/// How an attachment is cut for sending (docs/protocol.md, "Attachments"):
/// fixed-size chunks from the start of the file, the last one shorter, so
/// the boundaries depend on nothing but the size and a retry sends exactly
/// the chunks the server lacks.
public enum AttachmentChunks {
    /// 512 KiB: a retry after a cut resends at most this much beyond what
    /// was lost, and a 20 MB file takes 40 requests.
    public static let size = 512 * 1024

    /// How many chunks a file of `bytes` has (at least one: an empty file is one empty chunk).
    public static func count(of bytes: Int64) -> Int {
        max(1, Int((bytes + Int64(size) - 1) / Int64(size)))
    }

    /// Chunk `index`'s byte range in a file of `bytes`.
    public static func range(_ index: Int, of bytes: Int64) -> Range<Int> {
        let start = index * size
        return start..<min(Int(bytes), start + size)
    }
}

/// What a form allows one attachment field to carry, in bytes (the authority
/// sets both in its form: `max_file_bytes`, `max_referral_bytes`, docs/form.md).
public struct AttachmentLimits: Sendable, Equatable {
    /// The largest single file.
    public var fileBytes: Int64
    /// The most all of one referral's attachments may take together.
    public var referralBytes: Int64

    /// 25 MiB a file (a phone's photograph is 2–12 MB, a scanned letter less),
    /// 100 MiB a referral.
    public static let standard = AttachmentLimits(fileBytes: 25 * 1024 * 1024, referralBytes: 100 * 1024 * 1024)

    /// The largest file any form may allow: 1 GiB.
    public static let largestFile: Int64 = 1 << 30

    public init(fileBytes: Int64, referralBytes: Int64) {
        self.fileBytes = fileBytes
        self.referralBytes = referralBytes
    }
}

extension Int64 {
    /// A size as people read it: `812 bytes`, `14.2 KB`, `3.4 MB` (decimal units, as file managers show them).
    public var byteCount: String {
        if self < 1_000 { return "\(self) bytes" }
        let units = ["KB", "MB", "GB", "TB"]
        var value = Double(self) / 1_000
        var unit = 0
        while value >= 1_000, unit < units.count - 1 {
            value /= 1_000
            unit += 1
        }
        return String(format: "%.1f", value) + " " + units[unit]
    }
}
