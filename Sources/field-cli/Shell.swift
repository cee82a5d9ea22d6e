import ArgumentParser
import Foundation
import SyncCore

extension Field {
    struct Shell: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "shell",
            abstract: "Start the line-based session (what `field` with no subcommand does).",
            discussion: """
                Commands are typed without `field`; `help` lists them, `exit` leaves. Lines starting \
                with # are comments. Reading from a pipe or a file, the session runs one command per \
                line until the end of input and exits non-zero if any command failed.
                """)

        func run(in context: Context) async throws {
            let console = context.console
            context.isSession = true
            if console.isInteractive {
                console.line("field: offline referrals. Type `help` for the commands, `exit` to leave.")
            }
            // At a terminal: line editing, and history (values left out on disk).
            let editor = console.isInteractive ? LineEditor() : nil
            let history = SessionHistory(home: context.home)
            if let editor { history.load().forEach(editor.remember) }
            var failures = 0
            while true {
                let prompt = context.currentReferral.map { "field \($0.lowercased.prefix(8))> " } ?? "field> "
                let line: String
                if let editor, let outcome = editor.read(prompt: prompt) {
                    switch outcome {
                    case .line(let typed): line = typed
                    case .cancelled: continue
                    case .end: return try finish(failures)
                    }
                } else {
                    console.prompt(prompt)
                    guard let typed = console.readLine() else {
                        if console.isInteractive { console.line() }
                        break
                    }
                    line = typed
                }
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
                if let editor {
                    editor.remember(trimmed)
                    history.append(trimmed)
                }
                if ["exit", "quit"].contains(trimmed) { break }
                if let refusal = Self.controlCharacterRefusal(trimmed) {
                    console.error("Error: \(refusal)")
                    failures += 1
                    continue
                }
                if try await !Self.execute(trimmed, in: context) { failures += 1 }
            }
            try finish(failures)
        }

        private func finish(_ failures: Int) throws {
            if failures > 0 { throw ExitCode(1) }
        }

        /// Why a line cannot run if it holds a control character (an arrow key's
        /// escape sequence typed where lines are not edited, say); nil otherwise.
        /// Tabs are spaces.
        static func controlCharacterRefusal(_ line: String) -> String? {
            guard let control = line.unicodeScalars.first(where: { $0.properties.generalCategory == .control && $0 != "\t" }) else { return nil }
            let code = String(format: "U+%04X", control.value)
            let hint = control == "\u{1B}" ? " (an arrow or other special key's escape sequence)" : ""
            return "The line has the control character <\(code)>\(hint), which no command takes; type the line again without it."
        }

        /// Every command's name, read at each start. Each command names
        /// itself (`commandName`): left to the parser, a name is made from the
        /// type's with `String(describing:)`, whose first use per type scans
        /// every protocol conformance in the binary; for 30 commands that was
        /// a tenth of a one-shot `field set` (docs/performance.md).
        static let knownCommands = Field.configuration.subcommands.map { $0._commandName } + ["help"]

        /// Runs one line of the session; false if it failed (the error is printed).
        static func execute(_ line: String, in context: Context) async throws -> Bool {
            do {
                let line = try withCurrentReferral(line, in: context)
                var words = try ShellWords.verbatimValue(line) ?? ShellWords.split(line)
                if words.first == "field" { words.removeFirst() }
                if let name = words.first, !name.hasPrefix("-"), !knownCommands.contains(name) {
                    let nearest = knownCommands.min { ReferralForm.editDistance(name, $0) < ReferralForm.editDistance(name, $1) }
                    let hint = nearest.map { ReferralForm.editDistance(name, $0) <= 2 ? "; did you mean '\($0)'?" : "" } ?? ""
                    throw CLIError("'\(name)' is not a command\(hint.isEmpty ? "; type `help` for the list." : hint)")
                }
                var command = try Field.parseAsRoot(words)
                if command is Shell || command is Field {
                    if !words.isEmpty { context.console.line("You are already in a session.") }
                    return true
                }
                guard let fieldCommand = command as? any FieldCommand else {
                    // `help [command]`: the parser's own command, which answers by throwing its text.
                    try command.run()
                    return true
                }
                try await fieldCommand.run(in: context)
                return true
            } catch {
                if case SyncError.revoked = error { context.reopenStore() }
                let error = StoreError.plain(error)
                let message = Field.fullMessage(for: error)
                if Field.exitCode(for: error) == .success {
                    context.console.line(message)
                    return true
                }
                if !message.isEmpty { context.console.error(message) }
                return false
            }
        }
    }
}

/// Splits a command line into words like a shell does: spaces separate words;
/// a single or double quote at the start of a word keeps spaces until it closes
/// (inside a word, as in "Amy's", it is an ordinary character); a backslash
/// takes the next character as is.
///
/// `set <id> <path> <value>` is the exception: its value is the rest of the
/// line exactly as typed (`verbatimValue`), so a parent's words keep their
/// quotation marks, backslashes and `#`.
enum ShellWords {
    static func split(_ line: String) throws -> [String] {
        var lexer = Lexer(line)
        var words: [String] = []
        while let word = try lexer.next() { words.append(word) }
        return words
    }

    /// For a `set` line (`[field] set <id> <path> <value…>`): the words before
    /// the value, split as usual, then the value as one word, verbatim from
    /// the first character after the path to the end of the line (spaces at
    /// its ends dropped). Nil for any other line, or a `set` line with an
    /// option before the value, which is split as usual.
    static func verbatimValue(_ line: String) throws -> [String]? {
        var lexer = Lexer(line)
        var words: [String] = []
        while let word = try lexer.next() {
            words.append(word)
            let command = words.first == "field" ? Array(words.dropFirst()) : words
            guard command.first == "set" || command.isEmpty else { return nil }
            if command.count > 1, command.last!.hasPrefix("-") { return nil }
            if command.count == 3 {
                let value = line[lexer.position...].trimmingCharacters(in: .whitespaces)
                return value.isEmpty ? words : words + [value]
            }
        }
        return nil
    }

    /// Reads one word at a time, remembering where it stopped.
    struct Lexer {
        let line: String
        private(set) var position: String.Index

        init(_ line: String) {
            self.line = line
            position = line.startIndex
        }

        /// The next word, or nil at the end of the line.
        mutating func next() throws -> String? {
            var current = ""
            var inWord = false
            var quote: Character?
            var escaping = false
            while position < line.endIndex {
                let character = line[position]
                if escaping {
                    current.append(character)
                    escaping = false
                } else if character == "\\" && quote != "'" {
                    escaping = true
                    inWord = true
                } else if let open = quote {
                    if character == open { quote = nil } else { current.append(character) }
                } else if (character == "\"" || character == "'") && current.isEmpty && !inWord {
                    // Quotes open only at the start of a word: "Amy's mum said" needs none.
                    quote = character
                    inWord = true
                } else if character == " " || character == "\t" {
                    if inWord { return current }
                } else {
                    current.append(character)
                    inWord = true
                }
                position = line.index(after: position)
            }
            if let quote { throw CLIError("The line has an unclosed \(quote) quote: \(line)") }
            return inWord ? current : nil
        }
    }
}
