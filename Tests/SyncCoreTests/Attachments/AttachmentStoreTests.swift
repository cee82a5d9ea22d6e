import Foundation
import TestSupport
import SyncCore
import Testing

/// Attachments on the device (issue 31, item 1) against a real store file:
/// the kind read from the content, the form's limits checked when a file is
/// attached, the content sealed (never in clear in the file), stored once by
/// its SHA-256, and a detach that syncs like any change while the history
/// keeps that the file was there.
@Suite("Attachments in the device's store")
struct AttachmentStoreTests {
    static func file(_ content: Data, named name: String = "photo.jpg") throws -> String {
        let folder = try TemporaryFolder.make("attach")
        let url = folder.appendingPathComponent(name)
        try content.write(to: url)
        return url.path
    }

    /// A JPEG-signed file of `count` bytes whose body repeats `marker`, so the test can look for it in the store's file.
    static func jpeg(_ count: Int, marker: String = "CLEAR-TEXT-MARKER-") -> Data {
        var data = Data([0xFF, 0xD8, 0xFF, 0xE0])
        while data.count < count { data.append(contentsOf: marker.utf8) }
        return data.prefix(count)
    }

    @Test("the kind is read from the first bytes: JPEG, PNG, HEIC, PDF; anything else is refused")
    func sniffing() {
        #expect(AttachmentMediaType.sniff(Data([0xFF, 0xD8, 0xFF, 0xDB, 0])) == .jpeg)
        #expect(AttachmentMediaType.sniff(Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0])) == .png)
        #expect(AttachmentMediaType.sniff(Data("%PDF-1.7\n".utf8)) == .pdf)
        #expect(AttachmentMediaType.sniff(Data([0, 0, 0, 0x18]) + Data("ftypheic".utf8) + Data(count: 8)) == .heic)
        #expect(AttachmentMediaType.sniff(Data([0, 0, 0, 0x18]) + Data("ftypmp42".utf8) + Data(count: 8)) == nil, "an MP4 video is not a HEIC photo")
        #expect(AttachmentMediaType.sniff(Data("GIF89a".utf8)) == nil)
        #expect(AttachmentMediaType.sniff(Data()) == nil)
    }

    @Test("chunk boundaries depend on the size alone: fixed 512 KiB chunks, the last one shorter")
    func chunking() {
        let size = Int64(AttachmentChunks.size)
        #expect(AttachmentChunks.count(of: 1) == 1)
        #expect(AttachmentChunks.count(of: size) == 1)
        #expect(AttachmentChunks.count(of: size + 1) == 2)
        #expect(AttachmentChunks.count(of: 20_000_000) == 39)
        #expect(AttachmentChunks.range(1, of: size + 10) == AttachmentChunks.size..<(AttachmentChunks.size + 10))
        #expect(AttachmentReference(stored: "sha256:" + String(repeating: "0a", count: 32)) != nil)
        #expect(AttachmentReference(stored: "sha256:" + String(repeating: "0A", count: 32)) == nil, "uppercase is not the canonical form")
        #expect(AttachmentReference(stored: "md5:abc") == nil)
    }

    @Test("an attached file is sealed in the store, kept once however often it is attached, and opens whole")
    func storedOnceAndSealed() throws {
        let test = try TestStore()
        let store = test.store
        let content = Self.jpeg(3 * AttachmentChunks.size / 2)
        let path = try Self.file(content)
        let first = try store.createReferral(kind: .socialCare)
        let second = try store.createReferral(kind: .socialCare)
        let attached = try store.attach(file: path, to: first, label: "front of left arm")
        #expect(attached.storedContent && attached.mediaType == .jpeg && attached.size == Int64(content.count))
        let again = try store.attach(file: path, to: second)
        #expect(!again.storedContent && again.reference == attached.reference)
        #expect(try store.attachmentContent(attached.reference) == content)
        let listed = try store.attachments(of: first)
        #expect(listed.map(\.label) == ["front of left arm"] && listed.first?.received == false)
        #expect(try store.attachments(of: second).first?.label == "photo.jpg", "the file's name when no label is given")
        // Two referrals name it, so the next push uploads it once, for both.
        let uploads = try store.pendingUploads()
        #expect(uploads.count == 1 && uploads[0].seqs.count == 2)
        // Nothing of the content is in clear anywhere in the database file or its log.
        let raw = try Data(contentsOf: URL(fileURLWithPath: test.path)) + ((try? Data(contentsOf: URL(fileURLWithPath: test.path + "-wal"))) ?? Data())
        #expect(raw.range(of: Data("CLEAR-TEXT-MARKER-".utf8)) == nil)
        // Another process opens the same file and the content.
        #expect(try test.reopen().attachmentContent(attached.reference) == content)
    }

    @Test("detaching is a change like any other: it is queued, and the history keeps that the file was attached")
    func detachIsAChange() throws {
        let store = try TestStore().store
        let id = try store.createReferral(kind: .socialCare)
        let attached = try store.attach(file: try Self.file(Self.jpeg(1_000)), to: id, label: "body map")
        let removed = try store.detach(String(attached.reference.sha256.prefix(8)), of: id)
        #expect(removed.item == attached.item)
        #expect(try store.attachments(of: id).isEmpty)
        let item = "attachments.\(attached.item.lowercased)"
        #expect(try store.pendingChanges().contains { $0.path == item && $0.value == nil })
        let history = try store.history(of: id)
        #expect(history.contains { $0.path == "\(item).file" && $0.newValue == attached.reference.stored })
        #expect(history.contains { $0.path == item && $0.newValue == nil })
        #expect(throws: AttachmentError.unknownAttachment("1")) { try store.detach("1", of: id) }
    }

    @Test("what is not a photo or PDF, or too large for the form, is refused when attached, with the limit named")
    func refusals() throws {
        let store = try TestStore().store
        let id = try store.createReferral(kind: .socialCare)
        let text = try Self.file(Data("plain words".utf8), named: "notes.jpg")
        #expect(throws: AttachmentError.unsupportedType(text)) { try store.attach(file: text, to: id) }
        #expect(throws: AttachmentError.noSuchFile("/nowhere/x.jpg")) { try store.attach(file: "/nowhere/x.jpg", to: id) }
        let folder = URL(fileURLWithPath: text).deletingLastPathComponent().path
        #expect(throws: AttachmentError.isFolder(folder)) { try store.attach(file: folder, to: id) }
        let limit = AttachmentLimits.standard.fileBytes
        let huge = try Self.file(Self.jpeg(Int(limit) + 1))
        #expect(throws: AttachmentError.fileTooLarge(huge, bytes: limit + 1, limit: limit)) { try store.attach(file: huge, to: id) }
        #expect(AttachmentError.fileTooLarge("a.jpg", bytes: limit + 1, limit: limit).description
            == "'a.jpg' is 26.2 MB (26214401 bytes); the form allows at most 26.2 MB (26214400 bytes) a file, so it was not attached.")
        #expect(try store.attachments(of: id).isEmpty && store.pendingChanges().allSatisfy { !$0.path.hasPrefix("attachments") })
    }

    @Test("wiping a revoked device erases every attachment with the referrals")
    func wipeErases() throws {
        let test = try TestStore()
        let id = try test.store.createReferral(kind: .socialCare)
        let attached = try test.store.attach(file: try Self.file(Self.jpeg(2_000)), to: id)
        try test.store.wipe()
        let store = try test.reopen()
        #expect(throws: AttachmentError.notOnDevice(attached.reference.sha256)) { try store.attachmentContent(attached.reference) }
        #expect(try store.pendingUploads().isEmpty)
    }

    @Test("a form may set its own limits; only an attachment field has them, within bounds")
    func formLimits() throws {
        let standard = ReferralForm.standard
        #expect(standard.field(atPattern: "attachments.*.file")?.type == .attachment(.standard))
        var document = standard.document
        let section = document.sections.firstIndex { $0.key == "attachments" }!
        document.sections[section].fields[0].maxFileBytes = 1_000
        document.sections[section].fields[0].maxReferralBytes = 5_000
        #expect(try document.referralForm().field(atPattern: "attachments.*.file")?.type == .attachment(AttachmentLimits(fileBytes: 1_000, referralBytes: 5_000)))
        // Written out and read back the same.
        #expect(try FormDocument.decode(document.encoded(sorted: false)).referralForm().field(atPattern: "attachments.*.file")?.type.attachmentLimits?.referralBytes == 5_000)
        document.sections[section].fields[0].maxReferralBytes = 500
        #expect(throws: FormDocumentError.self) { try document.referralForm() }
        var text = standard.document
        text.sections[0].fields[0].maxFileBytes = 10
        #expect(throws: FormDocumentError.self) { try text.referralForm() }
        // Typed by hand, a hash is a value; anything else is not.
        #expect(throws: FormError.self) { try FieldType.attachment(.standard).normalize("photo.jpg", now: Date()) }
    }
}
