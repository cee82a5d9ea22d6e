import ArgumentParser
import Foundation
import SyncCore

extension Field {
    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Show a referral, section by section.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Flag(help: "List unanswered questions too.") var all = false
        @OptionGroup var output: JSONOption

        struct Document: Encodable {
            let id: String
            let kind: String
            let status: String
            let fields: [String: FieldJSON]
            let items: [String: [String]]
        }

        func run(in context: Context) async throws {
            let store = try context.store()
            let referral = try store.referral(try context.referralID(id))
            if output.json {
                try context.console.json(Self.document(referral, form: store.forms.union))
            } else {
                try Self.render(referral, all: all, context: context).forEach(context.console.line)
            }
        }

        static func document(_ referral: Referral, form: ReferralForm) -> Document {
            var fields: [String: FieldJSON] = [:]
            for (path, value) in referral.visibleValues where !path.hasPrefix("@") {
                guard let (_, field) = form.field(atStoredPath: path) else { continue }
                fields[path] = FieldJSON(value, type: field.type)
            }
            let items = Dictionary(uniqueKeysWithValues: form.groups.map { group in
                (group.key, referral.items(of: group.key).map(\.lowercased))
            })
            return Document(
                id: referral.id.lowercased, kind: referral.kind.rawValue, status: referral.status.rawValue,
                fields: fields, items: items)
        }

        /// The referral section by section. `notes` adds lines under a field, by
        /// its stored path (intake's changes and conflicts); a field with notes is
        /// listed even when unanswered.
        /// - Parameter forReferrer: false for intake (`field intake show`): the referrer's own reminders (phone first, the LADO's deadline) are left out.
        static func render(_ referral: Referral, all: Bool, context: Context, notes: [String: [String]] = [:], forReferrer: Bool = true) throws -> [String] {
            let store = try context.store()
            let form = store.form(for: referral)
            let values = referral.visibleValues
            var lines = [
                "Referral \(referral.id.lowercased): \(referral.kind.title)",
                "Status \(referral.status.rawValue), created \(Timestamp.string(referral.createdAt)) by \(referral.createdBy), "
                    + "updated \(Timestamp.string(referral.updatedAt)), \(referral.pendingPaths.count) change(s) waiting to sync",
            ]
            if forReferrer, referral.kind == .lado, referral.status == .draft {
                let due = WorkingCalendar(authority: try context.authority()).ladoDue(knownAt: referral.createdAt)
                lines.append("An allegation against an adult who works with children must reach the LADO within one working day: by \(Format.localTime(due, try context.authority())).")
            }
            if forReferrer, values["urgency.immediate_risk"] == "yes" {
                lines.append(try context.callDeadline(in: referral) ?? "Immediate risk: phone first (see `field contacts`) and record the call.")
            }
            if store.forms.versions.count > 1 {
                let newer = referral.status == .draft && store.form.version > form.version
                lines.append("Written on form version \(form.version)" + (newer ? "; version \(store.form.version) is newer: `field upgrade \(referral.id.lowercased.prefix(13))` moves it." : "."))
            }
            for section in form.sections where section.applies(to: referral.kind) {
                lines.append("")
                lines.append(section.title)
                func answer(_ field: FormField, path: String, display: String, indent: String) {
                    if let value = values[path], field.type.attachmentLimits != nil, let reference = AttachmentReference(stored: value) {
                        lines.append("\(indent)\(display): \(AttachmentLine.describe(reference, store: store))")
                    } else if let value = values[path] {
                        lines.append("\(indent)\(display): \(TerminalText.oneLine(field.type.display(value)))")
                    } else if all || notes[path] != nil {
                        lines.append("\(indent)\(display): (not answered) \(field.question)")
                    }
                    lines += (notes[path] ?? []).map { indent + "  " + $0 }
                }
                if section.isGroup {
                    let items = referral.items(of: section.key)
                    if items.isEmpty { lines.append("  (none)") }
                    for (index, item) in items.enumerated() {
                        lines.append("  \(section.key).\(index + 1)  \(section.itemName!) \(index + 1), id \(item.lowercased)")
                        for field in section.fields where field.applies(to: referral.kind) {
                            answer(field, path: "\(section.key).\(item.lowercased).\(field.key)",
                                   display: "\(section.key).\(index + 1).\(field.key)", indent: "    ")
                        }
                    }
                } else {
                    let before = lines.count
                    for field in section.fields where field.applies(to: referral.kind) {
                        answer(field, path: section.pattern(of: field), display: section.pattern(of: field), indent: "  ")
                    }
                    if lines.count == before { lines.append("  (nothing answered yet)") }
                }
            }
            // Answers to questions the referral's version does not ask (retired
            // by it, or kept from an older version after an upgrade): never hidden.
            let own = Set(form.patterns.map(\.pattern))
            let kept = values.keys.sorted().compactMap { path -> (String, FormField)? in
                guard let (section, field) = store.forms.union.field(atStoredPath: path), !own.contains(section.pattern(of: field)) else { return nil }
                return (path, field)
            }
            if !kept.isEmpty {
                lines += ["", "Answers to questions form version \(form.version) does not ask (kept, and exported)"]
                lines += kept.map { "  \(Format.path($0.0, in: referral)): \(TerminalText.oneLine($0.1.type.display(values[$0.0]!)))" }
            }
            // Answers to questions no form version on this device knows (a version
            // it could not fetch): shown by path, never dropped.
            let unplaced = values.keys.sorted().filter { path in
                !path.hasPrefix("@") && store.forms.union.field(atStoredPath: path) == nil
                    && !(path.split(separator: ".").count == 2 && values[path] == ItemMarker.present)
            }
            if !unplaced.isEmpty {
                lines += ["", "Answers to questions this device's form versions do not know (written on form version \(referral.formVersion)), by path"]
                lines += unplaced.map { "  \($0): \(TerminalText.oneLine(values[$0]!))" }
            }
            return lines
        }
    }
}

/// A field value in JSON: text for most types, an array for multi-choice.
enum FieldJSON: Encodable, Equatable {
    case text(String)
    case list([String])

    init(_ stored: String, type: FieldType) {
        if case .multiChoice = type {
            self = .list(stored.split(separator: ",").map(String.init))
        } else {
            self = .text(stored)
        }
    }

    func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let text): try container.encode(text)
        case .list(let list): try container.encode(list)
        }
    }
}

extension Field {
    struct List: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the referrals on this device, most recently changed first.")

        @OptionGroup var output: JSONOption

        struct Row: Encodable {
            let id: String
            let kind: String
            let status: String
            let updated_at: String
            /// Changes waiting to sync.
            let pending: Int
            /// The first child's name, or null.
            @NullEncoded var child: String?
            /// The referral's own reference (`F-XXXX-XXXX`) once the server gave it one, or null.
            @NullEncoded var reference: String?

            enum CodingKeys: String, CodingKey { case id, kind, status, updated_at, pending, child, reference }
        }

        func run(in context: Context) async throws {
            let summaries = try context.store().summaries()
            if output.json {
                try context.console.json(summaries.map {
                    Row(id: $0.id.lowercased, kind: $0.kind.rawValue, status: $0.status.rawValue, updated_at: Timestamp.string($0.updatedAt),
                        pending: $0.pendingChanges, child: $0.label, reference: $0.reference)
                })
                return
            }
            guard !summaries.isEmpty else {
                context.console.line("No referrals yet; start one with `field new`.")
                return
            }
            let ids = summaries.map(\.id)
            var rows = [["ID", "REFERENCE", "KIND", "STATUS", "UPDATED", "PENDING", "CHILD"]]
            rows += summaries.map {
                [Format.shortID($0.id, among: ids), $0.reference ?? "-", $0.kind.rawValue, $0.status.rawValue, Timestamp.string($0.updatedAt),
                 String($0.pendingChanges), $0.label.map { String(TerminalText.oneLine($0).prefix(40)) } ?? "-"]
            }
            Format.table(rows).forEach(context.console.line)
        }
    }

    struct Check: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "check",
            abstract: "Check a referral against the guidance.",
            discussion: "Errors block submission; warnings (missing information) never do. Exits non-zero when there are errors.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let store = try context.store()
            let referral = try store.referral(try context.referralID(id))
            let report = Guidance.check(referral, form: store.form(for: referral), today: context.today)
            if output.json {
                try context.console.json(report)
            } else {
                let missing = report.warnings.isEmpty ? "nothing missing" : "\(report.warnings.count) thing(s) missing"
                if report.errors.isEmpty {
                    context.console.line("Can be submitted, \(missing)" + (report.warnings.isEmpty ? "." : " (missing information never blocks submission):"))
                } else {
                    context.console.line("Cannot be submitted yet: \(report.errors.count) rule(s) of the guidance broken:")
                    report.errors.forEach { context.console.line("  ✗ \(Format.path($0.path, in: referral)): \($0.message)") }
                    if !report.warnings.isEmpty { context.console.line("Also \(missing), which never block submission:") }
                }
                report.warnings.forEach { context.console.line("  ! \(Format.path($0.path, in: referral)): \($0.message)") }
            }
            if !report.errors.isEmpty { throw ExitCode(2) }
        }
    }

    struct Fields: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "fields",
            abstract: "List every question of the form: its path, type and choices.",
            discussion: "The newest form version this device has, or the one --version names (`field show` says which a draft is on). --json prints them as data, for scripts.")

        @Option(help: "Only the fields of this referral kind.") var kind: ReferralKind?
        @Option(help: "This form version instead of the newest this device has.") var version: Int?
        @Flag(help: "Print the form as the Markdown document docs/form-fields.md.") var markdown = false
        @Flag(help: "Print the form as a form file (docs/form.schema.json), to edit and publish with `sync-server form publish`.") var document = false
        @OptionGroup var output: JSONOption

        struct Row: Encodable {
            let path: String
            let type: String
            let question: String
            let policy: String
            let options: [String]?
        }

        func run(in context: Context) async throws {
            let catalog = try context.formCatalog()
            guard let form = version.map({ catalog.form(version: $0) }) ?? catalog.latest else {
                throw CLIError("This device has no form version \(version!); it has versions 1 to \(catalog.latest.version), and `field sync` fetches newer ones.")
            }
            if document, kind != nil {
                throw CLIError("--document prints the whole form, for every kind; leave out --kind.")
            }
            let patterns = form.patterns.filter { kind == nil || ($0.section.applies(to: kind!) && $0.field.applies(to: kind!)) }
            if markdown {
                context.console.line(Self.markdown(form))
                return
            }
            if document {
                // Without its number, ready to edit and publish as the next version.
                var file = form.document
                file.version = nil
                context.console.line(String(decoding: file.encoded(sorted: false), as: UTF8.self))
                return
            }
            if output.json {
                try context.console.json(patterns.map {
                    Row(path: $0.pattern, type: $0.field.type.name, question: $0.field.question, policy: $0.field.policy.rawValue,
                        options: $0.field.type.options.isEmpty ? nil : $0.field.type.options.map(\.key))
                })
                return
            }
            var section = ""
            for (pattern, formSection, field) in patterns {
                if formSection.key != section {
                    section = formSection.key
                    context.console.line((section == patterns.first?.section.key ? "" : "\n") + formSection.title + (formSection.isGroup ? " (repeating: add with `field add <id> \(formSection.key)`)" : ""))
                }
                let options = field.type.options.isEmpty ? "" : " [" + field.type.options.map(\.key).joined(separator: "|") + "]"
                context.console.line("  \(pattern)  (\(field.type.name))\(options)")
                context.console.line("      \(field.question)")
            }
        }
    }
}

extension Field.Fields {
    /// The form as a document, generated so that it cannot drift from the code.
    static func markdown(_ form: ReferralForm) -> String {
        let origin = form.version == 1
            ? ["The built-in form, version 1 (`Sources/SyncCore/Form/Resources/referral-form.json`), as",
               "`field fields --markdown` prints it; a test keeps this file equal to that output. An authority",
               "publishes its own versions on top of it (`docs/form.md`). Sections and questions follow"]
            : ["Form version \(form.version), as the server published it and `field fields --markdown` prints it",
               "(`docs/form.md`). Sections and questions start from the built-in form, which follows"]
        var lines = [
            "# The referral form",
            "",
        ] + origin + [
            "`shared/domain/REFERRALS.md`. Missing answers are warnings, never a reason to refuse",
            "a referral; the hard rules are listed in `docs/field-cli.md`.",
            "",
            "Types: text; date (`2026-03-14`, `14/03/2026`, `today` or `yesterday`); date-time (`2026-03-14T09:30`",
            "or `now`, stored in UTC); yes/no; choice (a key or its number); multi-choice (keys separated",
            "by commas). Merge policies decide what the server does with concurrent writes of a field:",
            "manual (a conflict for an admin), lww (latest stamp wins), append (both kept), set (union).",
            "Fields marked * are asked for by the guidance: `check` warns when they are empty.",
        ]
        for section in form.sections {
            lines += ["", "## \(section.title) (`\(section.key)`)", "", section.summary]
            if section.isGroup {
                lines += ["", "Repeating group: each \(section.itemName!) is an item with its own id, added with `field add <id> \(section.key)`."]
            }
            if !section.kinds.isEmpty {
                lines += ["", "Applies to: " + section.kinds.map(\.rawValue).sorted().joined(separator: ", ") + " referrals."]
            }
            lines += ["", "| path | type | policy | question |", "| --- | --- | --- | --- |"]
            for field in section.fields {
                let options = field.type.options.isEmpty ? "" : ": " + field.type.options.map { "`\($0.key)`" }.joined(separator: ", ")
                let question = field.question + (field.help.isEmpty ? "" : " " + field.help)
                lines.append("| `\(section.pattern(of: field))`\(field.recommended ? " *" : "") | \(field.type.name)\(options) | \(field.policy.rawValue) | \(question.replacingOccurrences(of: "|", with: "\\|")) |")
            }
        }
        return lines.joined(separator: "\n")
    }
}

extension Field {
    struct History: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "history",
            abstract: "Show every local edit of a referral, or of one field or item: who, when, old and new value.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "Only this field, group item or section (such as consent or children.1).") var path: String?
        @OptionGroup var output: JSONOption

        struct Row: Encodable {
            let at: String
            let author: String
            let device: String
            let path: String
            @NullEncoded var old: String?
            @NullEncoded var new: String?

            enum CodingKeys: String, CodingKey { case at, author, device, path, old, new }
        }

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let entries = try store.history(of: id, path: path)
            if output.json {
                try context.console.json(entries.map {
                    Row(at: Timestamp.string($0.at), author: $0.author, device: $0.device, path: $0.path, old: $0.oldValue, new: $0.newValue)
                })
                return
            }
            let rows = entries.map { entry in
                // Item ids, not positions: a position changes when an item is removed.
                [Timestamp.string(entry.at), entry.author, entry.path,
                 Format.value(entry.oldValue, at: entry.path, form: store.forms.union) + " -> " + Format.value(entry.newValue, at: entry.path, form: store.forms.union)]
            }
            Format.table(rows).forEach(context.console.line)
        }
    }

    struct Contacts: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "contacts",
            abstract: "Show whom to phone about a child at immediate risk, and whether the front door is open now.",
            discussion: """
                Numbers and hours come from FIELD_HOME/authority.json when present, otherwise from the shipped example \
                (config/authority.example.json), which is one county council's and probably not yours. --init writes that \
                example to FIELD_HOME/authority.json for you to edit.
                """)

        @Flag(help: "Write the shipped example to FIELD_HOME/authority.json, to edit with your authority's numbers and hours (never overwrites).")
        var `init` = false

        func run(in context: Context) async throws {
            if `init` {
                let file = context.authorityFile
                guard !FileManager.default.fileExists(atPath: file.path) else {
                    throw CLIError("'\(file.path)' already exists; edit it, or move it away first.")
                }
                do {
                    try FileManager.default.createDirectory(at: context.home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
                    try Data((Authority.exampleJSON + "\n").utf8).write(to: file, options: .withoutOverwriting)
                } catch {
                    throw CLIError("Cannot write '\(file.path)'; check that FIELD_HOME is a folder you can write.")
                }
                context.console.line("Wrote the shipped example to \(file.path). Replace its name, numbers, office hours and bank holidays with your authority's; `field contacts` then shows them.")
                return
            }
            let authority = try context.authority()
            let now = context.clock.now()
            let source = context.authorityIsExample ? "the shipped example" : context.authorityFile.path
            context.console.line("\(authority.name) (from \(source))")
            context.console.line("  Immediate danger: \(authority.emergency.name), \(authority.emergency.phone)")
            context.console.line("  Office hours: \(authority.frontDoor.name), \(authority.frontDoor.phone)")
            context.console.line("  Out of hours, weekends and bank holidays: \(authority.outOfHours.name), \(authority.outOfHours.phone)")
            if let lado = authority.lado { context.console.line("  Allegations against staff: \(lado.name), \(lado.phone)") }
            let open = authority.isOfficeOpen(at: now)
            context.console.line("Now (\(Format.localTime(now, authority))) the front door is \(open ? "open" : "closed"): phone \(authority.dutyContact(at: now).phone).")
            try context.exampleAuthorityNotice().forEach(context.console.line)
        }
    }
}
