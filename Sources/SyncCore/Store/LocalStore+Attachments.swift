import Foundation
import GRDB

/// What `attach` did.
public struct AttachedFile: Sendable, Equatable {
    public let item: UUID
    public let reference: AttachmentReference
    public let mediaType: AttachmentMediaType
    public let size: Int64
    /// False when the same content was already in the store (attached
    /// before, here or to another referral): it is stored once.
    public let storedContent: Bool
}

/// An attachment a pending change names whose content the server has not
/// yet said it holds whole: what the next sync uploads before it pushes.
public struct PendingUpload: Sendable, Equatable {
    public let reference: AttachmentReference
    public let mediaType: AttachmentMediaType
    public let size: Int64
    /// The outbox changes that name it (refused with it when the server will not take the file).
    public let seqs: [Int64]
}

/// Attachments on the device (docs/field-cli.md, "Attachments"): each file
/// checked when attached (kind, size, the referral's total), stored once
/// by its SHA-256 in sealed chunks, and named by a referral's
/// `attachments.<item>.file` field, which syncs like any other.
extension LocalStore {
    /// The attachment group's key and its fields' keys in the built-in form.
    public static let attachmentGroup = AttachmentFields.group
    static let attachmentFileKey = AttachmentFields.file
    static let attachmentLabelKey = AttachmentFields.label

    /// Attaches the file at `path` to referral `id`, in one transaction: the
    /// content (if not already stored), a new `attachments` item, its `file`
    /// (`sha256:…`) and its `label` (`label`, or the file's name).
    /// - Throws: `AttachmentError` for a file that is missing, not a JPEG,
    ///   PNG, HEIC or PDF, or over the form's limits (checked here, not at
    ///   sending); `StoreError` as every write (`diskFull` on a full disk,
    ///   the store as it was).
    /// - Parameter item: an existing `attachments` item whose file this
    ///   replaces (`fill`); its label is kept unless `label` is given.
    public func attach(file path: String, to id: UUID, label: String? = nil, item existing: UUID? = nil) throws -> AttachedFile {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else { throw AttachmentError.noSuchFile(path) }
        guard !isFolder.boolValue else { throw AttachmentError.isFolder(path) }
        let onDisk = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value ?? 0
        // The limit before reading, so a huge file is refused without loading it.
        let before = try writer.read { db in try fetchReferral(id, db: db) }
        let (field, _) = try attachmentField(of: before)
        let limits = field.type.attachmentLimits!
        if onDisk > limits.fileBytes { throw AttachmentError.fileTooLarge(path, bytes: onDisk, limit: limits.fileBytes) }
        let content: Data
        do {
            content = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AttachmentError.unreadableFile(path, reason: (error as NSError).localizedDescription)
        }
        let size = Int64(content.count)
        if size > limits.fileBytes { throw AttachmentError.fileTooLarge(path, bytes: size, limit: limits.fileBytes) }
        guard let mediaType = AttachmentMediaType.sniff(content) else { throw AttachmentError.unsupportedType(path) }
        let reference = AttachmentReference(of: content)
        // The label is text like any other answer (normalised, its length and
        // invisible characters checked), so the server takes what is stored.
        let now = clock.now()
        let given = try label.flatMap { FieldType.isBlank($0) ? nil : try FieldType.text.normalize($0, now: now, timeZone: timeZone) }
        let name = try? FieldType.text.normalize(URL(fileURLWithPath: path).lastPathComponent, now: now, timeZone: timeZone)
        // Sealed before the transaction: the writer is held only to store.
        let chunks = (0..<AttachmentChunks.count(of: size)).map { position in
            cipher.sealChunk(content[AttachmentChunks.range(position, of: size)], sha256: reference.sha256, position: position)
        }
        return try editable(id) { db, referral, now in
            let (_, group) = try attachmentField(of: referral)
            // The referral's total, each file once, this one included (and, when
            // an item's file is replaced, without the one it had).
            var named = Set(try attachments(of: referral, db: db).filter { $0.item != existing }.map(\.reference))
            named.insert(reference)
            let sizes = try Dictionary(uniqueKeysWithValues: Row.fetchAll(
                db, sql: "SELECT sha256, size FROM attachment WHERE sha256 IN (\(named.map { "'\($0.sha256)'" }.joined(separator: ",")))"
            ).map { ($0["sha256"] as String, $0["size"] as Int64) })
            let total = named.reduce(Int64(0)) { $0 + ($1 == reference ? size : sizes[$1.sha256] ?? 0) }
            if total > limits.referralBytes {
                throw AttachmentError.referralTooLarge(path, bytes: size, total: total, limit: limits.referralBytes)
            }
            let stored = sizes[reference.sha256] == nil
            if stored {
                try db.execute(
                    sql: "INSERT INTO attachment (sha256, media_type, size, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [reference.sha256, mediaType.rawValue, size, Timestamp.string(now)])
                for (position, sealed) in chunks.enumerated() {
                    try db.execute(
                        sql: "INSERT INTO attachment_chunk (sha256, position, sealed) VALUES (?, ?, ?)",
                        arguments: [reference.sha256, position, sealed])
                }
            }
            let item = existing ?? ids.next()
            let prefix = "\(group.key).\(item.lowercased)"
            var changes: [(String, String?)] = []
            if let existing {
                guard referral.values[prefix] == ItemMarker.present else { throw StoreError.itemRemoved(path: "\(group.key).\(existing.lowercased)") }
            } else {
                changes.append((prefix, ItemMarker.present))
            }
            changes.append(("\(prefix).\(Self.attachmentFileKey)", reference.stored))
            if let label = given ?? (referral.values["\(prefix).\(Self.attachmentLabelKey)"] == nil ? name : nil) {
                changes.append(("\(prefix).\(Self.attachmentLabelKey)", label))
            }
            try record(changes, in: id, db: db, now: now)
            return AttachedFile(item: item, reference: reference, mediaType: mediaType, size: size, storedContent: stored)
        }
    }

    /// The referral's attachments, in the order they were attached.
    public func attachments(of id: UUID) throws -> [ReferralAttachment] {
        try writer.read { db in try attachments(of: try fetchReferral(id, db: db), db: db) }
    }

    func attachments(of referral: Referral, db: Database) throws -> [ReferralAttachment] {
        let files = referral.attachedFiles
        guard !files.isEmpty else { return [] }
        let known = try Dictionary(uniqueKeysWithValues: Row.fetchAll(
            db, sql: "SELECT sha256, media_type, size, received_at FROM attachment WHERE sha256 IN (\(Set(files.map(\.reference.sha256)).map { "'\($0)'" }.joined(separator: ",")))"
        ).map { ($0["sha256"] as String, $0) })
        return files.map { file in
            let row = known[file.reference.sha256]
            return ReferralAttachment(
                item: file.item, position: file.position, reference: file.reference, label: file.label,
                mediaType: row.flatMap { AttachmentMediaType(rawValue: $0["media_type"]) }, size: row?["size"],
                received: (row?["received_at"] as String?) != nil)
        }
    }

    /// Removes an attachment from the referral: its item is removed, a change
    /// like any other (it syncs, and the history keeps that it was there).
    /// The content stays in the store (another referral may name it) until
    /// the store is wiped. `typed` is its number in `attachments`, or a prefix
    /// of its item id or of its SHA-256.
    /// - Throws: `AttachmentError.unknownAttachment` or `.ambiguousAttachment`.
    @discardableResult
    public func detach(_ typed: String, of id: UUID) throws -> ReferralAttachment {
        try editable(id) { db, referral, now in
            let attached = try attachments(of: referral, db: db)
            let chosen = try Self.attachment(typed, among: attached)
            try record([("\(Self.attachmentGroup).\(chosen.item.lowercased)", nil)], in: id, db: db, now: now)
            return chosen
        }
    }

    /// The attachment `typed` names among `attached`: its number (from 1), or
    /// a prefix of its item id or SHA-256 (`sha256:` may lead).
    public static func attachment(_ typed: String, among attached: [ReferralAttachment]) throws(AttachmentError) -> ReferralAttachment {
        let lowered = typed.lowercased().replacingOccurrences(of: AttachmentReference.scheme, with: "")
        if let number = Int(lowered), lowered.count <= 3 {
            guard let found = attached.first(where: { $0.position == number }) else { throw .unknownAttachment(typed) }
            return found
        }
        let matches = attached.filter { $0.item.lowercased.hasPrefix(lowered) || $0.reference.sha256.hasPrefix(lowered) }
        guard !lowered.isEmpty, !matches.isEmpty else { throw .unknownAttachment(typed) }
        guard Set(matches.map(\.item)).count == 1 else { throw .ambiguousAttachment(typed) }
        return matches[0]
    }

    /// The whole content of an attachment stored here, opened and checked
    /// against its SHA-256.
    /// - Throws: `AttachmentError.notOnDevice`, `StoreError.unreadableAttachment`.
    public func attachmentContent(_ reference: AttachmentReference) throws -> Data {
        try writer.read { db in
            guard let size = try Int64.fetchOne(db, sql: "SELECT size FROM attachment WHERE sha256 = ?", arguments: [reference.sha256]) else {
                throw AttachmentError.notOnDevice(reference.sha256)
            }
            var content = Data(capacity: Int(size))
            let rows = try Row.fetchCursor(
                db, sql: "SELECT position, sealed FROM attachment_chunk WHERE sha256 = ? ORDER BY position", arguments: [reference.sha256])
            var expected = 0
            while let row = try rows.next() {
                guard row["position"] as Int == expected else { throw StoreError.unreadableAttachment(reference.sha256) }
                content.append(try cipher.openChunk(row["sealed"], sha256: reference.sha256, position: expected))
                expected += 1
            }
            guard expected == AttachmentChunks.count(of: size), AttachmentReference(of: content) == reference else {
                throw StoreError.unreadableAttachment(reference.sha256)
            }
            return content
        }
    }

    /// One chunk of an attachment stored here, opened.
    public func attachmentChunk(_ reference: AttachmentReference, position: Int) throws -> Data {
        try writer.read { db in
            guard let sealed = try Data.fetchOne(
                db, sql: "SELECT sealed FROM attachment_chunk WHERE sha256 = ? AND position = ?", arguments: [reference.sha256, position])
            else { throw StoreError.unreadableAttachment(reference.sha256) }
            return try cipher.openChunk(sealed, sha256: reference.sha256, position: position)
        }
    }

    /// The attachments the outbox's pushable changes name that the server
    /// has not said it holds whole, each with the changes naming it: what
    /// the next sync uploads first (`SyncClient.uploadAttachments`).
    public func pendingUploads() throws -> [PendingUpload] {
        try writer.read { db in
            // Most syncs have no file to send: one look at the (small) attachment table, not the outbox.
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM attachment WHERE received_at IS NULL)") == true else { return [] }
            var seqs: [String: [Int64]] = [:]
            var order: [String] = []
            let rows = try Row.fetchAll(db, sql: """
                SELECT seq, referral_id, path, value FROM outbox
                WHERE rejected_reason IS NULL AND value IS NOT NULL AND path LIKE '\(Self.attachmentGroup).%.\(Self.attachmentFileKey)'
                ORDER BY seq
                """)
            for row in rows {
                let record: String = row["referral_id"], path: String = row["path"]
                guard let value = try cipher.open(row, "value", record: record, path: path),
                      let reference = AttachmentReference(stored: value) else { continue }
                if seqs[reference.sha256] == nil { order.append(reference.sha256) }
                seqs[reference.sha256, default: []].append(row["seq"])
            }
            return try order.compactMap { sha256 in
                guard let row = try Row.fetchOne(
                    db, sql: "SELECT media_type, size, received_at FROM attachment WHERE sha256 = ?", arguments: [sha256]) else { return nil }
                guard (row["received_at"] as String?) == nil, let mediaType = AttachmentMediaType(rawValue: row["media_type"]) else { return nil }
                return PendingUpload(reference: AttachmentReference(sha256: sha256)!, mediaType: mediaType, size: row["size"], seqs: seqs[sha256]!)
            }
        }
    }

    /// What this device holds of an attachment: its kind, size and whether
    /// the server received it; nil when its content is not here.
    public func storedAttachment(_ reference: AttachmentReference) throws -> (mediaType: AttachmentMediaType, size: Int64, received: Bool)? {
        try writer.read { db in
            try Row.fetchOne(db, sql: "SELECT media_type, size, received_at FROM attachment WHERE sha256 = ?", arguments: [reference.sha256]).flatMap { row in
                AttachmentMediaType(rawValue: row["media_type"]).map { ($0, row["size"] as Int64, (row["received_at"] as String?) != nil) }
            }
        }
    }

    /// Notes that the server holds `reference` whole: changes naming it go out.
    public func markReceived(_ reference: AttachmentReference) throws {
        let at = Timestamp.string(clock.now())
        try writer.write { db in
            try db.execute(sql: "UPDATE attachment SET received_at = ? WHERE sha256 = ? AND received_at IS NULL", arguments: [at, reference.sha256])
        }
    }

    /// The attachment field of the referral's form version and its group.
    private func attachmentField(of referral: Referral) throws -> (FormField, FormSection) {
        let form = form(for: referral)
        guard let group = form.section(Self.attachmentGroup), group.isGroup,
              let field = group.fields.first(where: { $0.key == Self.attachmentFileKey }), field.type.attachmentLimits != nil
        else { throw AttachmentError.noAttachmentField(version: referral.formVersion) }
        return (field, group)
    }
}
