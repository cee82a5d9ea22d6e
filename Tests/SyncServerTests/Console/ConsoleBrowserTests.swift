import Foundation
import SyncCore
import TestSupport
import Testing

/// The web console in a real browser: headless Chromium driven by Selenium
/// (`Tests/ConsoleBrowser/console_browser.py`, one step per role) against a
/// real `sync-server`, with practitioners on the real `field` binary. The
/// browser steps check the pages; this test checks that what staff did
/// reaches the practitioner's devices.
///
/// Needs Debian's `chromium` and `chromium-driver` and a Python with
/// Selenium (`scripts/test` installs them into `.build/test-venv`). Without
/// them the test is skipped with a note, unless `SYNC_TEST_REQUIRE_BROWSER=1`
/// (as `scripts/test` sets), which makes their absence a failure.
/// `CONSOLE_SCREENSHOTS=docs/console` saves each page's screenshot there.
@Suite("Web console in a real browser")
struct ConsoleBrowserTests {
    static let script = Repository.file("Tests/ConsoleBrowser/console_browser.py")

    /// Runs one browser step; its output on failure.
    func browser(_ step: String, _ arguments: [String], url: URL) throws {
        var all = [Self.script.path, step, "--url", url.absoluteString] + arguments
        if let folder = ProcessInfo.processInfo.environment["CONSOLE_SCREENSHOTS"] {
            all += ["--screenshots", URL(fileURLWithPath: folder, relativeTo: Repository.root).path]
        }
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("console-browser-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: errors) }
        let (termination, output) = try ChildProcess.run(TestPython.path, all, error: .file(errors))
        let error = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
        guard termination.status == 0 else {
            throw TestFailure("the browser step '\(step)' failed (\(termination)):\n\(output)\n\(error.suffix(3000))")
        }
    }

    /// The device ids `device list` shows for `user`.
    func deviceIDs(_ server: ServerProcess, user: String) throws -> Set<String> {
        let listing = try server.command(["device", "list", "--user", user]).output
        let pattern = try Regex("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
        return Set(listing.matches(of: pattern).map { String(listing[$0.range]) })
    }

    @Test("sign in; a synced referral in the queue; acknowledge, rate, decide; the referrer's field status shows all three; an admin resolves a conflict and both devices converge; a practitioner is refused; a POST without its CSRF token changes nothing")
    func wholeLoop() async throws {
        guard TestPython.browserAvailable else {
            #expect(!TestPython.required, "SYNC_TEST_REQUIRE_BROWSER=1 but chromium, chromedriver or \(TestPython.path) is missing (scripts/test installs them)")
            print("note: the browser test is skipped: chromium, chromedriver or \(TestPython.path) is missing (scripts/test installs them)")
            return
        }
        // Monday 23 November 2026, noon in London; admins need a second factor.
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z", options: ["--require-totp", "admin"])
        let janeToken = try server.addUser("jane")
        _ = try server.addUser("ian", role: .intake)
        _ = try server.addUser("ada", role: .admin)
        let passwords = ["ian": "ian's console password", "ada": "ada's console password", "jane": "jane's console password"]
        for (name, password) in passwords {
            let (status, output) = try server.command(["user", "set-password", name], input: password + "\n")
            #expect(status == 0, "set-password \(name): \(output)")
        }
        let (totpStatus, uri) = try server.command(["user", "totp", "ada"])
        #expect(totpStatus == 0 && uri.hasPrefix("otpauth://totp/"), "user totp: \(uri)")

        // Jane drafts on her laptop, offline, then syncs: first an ordinary referral, then one at immediate risk.
        let laptop = try FieldHome(user: "jane", seed: 61)
        let phone = try FieldHome(user: "jane", seed: 62)
        for home in [laptop, phone] {
            #expect(try home.run(["login", "--server", server.url.absoluteString, "--token", janeToken]).status == 0)
        }
        func submitted(_ child: String, _ values: [(String, String)]) throws -> String {
            let id = try laptop.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
            for (path, value) in values { #expect(try laptop.run(["set", id, path, value]).status == 0, "set \(path)") }
            #expect(try laptop.run(["add", id, "children"]).status == 0)
            #expect(try laptop.run(["set", id, "children.1.full_name", child]).status == 0)
            #expect(try laptop.run(["submit", id]).status == 0)
            #expect(try laptop.run(["sync"]).status == 0)
            return id
        }
        _ = try submitted("Ben Jones", [
            ("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", "Missed three appointments"),
        ])
        try server.setTime("2026-11-23T12:05:00Z")
        let deadline = "mum collects at 15:15 today"
        let id = try submitted("Amy Smith", [
            ("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("referrer.phone", "01905 000000"),
            ("concern.summary", "Bruises on both upper arms"), ("urgency.immediate_risk", "yes"), ("urgency.call_made", "yes"),
            ("urgency.child_safe_now", "no"), ("urgency.deadline", deadline), ("household.address", "7 Orchard Way, Worcester WR1 2AB"),
        ])
        let submittedStatus = try JSONSerialization.jsonObject(with: Data(try laptop.run(["status", id, "--json"]).output.utf8)) as? [String: Any] ?? [:]
        let reference = try #require(submittedStatus["reference"] as? String, "no reference in: \(submittedStatus)")

        // Wednesday: the acknowledgement (due within 4 working hours of Monday noon) is overdue.
        try server.setTime("2026-11-25T10:00:00Z")
        try browser("intake", [
            "--user", "ian", "--password", passwords["ian"]!, "--reference", reference, "--child", "Amy Smith", "--deadline", deadline,
        ], url: server.url)

        // The referrer's next sync brings the acknowledgement, the rating (not its internal reason) and the outcome.
        let news = try laptop.run(["sync"]).output
        #expect(news.contains("acknowledged by ian"), "sync news: \(news)")
        let status = try JSONSerialization.jsonObject(with: Data(try laptop.run(["status", id, "--json"]).output.utf8)) as? [String: Any] ?? [:]
        #expect((status["acknowledged"] as? [String: Any])?["by"] as? String == "ian")
        #expect((status["rating"] as? [String: Any])?["rating"] as? String == "red")
        #expect((status["rating"] as? [String: Any])?["feedback"] is NSNull, "the rating's reason is internal: \(status)")
        #expect((status["outcome"] as? [String: Any])?["outcome"] as? String == "s47-enquiry")
        let text = try laptop.run(["status", id]).output
        #expect(text.contains("RAG rating: Red: serious concern") && !text.contains("Bruising on a baby"), "field status: \(text)")

        // New information after the decision: the front door sees old and new, and records that its decision stands.
        #expect(try laptop.run(["set", id, "concern.summary", "Bruises on both upper arms and a burn on the hand"]).status == 0)
        #expect(try laptop.run(["sync"]).status == 0)
        try browser("seen", [
            "--user", "ian", "--password", passwords["ian"]!, "--reference", reference, "--old", "Bruises on both upper arms",
            "--new", "Bruises on both upper arms and a burn on the hand",
        ], url: server.url)
        #expect(try laptop.run(["sync"]).output.contains("the front door saw the changes it had by"))

        // A school refers the same child (no NHS number on either): intake sees a possible match, confirms it, and the chronology joins them.
        let schoolToken = try server.addUser("sam")
        let school = try FieldHome(user: "sam", seed: 64)
        #expect(try school.run(["login", "--server", server.url.absoluteString, "--token", schoolToken]).status == 0)
        let bySchool = try school.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try school.run(["add", bySchool, "children"]).status == 0)
        for (path, value) in [("children.1.full_name", "Amy Smith"), ("children.1.date_of_birth", "2019-05-04"), ("household.address", "7 Orchard Way, Worcester WR1 2AB"), ("referrer.name", "Sam Teacher"), ("referrer.agency", "Oakfield Primary"),
                              ("concern.summary", "Flinched when a teacher raised her voice")] {
            #expect(try school.run(["set", bySchool, path, value]).status == 0)
        }
        #expect(try school.run(["submit", bySchool]).status == 0 && school.run(["sync"]).status == 0)
        let schoolStatus = try JSONSerialization.jsonObject(with: Data(try school.run(["status", bySchool, "--json"]).output.utf8)) as? [String: Any] ?? [:]
        let schoolReference = try #require(schoolStatus["reference"] as? String)
        try browser("known", ["--user", "ian", "--password", passwords["ian"]!, "--reference", schoolReference, "--other", reference], url: server.url)

        // Two of Jane's devices change one answer without seeing each other: a conflict.
        #expect(try phone.run(["sync"]).status == 0)
        #expect(try laptop.run(["set", id, "concern.summary", "Laptop: bruises on both upper arms, seen at the visit"]).status == 0)
        #expect(try phone.run(["set", id, "concern.summary", "Phone: bruise on the left arm"]).status == 0)
        #expect(try laptop.run(["sync"]).status == 0)
        let conflicted = try phone.run(["sync"]).output
        #expect(conflicted.contains("conflict"), "phone sync: \(conflicted)")

        // A third device, to revoke from the console.
        let before = try deviceIDs(server, user: "jane")
        let spare = try FieldHome(user: "jane", seed: 63)
        #expect(try spare.run(["login", "--server", server.url.absoluteString, "--token", janeToken]).status == 0)
        let spareID = try #require(try deviceIDs(server, user: "jane").subtracting(before).first)

        try browser("admin", [
            "--user", "ada", "--password", passwords["ada"]!, "--totp-uri", uri, "--totp-at", "2026-11-25T10:00:00Z",
            "--candidates", "Laptop: bruises on both upper arms, seen at the visit", "Phone: bruise on the left arm",
            "--pick", "Laptop: bruises on both upper arms, seen at the visit", "--revoke", spareID,
        ], url: server.url)

        // Both devices converge on the admin's choice, the conflict settled.
        for home in [laptop, phone] {
            #expect(try home.run(["sync"]).status == 0)
            let shown = try home.run(["show", id]).output
            #expect(shown.contains("Laptop: bruises on both upper arms, seen at the visit"), "\(home.seed): \(shown)")
            let settled = try JSONSerialization.jsonObject(with: Data(try home.run(["status", id, "--json"]).output.utf8)) as? [String: Any] ?? [:]
            #expect((settled["conflicts"] as? [Any])?.isEmpty == true)
            #expect(((settled["resolved"] as? [[String: Any]])?.first?["by"]) as? String == "ada")
        }
        // The revoked device is told so on its next contact.
        let revoked = try spare.run(["sync"])
        #expect(revoked.status != 0 && revoked.output.contains("revoked"), "spare sync: \(revoked.output)")

        try browser("practitioner", ["--user", "jane", "--password", passwords["jane"]!], url: server.url)
        // Login CSRF (issue 26, item 5): a sign-in posted from another site signs nobody in.
        try browser("login-csrf", ["--user", "ian", "--password", passwords["ian"]!], url: server.url)

        // Every console write and read is on the audit trail, and the chain holds.
        let audit = try server.command(["audit", "show", "--limit", "200"]).output
        for action in [
            "console-sign-in", "acknowledge", "rate", "decide", "seen-decision-stands", "read-history", "resolve", "revoke", "read", "read-related",
            "confirm-match", "read-chronology",
        ] {
            #expect(audit.contains(action), "no \(action) in the audit trail")
        }
        #expect(try server.command(["audit", "verify"]).status == 0)
    }
}
