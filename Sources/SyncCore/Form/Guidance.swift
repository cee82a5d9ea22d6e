import Foundation

/// One thing `check` found, tied to the path it is about.
public struct GuidanceFinding: Sendable, Equatable, Codable {
    public let path: String
    public let message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// What `check` says of a referral. Errors block submission; warnings never do.
public struct GuidanceReport: Sendable, Equatable, Codable {
    public var errors: [GuidanceFinding]
    public var warnings: [GuidanceFinding]
}

/// The guidance's rules, as a pure function of a referral.
///
/// "Absence of information must not delay a referral": a missing answer is
/// only ever a warning. Three hard rules block submission:
/// 1. a professional referral must say who the referrer is (name, and role or agency);
/// 2. a referral going ahead without consent (refused or not sought) must record why;
/// 3. a professional referral cannot be anonymous.
/// The referrer counts as a professional unless `referrer.type` says `public`:
/// the people using this tool are practitioners.
public enum Guidance {
    /// With `today`, odd dates are warned about too (`dateWarning`); NHS
    /// numbers that fail their check digit always are (`NHSNumber`).
    public static func check(_ referral: Referral, form: ReferralForm = .standard, today: CalendarDate? = nil) -> GuidanceReport {
        let values = referral.visibleValues
        var errors: [GuidanceFinding] = []
        var warnings: [GuidanceFinding] = []
        let isProfessional = values["referrer.type"] != "public"

        // Hard rules.
        if isProfessional {
            if values["referrer.name"] == nil {
                errors.append(.init(path: "referrer.name", message: "A professional referral must give the referrer's name (referrer.name)."))
            }
            if values["referrer.role"] == nil && values["referrer.agency"] == nil {
                errors.append(.init(path: "referrer.agency", message: "A professional referral must give the referrer's role or agency (referrer.role, referrer.agency)."))
            }
            if values["referrer.anonymity_requested"] == "yes" {
                errors.append(.init(path: "referrer.anonymity_requested", message: "A professional referral cannot be anonymous: set referrer.anonymity_requested to no."))
            }
        } else if values["referrer.anonymity_requested"] == "yes" {
            warnings.append(.init(path: "referrer.anonymity_requested", message: "The request for anonymity is recorded, but anonymity cannot be guaranteed; tell the referrer so."))
        }
        if let consent = values["consent.status"], consent != "given", values["consent.reason"] == nil {
            let how = consent == "refused" ? "was refused" : "was not sought"
            errors.append(.init(path: "consent.reason", message: "Consent \(how), so the reason the referral goes ahead without it must be recorded (consent.reason)."))
        }

        // Urgency: phone first.
        if values["urgency.immediate_risk"] == "yes" && values["urgency.call_made"] != "yes" {
            warnings.append(.init(path: "urgency.call_made", message: "The child is at immediate risk: phone first (999 in immediate danger), then record the call with urgency.call_made."))
        }

        // Missing information: warnings only.
        let kind = referral.kind
        for section in form.sections where section.applies(to: kind) {
            let recommended = section.fields.filter { $0.recommended && $0.applies(to: kind) }
            if section.isGroup {
                let items = referral.items(of: section.key)
                if items.isEmpty && section.key == "children" {
                    warnings.append(.init(path: "children", message: "No child is named yet; add one with `field add <id> children`."))
                }
                for (position, item) in items.enumerated() {
                    for field in recommended where values["\(section.key).\(item.lowercased).\(field.key)"] == nil {
                        if section.key == "children", field.key == "date_of_birth",
                            values["children.\(item.lowercased).expected_delivery"] != nil { continue }
                        warnings.append(.init(
                            path: "\(section.key).\(item.lowercased).\(field.key)",
                            message: "Not answered for \(section.itemName!) \(position + 1): \(field.question)"))
                    }
                }
            } else {
                for field in recommended where values[section.pattern(of: field)] == nil {
                    warnings.append(.init(path: section.pattern(of: field), message: "Not answered: \(field.question)"))
                }
            }
        }

        // Level of need against the kind of referral.
        switch (kind, values["need.level"]) {
        case (.socialCare, "2"?), (.socialCare, "3"?), (.preBirth, "2"?), (.preBirth, "3"?):
            warnings.append(.init(path: "need.level", message: "Levels 2 and 3 point to early help rather than a referral to children's social care."))
        case (.earlyHelp, "4"?):
            warnings.append(.init(path: "need.level", message: "Level 4 calls for a referral to children's social care, not an early-help request."))
        default:
            break
        }
        if kind == .preBirth {
            for (position, item) in referral.items(of: "children").enumerated()
            where values["children.\(item.lowercased).expected_delivery"] == nil {
                warnings.append(.init(path: "children.\(item.lowercased).expected_delivery", message: "A pre-birth referral should give the expected date of delivery for child \(position + 1)."))
            }
        }
        for (path, value) in values.sorted(by: { $0.key < $1.key }) {
            if let message = valueWarning(path: path, value: value, today: today) { warnings.append(.init(path: path, message: message)) }
        }
        let errorPaths = Set(errors.map(\.path))
        return GuidanceReport(errors: errors, warnings: warnings.filter { !errorPaths.contains($0.path) })
    }
}

extension Guidance {
    /// A value that is stored but looks wrong: an NHS number that fails its
    /// check digit (`NHSNumber.problem`), and with `today` an odd date
    /// (`dateWarning`). Never a block; nil when nothing looks wrong.
    public static func valueWarning(path: String, value: String, today: CalendarDate?) -> String? {
        let parts = path.split(separator: ".")
        if parts.count == 3, parts[0] == "children", parts[2] == "nhs_number" {
            return NHSNumber.problem(value).map { "\($0) Check it with the family or the GP." }
        }
        return today.flatMap { dateWarning(path: path, value: value, today: $0) }
    }

    /// A date that is plausible to type but odd to mean: a date of birth in
    /// the future, an expected date of delivery in the past. Odd information
    /// must not block a referral either, so this is only ever a warning; nil
    /// when the date is not odd or the path holds no such date.
    public static func dateWarning(path: String, value: String, today: CalendarDate) -> String? {
        guard let date = CalendarDate(parsing: value) else { return nil }
        let parts = path.split(separator: ".")
        guard parts.count == 3 else { return nil }
        switch (parts[0], parts[2]) {
        case ("children", "date_of_birth") where date > today:
            return "The date of birth \(date) is in the future; for an unborn baby leave it empty and give the expected date of delivery."
        case ("household_members", "date_of_birth") where date > today:
            return "The date of birth \(date) is in the future; check it."
        case ("children", "expected_delivery") where date < today:
            return "The expected date of delivery \(date) is in the past; if the baby has been born, give the date of birth."
        default:
            return nil
        }
    }
}

extension Guidance {
    /// The paths the guidance's rules and the front door read, with the rule's
    /// name: a published form must keep each of them
    /// (`FormDocument.referralForm()` refuses one without), since the rules
    /// come from the statutory guidance, not from an authority's form
    /// (shared/domain/REFERRALS.md, "Rules" and "Deadlines").
    public static let rulePaths: [(rule: String, path: String)] = [
        ("a professional referral names its referrer", "referrer.type"),
        ("a professional referral names its referrer", "referrer.name"),
        ("a professional referral names its referrer", "referrer.role"),
        ("a professional referral names its referrer", "referrer.agency"),
        ("a professional referral cannot be anonymous", "referrer.anonymity_requested"),
        ("going ahead without consent records why", "consent.status"),
        ("going ahead without consent records why", "consent.reason"),
        ("immediate risk: phone first", "urgency.immediate_risk"),
        ("immediate risk: phone first", "urgency.call_made"),
        ("level of need against the kind of referral", "need.level"),
        ("a phoned referral is confirmed in writing within 48 hours", "urgency.call_at"),
        ("the front door's queue and the export name each child", "children.*.full_name"),
        ("a pre-birth referral gives the expected date of delivery", "children.*.expected_delivery"),
        ("a date of birth is not in the future", "children.*.date_of_birth"),
        ("an NHS number passes its check digit", "children.*.nhs_number"),
    ]
}
