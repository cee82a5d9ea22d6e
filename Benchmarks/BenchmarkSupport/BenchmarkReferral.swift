import Foundation
import SyncCore

/// The made-up social-care referrals the benchmarks push: the form's own
/// paths (plain text fields, then the text fields of each child), no real
/// content. sync-bench pushes 60 fields a referral, sync-load 60 with the
/// device's number in each value, request-cost 27 (issue 30).
public enum BenchmarkReferral {
    /// The standard form's plain text fields, outside groups and kind-specific sections, in form order.
    public static let plainPaths: [String] = ReferralForm.standard.patterns
        .filter { !$0.section.isGroup && $0.field.type == .text && $0.section.kinds.isEmpty }.map(\.pattern)
    /// The text fields of a child (`children.<id>.<key>`), in form order.
    public static let childFields: [String] = ReferralForm.standard.section("children")!.fields.filter { $0.type == .text }.map(\.key)

    /// Up to `count` text paths of a referral with these children: the plain
    /// fields first, then each child's fields.
    public static func textPaths(children: [String], count: Int) -> [String] {
        var paths = plainPaths
        for child in children { paths += childFields.map { "children.\(child).\($0)" } }
        return Array(paths.prefix(count))
    }

    /// A new referral's changes, numbered from `seq + 1` (advanced past the
    /// last): `@kind` when `kind` is given, one item marker for each child,
    /// then text fields (`value(path)`) up to `fields` changes in all. Each
    /// change's HLC has wall time `wall` (milliseconds) and the change's
    /// number as its counter.
    /// - Parameters:
    ///   - baseRevision: every change's base revision (0: a new value).
    public static func changes(
        record: String, children: [String], fields: Int, kind: String? = nil, seq: inout Int64, wall: Int64, device: String,
        value: (String) -> String
    ) -> [WireChange] {
        var changes: [WireChange] = []
        func add(_ path: String, _ text: String) {
            seq += 1
            changes.append(WireChange(
                seq: seq, record: record, path: path, value: text, baseRevision: 0,
                hlc: HLCStamp(wall: wall, counter: Int32(seq % 9999), device: device).description))
        }
        if let kind { add(RecordPath.kind, kind) }
        for child in children { add("children.\(child)", ItemMarker.present) }
        for path in textPaths(children: children, count: fields - changes.count) { add(path, value(path)) }
        return changes
    }
}
