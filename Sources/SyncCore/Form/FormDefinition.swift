import Foundation

/// One question of the form.
public struct FormField: Sendable, Equatable {
    /// The last segment of the path (`full_name`).
    public let key: String
    public let type: FieldType
    /// The question as a practitioner reads it.
    public let question: String
    /// Guidance shown on `?` in `fill` and in `field fields`.
    public let help: String
    public let policy: MergePolicy
    /// The guidance asks for it: leaving it empty gives a warning on `check`.
    public let recommended: Bool
    /// The referral kinds it applies to; empty means every kind.
    public let kinds: Set<ReferralKind>

    /// A person's or a place's name (`name`, `full_name`, `…_name`): bidirectional
    /// control characters are refused in it.
    public var isName: Bool { key == "name" || key.hasSuffix("_name") }

    public init(
        _ key: String, _ type: FieldType, _ question: String, help: String = "",
        policy: MergePolicy = .manual, recommended: Bool = false, kinds: Set<ReferralKind> = []
    ) {
        self.key = key
        self.type = type
        self.question = question
        self.help = help
        self.policy = policy
        self.recommended = recommended
        self.kinds = kinds
    }

    public func applies(to kind: ReferralKind) -> Bool { kinds.isEmpty || kinds.contains(kind) }
}

/// A section of the form: plain fields (`referrer.name`), or a repeating group
/// whose items each have their own UUID (`children.<uuid>.full_name`).
public struct FormSection: Sendable, Equatable {
    public let key: String
    public let title: String
    /// What the guidance says about the section, in a sentence or two.
    public let summary: String
    /// For a repeating group, what one item is called ("child"); nil otherwise.
    public let itemName: String?
    public let fields: [FormField]
    public let kinds: Set<ReferralKind>

    public init(
        _ key: String, _ title: String, summary: String, itemName: String? = nil,
        kinds: Set<ReferralKind> = [], fields: [FormField]
    ) {
        self.key = key
        self.title = title
        self.summary = summary
        self.itemName = itemName
        self.kinds = kinds
        self.fields = fields
    }

    public var isGroup: Bool { itemName != nil }
    public func applies(to kind: ReferralKind) -> Bool { kinds.isEmpty || kinds.contains(kind) }

    /// The path pattern of a field as listed by `field fields`:
    /// `referrer.name` or `children.*.full_name`.
    public func pattern(of field: FormField) -> String {
        isGroup ? "\(key).*.\(field.key)" : "\(key).\(field.key)"
    }
}

/// A path checked against the form and resolved against one referral's items.
public struct ResolvedPath: Sendable, Equatable {
    /// The canonical stored path (`children.0193…0001.full_name`).
    public let path: String
    public let section: FormSection
    /// The field, or nil when the path names a group item itself.
    public let field: FormField?
    public let item: UUID?
}
