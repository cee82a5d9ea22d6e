import Foundation
import SyncCore

#if canImport(Glibc)
import Glibc
#endif

/// Output and input of the CLI. Output is written straight to the file
/// descriptors, unbuffered, so that a transcript keeps commands, answers and
/// errors in the order they happened even when stdout and stderr share a pipe.
///
/// Every line goes through `TerminalText.visible`: text that other people
/// wrote (a referral's values, the front door's notes, a server's message)
/// reaches the terminal with its control characters shown as `<U+001B>`,
/// never obeyed (docs/security.md, "What reaches a terminal").
final class Console: @unchecked Sendable {
    /// Whether standard input is a terminal: prompts and banners are shown only then.
    let isInteractive: Bool

    init(isInteractive: Bool = isatty(STDIN_FILENO) == 1) {
        self.isInteractive = isInteractive
    }

    func line(_ text: String = "") {
        write(TerminalText.visible(text) + "\n", to: FileHandle.standardOutput)
    }

    func error(_ text: String) {
        write(TerminalText.visible(text) + "\n", to: FileHandle.standardError)
    }

    /// A prompt: shown without a newline, and only to a person at a terminal.
    func prompt(_ text: String) {
        if isInteractive { write(TerminalText.visible(text), to: FileHandle.standardOutput) }
    }

    /// Prints a value as JSON with sorted keys, one document per call.
    func json<Value: Encodable>(_ value: Value) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        line(String(decoding: try encoder.encode(value), as: UTF8.self))
    }

    /// The next line of standard input, or nil at its end.
    func readLine() -> String? {
        Swift.readLine(strippingNewline: true)
    }

    /// An answer to a question (`fill`) after `prompt`. At a terminal it is
    /// read with line editing, and Ctrl-C is a key, not the end of `field`:
    /// the answer typed so far is dropped and `.cancelled` returned, so the
    /// caller asks again. Answers are never recalled with Up (they hold
    /// referral content). Elsewhere, a plain line or `.end`.
    func readAnswer(prompt: String) -> LineEditor.Outcome {
        if isInteractive, let editor = answerEditor, let outcome = editor.read(prompt: TerminalText.visible(prompt)) {
            return outcome
        }
        self.prompt(prompt)
        return readLine().map(LineEditor.Outcome.line) ?? .end
    }

    /// The answers' editor, made on the first question asked at a terminal; it keeps no history.
    private lazy var answerEditor: LineEditor? = LineEditor()

    /// A secret typed at the terminal without echo (a passphrase), or nil
    /// when standard input is not a terminal or ends.
    func secret(_ prompt: String) -> String? {
        guard isInteractive else { return nil }
        let canHide = tcgetattr(STDIN_FILENO, &savedTerminal) == 0
        var previous: [Int32: sighandler_t?] = [:]
        if canHide {
            // Echo comes back even when the prompt is left with ^C or ^Z.
            for signal in [SIGINT, SIGTERM, SIGTSTP, SIGHUP] {
                previous[signal] = Glibc.signal(signal, restoreTerminalAndReraise)
            }
            var hidden = savedTerminal
            hidden.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &hidden)
        }
        // Shown once echo is off (TCSAFLUSH drops what was typed before): a
        // passphrase typed after the prompt appears is never echoed nor lost.
        write(prompt, to: FileHandle.standardError)
        defer {
            if canHide {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
                for (signal, handler) in previous { Glibc.signal(signal, handler ?? SIG_DFL) }
            }
            write("\n", to: FileHandle.standardError)
        }
        return Swift.readLine(strippingNewline: true)
    }

    private func write(_ text: String, to handle: FileHandle) {
        handle.write(Data(text.utf8))
    }
}

/// The terminal's settings while a secret is typed, for the signal handler.
nonisolated(unsafe) private var savedTerminal = termios()

/// Restores echo, then lets the signal do what it would have done.
private func restoreTerminalAndReraise(_ signal: Int32) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}
