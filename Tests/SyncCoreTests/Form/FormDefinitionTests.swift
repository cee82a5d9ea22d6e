import Foundation
import Testing
@testable import SyncCore

@Suite("The referral form definition")
struct FormDefinitionTests {
    let form = ReferralForm.standard

    @Test("covers every section of REFERRALS.md, with the four repeating groups, and the attachments")
    func sections() {
        #expect(form.sections.map(\.key) == [
            "referrer", "urgency", "children", "household", "parental_responsibility", "household_members",
            "concern", "allegation", "consent", "agencies", "need", "attachments",
        ])
        #expect(form.groups.map(\.key) == ["children", "parental_responsibility", "household_members", "agencies", "attachments"])
        #expect(form.groups.allSatisfy { $0.itemName != nil })
    }

    @Test("paths are unique, lowercase snake case, and every field has a question")
    func pathsAreWellFormed() {
        let patterns = form.patterns.map(\.pattern)
        #expect(Set(patterns).count == patterns.count)
        for (pattern, _, field) in form.patterns {
            #expect(pattern.range(of: #"^[a-z_]+(\.\*)?\.[a-z_]+$"#, options: .regularExpression) != nil, "\(pattern)")
            #expect(field.question.hasSuffix("?"), "\(pattern)")
        }
        #expect(form.patterns.count >= 60)
    }

    @Test("merge policies: manual by default, lww for contact details, append for notes, set for multi-choice")
    func policies() {
        let policy = Dictionary(uniqueKeysWithValues: form.patterns.map { ($0.pattern, $0.field.policy) })
        #expect(policy["concern.summary"] == .manual)
        #expect(policy["referrer.phone"] == .lww)
        #expect(policy["concern.notes"] == .append)
        #expect(policy["need.indicators"] == .set)
        #expect(policy["children.*.communication"] == .set)
        for (pattern, _, field) in form.patterns {
            if case .multiChoice = field.type { #expect(field.policy == .set, "\(pattern)") }
        }
    }

    @Test("the LADO section applies to LADO referrals only")
    func kinds() {
        let allegation = form.section("allegation")!
        #expect(allegation.applies(to: .lado))
        #expect(!allegation.applies(to: .socialCare))
        #expect(ReferralKind.allCases.map(\.rawValue) == ["social-care", "lado", "early-help", "pre-birth"])
    }

    @Test("values are normalised to their canonical form", arguments: [
        (FieldType.date, "14/03/2019", "2019-03-14"),
        (.date, "2019-3-4", "2019-03-04"),
        (.date, "Yesterday", "1969-12-31"),
        (.date, "today", "1970-01-01"),
        (.dateTime, "2026-11-23T10:15", "2026-11-23T10:15:00Z"),
        (.dateTime, "2026-11-23T10:15:30+01:00", "2026-11-23T09:15:30Z"),
        (.yesNo, "Y", "yes"),
        (.yesNo, "false", "no"),
        (.choice([FieldOption("given", "Given"), FieldOption("refused", "Refused")]), "2", "refused"),
        (.choice([FieldOption("given", "Given"), FieldOption("refused", "Refused")]), "GIV", "given"),
        (.multiChoice([FieldOption("a", "A"), FieldOption("b", "B"), FieldOption("c", "C")]), "c, a,c", "a,c"),
        (.text, "  spaced out  ", "spaced out"),
    ])
    func normalize(type: FieldType, input: String, expected: String) throws {
        #expect(try type.normalize(input, now: Date(timeIntervalSince1970: 0)) == expected)
    }

    @Test("bad values are refused with a sentence naming the value", arguments: [
        (FieldType.date, "2019-02-30"),
        (.date, "31/02/2021"),
        (.date, "someday"),
        (.dateTime, "25:00"),
        (.yesNo, "maybe"),
        (.choice([FieldOption("given", "Given")]), "refused"),
    ])
    func refuse(type: FieldType, input: String) {
        #expect(throws: FormError.self) { try type.normalize(input, now: Date()) }
        do {
            _ = try type.normalize(input, now: Date())
        } catch {
            #expect(error.description.contains("'\(input)'"))
        }
    }

    @Test("`today` and `now` read the injected time")
    func relativeValues() throws {
        let now = Timestamp.date("2026-11-23T23:30:00Z")!
        #expect(try FieldType.date.normalize("today", now: now) == "2026-11-23")
        #expect(try FieldType.dateTime.normalize("now", now: now) == "2026-11-23T23:30:00Z")
    }

    @Test("text longer than the limit is refused, never cut")
    func longText() {
        let long = String(repeating: "a", count: FieldType.maximumTextLength + 1)
        #expect(throws: FormError.self) { try FieldType.text.normalize(long, now: Date()) }
    }

    @Test("a mistyped path gets the nearest valid one")
    func suggestions() {
        #expect(throws: FormError.unknownPath(path: "referrer.nme", suggestion: "referrer.name")) {
            try form.resolve("referrer.nme", items: { _ in [] })
        }
        let child = UUID(uuidString: "01a2072c-0c9d-749d-bdaa-b12ab7ab38b4")!
        #expect(throws: FormError.unknownPath(path: "children.1.ful_name", suggestion: "children.1.full_name")) {
            try form.resolve("children.1.ful_name", items: { _ in [child] })
        }
        #expect(throws: FormError.reservedPath(path: "@status")) { try form.resolve("@status", items: { _ in [] }) }
    }

    @Test("group items resolve by position, id prefix or whole id")
    func itemResolution() throws {
        let first = UUID(uuidString: "01a2072c-0c9d-749d-bdaa-b12ab7ab38b4")!
        let second = UUID(uuidString: "01a2072c-0d00-7000-8000-000000000002")!
        let items: (String) -> [UUID] = { $0 == "children" ? [first, second] : [] }
        #expect(try form.resolve("children.2.full_name", items: items).path == "children.\(second.lowercased).full_name")
        #expect(try form.resolve("children.01a2072c-0c9.full_name", items: items).item == first)
        #expect(try form.resolve("children.\(first.lowercased)", items: items).field == nil)
        #expect(throws: FormError.ambiguousItem(group: "children", item: "01a2072c")) {
            try form.resolve("children.01a2072c.full_name", items: items)
        }
        #expect(throws: FormError.unknownItem(group: "children", item: "3")) {
            try form.resolve("children.3.full_name", items: items)
        }
    }
}
