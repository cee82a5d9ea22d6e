import Foundation
import Testing
@testable import SyncCore
import TestSupport

/// The form as a file (`FormDocument`) and its versions (`FormCatalog`):
/// every check `sync-server form publish` makes, each with its sentence.
@Suite("Form files and versions")
struct FormDocumentTests {
    /// The built-in form's document as JSON objects, to edit.
    func builtIn() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: ReferralForm.standard.document.encoded()) as! [String: Any]
    }

    /// The built-in document with `edit` applied to the named section's fields.
    func edited(_ section: String = "children", _ edit: (inout [[String: Any]]) -> Void) throws -> FormDocument {
        var document = try builtIn()
        var sections = document["sections"] as! [[String: Any]]
        let index = sections.firstIndex { $0["key"] as? String == section }!
        var fields = sections[index]["fields"] as! [[String: Any]]
        edit(&fields)
        sections[index]["fields"] = fields
        document["sections"] = sections
        document["version"] = nil
        return try FormDocument.decode(try JSONSerialization.data(withJSONObject: document))
    }

    func refusal(_ document: FormDocument) -> String? {
        do {
            _ = try FormCatalog.builtIn.nextVersion(from: document)
            return nil
        } catch {
            return error.description
        }
    }

    @Test("the built-in form file reads back to the same form, sorted for storage or in reading order for people")
    func roundTrip() throws {
        let form = ReferralForm.standard
        #expect(form.version == 1 && form.patterns.count == 79)
        for sorted in [true, false] {
            let again = try FormDocument.decode(form.document.encoded(sorted: sorted)).referralForm()
            #expect(again.document == form.document)
            #expect(again.patterns.map(\.pattern) == form.patterns.map(\.pattern))
        }
        // The resource file is the reading-order rendering, byte for byte.
        let url = try #require(Bundle.module.url(forResource: "referral-form", withExtension: "json", subdirectory: nil) ??
            Repository.file("Sources/SyncCore/Form/Resources/referral-form.json"))
        #expect(String(decoding: try Data(contentsOf: url), as: UTF8.self) == String(decoding: form.document.encoded(sorted: false), as: UTF8.self) + "\n")
    }

    @Test("digests are lowercase hex, two digits a byte")
    func hexDigest() {
        #expect(Hex.string([0x00, 0x0f, 0xa0, 0xff, 0x5c]) == "000fa0ff5c")
        #expect(Hex.string([UInt8]()) == "")
        #expect(Hex.string(UInt8(0)...UInt8(255)) == (0...255).map { String(format: "%02x", $0) }.joined())
        let digest = ReferralForm.standard.document.digest
        #expect(digest.count == 64 && digest.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("a file that is not a form is refused naming what is wrong")
    func unreadable() {
        func message(_ text: String) -> String {
            do { _ = try FormDocument.decode(Data(text.utf8)); return "" } catch { return error.description }
        }
        #expect(message("{") == "The form file cannot be read: it is not JSON.")
        #expect(message(#"{"form":"referral","sections":[]}"#) == "The form file cannot be read: 'title' is missing at the top level.")
        #expect(message(#"{"form":"referral","title":"t","sections":[{"key":"a","title":"A","summary":"s","fields":[{"key":"b","type":"text","question":"q","policy":"newest"}]}]}"#)
            .contains("sections[0].fields[0].policy"))
        #expect(message(#"{"form":"referral","title":"t","sections":[{"key":"a","title":"A","summary":"s","fields":[{"key":"b","type":"text","question":"q","help":null}]}]}"#)
            == "The form file cannot be read: 'help' at sections[0].fields[0] is null; leave it out instead.")
        #expect(message(#"{"form":"referral","title":"t","sections":[{"key":"a","title":"A","summary":"s","kinds":["adult"],"fields":[]}]}"#)
            == "The form file cannot be read: sections[0].kinds[0] is not a referral kind (social-care, lado, early-help, pre-birth).")
        #expect(message(#"{"form":"referral","title":"t","sections":{}}"#) == "The form file cannot be read: sections should be a list.")
        #expect(message(String(repeating: " ", count: FormDocument.maximumBytes + 1)).hasSuffix("the most is 1048576 (1 MiB)."))
        #expect(message(#"{"form":"referral","title":"t","sections":[{"key":"a","title":"A","summary":"s","fields":[{"key":"b","type":"text","question":"q","recomended":true}]}]}"#)
            == "The form file cannot be read: 'recomended' at sections[0].fields[0] is not a member of a field (key, type, question, help, options, policy, recommended, kinds, max_file_bytes, max_referral_bytes).")
    }

    @Test("each structural check refuses with one sentence naming the path")
    func checks() throws {
        #expect(refusal(try edited { $0.append(["key": "full_name", "type": "text", "question": "Again?"]) }) == "The path 'children.*.full_name' appears twice.")
        #expect(refusal(try edited { $0.append(["key": "mood", "type": "colour", "question": "Mood?"]) })?
            .hasPrefix("'colour' is not a field type (text, date, date-time, yes-no, choice, multi-choice, attachment) for 'children.*.mood'") == true)
        #expect(refusal(try edited { $0.append(["key": "mood", "type": "text", "question": "Mood?", "max_file_bytes": 10]) })
            == "The field 'children.*.mood' is text; only an attachment field has max_file_bytes or max_referral_bytes.")
        #expect(refusal(try edited { $0.append(["key": "mood", "type": "choice", "question": "Mood?"]) }) == "The choice field 'children.*.mood' has no options.")
        #expect(refusal(try edited { $0.append(["key": "mood", "type": "choice", "question": "Mood?", "options": [["key": "a", "label": "A"], ["key": "a", "label": "B"]]]) })
            == "The option 'a' appears twice in 'children.*.mood'.")
        #expect(refusal(try edited { $0.append(["key": "seen", "type": "date", "question": "Seen?", "policy": "append"]) })
            == "The field 'children.*.seen' is date; the append policy is for text only.")
        #expect(refusal(try edited { $0.append(["key": "Seen", "type": "date", "question": "Seen?"]) })?.hasPrefix("'Seen' is not a valid key") == true)
        #expect(refusal(try edited { $0.append(["key": "seen", "type": "date", "question": " "]) }) == "The field 'children.*.seen' has no question.")
        #expect(refusal(try edited("consent") { $0.removeAll { $0["key"] as? String == "reason" } })
            == "The guidance's rule \"going ahead without consent records why\" reads 'consent.reason', which this form does not have.")
        #expect(refusal(try edited("consent") { fields in
            let index = fields.firstIndex { $0["key"] as? String == "reason" }!
            fields[index]["kinds"] = ["lado"]
        }) == "The guidance's rule \"going ahead without consent records why\" reads 'consent.reason' in every kind of referral, so neither it nor its section may be limited by \"kinds\".")
        #expect(refusal(try edited { $0.append(["key": "seen", "type": "date", "question": "\n"]) }) == "The field 'children.*.seen' has no question.")
        var untitled = try edited { _ in }
        untitled.title = " "
        #expect(refusal(untitled) == "The form's title is empty.")
        var stated = try edited { $0.append(["key": "seen", "type": "date", "question": "Seen?"]) }
        stated.version = 5
        #expect(refusal(stated)?.hasPrefix("The form file says it is version 5; the next version to publish is 2") == true)
        var same = ReferralForm.standard.document
        same.version = nil
        #expect(refusal(same) == "The form file is the same as version 1; there is nothing to publish.")
    }

    @Test("versions: a retired path is never reused, types and policies and group shapes stay, the union keeps every field and option")
    func versions() throws {
        let v2 = try FormCatalog.builtIn.nextVersion(from: try edited { fields in
            fields.removeAll { $0["key"] as? String == "upn" }
            let index = fields.firstIndex { $0["key"] as? String == "communication" }!
            fields[index]["options"] = [["key": "interpreter", "label": "Interpreter"], ["key": "bsl", "label": "British Sign Language"]]
            fields.append(["key": "gp_practice", "type": "text", "question": "Which GP practice?"])
        })
        #expect(v2.version == 2)
        let catalog = FormCatalog(checked: [.standard, v2])
        #expect(catalog.retiredIn == ["children.*.upn": 2] && catalog.introducedIn["children.*.gp_practice"] == 2)
        #expect(catalog.versionsText(of: "children.*.upn") == "form version 1" && catalog.versionsText(of: "children.*.full_name") == "form versions 1–2")
        #expect(catalog.difference(from: .standard, to: v2) == (["children.*.upn"], ["children.*.gp_practice"]))
        // The union accepts both versions' paths, and every option either version had.
        let item = UUID().uuidString.lowercased()
        for (path, value) in [("children.\(item).upn", "A1"), ("children.\(item).gp_practice", "Elm"), ("children.\(item).communication", "interpreter,bsl,signer")] {
            guard case .success = catalog.union.rules(forStoredPath: path, value: value) else { Issue.record("\(path) refused"); continue }
        }
        guard case .failure(let refusal) = catalog.union.rules(forStoredPath: "children.\(item).nope", value: "x") else { Issue.record("accepted"); return }
        #expect(refusal.reason == "The form has no field 'children.\(item).nope' in any version (1–2).")
        guard case .failure(let invalid) = catalog.union.rules(forStoredPath: "children.\(item).date_of_birth", value: "soon") else { Issue.record("accepted"); return }
        #expect(invalid.reason.hasSuffix("(form versions 1–2)."))
        guard case .failure(let unpublished) = catalog.union.rules(forStoredPath: RecordPath.form, value: "3") else { Issue.record("accepted"); return }
        #expect(unpublished.reason == "'3' is not a form version this server has published (1 to 2).")

        // Against version 2: upn cannot come back, school cannot change type or policy, a group stays a group.
        func next(_ document: FormDocument) -> String? {
            do { _ = try catalog.nextVersion(from: document); return nil } catch { return error.description }
        }
        var v3 = v2.document
        v3.version = nil
        var children = v3.sections.firstIndex { $0.key == "children" }!
        v3.sections[children].fields.append(.init(key: "upn", type: "text", question: "UPN?"))
        #expect(next(v3) == "The path 'children.*.upn' was retired in form version 2; a retired path is never used again (give the question a new key).")
        v3 = v2.document
        v3.version = nil
        children = v3.sections.firstIndex { $0.key == "children" }!
        let school = v3.sections[children].fields.firstIndex { $0.key == "school" }!
        v3.sections[children].fields[school].policy = .lww
        #expect(next(v3) == "The path 'children.*.school' has the manual merge policy in earlier versions; it cannot change to lww.")
        v3.sections[children].fields[school].policy = nil
        v3.sections[children].fields[school].type = "yes-no"
        #expect(next(v3) == "The path 'children.*.school' is text in earlier versions; it cannot become yes-no (give the question a new key).")
        v3 = v2.document
        v3.version = nil
        let communication = v3.sections[children].fields.firstIndex { $0.key == "communication" }!
        v3.sections[children].fields[communication].options?.reverse()
        #expect(next(v3) == "The options of 'children.*.communication' that earlier versions have must keep their order (interpreter, bsl), since its stored values list them in that order.")
        // An option dropped by a version: a draft on an older one still sends
        // it in that version's order, and the union takes it; brought back in
        // its old place it is accepted, out of it refused.
        let noSigner = try catalog.nextVersion(from: try edited { fields in
            let index = fields.firstIndex { $0["key"] as? String == "communication" }!
            fields[index]["options"] = [["key": "interpreter", "label": "Interpreter"], ["key": "bsl", "label": "British Sign Language"], ["key": "other-aid", "label": "Other aid"]]
            fields.removeAll { $0["key"] as? String == "upn" }
        })
        let three = FormCatalog(checked: [.standard, v2, noSigner])
        guard case .success = three.union.rules(forStoredPath: "children.\(item).communication", value: "signer,other-aid") else {
            Issue.record("a version 1 value refused after its option was dropped"); return
        }
        func next3(_ options: [[String: Any]]) throws -> String? {
            do {
                _ = try three.nextVersion(from: try edited { fields in
                    let index = fields.firstIndex { $0["key"] as? String == "communication" }!
                    fields[index]["options"] = options
                    fields.removeAll { $0["key"] as? String == "upn" }
                })
                return nil
            } catch { return "\(error)" }
        }
        #expect(try next3([["key": "interpreter", "label": "I"], ["key": "bsl", "label": "B"], ["key": "signer", "label": "S"], ["key": "other-aid", "label": "O"]]) == nil)
        #expect(try next3([["key": "interpreter", "label": "I"], ["key": "other-aid", "label": "O"], ["key": "signer", "label": "S"]])?.hasPrefix("The options of 'children.*.communication' that earlier versions have must keep their order (interpreter, signer, other-aid)") == true)
        v3 = v2.document
        v3.version = nil
        v3.sections[v3.sections.firstIndex { $0.key == "household" }!].item = "household"
        #expect(next(v3) == "The section 'household' was a plain section; a section keeps its shape in every version.")
    }

    @Test("a referral's version: @form, 1 when absent; a store keeps fetched versions in order and new drafts use the newest")
    func deviceFollows() throws {
        let folder = try TemporaryFolder.make("forms")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("field.sqlite").path
        let store = try LocalStore(path: path, author: "jane", passphrase: "device passphrase", keyDerivation: .testing, clock: SteppingClock(start: Date(timeIntervalSince1970: 1_795_000_000)))
        let old = try store.createReferral(kind: .socialCare)
        let started = try store.referral(old)
        #expect(started.formVersion == 1 && started.values[RecordPath.form] == nil)
        let v2 = try FormCatalog.builtIn.nextVersion(from: try edited { fields in
            fields.append(["key": "gp_practice", "type": "text", "question": "Which GP practice?"])
            fields.removeAll { $0["key"] as? String == "upn" }
        })
        var v3 = v2.document
        v3.version = 3
        // Out of order: refused, nothing stored.
        #expect(throws: FormDocumentError.self) { try store.storeFormVersion(v3.encoded()) }
        try store.storeFormVersion(v2.document.encoded())
        try store.storeFormVersion(v2.document.encoded())  // fetched twice: kept once
        #expect(store.forms.versions.count == 2 && store.form.version == 2)
        let new = try store.createReferral(kind: .socialCare)
        #expect(try store.referral(new).formVersion == 2)
        let child = try store.addItem(to: "children", of: old)
        #expect(throws: FormError.pathOfOtherVersion(path: "children.1.gp_practice", versions: "form version 2", referralVersion: 1, upgradeTo: 2)) {
            try store.set("children.1.gp_practice", of: old, to: "Elm")
        }
        try store.set("children.\(child.lowercased).upn", of: old, to: "A1")
        let moved = try store.upgrade(old)
        #expect(moved.from == 1 && moved.to == 2 && moved.added == ["children.*.gp_practice"] && moved.retired == ["children.*.upn"])
        try store.set("children.\(child.lowercased).gp_practice", of: old, to: "Elm")
        // A retired answer is kept, and can be cleared, but not set again.
        #expect(throws: FormError.self) { try store.set("children.1.upn", of: old, to: "A2") }
        #expect(try store.unset("children.1.upn", of: old).newValue == nil)
        #expect(try store.referral(old).values["children.\(child.lowercased).upn"] == nil)
        // Read again without the passphrase, as `field fields` does.
        #expect(try LocalStore.formCatalog(at: path).latest.version == 2)
    }
}
