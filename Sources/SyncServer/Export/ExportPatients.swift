import Crypto
import Foundation
import SyncCore

/// Which FHIR `Patient` each child of an export page is (docs/export.md,
/// "One Patient per child"): a child with a valid NHS number is one
/// `Patient` shared by every referral that names them (its id derived from
/// the number, so every page and every export agrees); any other child is
/// their referral's own `Patient` (the item's id). A match intake confirmed
/// (`person_links`) adds a `Patient.link` of type `seealso` from each side to
/// the other: the same person, recorded twice, neither merged away.
struct ExportPatients: Sendable {
    /// `Patient.id` by person key (`<record>/children.<item>`).
    var ids: [String: String] = [:]
    /// The other `Patient` ids each `Patient`'s confirmed matches point to (by `Patient.id`, so a shared one says the same everywhere).
    var links: [String: [String]] = [:]

    /// The `Patient.id` of a child: shared when `nhsNumber` is a valid one.
    static func patientID(item: String, nhsNumber: String?) -> String {
        guard let digits = nhsNumber else { return item.lowercased() }
        // A name-based UUID (RFC 9562 section 5.8 layout, version 8) from the SHA-256 of the number.
        return ReferralExport.nameBasedUUID(SHA256.hash(data: Data("field-sync:nhs-number:\(digits)".utf8)), version: 8)
    }

    /// The `Patient.id` of child `item` of `record` (its own item id when the index does not hold it).
    func patientID(record: String, item: String) -> String {
        ids["\(record)/children.\(item.lowercased())"] ?? item.lowercased()
    }

    func links(record: String, item: String) -> [String] {
        links[patientID(record: record, item: item)] ?? []
    }

    /// The page's children's identities, from the person index and intake's confirmed matches: two statements and one more for the matched.
    static func read(for page: ExportPage, in storage: any SyncStorage) async throws -> ExportPatients {
        var patients = ExportPatients()
        let people = try await storage.people(of: page.referrals.map(\.document.id)).filter { $0.role == .child }
        for person in people { patients.ids[person.key] = patientID(item: String(person.item.dropFirst("children.".count)), nhsNumber: person.nhsNumber) }
        let confirmed = try await storage.personLinks(touching: people.map(\.key)).filter { $0.decision == .confirmed }
        let others = Set(confirmed.flatMap { [$0.a, $0.b] }).subtracting(patients.ids.keys)
        var otherIDs: [String: String] = [:]
        for person in try await storage.people(of: Set(others.compactMap { $0.split(separator: "/").first.map(String.init) }).sorted()) {
            otherIDs[person.key] = patientID(item: String(person.item.dropFirst("children.".count)), nhsNumber: person.nhsNumber)
        }
        for link in confirmed {
            for (mine, theirs) in [(link.a, link.b), (link.b, link.a)] {
                guard let own = patients.ids[mine], let other = patients.ids[theirs] ?? otherIDs[theirs], other != own else { continue }
                if !(patients.links[own] ?? []).contains(other) { patients.links[own, default: []].append(other) }
            }
        }
        return patients
    }
}
