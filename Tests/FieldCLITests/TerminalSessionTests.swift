import Foundation
import SyncCore
import Testing
import TestSupport

/// The session at a real (pseudo-)terminal and `use`, through the real `field` binary.
@Suite("The session at a terminal")
struct TerminalSessionTests {
    static let up = "\u{1B}[A", left = "\u{1B}[D", controlC = "\u{03}", f5 = "\u{1B}[15~"

    @Test("line editing, history on Up, Ctrl-C cancels the line, `use` leaves ids out; the history file keeps no values")
    func editingAndHistory() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let short = String(id.prefix(8))
        let terminal = try TerminalSession(FieldHome.executable.path, environment: field.environment(now: "2026-11-23T10:00:00Z"))

        terminal.waitFor("field> ")
        terminal.type("use \(id.prefix(6))\r")
        #expect(terminal.waitFor("field \(short)> ").contains("Using referral \(id)"))
        // A typo mended with Left, after a letter of two bytes: "Smth" becomes "Smith".
        terminal.type("set referrer.name Zoë Smth" + Self.left + Self.left + "i\r")
        #expect(terminal.waitFor("field \(short)> ").contains("referrer.name = Zoë Smith"))
        // A key with no use (F5) leaves nothing in the line.
        terminal.type("set referrer.role Te" + Self.f5 + "acher\r")
        terminal.waitFor("field \(short)> ")
        // Up recalls the line (in memory, whole); Enter runs it again.
        terminal.type(Self.up + Self.up + "\r")
        #expect(terminal.waitFor("field \(short)> ").contains("referrer.name already is Zoë Smith"))
        // Ctrl-C drops the line and the session goes on.
        terminal.type("set referrer.agency Riverside" + Self.controlC)
        #expect(terminal.waitFor("field \(short)> ").contains("^C"))
        terminal.type("check\r")
        terminal.waitFor("field \(short)> ")
        terminal.type("exit\r")
        #expect(terminal.finish() == 0, "\(terminal.transcript)")

        let referral = try field.openStore().referral(UUID(uuidString: id)!)
        #expect(referral.values["referrer.name"] == "Zoë Smith")
        #expect(referral.values["referrer.role"] == "Teacher")
        #expect(referral.values["referrer.agency"] == nil, "Ctrl-C ran the line: \(terminal.transcript)")

        let file = field.folder.appendingPathComponent("history")
        let saved = try String(contentsOf: file, encoding: .utf8)
        #expect(saved == "use \(id.prefix(6))\nset referrer.name\nset referrer.role\nset referrer.name\ncheck\n", "\(saved)")
        #expect(!saved.contains("Zoë") && !saved.contains("Teacher"))
        let mode = try FileManager.default.attributesOfItem(atPath: file.path)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // The next session recalls the saved (value-free) lines.
        let again = try TerminalSession(FieldHome.executable.path, environment: field.environment(now: "2026-11-23T11:00:00Z"))
        again.waitFor("field> ")
        again.type(Self.up + Self.up + "\r")
        #expect(again.waitFor("field> ").contains("Error:"), "`check` without an id and no `use`: \(again.transcript)")
        again.type("\u{04}")
        #expect(again.finish() == 1)
    }

    @Test("Ctrl-C at a fill question drops what was typed and asks the question again; the session goes on (issue 26, item 8)")
    func controlCAtFillQuestion() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let id = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let terminal = try TerminalSession(FieldHome.executable.path, environment: field.environment(now: "2026-11-23T10:00:00Z"))
        terminal.waitFor("field> ")
        terminal.type("fill \(id.prefix(13)) --section referrer\r")
        terminal.waitFor("(referrer.type, ")
        terminal.waitFor("> ")
        // Enter keeps the first question (the referrer's type) as it is; Ctrl-C at the name.
        terminal.type("\r")
        terminal.waitFor("(referrer.name, text)")
        terminal.waitFor("> ")
        terminal.type("Half a na" + Self.controlC)
        let again = terminal.waitFor("(referrer.name, text)")
        #expect(again.contains("Nothing was saved for this question"), "\(terminal.transcript)")
        terminal.waitFor("> ")
        terminal.type("Jane Smith\r")
        terminal.waitFor("(referrer.role, text)")
        terminal.waitFor("> ")
        terminal.type(".\r")
        terminal.waitFor("field> ")
        terminal.type("exit\r")
        #expect(terminal.finish() == 0, "\(terminal.transcript)")
        #expect(try field.openStore().referral(UUID(uuidString: id)!).values["referrer.name"] == "Jane Smith")
    }

    @Test("without a terminal, control characters are refused with one line naming them; plain lines still run")
    func controlCharactersRefused() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let result = try field.run([], input: "\u{1B}[Alist\nlist\n")
        #expect(result.status == 1)
        #expect(result.output.hasPrefix(
            "Error: The line has the control character <U+001B> (an arrow or other special key's escape sequence), which no command takes; type the line again without it.\n"),
            "\(result.output)")
        #expect(result.output.contains("No referrals"), "\(result.output)")
    }

    @Test("`use` in a scripted session: ids left out, an id typed out still wins, `use none` forgets; one-shot `use` is refused")
    func useInScript() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let first = try field.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try field.run(["new"], now: "2026-11-23T09:05:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let script = """
            use \(first)
            set referrer.name Amy O'Neil "the nurse"
            add children
            set children.1.full_name Kai Brown
            set \(second.prefix(13)) referrer.name Sam Jones
            status
            use
            use none
            show
            """
        let result = try field.run([], input: script + "\n")
        #expect(result.status == 1, "`show` without an id after `use none` fails: \(result.output)")
        #expect(result.output.contains("Using referral \(first); commands may leave its id out."))
        #expect(result.output.contains("referrer.name = Amy O'Neil \"the nurse\""), "\(result.output)")
        #expect(result.output.contains("No referral in use; commands need an id again."))
        let store = try field.openStore()
        #expect(try store.referral(UUID(uuidString: first)!).values["referrer.name"] == "Amy O'Neil \"the nurse\"")
        #expect(try store.referral(UUID(uuidString: second)!).values["referrer.name"] == "Sam Jones")
        #expect(try store.referral(UUID(uuidString: first)!).items(of: "children").count == 1)

        let oneShot = try field.run(["use", first])
        #expect(oneShot.status == 1)
        #expect(oneShot.output == "Error: `use` chooses a referral for the rest of a session; start one with `field`, or give the id to each command.\n", "\(oneShot.output)")
    }
}

extension TerminalSessionTests {
    @Test("discard asks at a terminal, and only there: a script and --yes do not")
    func discardConfirmation() throws {
        let field = try FieldHome(clock: .fixed("2026-11-23T09:00:00Z"))
        defer { field.remove() }
        let first = try field.run(["new"], now: "2026-11-23T09:01:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let second = try field.run(["new"], now: "2026-11-23T09:02:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        let third = try field.run(["new"], now: "2026-11-23T09:03:00Z").output.trimmingCharacters(in: .whitespacesAndNewlines)
        // At a terminal (a pseudo-terminal from util-linux `script`): "no" keeps the draft.
        func atTerminal(_ arguments: String, answer: String) throws -> String {
            let command = FieldHome.executable.path + " " + arguments
            let (_, output) = try ChildProcess.run(
                "/usr/bin/script", ["-qec", command, "/dev/null"], environment: field.environment(now: "2026-11-23T09:30:00Z"),
                input: answer + "\n", error: .pipe)
            return output
        }
        let declined = try atTerminal("discard \(first)", answer: "no")
        #expect(declined.contains("Discard referral \(first)? It can then no longer change. Type yes to discard:"), "\(declined)")
        #expect(declined.contains("Nothing was discarded."), "\(declined)")
        let accepted = try atTerminal("discard \(first)", answer: "yes")
        #expect(accepted.contains("Discarded referral \(first)."), "\(accepted)")
        let forced = try atTerminal("discard --yes \(second)", answer: "")
        #expect(!forced.contains("Type yes") && forced.contains("Discarded referral \(second)."), "\(forced)")
        // Standard input not a terminal: no question.
        let scripted = try field.run(["discard", third])
        #expect(scripted.status == 0 && scripted.output == "Discarded referral \(third).\n", "\(scripted.output)")
        let store = try field.openStore()
        for id in [first, second, third] {
            #expect(try store.referral(try store.referralID(matching: id)).status == .discarded)
        }
    }
}
