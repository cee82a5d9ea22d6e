import Foundation

/// One attachment a referral names (`attachments.<item>.file`), as the
/// device knows it.
public struct ReferralAttachment: Sendable, Equatable {
    /// The group item (`attachments.<item>`).
    public let item: UUID
    /// Its position among the referral's attachments, from 1.
    public let position: Int
    public let reference: AttachmentReference
    public let label: String?
    /// The content's kind and size, when the content is on this device.
    public let mediaType: AttachmentMediaType?
    public let size: Int64?
    /// Whether the server said it holds the whole file.
    public let received: Bool

    public var onDevice: Bool { size != nil }
}

extension Referral {
    /// The files the referral names now (each `attachments` item that has a
    /// `file`), in the order they were attached (item ids are time-ordered),
    /// numbered from 1 as `field attachments`, `intake show` and the console
    /// number them. What a device knows of each file's content is left out
    /// (`LocalStore.attachments(of:)` adds it).
    public var attachedFiles: [ReferralAttachment] {
        items(of: AttachmentFields.group).compactMap { item -> (UUID, AttachmentReference, String?)? in
            let prefix = "\(AttachmentFields.group).\(item.lowercased)"
            guard let reference = values["\(prefix).\(AttachmentFields.file)"].flatMap(AttachmentReference.init(stored:)) else { return nil }
            return (item, reference, values["\(prefix).\(AttachmentFields.label)"])
        }.enumerated().map { index, file in
            ReferralAttachment(item: file.0, position: index + 1, reference: file.1, label: file.2, mediaType: nil, size: nil, received: false)
        }
    }
}
