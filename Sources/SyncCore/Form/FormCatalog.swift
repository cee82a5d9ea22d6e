import Foundation

/// Every version of the form a device or the server knows, oldest first:
/// version 1 is always the built-in form (`ReferralForm.standard`), and an
/// authority's published versions follow it (`sync-server form publish`).
///
/// A path keeps its meaning across versions: it keeps its type, its merge
/// policy and its section's shape, and a path a version leaves out is
/// **retired** from that version on, never used again for another question
/// (`nextVersion(from:)` refuses one that is). So a value stored under a path
/// means the same in every version, and the server can check every pushed
/// change against `union`, the fields of all versions together, whatever
/// version the draft it comes from is on (docs/form.md).
public struct FormCatalog: Sendable {
    /// Versions 1…n, in order, with no gaps.
    public let versions: [ReferralForm]
    /// Every field of every version: the newest wording of each, retired ones
    /// after the live ones of their section. The server checks pushed paths
    /// against it; the export labels values with it.
    public let union: ReferralForm
    /// For each path pattern (`children.*.upn`), the first version that has it.
    public let introducedIn: [String: Int]
    /// For each retired path pattern, the first version without it.
    public let retiredIn: [String: Int]

    /// The catalog of the built-in form alone.
    public static let builtIn = FormCatalog(checked: [.standard])

    /// A catalog of `versions`, which must be 1…n in order (each checked when
    /// it was published).
    public init(checked versions: [ReferralForm]) {
        precondition(!versions.isEmpty && versions.enumerated().allSatisfy { $0.offset + 1 == $0.element.version })
        self.versions = versions
        var introduced: [String: Int] = [:]
        var retired: [String: Int] = [:]
        var previous = Set<String>()
        for form in versions {
            let patterns = Set(form.patterns.map(\.pattern))
            for pattern in patterns where introduced[pattern] == nil { introduced[pattern] = form.version }
            for pattern in previous.subtracting(patterns) where retired[pattern] == nil { retired[pattern] = form.version }
            previous = patterns
        }
        introducedIn = introduced
        retiredIn = retired
        union = Self.union(of: versions, introduced: introduced, retired: retired)
    }

    public var latest: ReferralForm { versions[versions.count - 1] }

    /// The form of a version; nil for one this catalog does not have.
    public func form(version: Int) -> ReferralForm? {
        versions.indices.contains(version - 1) ? versions[version - 1] : nil
    }

    /// The form a referral is written on: the version its `@form` value names,
    /// version 1 when it has none (drafts started before versions existed).
    /// Nil when the catalog lacks that version (a device that has not yet
    /// fetched it).
    public func form(of referral: Referral) -> ReferralForm? {
        form(version: referral.formVersion)
    }

    /// Which versions have a path pattern, as a person reads it
    /// ("form version 1", "form versions 2–3"); nil for one none has.
    public func versionsText(of pattern: String) -> String? {
        Self.versionsText(of: pattern, introduced: introducedIn, retired: retiredIn, latest: latest.version)
    }

    static func versionsText(of pattern: String, introduced: [String: Int], retired: [String: Int], latest: Int) -> String? {
        guard let first = introduced[pattern] else { return nil }
        let last = (retired[pattern] ?? latest + 1) - 1
        return first == last ? "form version \(first)" : "form versions \(first)–\(last)"
    }

    /// Checks `document` as the next version after this catalog's latest and
    /// returns it as a form, numbered `latest.version + 1`.
    /// - Throws: `FormDocumentError.invalid`, naming the first problem: any
    ///   check of `FormDocument.referralForm()`; a version in the file that is
    ///   not the next one; a retired path used again; a path whose type,
    ///   choice kind or merge policy differs from before; a repeating group
    ///   that became a plain section or the other way round.
    public func nextVersion(from document: FormDocument) throws(FormDocumentError) -> ReferralForm {
        let next = latest.version + 1
        if let stated = document.version, stated != next {
            throw .invalid("The form file says it is version \(stated); the next version to publish is \(next) (leave out \"version\" to take the next).")
        }
        // A section's shape first: turning a group into a plain section would
        // otherwise be reported as the guidance's paths going missing.
        for section in document.sections {
            if let known = union.section(section.key), known.isGroup != (section.item != nil) {
                throw .invalid("The section '\(section.key)' was \(known.isGroup ? "a repeating group" : "a plain section"); a section keeps its shape in every version.")
            }
        }
        var numbered = document
        numbered.version = next
        let candidate = try numbered.referralForm()
        var unchanged = latest.document
        unchanged.version = next
        if unchanged == candidate.document {
            throw .invalid("The form file is the same as version \(latest.version); there is nothing to publish.")
        }
        for (pattern, _, field) in candidate.patterns {
            if let version = retiredIn[pattern] {
                throw .invalid("The path '\(pattern)' was retired in form version \(version); a retired path is never used again (give the question a new key).")
            }
            guard let known = union.field(atPattern: pattern) else { continue }
            if known.type.documentName != field.type.documentName {
                throw .invalid("The path '\(pattern)' is \(known.type.documentName) in earlier versions; it cannot become \(field.type.documentName) (give the question a new key).")
            }
            if case .multiChoice(let options) = field.type {
                let earlier = known.type.options.map(\.key)
                let kept = options.map(\.key).filter(earlier.contains)
                if kept != earlier.filter(kept.contains) {
                    throw .invalid("The options of '\(pattern)' that earlier versions have must keep their order (\(earlier.filter(kept.contains).joined(separator: ", "))), since its stored values list them in that order.")
                }
            }
            if known.policy != field.policy {
                throw .invalid("The path '\(pattern)' has the \(known.policy.rawValue) merge policy in earlier versions; it cannot change to \(field.policy.rawValue).")
            }
        }
        return candidate
    }

    /// What moving a referral from one version to another changes: paths of
    /// `from` that `to` retires, and paths `to` adds.
    public func difference(from: ReferralForm, to: ReferralForm) -> (retired: [String], added: [String]) {
        let old = from.patterns.map(\.pattern), new = to.patterns.map(\.pattern)
        return (old.filter { !new.contains($0) }, new.filter { !old.contains($0) })
    }

    private static func union(of versions: [ReferralForm], introduced: [String: Int], retired: [String: Int]) -> ReferralForm {
        let latest = versions[versions.count - 1]
        var order = latest.sections.map(\.key)
        var byKey = Dictionary(uniqueKeysWithValues: latest.sections.map { ($0.key, $0) })
        // Walk back from the newest: each older field not yet present joins its
        // section (after the newer ones), and each older section after the rest.
        for form in versions.reversed().dropFirst() {
            for section in form.sections {
                guard let merged = byKey[section.key] else {
                    byKey[section.key] = section
                    order.append(section.key)
                    continue
                }
                let fields = merged.fields + section.fields.filter { field in !merged.fields.contains { $0.key == field.key } }
                byKey[section.key] = FormSection(
                    merged.key, merged.title, summary: merged.summary, itemName: merged.itemName, kinds: merged.kinds, fields: fields)
            }
        }
        // Every option any version had, in the one order all versions agree
        // with (`optionOrder`), so that a value stored in any version's order
        // is in this order too, and stays valid.
        let sections = order.map { key in
            let section = byKey[key]!
            return FormSection(
                section.key, section.title, summary: section.summary, itemName: section.itemName, kinds: section.kinds,
                fields: section.fields.map { $0.withOptions(optionOrder(of: section.pattern(of: $0), in: versions)) })
        }
        let provenance = Dictionary(uniqueKeysWithValues: introduced.keys.map {
            ($0, versionsText(of: $0, introduced: introduced, retired: retired, latest: latest.version)!)
        })
        return ReferralForm(
            sections: sections, version: latest.version, title: latest.title,
            scope: versions.count == 1 ? "" : " in any version (1–\(latest.version))", provenance: provenance)
    }

    /// Every option a choice field had in any of `versions`, in one order
    /// that agrees with each version's own: oldest first, a new option placed
    /// right after the option before it in the version that brought it.
    /// Labels are the newest version's. Publishing keeps it possible
    /// (`nextVersion` refuses options out of this order).
    static func optionOrder(of pattern: String, in versions: [ReferralForm]) -> [FieldOption] {
        var keys: [String] = []
        var labels: [String: String] = [:]
        for form in versions {
            guard let field = form.field(atPattern: pattern) else { continue }
            var previous: Int? = nil
            for option in field.type.options {
                labels[option.key] = option.label
                if let index = keys.firstIndex(of: option.key) {
                    previous = index
                } else {
                    let at = previous.map { $0 + 1 } ?? 0
                    keys.insert(option.key, at: at)
                    previous = at
                }
            }
        }
        return keys.map { FieldOption($0, labels[$0]!) }
    }
}

extension FormField {
    /// The field with its options replaced by `options` (for a choice or
    /// multi-choice field; any other field is returned as it is).
    func withOptions(_ options: [FieldOption]) -> FormField {
        let type: FieldType
        switch self.type {
        case .choice: type = .choice(options)
        case .multiChoice: type = .multiChoice(options)
        default: return self
        }
        return FormField(key, type, question, help: help, policy: policy, recommended: recommended, kinds: kinds)
    }
}

extension Referral {
    /// The form version the referral is written on (`@form`); 1 when it has
    /// none, as drafts started before versions existed.
    public var formVersion: Int { values[RecordPath.form].flatMap(Int.init) ?? 1 }
}
