import ArgumentParser
import Foundation
import SyncCore

extension ReferralKind: ExpressibleByArgument {}

extension Field {
    struct New: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "new",
            abstract: "Start a draft referral and print its id.",
            discussion: "Your details as referrer (`field profile`) are filled in from the start.")

        @Option(help: "The kind of referral.")
        var kind: ReferralKind = .socialCare

        @OptionGroup var output: JSONOption

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try store.createReferral(kind: kind)
            let profile = try ReferrerProfile.load(from: context.home).ordered
            for (path, value) in profile { try store.set(path, of: id, to: value) }
            if !profile.isEmpty, !output.json {
                // On standard error: `id=$(field new)` keeps working.
                context.console.error("Filled from your profile (`field profile`): " + profile.map(\.path).joined(separator: ", ") + ".")
            }
            if output.json {
                try context.console.json(["id": id.lowercased])
            } else {
                context.console.line(id.lowercased)
            }
        }
    }

    struct SetValue: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "set",
            abstract: "Set a field of a referral.",
            discussion: """
                The value is the rest of the line. In a session (`field` on its own, or a script) it is \
                kept exactly as typed, quotes, backslashes and # included; on your shell's command line, \
                the shell's quoting applies. Dates are 2026-03-14 or \
                14/03/2026 (or `today`, `yesterday`), times 2026-03-14T09:30 (or `now`), yes/no fields take \
                yes or no, choice fields an option or its number, multi-choice fields options \
                separated by commas. `field fields` lists every path.
                """)

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The field's path, such as referrer.name or children.1.full_name.", completion: .custom(Completion.fieldPaths)) var path: String
        @Argument(parsing: .captureForPassthrough, help: "The value.") var value: [String] = []

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            guard !value.isEmpty else {
                throw CLIError("No value given for '\(path)'; to clear a field use `field unset \(self.id) \(path)`.")
            }
            let writes = try store.set(path, of: id, to: value.joined(separator: " "))
            let referral = try store.referral(id)
            for write in writes {
                let shown = Format.value(write.newValue, at: write.path, form: store.forms.union)
                context.console.line(write.changed ? "\(Format.path(write.path, in: referral)) = \(shown)" : "\(Format.path(write.path, in: referral)) already is \(shown)")
            }
            context.valueWarnings(writes, in: referral).forEach(context.console.line)
            if referral.status == .submitted, writes.contains(where: \.changed) {
                context.console.line("Note: referral \(self.id) is already submitted; this change goes to the front door as an update on the next sync.")
            }
            if writes.contains(where: { $0.path == "urgency.immediate_risk" && $0.newValue == "yes" && $0.changed }),
                referral.values["urgency.call_made"] != "yes"
            {
                try context.urgencyAdvice(for: id).forEach(context.console.line)
            }
            if writes.contains(where: { $0.path.hasPrefix("urgency.call_") && $0.changed }), let deadline = try context.callDeadline(in: referral) {
                context.console.line(deadline)
            }
        }
    }

    struct Unset: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "unset",
            abstract: "Clear a field of a referral (its earlier values stay in the history).")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The field's path.", completion: .custom(Completion.fieldPaths)) var path: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let write = try store.unset(path, of: id)
            let shown = Format.path(write.path, in: try store.referral(id))
            context.console.line(write.changed ? "\(shown) cleared" : "\(shown) was already empty")
        }
    }

    struct Add: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add an item to a repeating group and print its id.",
            discussion: "Groups: children, parental_responsibility, household_members, agencies.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The group: children, parental_responsibility, household_members or agencies.", completion: .custom(Completion.groups)) var group: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let item = try store.addItem(to: group, of: id)
            let referral = try store.referral(id)
            let position = (referral.items(of: group).firstIndex(of: item) ?? 0) + 1
            context.console.line("\(item.lowercased)")
            if context.console.isInteractive {
                context.console.line("Added \(group).\(position); set its fields with `set \(self.id) \(group).\(position).<field>`.")
            }
        }
    }

    struct Remove: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Remove an item from a repeating group (its values stay in the history).")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Argument(help: "The item: <group>.<item id, id prefix or position>, such as children.2.") var item: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let write = try store.removeItem(item, of: id)
            context.console.line("Removed \(item) (\(write.path)).")
        }
    }

    struct Submit: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Mark a referral ready to send to the front door.",
            discussion: """
                Refused only by the guidance's hard rules: a professional referral without the \
                referrer's identity, consent refused or not sought without a recorded reason, or a \
                professional asking for anonymity. Missing information is a warning, never a refusal.
                """)

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let before = try store.referral(id)
            guard before.status != .submitted else {
                context.console.line("Referral \(self.id) is already submitted.")
                return
            }
            let report: GuidanceReport
            do {
                report = try store.submit(id)
            } catch StoreError.submissionBlocked(_, let findings) {
                throw CLIError("Referral \(self.id) cannot be submitted until: " + findings.map(\.message).joined(separator: " "))
            }
            context.console.line("Submitted referral \(id.lowercased). It goes to the front door on the next sync.")
            let referral = try store.referral(id)
            if !report.warnings.isEmpty {
                context.console.line("\(report.warnings.count) thing(s) missing; missing information never delays a referral, but add what you can with `field set \(self.id) PATH VALUE`:")
                report.warnings.forEach { context.console.line("  - \(Format.path($0.path, in: referral)): \($0.message)") }
            }
            if referral.values["urgency.immediate_risk"] == "yes" {
                if let deadline = try context.callDeadline(in: referral) {
                    context.console.line(deadline)
                } else {
                    try context.urgencyAdvice(for: id).forEach(context.console.line)
                }
            }
        }
    }

    struct Discard: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "discard",
            abstract: "Abandon a draft. It is kept, with its history, but can no longer change.",
            discussion: "At a terminal it asks first; a script (standard input not a terminal) or --yes does not.")

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Flag(name: .shortAndLong, help: "Discard without asking.") var yes = false

        func run(in context: Context) async throws {
            let id = try context.referralID(self.id)
            let store = try context.store()
            if context.console.isInteractive, !yes {
                let child = try store.summaries().first { $0.id == id }?.label.map { " (\($0))" } ?? ""
                context.console.prompt("Discard referral \(id.lowercased)\(child)? It can then no longer change. Type yes to discard: ")
                guard let answer = context.console.readLine()?.trimmingCharacters(in: .whitespaces).lowercased(), ["y", "yes"].contains(answer) else {
                    context.console.line("Nothing was discarded.")
                    return
                }
            }
            try store.discard(id)
            context.console.line("Discarded referral \(id.lowercased).")
        }
    }

    struct Upgrade: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "upgrade",
            abstract: "Move a draft to the newest form version this device has (fetched by `field sync`).",
            discussion: """
                A draft keeps the form version it was started on until you upgrade it. Answers to questions the newer \
                version retires stay on the referral, in its history and in what the front door exports; they are no \
                longer asked by `fill` or listed by `show` among the sections. A submitted referral stays on its version.
                """)

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String

        func run(in context: Context) async throws {
            let id = try context.referralID(self.id)
            let store = try context.store()
            let moved = try store.upgrade(id)
            guard moved.to > moved.from else {
                context.console.line("Referral \(id.lowercased) is already on form version \(moved.to), the newest this device has; `field sync` fetches newer ones.")
                return
            }
            context.console.line("Referral \(id.lowercased) moved from form version \(moved.from) to \(moved.to); it syncs like any change.")
            let referral = try store.referral(id)
            let held = Set(referral.visibleValues.keys.compactMap(store.forms.union.pattern(ofStoredPath:)))
            let kept = moved.retired.filter(held.contains)
            if !kept.isEmpty {
                context.console.line("Kept, though version \(moved.to) no longer asks them: \(kept.joined(separator: ", ")) (in `field history` and the export).")
            }
            if !moved.added.isEmpty {
                context.console.line("New question(s): \(moved.added.joined(separator: ", ")); `field fill \(id.lowercased.prefix(13))` asks them.")
            }
        }
    }
}
