import Foundation

/// Text on its way to a terminal (`field`'s output, `sync-server`'s tables):
/// what other people wrote is shown, never obeyed (docs/security.md, "What
/// reaches a terminal or a spreadsheet").
public enum TerminalText {
    /// `text` with every control character but line feed and tab written as
    /// `<U+XXXX>`: C0 (ESC, BEL, CR, backspace…), DEL and C1 (U+0080–U+009F,
    /// the one-character CSI U+009B among them), and the bidirectional
    /// controls (U+202A–U+202E, U+2066–U+2069), which reorder what follows
    /// them on screen. An escape sequence in a value can then neither move
    /// the cursor, clear the screen, retitle the window, write the
    /// clipboard (OSC 52), overwrite a line (CR) nor read backwards: it is
    /// seen for what it is. Returns `text` itself when it has none (the
    /// common case copies nothing).
    public static func visible(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isHidden) else { return text }
        var shown = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isHidden(scalar) {
                shown.append(contentsOf: code(scalar).unicodeScalars)
            } else {
                shown.append(scalar)
            }
        }
        return String(shown)
    }

    /// A value someone wrote, on one line: its line breaks (LF, CR LF, U+2028,
    /// U+2029) shown as ` ↵ `, so that a value cannot print a line that
    /// looks like another field or a decision; then `visible`.
    public static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0 == "\n" || $0 == "\u{2028}" || $0 == "\u{2029}" }) else { return visible(text) }
        let joined = text.replacingOccurrences(of: "\r\n", with: "\n").split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\u{2028}" || $0 == "\u{2029}" }
            .joined(separator: " ↵ ")
        return visible(joined)
    }

    /// A character a terminal would act on rather than show.
    public static func isHidden(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x0A, 0x09: false
        case 0x00..<0x20, 0x7F...0x9F, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `<U+001B>`: four hex digits at least, upper case.
    static func code(_ scalar: Unicode.Scalar) -> String {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        return "<U+" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex + ">"
    }
}
