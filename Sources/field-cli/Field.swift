import ArgumentParser
import Foundation
import SyncCore

@main
struct Field: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "field",
        abstract: "Draft referrals to children's social care offline, check them against the guidance, submit them, and sync them with the front door's server.",
        discussion: """
            With no subcommand, `field` starts a line-based session: type the same commands at \
            the prompt (without `field`), `help` for this list, `exit` to leave. When standard \
            input is not a terminal the session reads one command per line until the end of \
            input, so it can be scripted.

            Data lives in FIELD_HOME (default ~/.field). A unique prefix of an id is accepted \
            wherever an id is; group items may be named by position: children.1.full_name.
            """,
        subcommands: [
            New.self, SetValue.self, Unset.self, Add.self, Remove.self, Fill.self,
            Attach.self, Attachments.self, Detach.self,
            Show.self, List.self, Check.self, Fields.self, History.self,
            Submit.self, Discard.self, Upgrade.self, Profile.self, Login.self, Sync.self, Status.self, Receipts.self, Retry.self, Contacts.self, Passphrase.self,
            Intake.self, Conflicts.self, Resolve.self, Use.self, Shell.self,
        ]
    )

    mutating func run() async throws {
        try await Shell().run(in: Context.fromEnvironment())
    }

    /// A mistyped command gets the session's "did you mean" rather than the
    /// parser's bare "Unexpected argument".
    static func main() async {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let name = arguments.first, !name.hasPrefix("-"), !Shell.knownCommands.contains(name) {
            let nearest = Shell.knownCommands.min { ReferralForm.editDistance(name, $0) < ReferralForm.editDistance(name, $1) }
            let hint = nearest.flatMap { ReferralForm.editDistance(name, $0) <= 2 ? "; did you mean '\($0)'?" : nil } ?? "; `field --help` lists the commands."
            let message = "'\(name)' is not a command\(hint)"
            if arguments.contains("--json") { printJSONError(message) } else { FileHandle.standardError.write(Data("Error: \(TerminalText.visible(message))\n".utf8)) }
            Foundation.exit(64)
        }
        if arguments.contains("--json") { await runReportingJSONErrors(arguments) }
        await main(nil)
    }

    /// Runs the command; with `--json` a failure is data too: the error's
    /// sentence as `{"error":{"message":…}}` on standard output, and the
    /// usual non-zero exit status. An exit status a command chose itself
    /// (`check` with errors, whose JSON is already printed) adds nothing.
    static func runReportingJSONErrors(_ arguments: [String]) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
            Foundation.exit(0)
        } catch {
            let code = exitCode(for: error)
            guard code != .success, !(error is ExitCode) else { exit(withError: error) }
            printJSONError(message(for: error))
            Foundation.exit(code.rawValue)
        }
    }

    /// `{"error":{"message":…}}` on standard output.
    static func printJSONError(_ message: String) {
        let body = ["error": ["message": message]]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let data = (try? encoder.encode(body)) ?? Data()
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }
}

/// A command that can run in a one-shot process or inside a session, against
/// the context it is given.
protocol FieldCommand: AsyncParsableCommand {
    func run(in context: Context) async throws
}

extension FieldCommand {
    mutating func run() async throws {
        do {
            try await run(in: Context.fromEnvironment())
        } catch {
            // A full disk is one sentence, not SQLite's message and statement.
            let error = StoreError.plain(error)
            // A message may quote a server's words or a stored value: its
            // control characters are shown, not obeyed (`TerminalText`).
            if !(error is ExitCode), case let described = "\(error)", case let shown = TerminalText.visible(described), shown != described {
                throw CLIError(shown)
            }
            throw error
        }
    }
}

/// `--json` for the commands that print machine-readable output.
struct JSONOption: ParsableArguments {
    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false
}
