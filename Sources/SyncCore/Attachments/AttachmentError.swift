import Foundation

/// Why a file was not attached, checked when it is attached rather than at
/// sending (docs/field-cli.md, "Attachments"). Nothing was stored when one
/// is thrown.
public enum AttachmentError: Error, Equatable, Sendable, CustomStringConvertible {
    case noSuchFile(String)
    case isFolder(String)
    case unreadableFile(String, reason: String)
    /// The file's first bytes are not a JPEG, PNG, HEIC or PDF signature.
    case unsupportedType(String)
    /// Larger than the form allows one file (`AttachmentLimits.fileBytes`).
    case fileTooLarge(String, bytes: Int64, limit: Int64)
    /// The referral's attachments would take more than the form allows together.
    case referralTooLarge(String, bytes: Int64, total: Int64, limit: Int64)
    /// The referral's form version has no attachment field.
    case noAttachmentField(version: Int)
    /// `detach` or `intake attachment` named no attachment of the referral.
    case unknownAttachment(String)
    case ambiguousAttachment(String)
    /// The content is not on this device (attached on another one).
    case notOnDevice(String)

    public var description: String {
        switch self {
        case .noSuchFile(let path):
            "There is no file '\(path)'; give the path of the photo, scan or PDF to attach."
        case .isFolder(let path):
            "'\(path)' is a folder; give the path of one file to attach."
        case .unreadableFile(let path, let reason):
            "The file '\(path)' cannot be read (\(reason)); nothing was attached."
        case .unsupportedType(let path):
            "'\(path)' is not a \(AttachmentMediaType.accepted) file (read from its first bytes, not its name); only those can be attached."
        case .fileTooLarge(let path, let bytes, let limit):
            "'\(path)' is \(bytes.byteCount) (\(bytes) bytes); the form allows at most \(limit.byteCount) (\(limit) bytes) a file, so it was not attached."
        case .referralTooLarge(let path, let bytes, let total, let limit):
            "Attaching '\(path)' (\(bytes.byteCount)) would bring this referral's attachments to \(total.byteCount); the form allows at most \(limit.byteCount) (\(limit) bytes) a referral, so it was not attached."
        case .noAttachmentField(let version):
            "This referral is on form version \(version), which has no attachment field; nothing was attached."
        case .unknownAttachment(let typed):
            "No attachment of this referral is '\(typed)'; give its number (attachments.N), or the start of its id or SHA-256."
        case .ambiguousAttachment(let typed):
            "'\(typed)' names more than one attachment of this referral; give more of its id or hash."
        case .notOnDevice(let sha256):
            "The attachment sha256:\(sha256.prefix(12))… was attached on another device, so its content is not on this one."
        }
    }
}
