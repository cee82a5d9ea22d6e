import Crypto
import Foundation
import SyncCore
import TestSupport
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// An attachment in the FHIR export (issue 31): a `DocumentReference` that
/// points at the file (never carries it), identifies it by its SHA-256 and
/// gives its SHA-1 as R4's `Attachment.hash`; the bundle valid against HL7's
/// R4 JSON Schema and fhir.resources' R4 models (`Tests/Export/export_check.py`,
/// as `ExportTests`); the `url` gives the intake user the file's exact bytes.
@Suite("Attachments in the FHIR export")
struct AttachmentExportTests {
    @Test("a submitted referral's PNG exports as a DocumentReference: current, its type, size, SHA-1 hash, the intake URL and the ni:///sha-256 identifier, no inline data; the bundle valid against the R4 JSON Schema; the URL gives intake the exact bytes (audited) and a practitioner a 403")
    func documentReference() async throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        let jane = try await Device(server: server, token: try server.addUser("jane"))
        let practitionerToken = try server.addUser("jane2")
        let intakeToken = try server.addUser("ian", role: .intake)
        defer { jane.remove() }
        let export = ExportTests()

        let id = try jane.store.createReferral(kind: .socialCare)
        for (path, value) in [("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", "Bruises on both upper arms")] {
            try jane.store.set(path, of: id, to: value)
        }
        let child = try jane.store.addItem(to: "children", of: id)
        try jane.store.set("children.\(child.lowercased).full_name", of: id, to: "Amy Smith")
        let png = TestPNG.make(width: 40, height: 24)
        let file = jane.folder.appendingPathComponent("body-map.png")
        try png.write(to: file)
        let label = "Body map, front"
        let attached = try jane.store.attach(file: file.path, to: id, label: label)
        _ = try jane.store.submit(id)
        let summary = try await jane.sync()
        #expect(summary.attachmentsSent == 1 && summary.attachmentBytesSent == Int64(png.count), "\(summary)")

        // The three formats of one page, for export_check.py; the FHIR read here too.
        let folder = try TemporaryFolder.make("attachment-export")
        defer { try? FileManager.default.removeItem(at: folder) }
        for format in ["json", "csv", "fhir"] {
            let (status, data, _) = try await export.get(server, "v1/export?format=\(format)&limit=10", token: intakeToken)
            #expect(status == 200, "\(format): \(String(decoding: data, as: UTF8.self).prefix(300))")
            try data.write(to: folder.appendingPathComponent("page.\(format)"))
        }
        let fhir = try Data(contentsOf: folder.appendingPathComponent("page.fhir"))
        let outer = try #require(try JSONSerialization.jsonObject(with: fhir) as? [String: Any])
        let bundles = (outer["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] }
        #expect(bundles.count == 1)
        let resources = bundles.flatMap { ($0["entry"] as? [[String: Any]] ?? []).compactMap { $0["resource"] as? [String: Any] } }
        let documents = resources.filter { $0["resourceType"] as? String == "DocumentReference" }
        #expect(documents.count == 1, "DocumentReferences: \(documents)")
        let document = try #require(documents.first)
        #expect(document["status"] as? String == "current")
        let contents = document["content"] as? [[String: Any]] ?? []
        #expect(contents.count == 1)
        let attachment = try #require(contents.first?["attachment"] as? [String: Any], "\(document)")
        let sha256 = AttachmentReference(of: png).sha256
        let url = "/v1/intake/referrals/\(id.lowercased)/attachments/\(sha256)"
        #expect(attachment["contentType"] as? String == "image/png")
        #expect((attachment["size"] as? NSNumber)?.intValue == png.count, "size: \(attachment["size"] ?? "none")")
        #expect(attachment["hash"] as? String == Data(Insecure.SHA1.hash(data: png)).base64EncodedString(), "hash: \(attachment["hash"] ?? "none")")
        #expect(attachment["url"] as? String == url)
        #expect(attachment["title"] as? String == label)
        #expect(attachment["data"] == nil, "the file is referred to, never inline")
        let base64URL = Data(SHA256.hash(data: png)).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        let identifiers = document["identifier"] as? [[String: Any]] ?? []
        #expect(identifiers.map { $0["value"] as? String } == ["ni:///sha-256;\(base64URL)"], "identifier: \(identifiers)")
        #expect(document["id"] as? String == attached.item.lowercased)
        // About the referral and its child, as the ServiceRequest is.
        let request = try #require(resources.first { $0["resourceType"] as? String == "ServiceRequest" })
        #expect((document["subject"] as? [String: String]) == (request["subject"] as? [String: String]))
        #expect(((document["context"] as? [String: Any])?["related"] as? [[String: String]]) == [["reference": "urn:uuid:\(id.lowercased)"]])

        // Valid R4, as every resource of the export (ExportTests' checker).
        if TestPython.has(module: "fhir.resources, jsonschema") {
            let schema = ExportTests.schema
            #expect(schema != nil || !ExportTests.required, "HL7's R4 fhir.schema.json is at neither \(ExportTests.schemaCandidates.map(\.path))")
            let errors = folder.appendingPathComponent("stderr").path
            let (termination, output) = try ChildProcess.run(
                TestPython.path, [ExportTests.script.path] + ["json", "csv", "fhir"].flatMap { ["--\($0)", folder.appendingPathComponent("page.\($0)").path] }
                    + (schema.map { ["--schema", $0.path] } ?? []), error: .file(errors))
            let error = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
            #expect(termination.status == 0, "export_check.py: \(output)\(error.suffix(2000))")
            #expect(schema == nil || output.contains("ok: FHIR R4 JSON Schema"), "\(output)")
        } else {
            #expect(!ExportTests.required, "SYNC_TEST_REQUIRE_BROWSER=1 or CI but \(TestPython.path) lacks fhir.resources or jsonschema")
            print("note: the DocumentReference is not validated against R4: \(TestPython.path) lacks fhir.resources or jsonschema")
        }

        // The URL, on this server, gives intake the file's exact bytes, and is on the audit trail; a practitioner gets a 403.
        let (status, body, response) = try await export.get(server, String(url.dropFirst()), token: intakeToken)
        #expect(status == 200 && body == png, "GET \(url): \(status), \(body.count) bytes")
        #expect(response.value(forHTTPHeaderField: "Content-Type") == "image/png")
        #expect(try await export.get(server, String(url.dropFirst()), token: practitionerToken).0 == 403)
        let audit = try server.command(["audit", "show", "--record", id.lowercased, "--action", "attachment-download"]).output
        #expect(audit.split(separator: "\n").filter { $0.contains("attachment-download") && $0.contains("ian") && $0.contains(sha256) }.count == 1, "\(audit)")

        // The operator's export is the API's (ExportTests): with an attachment too.
        let operatorFHIR = try server.command(["export", "--format", "fhir", "--limit", "10"])
        #expect(operatorFHIR.status == 0)
        #expect(operatorFHIR.output == String(decoding: fhir, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
