import Foundation

/// What kind of referral a record is. The kind decides which sections of the
/// form apply and which deadlines run.
public enum ReferralKind: String, CaseIterable, Sendable, Codable {
    case socialCare = "social-care"
    case lado
    case earlyHelp = "early-help"
    case preBirth = "pre-birth"

    public var title: String {
        switch self {
        case .socialCare: "Referral to children's social care"
        case .lado: "Allegation against an adult who works with children (LADO)"
        case .earlyHelp: "Early help request"
        case .preBirth: "Pre-birth referral"
        }
    }
}

/// Where a referral is in its life on the device.
public enum ReferralStatus: String, CaseIterable, Sendable, Codable {
    /// Being written; may be incomplete.
    case draft
    /// Marked ready by the practitioner; sent on the next sync.
    case submitted
    /// Abandoned by the practitioner. Kept, with its history, never deleted.
    case discarded
}

/// Paths of record-level values. They travel through the same history and
/// outbox as form fields, so a submission is "a record-level write".
public enum RecordPath {
    public static let kind = "@kind"
    public static let status = "@status"
    /// The form version the referral is written on (`FormCatalog`); absent
    /// means version 1.
    public static let form = "@form"
    public static let all: Set<String> = [kind, status, form]
}

/// One referral as the device holds it now.
public struct Referral: Sendable, Equatable {
    public var id: UUID
    public var createdAt: Date
    public var createdBy: String
    public var updatedAt: Date
    /// Every non-empty value by canonical path, record-level paths included.
    public var values: [String: String]
    /// Paths that once held a value and were cleared (removed items among them).
    public var clearedPaths: Set<String>
    /// Paths with a local edit not yet accepted by the server.
    public var pendingPaths: Set<String>

    public init(
        id: UUID, createdAt: Date, createdBy: String, updatedAt: Date,
        values: [String: String], clearedPaths: Set<String> = [], pendingPaths: Set<String> = []
    ) {
        self.id = id
        self.createdAt = createdAt
        self.createdBy = createdBy
        self.updatedAt = updatedAt
        self.values = values
        self.clearedPaths = clearedPaths
        self.pendingPaths = pendingPaths
    }

    public var kind: ReferralKind { values[RecordPath.kind].flatMap(ReferralKind.init(rawValue:)) ?? .socialCare }
    public var status: ReferralStatus { values[RecordPath.status].flatMap(ReferralStatus.init(rawValue:)) ?? .draft }

    /// The items of a repeating group that have been added and not removed, in
    /// the order they were added (item ids are time-ordered).
    public func items(of group: String) -> [UUID] {
        let prefix = group + "."
        return values.keys.compactMap { path -> UUID? in
            guard path.hasPrefix(prefix) else { return nil }
            let rest = path.dropFirst(prefix.count)
            guard !rest.contains("."), values[path] == ItemMarker.present else { return nil }
            return UUID(uuidString: String(rest))
        }
        .sorted { $0.lowercased < $1.lowercased }
    }

    /// Items to resolve a typed item name against: the live ones first, so that
    /// positions count only those, then removed ones, so that naming a removed
    /// item by id says it was removed rather than that it never existed.
    public func resolvableItems(of group: String) -> [UUID] {
        let live = items(of: group)
        let prefix = group + "."
        let removed = clearedPaths.compactMap { path -> UUID? in
            guard path.hasPrefix(prefix), !path.dropFirst(prefix.count).contains(".") else { return nil }
            return UUID(uuidString: String(path.dropFirst(prefix.count)))
        }
        return live + removed.sorted { $0.lowercased < $1.lowercased }
    }

    /// The values of the fields that are shown: record-level paths, plain
    /// fields, and the fields of items that have not been removed.
    public var visibleValues: [String: String] {
        values.filter { path, value in
            // A value of invisible characters only was never an answer.
            guard !FieldType.isBlank(value) else { return false }
            let parts = path.split(separator: ".")
            guard parts.count == 3 else { return true }
            return values["\(parts[0]).\(parts[1])"] == ItemMarker.present
        }
    }
}

/// The value a group item's own path holds while the item exists.
public enum ItemMarker {
    public static let present = "present"
}

/// A short row for lists.
public struct ReferralSummary: Sendable, Equatable {
    public var id: UUID
    public var kind: ReferralKind
    public var status: ReferralStatus
    public var updatedAt: Date
    /// The first child's name (or "unborn baby"), for telling rows apart.
    public var label: String?
    public var pendingChanges: Int
    /// The referral's own reference (`IntakePath.reference`), once the server has given it one.
    public var reference: String? = nil
}

/// One line of a referral's local history: every edit, never rewritten.
public struct HistoryEntry: Sendable, Equatable {
    public var id: Int64
    public var path: String
    public var oldValue: String?
    public var newValue: String?
    public var author: String
    public var device: String
    public var at: Date
    public var hlc: HLCStamp
}

/// A change waiting in the outbox to be pushed: one per field, however many
/// times it was edited since the last push (the history keeps each edit).
public struct PendingChange: Sendable, Equatable {
    /// The device's own number for this change (1, 2, 3…), for idempotent retries.
    public var seq: Int64
    public var record: UUID
    public var path: String
    public var value: String?
    /// The field revision from the server this edit was made on (0 if none).
    public var baseRevision: Int64
    public var hlc: HLCStamp
    public var author: String
    /// How many local edits this pending change stands for.
    public var edits: Int
    /// When it was first sent; a sent change is frozen and later edits queue anew.
    public var sentAt: Date?
    /// Why the server refused it, if it did. A refused change stays, visible.
    public var rejectedReason: String?
}
