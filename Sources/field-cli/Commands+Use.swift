import ArgumentParser
import Foundation
import SyncCore

extension Field {
    /// `use <id>`: the session's current referral.
    struct Use: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "use",
            abstract: "Work on one referral for the rest of the session: later commands may leave its id out.",
            discussion: """
                In a session only. After `use <id>`, the commands that take an id (`show`, `set PATH VALUE`, \
                `unset`, `add`, `remove`, `check`, `submit`, `discard`, `fill`, `history`, `status`, `retry`) \
                use that referral when their first argument is not an id (lowercase hex digits and dashes); \
                an id typed out still wins. The prompt shows its short id. `use` alone names it; `use none` forgets it.
                """)
        @Argument(help: "The referral's id or a unique prefix of it; `none` to forget it.") var id: String?

        func run(in context: Context) async throws {
            guard context.isSession else {
                throw CLIError("`use` chooses a referral for the rest of a session; start one with `field`, or give the id to each command.")
            }
            guard let id else {
                if let current = context.currentReferral {
                    context.console.line("Using referral \(current.lowercased); `use none` forgets it.")
                } else {
                    context.console.line("No referral in use; `use <id>` chooses one.")
                }
                return
            }
            if id == "none" {
                context.currentReferral = nil
                context.console.line("No referral in use; commands need an id again.")
                return
            }
            let full = try context.referralID(id)
            context.currentReferral = full
            context.console.line("Using referral \(full.lowercased); commands may leave its id out.")
        }
    }
}

extension Field.Shell {
    /// Commands whose first argument is a referral's id.
    static let commandsTakingID: Set<String> = [
        "set", "unset", "add", "remove", "submit", "discard", "show", "check", "history", "status", "retry", "fill",
    ]

    /// With a referral in use: `line` with its id put after the command when
    /// the command takes one and the next word is not shaped like an id.
    static func withCurrentReferral(_ line: String, in context: Context) throws -> String {
        guard let current = context.currentReferral else { return line }
        var lexer = ShellWords.Lexer(line)
        var command = try lexer.next()
        if command == "field" { command = try lexer.next() }
        guard let command, commandsTakingID.contains(command) else { return line }
        let afterCommand = lexer.position
        if let next = try lexer.next(), SessionHistory.isIDShaped(next) { return line }
        return String(line[..<afterCommand]) + " " + current.lowercased + String(line[afterCommand...])
    }
}
