import ArgumentParser
import Foundation
import SyncCore

/// How one attachment reads in `show` and `attachments`: its kind, size,
/// hash and where it is (`sent`, `waiting to upload`, or not on this device).
enum AttachmentLine {
    static func describe(_ reference: AttachmentReference, store: LocalStore) -> String {
        guard let stored = try? store.storedAttachment(reference) else {
            return "sha256 \(reference.short)… (its content is not on this device)"
        }
        return "\(stored.mediaType.name), \(stored.size.byteCount), sha256 \(reference.short)… (\(stored.received ? "received by the server" : "waiting to upload"))"
    }
}

extension Field {
    struct Attach: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "attach",
            abstract: "Attach a photo, body map, letter or drawing (JPEG, PNG, HEIC or PDF) to a referral.",
            discussion: """
                The file is checked now, not at sending: its kind is read from its first bytes, and its \
                size against the form's limits (per file and per referral). It is copied into this device's \
                encrypted store, once however often it is attached, and sent with the referral at the next \
                `field sync`, in chunks, so a cut connection resends only what is missing.
                """)

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The file to attach.", completion: .file()) var file: String
        @Option(help: "What it is (for example: body map, front of left arm); the file's name when omitted.") var label: String?
        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let attached = try store.attach(file: file, to: id, label: label)
            let position = try store.attachments(of: id).first { $0.item == attached.item }?.position ?? 0
            if output.json {
                try context.console.json(Attachments.Listed(
                    position: position, item: attached.item.lowercased, sha256: attached.reference.sha256, label: try store.attachments(of: id).first { $0.item == attached.item }?.label,
                    mediaType: attached.mediaType.rawValue, size: attached.size, received: false))
                return
            }
            context.console.line(
                "Attached \(file) as attachments.\(position): \(attached.mediaType.name), \(attached.size.byteCount), sha256 \(attached.reference.short)…"
                    + (attached.storedContent ? "" : " (already in this device's store: kept once).")
                    + " It is sent at the next `field sync`.")
        }
    }

    struct Attachments: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "attachments",
            abstract: "List a referral's attachments: number, label, kind, size, hash and whether the server has it.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @OptionGroup var output: JSONOption

        struct Listed: Encodable {
            let position: Int
            let item: String
            let sha256: String
            let label: String?
            let mediaType: String?
            let size: Int64?
            let received: Bool
            enum CodingKeys: String, CodingKey { case position, item, sha256, label, mediaType = "media_type", size, received }
        }

        func run(in context: Context) async throws {
            let store = try context.store()
            let attached = try store.attachments(of: try context.referralID(id))
            if output.json {
                try context.console.json(attached.map {
                    Listed(position: $0.position, item: $0.item.lowercased, sha256: $0.reference.sha256, label: $0.label,
                           mediaType: $0.mediaType?.rawValue, size: $0.size, received: $0.received)
                })
                return
            }
            guard !attached.isEmpty else {
                context.console.line("No attachments; `field attach ID FILE` adds one.")
                return
            }
            var rows = [["#", "LABEL", "KIND", "SIZE", "SHA256", "STATE"]]
            rows += attached.map {
                [String($0.position), TerminalText.oneLine($0.label ?? ""), $0.mediaType?.name ?? "?", $0.size?.byteCount ?? "?", $0.reference.short + "…",
                 !$0.onDevice ? "not on this device" : $0.received ? "received by the server" : "waiting to upload"]
            }
            Format.table(rows).forEach(context.console.line)
        }
    }

    struct Detach: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "detach",
            abstract: "Remove an attachment from a referral.",
            discussion: "A change like any other: it syncs, and the history keeps that the file was attached.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The attachment: its number in `field attachments`, or a prefix of its id or SHA-256.") var attachment: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let removed = try store.detach(attachment, of: try context.referralID(id))
            context.console.line("Removed attachment \(removed.position) (\(TerminalText.oneLine(removed.label ?? "no label")), sha256 \(removed.reference.short)…); the history keeps that it was attached.")
        }
    }
}

extension Field.Intake {
    struct Attachment: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "attachment",
            abstract: "Save one of a submitted referral's attachments to a file (audited), checked against its SHA-256.")

        @Argument(help: "The referral's reference (F-XXXX-XXXX), id or a unique prefix of its id.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The attachment: its number (attachments.N in `field intake show`), or a prefix of its id or SHA-256.") var attachment: String
        @Option(help: "Where to save it; attachment-<hash>.<ext> in the current folder when omitted. An existing file is never overwritten.") var to: String?

        func run(in context: Context) async throws {
            let client = try context.onlineClient()
            let full = try await queuedID(id, client: client)
            let document = try await client.submittedReferral(full)
            let referral = Referral(id: UUID(uuidString: full) ?? UUID(), createdAt: Date(), createdBy: document.owner, updatedAt: Date(), values: document.fields)
            // Numbered as `intake show` and the console number them.
            let chosen = try LocalStore.attachment(attachment, among: referral.attachedFiles).reference
            // Checked before the download, which is audited.
            if let to, FileManager.default.fileExists(atPath: to) { throw CLIError("'\(to)' already exists; give another file with --to.") }
            let content = try await client.attachment(chosen, of: full)
            let mediaType = AttachmentMediaType.sniff(content)?.rawValue ?? "application/octet-stream"
            let path = to ?? "attachment-\(chosen.short).\(AttachmentMediaType(rawValue: mediaType)?.fileExtension ?? "bin")"
            guard !FileManager.default.fileExists(atPath: path) else { throw CLIError("'\(path)' already exists; give another file with --to.") }
            guard FileManager.default.createFile(atPath: path, contents: content, attributes: [.posixPermissions: 0o600]) else {
                throw CLIError("'\(path)' cannot be written; give another file with --to.")
            }
            context.console.line("Saved \(path): \(AttachmentMediaType(rawValue: mediaType)?.name ?? mediaType), \(Int64(content.count).byteCount), sha256 \(chosen.short)… checked.")
        }
    }
}
