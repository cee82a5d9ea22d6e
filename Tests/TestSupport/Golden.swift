import Foundation

/// The one comparison of output with a golden file: the CLI's and the
/// server's transcripts in `Tests/FieldCLITests/Golden/`, and documents
/// generated from the code (`docs/form-fields.md`). `UPDATE_GOLDEN=1` writes
/// the output to the file first, for a reviewed change of output.
public enum Golden {
    /// The golden transcripts' folder.
    public static let folder = Repository.file("Tests/FieldCLITests/Golden")

    /// `Golden/<name>`, compared with `actual`: nil when they are equal,
    /// else the first line where they differ.
    public static func difference(_ actual: String, fromGolden name: String) throws -> String? {
        try difference(actual, from: folder.appendingPathComponent(name), named: "Golden/\(name)")
    }

    /// `file` compared with `actual` (written to it first under
    /// `UPDATE_GOLDEN=1`): nil when they are equal, else the first line where
    /// they differ, naming the file as `name`. A missing file reads as empty.
    public static func difference(_ actual: String, from file: URL, named name: String) throws -> String? {
        if ProcessInfo.processInfo.environment["UPDATE_GOLDEN"] == "1" {
            try actual.write(to: file, atomically: true, encoding: .utf8)
        }
        let expected = (try? String(contentsOf: file, encoding: .utf8)) ?? ""
        guard expected != actual else { return nil }
        let wanted = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let got = actual.split(separator: "\n", omittingEmptySubsequences: false)
        let first = zip(wanted, got).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(wanted.count, got.count)
        return "\(name) differs from line \(first + 1):\n  expected: \(first < wanted.count ? String(wanted[first]) : "(end)")\n"
            + "  actual:   \(first < got.count ? String(got[first]) : "(end)")\nRegenerate with UPDATE_GOLDEN=1 and review the diff."
    }
}
