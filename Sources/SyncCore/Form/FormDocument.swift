import Foundation

/// A referral form as a file: the JSON an authority edits and publishes with
/// `sync-server form publish FILE`, and what a device fetches and stores.
/// The shape is published as a JSON Schema in `docs/form.schema.json`;
/// `docs/form.md` says how an authority changes its form.
///
/// ```json
/// { "form": "referral", "version": 2, "title": "…",
///   "sections": [ { "key": "children", "title": "Children", "summary": "…", "item": "child",
///                   "fields": [ { "key": "full_name", "type": "text", "question": "…",
///                                 "recommended": true } ] } ] }
/// ```
/// Types are `text`, `date`, `date-time`, `yes-no`, `choice`,
/// `multi-choice` (the last two with `options`) and `attachment` (with
/// `max_file_bytes` and `max_referral_bytes`); policies are `manual` (the
/// default), `lww`, `append` (text only) and `set` (multi-choice only).
public struct FormDocument: Codable, Sendable, Equatable {
    /// Always `referral`: the one form this system carries.
    public var form: String
    /// The version the server gave it; absent in a file not yet published.
    public var version: Int?
    public var title: String
    public var sections: [Section]

    // Members in the order a person reads them: `encoded(sorted: false)` keeps it.
    public struct Section: Codable, Sendable, Equatable {
        public var key: String
        public var title: String
        public var summary: String
        /// For a repeating group, what one item is called ("child").
        public var item: String?
        /// The referral kinds the section applies to; absent means every kind.
        public var kinds: [ReferralKind]?
        public var fields: [Field]
    }

    public struct Field: Codable, Sendable, Equatable {
        public var key: String
        public var type: String
        public var question: String
        public var help: String?
        public var options: [Option]?
        public var policy: MergePolicy?
        public var recommended: Bool?
        public var kinds: [ReferralKind]?
        /// For an attachment field: the largest file, in bytes (default `AttachmentLimits.standard`).
        public var maxFileBytes: Int64? = nil
        /// For an attachment field: the most one referral's attachments take together, in bytes.
        public var maxReferralBytes: Int64? = nil

        enum CodingKeys: String, CodingKey {
            case key, type, question, help, options, policy, recommended, kinds
            case maxFileBytes = "max_file_bytes", maxReferralBytes = "max_referral_bytes"
        }
    }

    public struct Option: Codable, Sendable, Equatable {
        public var key: String
        public var label: String
    }

    /// The name every form document carries in `form`.
    public static let formName = "referral"
    /// The largest form file read, in bytes (the built-in form is about 21 KB).
    public static let maximumBytes = 1 << 20
    /// The most sections and fields a form may have (the built-in form has 11 and 77).
    public static let maximumSections = 100
    public static let maximumFields = 1_000
    /// The longest text in a form (a title, question, help or label), in characters.
    public static let maximumText = 4_000

    /// Reads a document from JSON. Throws `FormDocumentError` naming the first
    /// bad value: not JSON, a missing member, an unknown type or policy.
    public static func decode(_ data: Data) throws(FormDocumentError) -> FormDocument {
        guard data.count <= maximumBytes else {
            throw .unreadable("it has \(data.count) bytes; the most is \(maximumBytes) (1 MiB)")
        }
        try checkMembers(data)
        do {
            return try JSONDecoder().decode(FormDocument.self, from: data)
        } catch let error as DecodingError {
            throw .unreadable(Self.describe(error))
        } catch {
            throw .unreadable("it is not JSON (\(error.localizedDescription))")
        }
    }

    /// The document as indented JSON: keys sorted as stored and served (so
    /// its SHA-256 names it), or with `sorted: false` in reading order, for
    /// a person to edit (`form show`).
    public func encoded(sorted: Bool = true) -> Data {
        guard sorted else { return Data(readable().utf8) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(self)) ?? Data()
    }

    /// JSON in reading order, two-space indented, as `referral-form.json` is
    /// written (Foundation's encoder keeps no member order unless sorted).
    private func readable() -> String {
        func string(_ text: String) -> String {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .withoutEscapingSlashes
            return (try? encoder.encode(text)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
        }
        func object(_ members: [(String, String?)], _ indent: String) -> String {
            let inner = indent + "  "
            return "{\n" + members.compactMap { key, value in value.map { "\(inner)\(string(key)): \($0)" } }.joined(separator: ",\n") + "\n\(indent)}"
        }
        func array(_ items: [String], _ indent: String) -> String {
            "[\n" + items.map { indent + "  " + $0 }.joined(separator: ",\n") + "\n\(indent)]"
        }
        func kinds(_ kinds: [ReferralKind]?, _ indent: String) -> String? {
            kinds.map { array($0.map { string($0.rawValue) }, indent) }
        }
        let sections = sections.map { section in
            object([
                ("key", string(section.key)), ("title", string(section.title)), ("summary", string(section.summary)),
                ("item", section.item.map(string)), ("kinds", kinds(section.kinds, "      ")),
                ("fields", array(section.fields.map { field in
                    object([
                        ("key", string(field.key)), ("type", string(field.type)), ("question", string(field.question)),
                        ("help", field.help.map(string)),
                        ("options", field.options.map { options in
                            array(options.map { object([("key", string($0.key)), ("label", string($0.label))], "            ") }, "          ")
                        }),
                        ("policy", field.policy.map { string($0.rawValue) }), ("recommended", field.recommended.map { $0 ? "true" : "false" }),
                        ("kinds", kinds(field.kinds, "          ")),
                        ("max_file_bytes", field.maxFileBytes.map(String.init)), ("max_referral_bytes", field.maxReferralBytes.map(String.init)),
                    ], "        ")
                }, "      ")),
            ], "    ")
        }
        return object([
            ("form", string(form)), ("version", version.map(String.init)), ("title", string(title)), ("sections", array(sections, "  ")),
        ], "")
    }

    /// The members each object may have; `$schema` lets an editor check the file.
    static let members: [(what: String, names: [String])] = [
        ("the form", ["$schema", "form", "version", "title", "sections"]),
        ("a section", ["key", "title", "summary", "item", "kinds", "fields"]),
        ("a field", ["key", "type", "question", "help", "options", "policy", "recommended", "kinds", "max_file_bytes", "max_referral_bytes"]),
        ("an option", ["key", "label"]),
    ]

    /// Refuses a member the format does not have (a misspelt `recomended`
    /// would otherwise be dropped without a word).
    private static func checkMembers(_ data: Data) throws(FormDocumentError) {
        guard let top = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return }  // the decoder says why
        func check(_ object: Any?, _ level: Int, at place: String) throws(FormDocumentError) {
            guard let object = object as? [String: Any] else { return }
            let (what, names) = members[level]
            if let unknown = object.keys.sorted().first(where: { !names.contains($0) }) {
                throw .unreadable("'\(unknown.prefix(40))' at \(place) is not a member of \(what) (\(names.filter { $0 != "$schema" }.joined(separator: ", ")))")
            }
            if let empty = object.keys.sorted().first(where: { object[$0] is NSNull }) {
                throw .unreadable("'\(empty)' at \(place) is null; leave it out instead")
            }
            if let long = object.keys.sorted().first(where: { ((object[$0] as? String)?.count ?? 0) > maximumText }) {
                throw .unreadable("'\(long)' at \(place) is longer than \(maximumText) characters")
            }
        }
        try check(top, 0, at: "the top level")
        for (s, section) in (top["sections"] as? [Any] ?? []).enumerated() {
            try check(section, 1, at: "sections[\(s)]")
            for (f, field) in ((section as? [String: Any])?["fields"] as? [Any] ?? []).enumerated() {
                try check(field, 2, at: "sections[\(s)].fields[\(f)]")
                for (o, option) in ((field as? [String: Any])?["options"] as? [Any] ?? []).enumerated() {
                    try check(option, 3, at: "sections[\(s)].fields[\(f)].options[\(o)]")
                }
            }
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func at(_ path: [any CodingKey]) -> String {
            path.isEmpty ? "the top level" : path.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                .trimmingCharacters(in: CharacterSet(charactersIn: "."))
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "'\(key.stringValue)' is missing at \(at(context.codingPath))"
        case .typeMismatch(let type, let context), .valueNotFound(let type, let context):
            let expected: String = switch type {
            case is String.Type: "text"
            case is Int.Type: "a whole number"
            case is Bool.Type: "true or false"
            case is [Any].Type: "a list"
            default: String(describing: type).hasPrefix("Array") ? "a list" : "an object"
            }
            return "\(at(context.codingPath)) should be \(expected)"
        case .dataCorrupted(let context):
            guard let last = context.codingPath.last else { return "it is not JSON" }
            let place = at(context.codingPath)
            if last.stringValue == "policy" { return "\(place) is not a merge policy (manual, lww, append, set)" }
            if context.codingPath.contains(where: { $0.stringValue == "kinds" }) {
                return "\(place) is not a referral kind (\(ReferralKind.allCases.map(\.rawValue).joined(separator: ", ")))"
            }
            return "\(place) cannot be read"
        @unknown default:
            return "it could not be read"
        }
    }
}

/// Why a form document cannot be used or published; each message is one
/// sentence naming the bad value.
public enum FormDocumentError: Error, Equatable, Sendable, CustomStringConvertible {
    case unreadable(String)
    case invalid(String)

    public var description: String {
        switch self {
        case .unreadable(let why): "The form file cannot be read: \(why)."
        case .invalid(let why): why
        }
    }
}

extension FormDocument {
    /// The form this document describes, after checking it: keys are lowercase
    /// words (`[a-z][a-z0-9_]*`), section keys and field keys within a section
    /// are unique, choices have options with unique keys, `append` is for text
    /// and `set` for multi-choice, every group names its item, and the paths
    /// the guidance's rules read (`Guidance.rulePaths`) are present.
    /// - Throws: `FormDocumentError.invalid`, naming the first problem found.
    public func referralForm() throws(FormDocumentError) -> ReferralForm {
        guard form == Self.formName else {
            throw .invalid("The form file says it is a '\(form)' form; this system publishes only '\(Self.formName)'.")
        }
        if let version, version < 1 { throw .invalid("Form version \(version) is not a version (1 or more).") }
        guard !title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw .invalid("The form's title is empty.") }
        guard !sections.isEmpty else { throw .invalid("The form has no sections.") }
        let fieldCount = sections.reduce(0) { $0 + $1.fields.count }
        guard sections.count <= Self.maximumSections, fieldCount <= Self.maximumFields else {
            throw .invalid("The form has \(sections.count) sections and \(fieldCount) fields; the most are \(Self.maximumSections) and \(Self.maximumFields).")
        }
        var sectionKeys = Set<String>()
        var built: [FormSection] = []
        for section in sections {
            try Self.checkKey(section.key, what: "section")
            guard sectionKeys.insert(section.key).inserted else {
                throw .invalid("The section key '\(section.key)' appears twice.")
            }
            guard !section.fields.isEmpty else { throw .invalid("The section '\(section.key)' has no fields.") }
            guard !section.title.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw .invalid("The section '\(section.key)' has an empty title.")
            }
            if let item = section.item, item.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                throw .invalid("The repeating group '\(section.key)' has an empty item name.")
            }
            var fieldKeys = Set<String>()
            var fields: [FormField] = []
            for field in section.fields {
                let path = section.item == nil ? "\(section.key).\(field.key)" : "\(section.key).*.\(field.key)"
                try Self.checkKey(field.key, what: "field in '\(section.key)'")
                guard fieldKeys.insert(field.key).inserted else { throw .invalid("The path '\(path)' appears twice.") }
                guard !field.question.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw .invalid("The field '\(path)' has no question.")
                }
                let type = try Self.fieldType(field, path: path)
                let policy = field.policy ?? .manual
                switch (policy, type) {
                case (.append, .text), (.set, .multiChoice), (.manual, _), (.lww, _): break
                case (.append, _): throw .invalid("The field '\(path)' is \(type.name); the append policy is for text only.")
                case (.set, _): throw .invalid("The field '\(path)' is \(type.name); the set policy is for multi-choice only.")
                }
                fields.append(FormField(
                    field.key, type, field.question, help: field.help ?? "", policy: policy,
                    recommended: field.recommended ?? false, kinds: Set(field.kinds ?? [])))
            }
            built.append(FormSection(
                section.key, section.title, summary: section.summary, itemName: section.item,
                kinds: Set(section.kinds ?? []), fields: fields))
        }
        // Attachments are part of every version: a file without the section
        // (published before attachments existed) gets the built-in one, so its
        // paths are never retired and drafts on it can attach (docs/form.md).
        if !sectionKeys.contains(AttachmentFields.group), let attachments = ReferralForm.standard.section(AttachmentFields.group) {
            built.append(attachments)
        }
        let result = ReferralForm(sections: built, version: version ?? 1, title: title)
        for rule in Guidance.rulePaths {
            guard let (pattern, section, field) = result.patterns.first(where: { $0.pattern == rule.path }) else {
                throw .invalid("The guidance's rule \"\(rule.rule)\" reads '\(rule.path)', which this form does not have.")
            }
            if !section.kinds.isEmpty || !field.kinds.isEmpty {
                throw .invalid("The guidance's rule \"\(rule.rule)\" reads '\(pattern)' in every kind of referral, so neither it nor its section may be limited by \"kinds\".")
            }
        }
        return result
    }

    private static func checkKey(_ key: String, what: String) throws(FormDocumentError) {
        let scalars = key.unicodeScalars
        guard let first = scalars.first, ("a"..."z").contains(first), key.count <= 40,
              scalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" })
        else {
            throw .invalid("'\(key.prefix(40))' is not a valid key for a \(what): use lowercase letters, digits and _, starting with a letter, at most 40.")
        }
    }

    private static func fieldType(_ field: Field, path: String) throws(FormDocumentError) -> FieldType {
        let options = (field.options ?? []).map { FieldOption($0.key, $0.label) }
        if field.type != "attachment", field.maxFileBytes != nil || field.maxReferralBytes != nil {
            throw .invalid("The field '\(path)' is \(field.type); only an attachment field has max_file_bytes or max_referral_bytes.")
        }
        switch field.type {
        case "attachment":
            guard field.options == nil else { throw .invalid("The field '\(path)' is an attachment and cannot have options.") }
            let standard = AttachmentLimits.standard
            let limits = AttachmentLimits(fileBytes: field.maxFileBytes ?? standard.fileBytes, referralBytes: field.maxReferralBytes ?? standard.referralBytes)
            guard (1...AttachmentLimits.largestFile).contains(limits.fileBytes) else {
                throw .invalid("max_file_bytes of '\(path)' is \(limits.fileBytes); it must be from 1 to \(AttachmentLimits.largestFile) (1 GiB).")
            }
            guard limits.referralBytes >= limits.fileBytes, limits.referralBytes <= 16 * AttachmentLimits.largestFile else {
                throw .invalid("max_referral_bytes of '\(path)' is \(limits.referralBytes); it must be at least max_file_bytes (\(limits.fileBytes)) and at most \(16 * AttachmentLimits.largestFile).")
            }
            return .attachment(limits)
        case "text", "date", "date-time", "yes-no":
            guard field.options == nil else { throw .invalid("The field '\(path)' is \(field.type) and cannot have options.") }
            return ["text": .text, "date": .date, "date-time": .dateTime, "yes-no": .yesNo][field.type]!
        case "choice", "multi-choice":
            guard !options.isEmpty else { throw .invalid("The \(field.type) field '\(path)' has no options.") }
            var keys = Set<String>()
            for option in options {
                guard !option.key.isEmpty, option.key.count <= 40,
                      option.key.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" })
                else {
                    throw .invalid("'\(option.key.prefix(40))' is not a valid option key for '\(path)': use lowercase letters, digits, - and _.")
                }
                guard !option.label.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                    throw .invalid("The option '\(option.key)' of '\(path)' has an empty label.")
                }
                guard keys.insert(option.key).inserted else {
                    throw .invalid("The option '\(option.key)' appears twice in '\(path)'.")
                }
            }
            return field.type == "choice" ? .choice(options) : .multiChoice(options)
        default:
            throw .invalid("'\(field.type)' is not a field type (text, date, date-time, yes-no, choice, multi-choice, attachment) for '\(path)'.")
        }
    }
}

extension ReferralForm {
    /// The form as a document, for `form show` and for publishing.
    public var document: FormDocument {
        FormDocument(
            form: FormDocument.formName, version: version, title: title,
            sections: sections.map { section in
                FormDocument.Section(
                    key: section.key, title: section.title, summary: section.summary, item: section.itemName,
                    kinds: section.kinds.isEmpty ? nil : section.kinds.sorted { $0.rawValue < $1.rawValue },
                    fields: section.fields.map { field in
                        FormDocument.Field(
                            key: field.key, type: field.type.documentName,
                            question: field.question, help: field.help.isEmpty ? nil : field.help,
                            options: field.type.options.isEmpty ? nil : field.type.options.map { FormDocument.Option(key: $0.key, label: $0.label) },
                            policy: field.policy == .manual ? nil : field.policy,
                            recommended: field.recommended ? true : nil,
                            kinds: field.kinds.isEmpty ? nil : field.kinds.sorted { $0.rawValue < $1.rawValue },
                            maxFileBytes: field.type.attachmentLimits.flatMap { $0.fileBytes == AttachmentLimits.standard.fileBytes ? nil : $0.fileBytes },
                            maxReferralBytes: field.type.attachmentLimits.flatMap { $0.referralBytes == AttachmentLimits.standard.referralBytes ? nil : $0.referralBytes })
                    })
            })
    }
}

extension FieldType {
    /// The type's name in a form document (`date-time`, `yes-no`).
    public var documentName: String {
        switch self {
        case .text: "text"
        case .date: "date"
        case .dateTime: "date-time"
        case .yesNo: "yes-no"
        case .choice: "choice"
        case .multiChoice: "multi-choice"
        case .attachment: "attachment"
        }
    }
}
