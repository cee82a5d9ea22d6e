import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Reads one line at a terminal with editing and history, for the session
/// when standard input is a terminal (pipes and files keep plain lines).
///
/// Keys: printable text is inserted at the cursor; Backspace deletes before
/// it; Left and Right (or Ctrl-B, Ctrl-F) move it; Home and End (or Ctrl-A,
/// Ctrl-E) jump; Up and Down (or Ctrl-P, Ctrl-N) walk the history; Ctrl-U
/// clears the line; Ctrl-C cancels the line (the session goes on); Ctrl-D
/// on an empty line ends the session. Other control keys and escape
/// sequences are ignored, so they never reach the command parser.
///
/// The terminal is in raw mode only while a line is typed, and is restored
/// before the line is returned (and on SIGTERM, SIGHUP), so commands and the
/// passphrase prompt see it as they always did.
final class LineEditor {
    /// What `read` returns.
    enum Outcome: Equatable {
        case line(String)
        /// Ctrl-C: the line typed so far is dropped.
        case cancelled
        /// Ctrl-D on an empty line, or the end of input.
        case end
    }

    /// Earlier lines, oldest first, for Up and Down; the caller adds to it.
    var history: [String] = []

    /// Reads a line after showing `prompt`. Nil if the terminal cannot be put
    /// in raw mode (the caller then reads a plain line).
    func read(prompt: String) -> Outcome? {
        guard tcgetattr(STDIN_FILENO, &editorSavedTerminal) == 0 else { return nil }
        var raw = editorSavedTerminal
        // No echo, no line buffering, no signals from keys (Ctrl-C arrives as a byte).
        raw.c_lflag &= ~tcflag_t(ECHO | ICANON | ISIG | IEXTEN)
        raw.c_iflag &= ~tcflag_t(IXON | ICRNL)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        var previous: [Int32: sighandler_t?] = [:]
        for signal in [SIGTERM, SIGHUP, SIGTSTP] {
            previous[signal] = Glibc.signal(signal, restoreEditorTerminalAndReraise)
        }
        tcsetattr(STDIN_FILENO, TCSADRAIN, &raw)
        defer {
            tcsetattr(STDIN_FILENO, TCSADRAIN, &editorSavedTerminal)
            for (signal, handler) in previous { Glibc.signal(signal, handler ?? SIG_DFL) }
        }
        return edit(prompt: prompt)
    }

    private func edit(prompt: String) -> Outcome {
        var buffer: [Character] = []
        var cursor = 0
        var recalled = history.count  // history.count: the line being typed
        var typed: [Character] = []  // what was typed before walking the history
        output(prompt)

        // Where the terminal's cursor stands, in characters after the prompt.
        var shown = 0
        // Rewrites the line after the prompt (never the prompt itself) and puts the cursor back.
        func redraw() {
            var text = shown > 0 ? "\u{1B}[\(shown)D" : ""
            text += String(buffer) + "\u{1B}[K"
            let back = buffer.count - cursor
            if back > 0 { text += "\u{1B}[\(back)D" }
            output(text)
            shown = cursor
        }
        func recall(_ index: Int) {
            if recalled == history.count { typed = buffer }
            recalled = index
            buffer = index == history.count ? typed : Array(history[index])
            cursor = buffer.count
            redraw()
        }

        while let byte = readByte() {
            switch byte {
            case 0x0D, 0x0A:  // Enter
                output("\r\n")
                return .line(String(buffer))
            case 0x03:  // Ctrl-C
                output("^C\r\n")
                return .cancelled
            case 0x04:  // Ctrl-D
                if buffer.isEmpty {
                    output("\r\n")
                    return .end
                }
            case 0x7F, 0x08:  // Backspace
                if cursor > 0 {
                    buffer.remove(at: cursor - 1)
                    cursor -= 1
                    redraw()
                }
            case 0x01: cursor = 0; redraw()
            case 0x05: cursor = buffer.count; redraw()
            case 0x02: if cursor > 0 { cursor -= 1; redraw() }
            case 0x06: if cursor < buffer.count { cursor += 1; redraw() }
            case 0x10: if recalled > 0 { recall(recalled - 1) }
            case 0x0E: if recalled < history.count { recall(recalled + 1) }
            case 0x15: buffer.removeAll(); cursor = 0; redraw()
            case 0x1B:
                switch readEscapeSequence() {
                case "[D", "OD": if cursor > 0 { cursor -= 1; redraw() }
                case "[C", "OC": if cursor < buffer.count { cursor += 1; redraw() }
                case "[A", "OA": if recalled > 0 { recall(recalled - 1) }
                case "[B", "OB": if recalled < history.count { recall(recalled + 1) }
                case "[H", "OH", "[1~", "[7~": cursor = 0; redraw()
                case "[F", "OF", "[4~", "[8~": cursor = buffer.count; redraw()
                case "[3~":
                    if cursor < buffer.count { buffer.remove(at: cursor); redraw() }
                default: break  // other keys: ignored
                }
            case 0x09:  // Tab: a space, as in a plain line
                buffer.insert(" ", at: cursor)
                cursor += 1
                redraw()
            case 0x00..<0x20:
                break  // other control keys: ignored
            default:
                guard let character = readCharacter(startingWith: byte) else { break }
                buffer.insert(character, at: cursor)
                cursor += 1
                redraw()
            }
        }
        output("\r\n")
        return buffer.isEmpty ? .end : .line(String(buffer))
    }

    /// After ESC: the rest of a CSI (`[` … final letter or `~`) or SS3 (`O` x) sequence.
    private func readEscapeSequence() -> String {
        guard let first = readByte() else { return "" }
        var sequence = String(Character(UnicodeScalar(first)))
        if first == UInt8(ascii: "O") {
            if let next = readByte() { sequence.append(Character(UnicodeScalar(next))) }
            return sequence
        }
        guard first == UInt8(ascii: "[") else { return sequence }
        while let next = readByte() {
            sequence.append(Character(UnicodeScalar(next)))
            if (0x40...0x7E).contains(next) { break }
            if sequence.count > 16 { break }
        }
        return sequence
    }

    /// One UTF-8 character whose first byte is `lead`; nil if malformed.
    private func readCharacter(startingWith lead: UInt8) -> Character? {
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
        guard length > 0 else { return nil }
        var bytes = [lead]
        while bytes.count < length, let next = readByte() { bytes.append(next) }
        guard let text = String(validating: bytes, as: UTF8.self), let character = text.first else { return nil }
        return character
    }

    private func readByte() -> UInt8? {
        var byte: UInt8 = 0
        while true {
            let count = Glibc.read(STDIN_FILENO, &byte, 1)
            if count == 1 { return byte }
            if count < 0, errno == EINTR { continue }
            return nil
        }
    }

    private func output(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// The terminal's settings before a line was edited, for the signal handler.
nonisolated(unsafe) private var editorSavedTerminal = termios()

/// Restores the terminal, then lets the signal do what it would have done.
private func restoreEditorTerminalAndReraise(_ signal: Int32) {
    tcsetattr(STDIN_FILENO, TCSADRAIN, &editorSavedTerminal)
    Glibc.signal(signal, SIG_DFL)
    raise(signal)
}
