import Foundation
import SyncCore

/// The session's history at a terminal: every line typed, in memory, for Up
/// and Down; and on disk, in `$FIELD_HOME/history` (owner only), the same
/// lines with their values left out.
///
/// The store is encrypted, the history file is not: a line such as
/// `set 0193 child.name Amy Smith` would put a child's name on disk in clear.
/// So the file keeps only the words that name things, never what was typed
/// as a value: command and subcommand names, option names, ids and field
/// paths. `set 0193 child.name Amy Smith` is kept as `set 0193 child.name`;
/// `intake decide 0193 --outcome nfa --note "…"` as
/// `intake decide 0193 --outcome --note`.
struct SessionHistory {
    let file: URL
    /// Lines kept in the file, the newest last.
    static let limit = 500

    init(home: URL) {
        file = home.appendingPathComponent("history")
    }

    /// The lines saved by earlier sessions, oldest first (none if there is no file).
    func load() -> [String] {
        guard let data = FileManager.default.contents(atPath: file.path) else { return [] }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    /// Adds the redacted form of `line` to the file (made 0600 if new), keeping the last `limit` lines.
    func append(_ line: String) {
        guard let saved = Self.redacted(line), !saved.isEmpty else { return }
        var lines = load()
        if lines.last == saved { return }
        lines.append(saved)
        let text = lines.suffix(Self.limit).joined(separator: "\n") + "\n"
        let folder = file.deletingLastPathComponent()
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        if !FileManager.default.fileExists(atPath: file.path) {
            FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600])
        }
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        try? Data(text.utf8).write(to: file)
    }

    /// The words of `line` that name things (commands, options, ids, field
    /// paths), without values; nil for a comment or a line that does not split.
    static func redacted(_ line: String) -> String? {
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        guard !trimmed.hasPrefix("#"), let words = try? ShellWords.split(trimmed) else { return nil }
        return names(in: words).joined(separator: " ")
    }

    /// The words of a line that name things, in order: the command (and
    /// `intake`'s subcommand), the id that follows it if it has an id's
    /// shape, then only option names and field paths. A value can sit in
    /// none of those places, whatever it looks like (a date, a phone number).
    static func names(in words: [String]) -> [String] {
        var rest = words[...]
        var kept: [String] = []
        if rest.first == "field" { kept.append("field"); rest = rest.dropFirst() }
        guard let command = rest.first, Field.Shell.knownCommands.contains(command) || command == "use" else { return kept }
        kept.append(command)
        rest = rest.dropFirst()
        if command == "intake", let sub = rest.first, ["queue", "show", "ack", "decide"].contains(sub) {
            kept.append(sub)
            rest = rest.dropFirst()
        }
        if let id = rest.first, isIDShaped(id) || (command == "use" && id == "none") {
            kept.append(id)
            rest = rest.dropFirst()
        }
        kept += rest.filter { isOptionName($0) || isPath($0) }
        return kept
    }

    /// `--outcome`, `-h`: an option's name, without a value joined by `=`.
    static func isOptionName(_ word: String) -> Bool {
        word.hasPrefix("-") && word.count > 1 && word.allSatisfy { $0.isLetter || $0 == "-" }
    }

    /// An id or a prefix of one: lowercase hex digits, with dashes only where a UUID has them.
    static func isIDShaped(_ word: String) -> Bool {
        guard !word.isEmpty, word.count <= 36 else { return false }
        return word.enumerated().allSatisfy { index, character in
            [8, 13, 18, 23].contains(index) ? character == "-" : character.isHexDigit && !character.isUppercase
        }
    }

    /// A section of the form, or a path into it (`children.1.full_name`).
    static func isPath(_ word: String) -> Bool {
        let parts = word.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, ReferralForm.standard.sections.contains(where: { $0.key == first }) else { return false }
        return parts.allSatisfy { part in !part.isEmpty && part.allSatisfy { $0.isLowercase || $0.isNumber || $0 == "_" || $0 == "-" } }
    }
}
