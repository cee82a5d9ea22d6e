import ArgumentParser
import Foundation

/// `--reason TEXT` (or `--by TEXT`, its older name) of the operator
/// commands that change access, devices or the form: why, or at whose
/// request, for the audit trail.
struct ReasonOption: ParsableArguments {
    @Option(
        name: [.customLong("reason"), .customLong("by")],
        help: ArgumentHelp(
            "Why, or at whose request, for the audit trail (kept as reason=… in the entry's detail; --by is the older name); never a child's or family's details. The entry's actor is always the operating-system user running the command.",
            valueName: "text"))
    var reason: String?
}
