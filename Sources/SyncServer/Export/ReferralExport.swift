import Crypto
import Foundation
import SyncCore

/// One submitted referral as the export hands it to a case-management
/// system: its current values, receipt and submission, and the change-log
/// revision of its latest change (what the export's cursor counts).
struct ExportedReferral: Sendable {
    var document: ReferralDocument
    var receipt: String?
    var submittedAt: String
    /// The highest revision among the referral's changes in this page.
    var revision: Int64
    /// The attachments it names (for FHIR's `DocumentReference`s), filled by the export route.
    var attachments: [ReferralAttachmentListing] = []
}

/// A page of the export: referrals changed after the cursor, oldest change
/// first; `cursor` is where the next page starts, `more` whether one waits.
struct ExportPage: Sendable {
    var referrals: [ExportedReferral]
    var cursor: Int64
    var more: Bool

    /// Reads the attachments each referral names, for FHIR's `DocumentReference`s.
    mutating func addAttachments(from storage: any SyncStorage) async throws {
        for index in referrals.indices { referrals[index].attachments = try await storage.attachments(of: referrals[index].document.id) }
    }
}

/// The export's formats (docs/export.md): plain JSON, one CSV row per
/// referral, or FHIR R4 (a `Bundle` per referral holding its
/// `ServiceRequest`, `Patient`s, `RelatedPerson`s, `DocumentReference`s
/// (attachments, by reference) and `Flag`).
enum ExportFormat: String, CaseIterable, Sendable {
    case json, csv, fhir

    var contentType: String {
        switch self {
        case .json: "application/json"
        case .csv: "text/csv; charset=utf-8"
        case .fhir: "application/fhir+json"
        }
    }

    /// `page` in this format; `next` is the address of the next page, for FHIR's `link`.
    func render(_ page: ExportPage, form: ReferralForm, next: String, patients: ExportPatients = ExportPatients()) throws -> Data {
        switch self {
        case .json: try ReferralExport.json(page)
        case .csv: Data(ReferralExport.csv(page, form: form).utf8)
        case .fhir: try ReferralExport.fhir(page, form: form, next: next, patients: patients)
        }
    }
}

/// The three renderings of an export page. Values are the stored ones
/// (choices by key), with removed group items left out.
enum ReferralExport {
    /// The identifier system of receipt references (`R-XXXX-XXXX`): per push, shared by the referrals it carried.
    static let receiptSystem = "urn:field-sync:receipt"
    /// The identifier system of referrals' own references (`F-XXXX-XXXX`, `IntakePath.reference`): one per referral, for its life.
    static let referenceSystem = "urn:field-sync:reference"
    /// NHS Digital's identifier system for NHS numbers.
    static let nhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number"

    // MARK: JSON

    static func json(_ page: ExportPage) throws -> Data {
        struct Referral: Encodable {
            let id: String, reference: String?, receipt: String?, submittedAt: String, referrer: String, revision: Int64, fields: [String: String]
            enum CodingKeys: String, CodingKey { case id, reference, receipt, submittedAt = "submitted_at", referrer, revision, fields }
        }
        struct Page: Encodable { let cursor: Int64; let more: Bool; let referrals: [Referral] }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(Page(cursor: page.cursor, more: page.more, referrals: page.referrals.map {
            Referral(id: $0.document.id, reference: $0.document.fields[IntakePath.reference], receipt: $0.receipt, submittedAt: $0.submittedAt, referrer: $0.document.owner, revision: $0.revision,
                     fields: visibleFields($0.document))
        }))
    }

    /// The referral's values without removed items' fields or the item markers themselves.
    static func visibleFields(_ document: ReferralDocument) -> [String: String] {
        referral(document).visibleValues.filter { !isItemMarker($0.key) }
    }

    static func referral(_ document: ReferralDocument) -> Referral {
        let created = Timestamp.date(document.createdAt) ?? Date(timeIntervalSince1970: 0)
        return Referral(id: UUID(uuidString: document.id) ?? UUID(), createdAt: created, createdBy: document.owner, updatedAt: created, values: document.fields)
    }

    static func isItemMarker(_ path: String) -> Bool {
        let parts = path.split(separator: ".")
        return parts.count == 2 && UUID(uuidString: String(parts[1])) != nil
    }

    // MARK: CSV

    /// The CSV's columns for `page`: `id`, `receipt`, `submitted_at`,
    /// `referrer`, `revision`; every record-level path the page holds (`@…`,
    /// sorted); every plain question of the form in its order
    /// (`referrer.name`); then for each repeating group, its questions for
    /// items 1 to the most any referral of the page has (`children.1.full_name`).
    static func columns(_ page: ExportPage, form: ReferralForm) -> [String] {
        var columns = ["id", "receipt", "submitted_at", "referrer", "revision"]
        let referrals = page.referrals.map { referral($0.document) }
        columns += Set(referrals.flatMap { $0.values.keys.filter { $0.hasPrefix("@") } }).sorted()
        for section in form.sections where !section.isGroup {
            columns += section.fields.map { section.pattern(of: $0) }
        }
        for section in form.sections where section.isGroup {
            let most = referrals.map { $0.items(of: section.key).count }.max() ?? 0
            for number in stride(from: 1, through: most, by: 1) {
                columns += section.fields.map { "\(section.key).\(number).\($0.key)" }
            }
        }
        return columns
    }

    /// RFC 4180: a header line, then one line per referral; every field
    /// quoted, quotes doubled, lines ending CRLF. Items are numbered in the
    /// order they were added, as `field` numbers them. Every cell is
    /// neutralised against formula injection (`neutralised(_:)`).
    static func csv(_ page: ExportPage, form: ReferralForm) -> String {
        let columns = columns(page, form: form)
        // The header holds the export's own column names (`@rating`…), as they are: only values are neutralised.
        var lines = [columns.map { "\"" + $0 + "\"" }.joined(separator: ",")]
        for exported in page.referrals {
            let referral = referral(exported.document)
            var row: [String: String] = [
                "id": exported.document.id, "receipt": exported.receipt ?? "", "submitted_at": exported.submittedAt,
                "referrer": exported.document.owner, "revision": String(exported.revision),
            ]
            let values = referral.visibleValues
            for (path, value) in values where !path.contains(".") || path.hasPrefix("@") { row[path] = value }
            for section in form.sections {
                if section.isGroup {
                    for (index, item) in referral.items(of: section.key).enumerated() {
                        for field in section.fields {
                            row["\(section.key).\(index + 1).\(field.key)"] = values["\(section.key).\(item.lowercased).\(field.key)"]
                        }
                    }
                } else {
                    for field in section.fields { row[section.pattern(of: field)] = values[section.pattern(of: field)] }
                }
            }
            lines.append(columns.map { quote(row[$0] ?? "") }.joined(separator: ","))
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    static func quote(_ value: String) -> String { "\"" + neutralised(value).replacingOccurrences(of: "\"", with: "\"\"") + "\"" }

    /// A cell a spreadsheet will not run: OWASP's CSV injection advice
    /// (owasp.org/www-community/attacks/CSV_Injection) is to prefix with a
    /// single quote a cell that starts with `=`, `+`, `-`, `@`, tab or
    /// carriage return, so that `=HYPERLINK(…)` typed as a phone number is
    /// read as text. A cell that already starts with `'` is prefixed too, so
    /// the rule reverses without doubt: a reader drops one leading `'` from
    /// any cell that has one (docs/export.md, "CSV").
    static func neutralised(_ value: String) -> String {
        guard let first = value.unicodeScalars.first, formulaStarts.contains(first) else { return value }
        return "'" + value
    }

    /// The first characters a spreadsheet may take as the start of a formula, and the quote itself.
    static let formulaStarts: Set<Unicode.Scalar> = ["=", "+", "-", "@", "\t", "\r", "'"]

    // MARK: FHIR R4

    /// The page as a FHIR R4 `Bundle` of type `collection` whose entries
    /// are one `Bundle` (also `collection`) per referral, with a `next` link
    /// when more waits. A collection has no `total` (R4's bdl-1).
    static func fhir(_ page: ExportPage, form: ReferralForm, next: String, patients: ExportPatients = ExportPatients()) throws -> Data {
        let outer: [String: Any] = [
            "resourceType": "Bundle", "type": "collection",
            "entry": page.referrals.map { exported -> [String: Any] in
                let resource = bundle(exported, form: form, patients: patients)
                return ["fullUrl": "urn:uuid:\(resource["id"] as! String)", "resource": resource]
            },
            "link": [["relation": "next", "url": next]],
        ]
        return try JSONSerialization.data(withJSONObject: outer, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// The answers `ServiceRequest.note` carries, in order, each as an
    /// `Annotation` whose text is the label, `": "`, then the value (a
    /// choice by its label): docs/export.md, "Labelled notes". No label
    /// contains `": "`, so the text splits back into label and value.
    static let labelledNotes: [(path: String, label: String)] = [
        ("concern.allegations", "Allegations"),
        ("concern.perpetrator", "Alleged perpetrator"),
        ("concern.perpetrator_whereabouts", "Alleged perpetrator's whereabouts"),
        ("concern.significant_events", "Significant events"),
        ("consent.status", "Consent"),
        ("consent.given_by", "Consent given or refused by"),
        ("consent.reason", "Reason for going ahead without consent"),
    ]

    /// One referral: its `ServiceRequest` first, then a `Patient` per child
    /// (with the child's address), a `RelatedPerson` per person with
    /// parental responsibility and household member, and a `Flag` when a
    /// child is at immediate risk. The Bundle is identified by the
    /// referral's own reference, never by a receipt several referrals share.
    static func bundle(_ exported: ExportedReferral, form: ReferralForm, patients: ExportPatients = ExportPatients()) -> [String: Any] {
        let referral = referral(exported.document)
        let values = referral.visibleValues.compactMapValues(fhirString)
        var entries: [[String: Any]] = []
        let children = referral.items(of: "children")
        let record = exported.document.id
        let reference = exported.document.fields[IntakePath.reference]
        let subject: [String: Any] = children.first.map { ["reference": "urn:uuid:\(patients.patientID(record: record, item: $0.lowercased))"] }
            ?? ["display": "No child named"]

        var request: [String: Any] = [
            "resourceType": "ServiceRequest",
            "id": record,
            "status": values[IntakePath.outcome] == nil ? "active" : "completed",
            "intent": "order",
            "category": [["text": referral.kind.title]],
            "code": ["text": "Referral to children's social care"],
            "subject": subject,
            "authoredOn": exported.submittedAt,
        ]
        var identifiers: [[String: Any]] = []
        if let reference { identifiers.append(["use": "official", "system": referenceSystem, "value": reference]) }
        if let receipt = exported.receipt { identifiers.append(["use": "secondary", "system": receiptSystem, "value": receipt]) }
        if !identifiers.isEmpty { request["identifier"] = identifiers }
        let requester = [values["referrer.name"], values["referrer.role"], values["referrer.agency"]].compactMap { $0 }.joined(separator: ", ")
        if !requester.isEmpty { request["requester"] = ["display": requester] }
        if values["urgency.immediate_risk"] == "yes" { request["priority"] = "urgent" }
        if let summary = values["concern.summary"] { request["reasonCode"] = [["text": summary]] }
        var notes: [[String: Any]] = labelledNotes.compactMap { path, label in
            values[path].map { value in ["text": "\(label): \(form.field(atStoredPath: path)?.1.type.display(value) ?? value)"] }
        }
        if let outcome = values[IntakePath.outcome] {
            let title = ReferralOutcome(rawValue: outcome)?.title ?? outcome
            var note: [String: Any] = ["text": "Outcome: \(title)" + (values[IntakePath.outcomeNote].map { ". \($0)" } ?? "")]
            if let by = values[IntakePath.decidedBy] { note["authorString"] = by }
            if let at = values[IntakePath.decidedAt] { note["time"] = at }
            notes.append(note)
        }
        if !notes.isEmpty { request["note"] = notes }
        entries.append(["fullUrl": "urn:uuid:\(record)", "resource": request])

        for item in children {
            let prefix = "children.\(item.lowercased)."
            // One Patient per child: shared by the referrals that give the same NHS number (`ExportPatients`).
            let id = patients.patientID(record: record, item: item.lowercased)
            var patient: [String: Any] = ["resourceType": "Patient", "id": id]
            let links = patients.links(record: record, item: item.lowercased)
            if !links.isEmpty { patient["link"] = links.map { ["other": ["reference": "urn:uuid:\($0)"], "type": "seealso"] } }
            if let name = values[prefix + "full_name"] { patient["name"] = [["text": name]] }
            if let born = values[prefix + "date_of_birth"], CalendarDate(parsing: born) != nil { patient["birthDate"] = born }
            if let number = values[prefix + "nhs_number"], let digits = NHSNumber.digits(number) {
                patient["identifier"] = [["system": nhsNumberSystem, "value": digits]]
            }
            // "What is the child's full current address?": free text, so the Address's text, not split into lines.
            if let address = values["household.address"] { patient["address"] = [["use": "home", "text": address]] }
            entries.append(["fullUrl": "urn:uuid:\(id)", "resource": patient])
        }
        for group in ["parental_responsibility", "household_members"] where form.section(group) != nil {
            for item in referral.items(of: group) {
                let prefix = "\(group).\(item.lowercased)."
                var person: [String: Any] = ["resourceType": "RelatedPerson", "id": item.lowercased, "patient": subject]
                if let name = values[prefix + "full_name"] ?? values[prefix + "name"] { person["name"] = [["text": name]] }
                if let relationship = values[prefix + "relationship"] { person["relationship"] = [["text": relationship]] }
                if let born = values[prefix + "date_of_birth"], CalendarDate(parsing: born) != nil { person["birthDate"] = born }
                entries.append(["fullUrl": "urn:uuid:\(item.lowercased)", "resource": person])
            }
        }
        // Each attachment by reference, never inline: a case-management system fetches it (and is audited).
        for attachment in exported.attachments {
            guard let stored = attachment.stored, stored.receivedAt != nil, let digest = Data(hexDigest: attachment.sha256) else { continue }
            var file: [String: Any] = [
                "contentType": stored.mediaType, "size": stored.size,
                "url": "/v1/intake/referrals/\(record)/attachments/\(attachment.sha256)", "creation": attachment.at,
            ]
            if let sha1 = stored.sha1 { file["hash"] = sha1 }
            if let label = attachment.label.flatMap(fhirString) { file["title"] = label }
            entries.append(["fullUrl": "urn:uuid:\(attachment.item)", "resource": [
                "resourceType": "DocumentReference", "id": attachment.item, "status": "current",
                // RFC 6920's named-information URI of the content's SHA-256.
                "identifier": [["system": "urn:ietf:rfc:3986", "value": "ni:///sha-256;\(base64URL(digest))"]],
                "subject": subject, "date": attachment.at,
                "author": [["display": attachment.attachedBy]],
                "content": [["attachment": file]],
                "context": ["related": [["reference": "urn:uuid:\(record)"]]],
            ] as [String: Any]])
        }
        if values["urgency.immediate_risk"] == "yes" {
            let flag = derivedUUID(referral: record, role: "flag")
            entries.append(["fullUrl": "urn:uuid:\(flag)", "resource": [
                "resourceType": "Flag", "id": flag, "status": "active",
                "code": ["text": "Immediate risk of harm to a child, as the referrer assessed it"],
                "subject": subject,
            ] as [String: Any]])
        }
        var bundle: [String: Any] = [
            "resourceType": "Bundle", "id": derivedUUID(referral: record, role: "bundle"), "type": "collection", "timestamp": exported.submittedAt,
            "entry": entries,
        ]
        // The referral's own reference: one bundle, one referral, one identifier (a receipt may cover several).
        if let reference { bundle["identifier"] = ["system": referenceSystem, "value": reference] }
        return bundle
    }

    /// The UUID of a resource the referral has no id of its own for (its
    /// Bundle, its Flag): RFC 9562's name-based version 5, with the
    /// referral's id as the namespace and `role` (`bundle`, `flag`) as the
    /// name, so every export of the referral gives the same one and a reader
    /// can compute it (Python: `uuid.uuid5(uuid.UUID(referral), role)`).
    /// docs/export.md, "Full URLs and derived UUIDs".
    /// Base64url without padding (RFC 4648 §5), as RFC 6920's `ni` URIs write a digest.
    static func base64URL(_ bytes: Data) -> String {
        bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func derivedUUID(referral: String, role: String) -> String {
        // An id that is not a UUID (none is) is named under the nil namespace, whole.
        let (namespace, name) = UUID(uuidString: referral).map { ($0, role) } ?? (UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)), "\(referral)/\(role)")
        let bytes = withUnsafeBytes(of: namespace.uuid) { Array($0) } + Array(name.utf8)
        return nameBasedUUID(Insecure.SHA1.hash(data: bytes), version: 5)
    }

    /// A UUID string (lowercase) from the first 16 bytes of `digest`, with
    /// the version nibble set to `version` and RFC 9562's variant bits.
    static func nameBasedUUID(_ digest: some Sequence<UInt8>, version: UInt8) -> String {
        var bytes = Array(digest.prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | (version << 4)
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        return [hex.prefix(8), hex.dropFirst(8).prefix(4), hex.dropFirst(12).prefix(4), hex.dropFirst(16).prefix(4), hex.dropFirst(20)].joined(separator: "-")
    }

    /// `value` as an R4 `string`, or nil when it holds only whitespace (as
    /// if not given). R4's string pattern (`^[ \r\n\t\S]+$`) allows no
    /// whitespace but space, tab, CR and LF, so any other whitespace
    /// character (a no-break space, a line separator, a vertical tab; by
    /// Unicode's White_Space, the information separators Python's `\s`
    /// also counts, and the byte order mark ECMAScript's does) becomes a space.
    static func fhirString(_ value: String) -> String? {
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return nil }
        guard value.unicodeScalars.contains(where: isOtherWhitespace) else { return value }
        return String(String.UnicodeScalarView(value.unicodeScalars.map { isOtherWhitespace($0) ? " " : $0 }))
    }

    /// Whitespace R4's `string` refuses: any but space, tab, CR and LF.
    static func isOtherWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x20, 0x09, 0x0A, 0x0D: false
        case 0x1C...0x1F, 0xFEFF: true
        default: scalar.properties.isWhitespace
        }
    }
}
