import Foundation

/// Why input does not fit the form. Every message is one sentence that names
/// the bad value and, where it can, what would be right.
public enum FormError: Error, Equatable, Sendable, CustomStringConvertible {
    case emptyValue
    case invalidValue(value: String, expected: String)
    case unknownPath(path: String, suggestion: String?)
    case unknownGroup(name: String, suggestion: String?)
    case notAGroupField(path: String)
    case unknownItem(group: String, item: String)
    case ambiguousItem(group: String, item: String)
    case reservedPath(path: String)
    case fieldNotForKind(path: String, kind: ReferralKind)
    /// Written as a date, but no such day exists (`31/02/2021`): why not.
    case impossibleDate(value: String, reason: String)
    /// A path of other form versions than the referral's own: `versions`
    /// as `FormCatalog.versionsText` gives it, and the newest version when
    /// upgrading would bring the path.
    case pathOfOtherVersion(path: String, versions: String, referralVersion: Int, upgradeTo: Int?)
    /// A value of quotation marks only (`""` typed to clear a field).
    case onlyQuotes(value: String)
    /// A value that would take more than `limit` bytes in a push
    /// (`SyncProtocol.maximumValueBytes`): the server would refuse it.
    case tooLargeToSend(path: String, bytes: Int, limit: Int)

    public var description: String {
        switch self {
        case .emptyValue:
            "The value is empty; use `unset` to clear a field."
        case .invalidValue(let value, let expected):
            "'\(value)' is not valid here: expected \(expected)."
        case .unknownPath(let path, let suggestion):
            "The form has no field '\(path)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "; run `field fields` to list them.")
        case .unknownGroup(let name, let suggestion):
            "The form has no repeating group '\(name)'" + (suggestion.map { "; did you mean '\($0)'?" } ?? "; the groups are children, parental_responsibility, household_members and agencies.")
        case .notAGroupField(let path):
            "'\(path)' belongs to a repeating group; name the item by position or id, as in \(path.replacingOccurrences(of: ".*.", with: ".1."))."
        case .unknownItem(let group, let item):
            "This referral has no \(group) item '\(item)'; `field show` lists the items."
        case .ambiguousItem(let group, let item):
            "'\(item)' matches more than one \(group) item; give more of the item id."
        case .reservedPath(let path):
            "'\(path)' is kept by the record itself and cannot be set directly; use `submit` or `discard`."
        case .fieldNotForKind(let path, let kind):
            "'\(path)' does not apply to a \(kind.rawValue) referral."
        case .impossibleDate(let value, let reason):
            "'\(value)' is not a date: \(reason)."
        case .pathOfOtherVersion(let path, let versions, let referralVersion, let upgradeTo):
            "'\(path)' is a question of \(versions); this referral is on form version \(referralVersion)"
                + (upgradeTo.map { ", and `field upgrade` moves it to version \($0)." } ?? ", which retired it.")
        case .onlyQuotes(let value):
            "The value \(value) is only quotation marks; type the words without quotes around them, or use `unset` to clear the field."
        case .tooLargeToSend(let path, let bytes, let limit):
            "The value of '\(path)' would take \(bytes) bytes to send, more than the \(limit) one value may take; shorten it (a control character takes six bytes once escaped) or split it across fields."
        }
    }
}
