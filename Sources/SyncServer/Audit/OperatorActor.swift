import Foundation
import SyncCore

/// Who runs an operator command (a `sync-server` subcommand run on the
/// server host: `user`, `device`, `form`, `export`, `restore`,
/// `migrate-store`), for its audit entry: the operating-system user, never a
/// name typed on the command line (issue 29, item 4). What the operator
/// types with `--reason` (or its older name `--by`) is kept as the entry's
/// reason (`reason=…` in its detail), never instead of the actor.
enum OperatorActor {
    /// The effective user's login name (`getpwuid(geteuid())`), else
    /// `$USER`, else `unknown`: `root` for a command run with sudo as root.
    static var current: String {
        if let entry = getpwuid(geteuid()), let name = entry.pointee.pw_name, let text = String(validatingCString: name), !text.isEmpty {
            return text
        }
        if let user = ProcessInfo.processInfo.environment["USER"], !user.isEmpty { return user }
        return "unknown"
    }

    /// The longest reason kept, in characters; a longer one is cut, with "…".
    static let maximumReason = 200

    /// `detail` with ` reason=…` after it when a reason was given: on one
    /// line (a line break shown as ` ↵ `, control characters as `<U+…>`,
    /// `TerminalText.oneLine`), at most `maximumReason` characters. An empty
    /// or blank reason adds nothing.
    static func detail(_ detail: String, reason: String?) -> String {
        guard let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines), !reason.isEmpty else { return detail }
        let line = TerminalText.oneLine(reason)
        let kept = line.count > maximumReason ? String(line.prefix(maximumReason)) + "…" : line
        return detail.isEmpty ? "reason=\(kept)" : "\(detail) reason=\(kept)"
    }
}
