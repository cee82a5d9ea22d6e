import Foundation
import SyncCore
import TestSupport
import Testing

/// An attachment from a practitioner's `field` to the web console, in a real
/// browser (issue 31): the referral page lists it without opening it, View
/// opens its page and the image decodes, and only then is the view on the
/// audit trail, naming the referral and the file. The browser steps are
/// `attachment-list` and `attachment-view` of
/// `Tests/ConsoleBrowser/console_browser.py`; what they need and how a
/// missing browser is treated are `ConsoleBrowserTests`'.
/// `CONSOLE_SCREENSHOTS=FOLDER` saves the referral's Attachments section
/// (`referral-attachments.png`) and the attachment's page (`attachment.png`).
@Suite("Attachments in the web console, in a real browser")
struct ConsoleAttachmentBrowserTests {
    /// The `attachment-view` entries of the audit trail about `record`, as `audit show` prints them.
    func views(_ server: ServerProcess, record: String) throws -> [String] {
        let (status, output) = try server.command(["audit", "show", "--record", record, "--action", "attachment-view"])
        #expect(status == 0, "audit show: \(output)")
        return output.split(separator: "\n").map(String.init).filter { $0.contains("attachment-view") }
    }

    @Test("a PNG attached with field attach and synced: the referral page lists its label, kind and size without loading it; View shows it decoded at its size; then, and only then, the audit trail has one attachment-view naming the referral and the file")
    func viewAnAttachment() async throws {
        guard TestPython.browserAvailable else {
            #expect(!TestPython.required, "SYNC_TEST_REQUIRE_BROWSER=1 but chromium, chromedriver or \(TestPython.path) is missing (scripts/test installs them)")
            print("note: the attachment browser test is skipped: chromium, chromedriver or \(TestPython.path) is missing (scripts/test installs them)")
            return
        }
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let janeToken = try server.addUser("jane")
        _ = try server.addUser("ian", role: .intake)
        let password = "ian's console password"
        let (passwordStatus, passwordOutput) = try server.command(["user", "set-password", "ian"], input: password + "\n")
        #expect(passwordStatus == 0, "set-password ian: \(passwordOutput)")

        // Jane photographs a body map, attaches it to a referral, submits and syncs.
        let laptop = try FieldHome(user: "jane", seed: 71)
        #expect(try laptop.run(["login", "--server", server.url.absoluteString, "--token", janeToken]).status == 0)
        let id = try laptop.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", "Bruises on both upper arms")] {
            #expect(try laptop.run(["set", id, path, value]).status == 0, "set \(path)")
        }
        #expect(try laptop.run(["add", id, "children"]).status == 0)
        #expect(try laptop.run(["set", id, "children.1.full_name", "Amy Smith"]).status == 0)
        let png = TestPNG.make(width: 96, height: 64)
        let sha256 = AttachmentReference(of: png).sha256
        let file = laptop.folder.appendingPathComponent("IMG_0412.png")
        try png.write(to: file)
        let label = "Body map, front"
        let attached = try laptop.run(["attach", id, file.path, "--label", label])
        #expect(attached.status == 0 && attached.output.contains("PNG"), "field attach: \(attached.output)")
        #expect(try laptop.run(["submit", id]).status == 0)
        let synced = try laptop.run(["sync"])
        #expect(synced.status == 0 && synced.output.contains("Sent 1 attachment(s), \(Int64(png.count).byteCount) uploaded"), "field sync: \(synced.output)")
        let status = try JSONSerialization.jsonObject(with: Data(try laptop.run(["status", id, "--json"]).output.utf8)) as? [String: Any] ?? [:]
        let reference = try #require(status["reference"] as? String, "no reference in: \(status)")

        let common = [
            "--user", "ian", "--password", password, "--reference", reference, "--label", label, "--kind", "PNG",
            "--size", Int64(png.count).byteCount, "--attached-by", "jane",
        ]
        // Listed, not opened: the referral page costs no view.
        try ConsoleBrowserTests().browser("attachment-list", common, url: server.url)
        #expect(try views(server, record: id).isEmpty, "opening the referral page viewed the attachment")

        try ConsoleBrowserTests().browser("attachment-view", common + ["--width", "96", "--height", "64"], url: server.url)
        let viewed = try views(server, record: id)
        #expect(viewed.count == 1, "attachment-view entries: \(viewed)")
        #expect(viewed.allSatisfy { $0.contains("ian") && $0.contains(id) && $0.contains("sha256=\(sha256)") && $0.contains("bytes=\(png.count)") }, "\(viewed)")
        let downloads = try server.command(["audit", "show", "--record", id, "--action", "attachment-download"]).output
        #expect(!downloads.contains("attachment-download"), "nothing was downloaded: \(downloads)")
        #expect(try server.chainAudit())
    }
}
