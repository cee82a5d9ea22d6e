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
    /// The published version (1 is the built-in form every device starts with).
    public let version: Int
    public let title: String
    /// What a refusal adds after "The form has no field 'x'": nothing, or
    /// for the server's union of versions " in any version (1–3)".
    let scope: String
    /// For the union of versions: which versions have each path pattern
    /// ("form versions 2–3"), named when a value is refused.
    let provenance: [String: String]
    /// Sections and fields by key (`referrer`, `referrer.name`, `children.full_name`),
    /// for the server's check of every pushed change.
    let index: [String: (section: FormSection, field: FormField?)]

    public init(
        sections: [FormSection], version: Int = 1, title: String = "Referral to children's social care",
        scope: String = "", provenance: [String: String] = [:]
    ) {
        self.sections = sections
        self.version = version
        self.title = title
        self.scope = scope
        self.provenance = provenance
        var index: [String: (section: FormSection, field: FormField?)] = [:]
        for section in sections {
            index[section.key] = (section, nil)
            for field in section.fields { index["\(section.key).\(field.key)"] = (section, field) }
        }
        self.index = index
    }

    /// The built-in form, version 1: `Resources/referral-form.json`, shipped
    /// beside both programs in their resource bundle. Every device starts
    /// with it, and the server counts it as version 1 of every authority's
    /// form; an authority publishes its own versions on top of it
    /// (`sync-server form publish`, docs/form.md).
    public static let standard: ReferralForm = {
        do {
            guard let url = Bundle.module.url(forResource: "referral-form", withExtension: "json") else {
                throw FormDocumentError.unreadable("referral-form.json is missing from the SyncCore resource bundle")
            }
            return try FormDocument.decode(Data(contentsOf: url)).referralForm()
        } catch {
            fatalError("The built-in form cannot be read: \(error)")
        }
    }()
}

extension ReferralForm {
    public func section(_ key: String) -> FormSection? { sections.first { $0.key == key } }

    public var groups: [FormSection] { sections.filter(\.isGroup) }

    /// The pattern of a canonical stored path (`children.<id>.upn` →
    /// `children.*.upn`); nil for a path of no field of this form.
    public func pattern(ofStoredPath path: String) -> String? {
        field(atStoredPath: path).map { $0.0.pattern(of: $0.1) }
    }

    /// The field behind a path pattern (`referrer.name`, `children.*.full_name`).
    public func field(atPattern pattern: String) -> FormField? {
        let parts = pattern.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard let section = section(parts[0]) else { return nil }
        let key = section.isGroup ? (parts.count == 3 && parts[1] == "*" ? parts[2] : nil) : (parts.count == 2 ? parts[1] : nil)
        return key.flatMap { key in section.fields.first { $0.key == key } }
    }

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
