import Foundation

/// The referral form, as data. Every section and question comes from
/// `shared/domain/REFERRALS.md`, itself a map of the public guidance
/// (a county's "Refer to Children's Social Care" pages, its Levels of Need
/// threshold document and a regional referral procedure).
///
/// Paths are stable: they are stored on devices and on the server, so a field
/// is never renamed; a replaced question gets a new key.
public struct ReferralForm: Sendable {
    public let sections: [FormSection]
    /// Sections and fields by key (`referrer`, `referrer.name`, `children.full_name`),
    /// for the server's check of every pushed change.
    let index: [String: (section: FormSection, field: FormField?)]

    public init(sections: [FormSection]) {
        self.sections = sections
        var index: [String: (section: FormSection, field: FormField?)] = [:]
        for section in sections {
            index[section.key] = (section, nil)
            for field in section.fields { index["\(section.key).\(field.key)"] = (section, field) }
        }
        self.index = index
    }

    public static let standard = ReferralForm(sections: [
        referrer, urgency, children, household, parentalResponsibility, householdMembers,
        concern, allegation, consent, agencies, need,
    ])

    private static let unknownHint = "Leave it empty if you do not know: missing information never delays a referral."

    static let referrer = FormSection(
        "referrer", "Referrer",
        summary: "Who is making the referral. A professional can never be anonymous; a member of the public may ask for anonymity, which is recorded but cannot be guaranteed.",
        fields: [
            FormField("type", .choice([FieldOption("professional", "Professional"), FieldOption("public", "Member of the public")]),
                      "Are you referring as a professional or as a member of the public?",
                      help: "Professional referrals must give the referrer's identity and cannot be anonymous.", recommended: true),
            FormField("name", .text, "What is your full name?", recommended: true),
            FormField("role", .text, "What is your role?", help: "For example health visitor, youth worker, class teacher.", recommended: true),
            FormField("agency", .text, "Which agency or organisation do you work for?", recommended: true),
            FormField("phone", .text, "On which phone number can the front door reach you?", policy: .lww, recommended: true),
            FormField("email", .text, "What is your email address?", policy: .lww),
            FormField("address", .text, "What is your work address?", policy: .lww),
            FormField("relationship", .text, "What is your relationship to the child and to the parents or carers?", recommended: true),
            FormField("knowledge", .text, "How well do you know the child and the parents or carers, and for how long?"),
            FormField("anonymity_requested", .yesNo, "Has the referrer asked to remain anonymous?",
                      help: "Only a member of the public may ask. The request is recorded; anonymity cannot be guaranteed."),
        ])

    static let urgency = FormSection(
        "urgency", "Urgency",
        summary: "If the child is at immediate risk, phone first: 999 for immediate danger, the front door in office hours, the out-of-hours team otherwise. The written referral confirms the call within 48 hours.",
        fields: [
            FormField("immediate_risk", .yesNo, "Is the child at immediate risk of harm?",
                      help: "If yes, phone before you write: `field contacts` lists the numbers.", recommended: true),
            FormField("call_made", .yesNo, "Have you phoned the police, the front door or the out-of-hours team about this?",
                      help: "Answering yes records the time of the call if none is given."),
            FormField("call_to", .choice([FieldOption("police", "Police (999)"), FieldOption("front-door", "Front door"), FieldOption("out-of-hours", "Out-of-hours emergency duty team")]),
                      "Whom did you phone?"),
            FormField("call_at", .dateTime, "When did you phone?",
                      help: "The written referral must confirm the call within 48 hours of this time."),
            FormField("call_reference", .text, "Who took the call, and did they give a reference?"),
            FormField("child_safe_now", .yesNo, "Is the child currently safe?", recommended: true),
            FormField("deadline", .text, "Is there an approaching deadline (for example the child is about to be collected by the alleged abuser)?"),
        ])

    static let children = FormSection(
        "children", "Children",
        summary: "Each child the referral concerns; an unborn baby is possible (pre-birth referrals at 16–18 weeks of pregnancy).",
        itemName: "child",
        fields: [
            FormField("full_name", .text, "What is the child's full name?", recommended: true),
            FormField("aliases", .text, "Any other names, aliases or spellings?"),
            FormField("date_of_birth", .date, "What is the child's date of birth?", help: "Leave empty for an unborn baby and give the expected date of delivery.", recommended: true),
            FormField("expected_delivery", .date, "For an unborn baby, what is the expected date of delivery?"),
            FormField("gender_identity", .text, "What is the child's gender identity?"),
            FormField("nhs_number", .text, "What is the child's NHS number?"),
            FormField("upn", .text, "What is the child's unique pupil number (education UPN)?"),
            FormField("school", .text, "Which school or early-years setting does the child attend?"),
            FormField("current_location", .text, "Where is the child now?", recommended: true),
            FormField("condition", .text, "What is the child's emotional and physical condition?"),
            FormField("ethnicity", .text, "What is the child's ethnicity?"),
            FormField("first_language", .text, "What is the child's first language?"),
            FormField("religion", .text, "What is the child's religion?"),
            FormField("communication", .multiChoice([FieldOption("interpreter", "Interpreter"), FieldOption("signer", "Signer"), FieldOption("other-aid", "Other communication aid")]),
                      "Does the child need an interpreter, a signer or another communication aid?", help: "Several may be chosen, separated by commas.", policy: .set),
            FormField("special_needs", .text, "Does the child have special needs or a disability?"),
            FormField("views", .text, "What are the child's views and wishes?"),
        ])

    static let household = FormSection(
        "household", "Household and family",
        summary: "Where the child lives and with whom; people with parental responsibility and household members are listed in their own groups.",
        fields: [
            FormField("address", .text, "What is the child's full current address?", recommended: true),
            FormField("previous_addresses", .text, "What previous addresses are known?", policy: .append),
            FormField("significant_others", .text, "Who are the significant people outside the household?"),
            FormField("carers_ethnicity", .text, "What is the ethnicity of the parents or carers?"),
            FormField("carers_language", .text, "What language do the parents or carers speak?"),
            FormField("carers_religion", .text, "What is the religion of the parents or carers?"),
        ])

    static let parentalResponsibility = FormSection(
        "parental_responsibility", "People with parental responsibility",
        summary: "Everyone who holds parental responsibility, whether or not they live with the child.",
        itemName: "person with parental responsibility",
        fields: [
            FormField("name", .text, "What is their full name?", recommended: true),
            FormField("relationship", .text, "What is their relationship to the child?", recommended: true),
            FormField("address", .text, "Where do they live?"),
            FormField("contact", .text, "How can they be contacted?"),
        ])

    static let householdMembers = FormSection(
        "household_members", "Household members",
        summary: "Every person living in the child's household.",
        itemName: "household member",
        fields: [
            FormField("name", .text, "What is their full name?", recommended: true),
            FormField("date_of_birth", .date, "What is their date of birth?"),
            FormField("relationship", .text, "What is their relationship to the child?", recommended: true),
        ])

    static let concern = FormSection(
        "concern", "Concern",
        summary: "What happened and why you are worried: allegations with their sources, timing and place; whether each is first-hand; the alleged perpetrator.",
        fields: [
            FormField("summary", .text, "What is the cause for concern?", help: "Describe what you saw or were told, in plain words. Quote the child where you can.", recommended: true),
            FormField("allegations", .text, "What are the details of any allegations?"),
            FormField("sources", .text, "Where does the information come from?"),
            FormField("first_hand", .choice([FieldOption("first-hand", "First-hand"), FieldOption("third-party", "From a third party"), FieldOption("both", "Both")]),
                      "Is the information first-hand or from a third party?", recommended: true),
            FormField("when", .text, "When did it happen?"),
            FormField("where", .text, "Where did it happen?"),
            FormField("perpetrator", .text, "Who is the suspected or alleged perpetrator?"),
            FormField("perpetrator_whereabouts", .text, "Where is the suspected or alleged perpetrator now?"),
            FormField("significant_events", .text, "What significant recent or historical events are known?"),
            FormField("abroad_or_arrival", .text, "Has the child recently spent time abroad or recently arrived in the area?"),
            FormField("domestic_abuse", .yesNo, "Is there domestic abuse in the household?", recommended: true),
            FormField("mental_illness", .yesNo, "Is there mental illness in the household?", recommended: true),
            FormField("substance_misuse", .yesNo, "Is there substance misuse in the household?", recommended: true),
            FormField("learning_difficulties", .yesNo, "Are there learning difficulties in the household?", recommended: true),
            FormField("notes", .text, "Any further notes?", help: "Running notes: entries from several people are all kept, in time order.", policy: .append),
        ])

    static let allegation = FormSection(
        "allegation", "Allegation against an adult who works with children",
        summary: "For the LADO (designated officer): the adult, their work with children and what has been done. It must reach the LADO within one working day.",
        kinds: [.lado],
        fields: [
            FormField("adult_name", .text, "What is the name of the adult the allegation is about?", recommended: true),
            FormField("adult_role", .text, "What is their role with children?", recommended: true),
            FormField("employer", .text, "Who employs them, or where do they volunteer?", recommended: true),
            FormField("employer_informed", .yesNo, "Has the employer been informed?"),
            FormField("police_informed", .yesNo, "Have the police been informed?"),
        ])

    static let consent = FormSection(
        "consent", "Consent",
        summary: "Parental consent is sought and recorded for referrals that are not child protection. It is not sought when that would put someone at risk of significant harm, cause unjustified delay, or prejudice a serious-crime investigation; then the reason must be recorded.",
        fields: [
            FormField("status", .choice([FieldOption("given", "Given"), FieldOption("refused", "Refused"), FieldOption("not-sought", "Not sought")]),
                      "Has a parent or carer consented to this referral?", recommended: true),
            FormField("given_by", .text, "Who gave or refused consent, and when?"),
            FormField("reason", .text, "Why does the referral go ahead without consent?",
                      help: "Required when consent was refused or not sought; the front door is told consent was withheld or not sought."),
        ])

    static let agencies = FormSection(
        "agencies", "Other agencies",
        summary: "Known current or previous involvement of other agencies and practitioners.",
        itemName: "agency",
        fields: [
            FormField("name", .text, "Which agency?", recommended: true),
            FormField("practitioner", .text, "Which practitioner, if known?"),
            FormField("contact", .text, "How can they be contacted?"),
            FormField("involvement", .choice([FieldOption("current", "Current"), FieldOption("previous", "Previous")]), "Is their involvement current or previous?"),
        ])

    static let need = FormSection(
        "need", "Level of need",
        summary: "The threshold document's four levels: 1 universal, 2 additional support, 3 targeted early help, 4 statutory intervention. A referral to children's social care is for level 4; levels 2–3 point to early help.",
        fields: [
            FormField("level", .choice([
                FieldOption("1", "Level 1: universal"),
                FieldOption("2", "Level 2: additional support"),
                FieldOption("3", "Level 3: targeted multi-agency support (early help)"),
                FieldOption("4", "Level 4: statutory intervention"),
            ]), "Which level of need do you judge this to be?", recommended: true),
            FormField("statutory_route", .choice([FieldOption("s17", "Child in need (s17)"), FieldOption("s47", "Child in need of protection (s47)")]),
                      "For level 4, is this a child in need (s17) or a child in need of protection (s47)?"),
            FormField("indicators", .multiChoice([
                FieldOption("health", "Health"),
                FieldOption("education", "Education"),
                FieldOption("emotional-behavioural", "Emotional and behavioural development"),
                FieldOption("identity", "Identity"),
                FieldOption("relationships", "Family and social relationships"),
                FieldOption("presentation", "Social presentation"),
                FieldOption("family-history", "Family history and functioning"),
                FieldOption("housing-finance", "Housing, employment and finance"),
                FieldOption("social-integration", "Social integration"),
                FieldOption("basic-care-safety", "Basic care and safety"),
                FieldOption("parenting", "Parenting"),
            ]), "In which domains of the threshold document do you see indicators?", help: "Several may be chosen, separated by commas.", policy: .set),
            FormField("rationale", .text, "Why do you judge this level?"),
        ])
}

extension ReferralForm {
    public func section(_ key: String) -> FormSection? { sections.first { $0.key == key } }

    public var groups: [FormSection] { sections.filter(\.isGroup) }

    /// Every path pattern (`referrer.name`, `children.*.full_name`) with its section and field.
    public var patterns: [(pattern: String, section: FormSection, field: FormField)] {
        sections.flatMap { section in section.fields.map { (section.pattern(of: $0), section, $0) } }
    }

    /// The field definition behind a canonical stored path, if any.
    public func field(atStoredPath path: String) -> (FormSection, FormField)? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let section = section(parts[0]) else { return nil }
        let key = section.isGroup ? (parts.count == 3 ? parts[2] : nil) : (parts.count == 2 ? parts[1] : nil)
        guard let key, let field = section.fields.first(where: { $0.key == key }) else { return nil }
        return (section, field)
    }

    /// Checks a path typed by a person against the form and the referral's
    /// items. A group item may be named by its id, a unique prefix of it, or
    /// its position (`children.1.full_name` is the first child).
    public func resolve(_ typed: String, items: (String) -> [UUID]) throws(FormError) -> ResolvedPath {
        if RecordPath.all.contains(typed) { throw .reservedPath(path: typed) }
        let parts = typed.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let section = section(parts[0]) else {
            throw .unknownPath(path: typed, suggestion: suggestion(for: typed))
        }
        if !section.isGroup {
            guard parts.count == 2, let field = section.fields.first(where: { $0.key == parts[1] }) else {
                throw .unknownPath(path: typed, suggestion: suggestion(for: typed))
            }
            return ResolvedPath(path: typed, section: section, field: field, item: nil)
        }
        guard parts.count == 2 || parts.count == 3 else {
            throw .unknownPath(path: typed, suggestion: suggestion(for: typed))
        }
        if parts[1] == "*" { throw .notAGroupField(path: typed) }
        if parts.count == 2, section.fields.contains(where: { $0.key == parts[1] }) {
            throw .notAGroupField(path: "\(parts[0]).*.\(parts[1])")
        }
        var field: FormField?
        if parts.count == 3 {
            field = section.fields.first { $0.key == parts[2] }
            if field == nil {
                throw .unknownPath(path: typed, suggestion: suggestion(for: "\(parts[0]).*.\(parts[2])").map {
                    $0.replacingOccurrences(of: ".*.", with: ".\(parts[1]).")
                })
            }
        }
        let item = try Self.item(parts[1], of: section.key, among: items(section.key))
        let path = [section.key, item.lowercased] + (field.map { [$0.key] } ?? [])
        return ResolvedPath(path: path.joined(separator: "."), section: section, field: field, item: item)
    }

    static func item(_ typed: String, of group: String, among items: [UUID]) throws(FormError) -> UUID {
        let lowered = typed.lowercased()
        if !lowered.isEmpty, lowered.count <= 3, let position = Int(lowered) {
            guard items.indices.contains(position - 1) else { throw .unknownItem(group: group, item: typed) }
            return items[position - 1]
        }
        let matches = items.filter { $0.lowercased.hasPrefix(lowered) }
        guard !lowered.isEmpty, !matches.isEmpty else { throw .unknownItem(group: group, item: typed) }
        guard matches.count == 1 else { throw .ambiguousItem(group: group, item: typed) }
        return matches[0]
    }

    /// The repeating group a typed name means, or an error naming the nearest.
    public func group(named typed: String) throws(FormError) -> FormSection {
        if let section = section(typed), section.isGroup { return section }
        throw .unknownGroup(name: typed, suggestion: Self.nearest(to: typed, among: groups.map(\.key)))
    }

    /// The nearest valid path pattern to a mistyped one.
    public func suggestion(for typed: String) -> String? {
        let generalized: String = {
            let parts = typed.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3 else { return typed }
            return "\(parts[0]).*.\(parts[2])"
        }()
        return Self.nearest(to: generalized, among: patterns.map(\.pattern))
    }

    static func nearest(to typed: String, among candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(typed.lowercased(), $0)) }
        guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
        return best.1 <= max(3, typed.count / 3) ? best.0 : nil
    }

    public static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
