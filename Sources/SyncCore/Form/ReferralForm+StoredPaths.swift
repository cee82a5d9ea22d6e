import Foundation

/// How the server treats one stored path.
public struct PathRules: Sendable, Equatable {
    public let policy: MergePolicy
    /// For `set` fields, the option keys in the form's order.
    public let optionOrder: [String]
    /// Whether the field names an attachment (`FieldType.attachment`): the
    /// server takes a value only for a file it has received whole.
    public var isAttachment = false
}

extension ReferralForm {
    /// The longest stored path accepted (`agencies.<uuid>.practitioner` is 55).
    public static let maximumPathLength = 128
    /// The most dot-separated parts a stored path has (`children.<id>.full_name`).
    public static let maximumPathDepth = 3

    /// Checks a path and value as a device sends them: canonical paths with
    /// whole item ids, canonical values. Returns the merge rules, or a reason a
    /// person can read for refusing the change.
    public func rules(forStoredPath path: String, value: String?) -> Result<PathRules, PathRefusal> {
        guard path.count <= Self.maximumPathLength else {
            return .failure(PathRefusal("The path '\(path.prefix(40))…' is longer than \(Self.maximumPathLength) characters."))
        }
        switch path {
        case RecordPath.kind:
            guard let value, ReferralKind(rawValue: value) != nil else {
                return .failure(PathRefusal("'\(value ?? "null")' is not a referral kind."))
            }
            return .success(PathRules(policy: .lww, optionOrder: []))
        case RecordPath.status:
            guard let value, ReferralStatus(rawValue: value) != nil else {
                return .failure(PathRefusal("'\(value ?? "null")' is not a status a device may set."))
            }
            return .success(PathRules(policy: .lww, optionOrder: []))
        case RecordPath.form:
            guard let value, let number = Int(value), String(number) == value, (1...version).contains(number) else {
                return .failure(PathRefusal("'\(value?.prefix(40) ?? "null")' is not a form version this server has published (1 to \(version))."))
            }
            return .success(PathRules(policy: .lww, optionOrder: []))
        default:
            break
        }
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= Self.maximumPathDepth else {
            return .failure(PathRefusal("The path '\(path.prefix(40))' has \(parts.count) parts; a stored path has at most \(Self.maximumPathDepth)."))
        }
        guard let section = index[String(parts[0])]?.section else {
            return .failure(PathRefusal("The form has no field '\(path)'\(scope)."))
        }
        let fieldKey: Substring?
        if section.isGroup {
            guard parts.count == 2 || parts.count == 3, UUID.isCanonical(String(parts[1])) else {
                return .failure(PathRefusal("'\(path)' does not name a \(section.itemName!) by its id."))
            }
            fieldKey = parts.count == 3 ? parts[2] : nil
        } else {
            guard parts.count == 2 else { return .failure(PathRefusal("The form has no field '\(path)'\(scope).")) }
            fieldKey = parts[1]
        }
        let pattern = section.isGroup ? "\(section.key).*.\(fieldKey ?? "")" : path
        let of = provenance[pattern].map { " (\($0))" } ?? ""
        guard let fieldKey else {
            guard value == nil || value == ItemMarker.present else {
                return .failure(PathRefusal("'\(value!)' is not a valid value for the item '\(path)'."))
            }
            return .success(PathRules(policy: .lww, optionOrder: []))
        }
        guard let field = index["\(section.key).\(fieldKey)"]?.field else {
            return .failure(PathRefusal("The form has no field '\(path)'\(scope)."))
        }
        if let value {
            if value.utf8.count > FieldType.maximumTextLength, value.count > FieldType.maximumTextLength {
                return .failure(PathRefusal("The value of '\(path)' has \(value.count) characters; the most is \(FieldType.maximumTextLength)."))
            }
            if let size = SyncProtocol.oversize(value) {
                return .failure(PathRefusal("The value of '\(path)' takes \(size) bytes encoded; the most is \(SyncProtocol.maximumValueBytes)."))
            }
            guard Self.isCanonical(value, for: field.type) else {
                return .failure(PathRefusal("'\(value.prefix(40))' is not a valid \(field.type.name) value for '\(path)'\(of)."))
            }
            if field.isName, value.unicodeScalars.contains(where: FieldType.bidirectionalControls.contains) {
                return .failure(PathRefusal("The name in '\(path)' holds a bidirectional control character (U+202A–U+202E, U+2066–U+2069), which can make it read as another."))
            }
        }
        return .success(PathRules(policy: field.policy, optionOrder: field.type.options.map(\.key), isAttachment: field.type.attachmentLimits != nil))
    }
}

extension ReferralForm {
    /// Whether a value is in the form a device stores: what `normalize` would
    /// give back unchanged. Plain text is checked without copying it.
    static func isCanonical(_ value: String, for type: FieldType) -> Bool {
        if case .text = type {
            guard let first = value.unicodeScalars.first, let last = value.unicodeScalars.last else { return false }
            return !FieldType.blank.contains(first) && !FieldType.blank.contains(last)
        }
        return (try? type.normalize(value, now: Date(timeIntervalSince1970: 0))) == value
    }
}

public struct PathRefusal: Error, Equatable, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}
