import CEditLine
import Foundation

/// Reads one line at a terminal with editing and history, through the
/// system's libedit (BSD editline, Debian's `libedit2`), for the session when
/// standard input is a terminal (pipes and files keep plain lines).
///
/// Keys are libedit's emacs bindings: Left and Right (or Ctrl-B, Ctrl-F) move
/// the cursor, Home and End (or Ctrl-A, Ctrl-E) jump, Backspace and Delete
/// remove, Ctrl-U clears, Up and Down (or Ctrl-P, Ctrl-N) walk the history,
/// and `~/.editrc` can change them as for any libedit program. Ctrl-C
/// cancels the line (the session goes on); Ctrl-D on an empty line ends the
/// session. Escape sequences are taken by libedit, so they never reach the
/// command parser; Tab inserts a space.
///
/// libedit keeps the terminal in raw mode only while a line is typed and
/// restores it before a signal (SIGTERM, SIGHUP, SIGTSTP) acts, so commands
/// and the passphrase prompt see it as they always did.
final class LineEditor {
    /// What `read` returns.
    enum Outcome: Equatable {
        case line(String)
        /// Ctrl-C: the line typed so far is dropped.
        case cancelled
        /// Ctrl-D on an empty line, or the end of input.
        case end
    }

    private let editor: OpaquePointer
    /// The last line remembered, so a repeated line is kept once.
    private var last: String?

    /// An editor on standard input and output holding up to `historySize`
    /// lines for Up and Down; nil if libedit cannot start (the caller then
    /// reads plain lines).
    init?(historySize: Int = 1000) {
        guard let editor = field_editor_open("field", Int32(historySize)) else { return nil }
        self.editor = editor
    }

    deinit { field_editor_close(editor) }

    /// Adds `line` to what Up and Down recall (oldest first; a line equal to
    /// the one before is kept once).
    func remember(_ line: String) {
        guard line != last else { return }
        last = line
        field_editor_remember(editor, line)
    }

    /// Reads a line after showing `prompt`. Nil if the terminal could not be
    /// read (the caller then reads a plain line).
    func read(prompt: String) -> Outcome? {
        var status = FIELD_EDITOR_FAILED
        let typed = field_editor_read(editor, prompt, &status)
        defer { free(typed) }
        switch status {
        case FIELD_EDITOR_LINE: return .line(typed.map { String(cString: $0) } ?? "")
        case FIELD_EDITOR_CANCELLED:
            FileHandle.standardOutput.write(Data("^C\n".utf8))
            return .cancelled
        case FIELD_EDITOR_END:
            FileHandle.standardOutput.write(Data("\n".utf8))
            return .end
        default: return nil
        }
    }
}
