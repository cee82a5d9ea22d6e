import ArgumentParser
import Foundation
import SyncCore

extension Field {
    struct Fill: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "fill",
            abstract: "Walk through a referral section by section, asking each question.",
            discussion: """
                Each answer is saved as soon as it is given. Enter keeps the current value, `-` \
                clears it, `?` shows help, `.` stops the walk, Ctrl-C drops what was typed and asks again. In a repeating group, answer y to add \
                another item.
                """)

        @Argument(help: "The referral's id or a unique prefix of it.", completion: .custom(Completion.referralIDs)) var id: String
        @Option(help: "Walk only this section (such as concern or children).", completion: .custom(Completion.sections)) var section: String?

        /// Why a walk ended early.
        private enum Stop: Error {
            case byRequest
            case endOfInput
        }

        /// Answers that were not valid. At a terminal the question is asked
        /// again; from a script it is skipped (re-asking would swallow the
        /// script's next lines) and the walk ends as a failure.
        private final class Refusals {
            var count = 0
        }

        func run(in context: Context) async throws {
            let store = try context.store()
            let id = try context.referralID(self.id)
            let referral = try store.referral(id)
            let kind = referral.kind
            // The referral's own form version: a draft keeps its version until upgraded.
            let form = store.form(for: referral)
            var sections = form.sections.filter { $0.applies(to: kind) }
            if let section {
                guard let chosen = form.section(section) else {
                    throw CLIError("Form version \(form.version) has no section '\(section)'; the sections are \(form.sections.map(\.key).joined(separator: ", ")).")
                }
                guard chosen.applies(to: kind) else {
                    throw CLIError("The section '\(section)' does not apply to a \(kind.rawValue) referral.")
                }
                sections = [chosen]
            }
            context.console.line("Enter keeps an answer, - clears it, ? shows help, . stops. Each answer is saved at once.")
            let refusals = Refusals()
            do {
                for section in sections {
                    context.console.line("")
                    context.console.line("== \(section.title) ==")
                    context.console.line(section.summary)
                    if section.isGroup {
                        try walkGroup(section, of: id, kind: kind, context: context, refusals: refusals)
                    } else {
                        for field in section.fields where field.applies(to: kind) {
                            if try Self.isAboutACallNotMade(section.pattern(of: field), values: store.referral(id).values) { continue }
                            try ask(field, path: section.pattern(of: field), label: section.pattern(of: field), of: id, context: context, refusals: refusals)
                        }
                    }
                }
                context.console.line("")
                context.console.line("All sections walked. `field check \(self.id)` shows what is still missing.")
            } catch Stop.byRequest {
                context.console.line("Stopped; every answer given so far is saved.")
            } catch Stop.endOfInput {
                context.console.line("Input ended; every answer given so far is saved.")
            }
            if refusals.count > 0 {
                throw CLIError("\(refusals.count) answer(s) were not valid and were skipped; the rest are saved.")
            }
        }

        private func walkGroup(_ section: FormSection, of id: UUID, kind: ReferralKind, context: Context, refusals: Refusals) throws {
            let store = try context.store()
            let noun = section.itemName!
            var walked = 0
            while true {
                let items = try store.referral(id).items(of: section.key)
                if walked < items.count {
                    let item = items[walked]
                    walked += 1
                    context.console.line("-- \(noun) \(walked) --")
                    for field in section.fields where field.applies(to: kind) {
                        try ask(field, path: "\(section.key).\(item.lowercased).\(field.key)",
                                label: "\(section.key).\(walked).\(field.key)", of: id, context: context, refusals: refusals)
                    }
                    continue
                }
                let article = "aeiou".contains(noun.first!) ? "an" : "a"
                let question = items.isEmpty ? "Add \(article) \(noun)? [y/N]" : "Add another \(noun)? [y/N]"
                context.console.line(question)
                let answer: String
                switch context.console.readAnswer(prompt: "> ") {
                case .line(let typed): answer = typed.trimmingCharacters(in: .whitespaces).lowercased()
                case .cancelled: continue  // Ctrl-C: asked again
                case .end: throw Stop.endOfInput
                }
                if answer == "." { throw Stop.byRequest }
                guard answer == "y" || answer == "yes" else { return }
                if let file = section.fields.first(where: { $0.type.attachmentLimits != nil }) {
                    // An attachment is added with its file, or not at all: no empty item.
                    guard try attachFile(file, in: section, of: id, context: context, refusals: refusals) else { continue }
                    walked += 1
                    let item = try store.referral(id).items(of: section.key)[walked - 1]
                    context.console.line("-- \(noun) \(walked) --")
                    for field in section.fields where field.applies(to: kind) && field.key != file.key {
                        try ask(field, path: "\(section.key).\(item.lowercased).\(field.key)",
                                label: "\(section.key).\(walked).\(field.key)", of: id, context: context, refusals: refusals)
                    }
                    continue
                }
                _ = try store.addItem(to: section.key, of: id)
            }
        }

        /// Asks for a file to attach as a new item; false when none was given
        /// (Enter) or it was refused (the refusal is said, and counted from a script).
        private func attachFile(_ field: FormField, in section: FormSection, of id: UUID, context: Context, refusals: Refusals) throws -> Bool {
            let console = context.console
            while true {
                console.line("\(field.question) (\(section.key).*.\(field.key), \(Self.hint(for: field.type)))")
                let typed: String
                switch console.readAnswer(prompt: "> ") {
                case .line(let line): typed = line.trimmingCharacters(in: .whitespaces)
                case .cancelled: continue
                case .end: throw Stop.endOfInput
                }
                if typed == "." { throw Stop.byRequest }
                if typed.isEmpty { return false }
                do {
                    let attached = try context.store().attach(file: typed, to: id)
                    console.line("  = \(attached.mediaType.name), \(attached.size.byteCount), sha256 \(attached.reference.short)…")
                    return true
                } catch let error as AttachmentError {
                    console.error("Error: \(error)")
                    guard console.isInteractive else {
                        refusals.count += 1
                        return false
                    }
                }
            }
        }

        private func ask(_ field: FormField, path: String, label: String, of id: UUID, context: Context, refusals: Refusals) throws {
            let store = try context.store()
            let console = context.console
            while true {
                let current = try store.referral(id).values[path].map { " [\(field.type.display($0))]" } ?? ""
                console.line("\(field.question) (\(label), \(Self.hint(for: field.type)))\(current)")
                let answer: String
                switch console.readAnswer(prompt: "> ") {
                case .line(let typed): answer = typed
                case .cancelled:
                    // Ctrl-C drops what was typed; the question comes again, and `.` stops the walk.
                    console.line("Nothing was saved for this question; `.` stops the walk.")
                    continue
                case .end: throw Stop.endOfInput
                }
                let trimmed = answer.trimmingCharacters(in: .whitespaces)
                if !console.isInteractive && trimmed.hasPrefix("#") { continue }  // a script's comment, not an answer
                switch trimmed {
                case "":
                    return
                case ".":
                    throw Stop.byRequest
                case "?":
                    console.line(field.help.isEmpty ? "No more help for this question." : field.help)
                    for (index, option) in field.type.options.enumerated() {
                        console.line("  \(index + 1). \(option.key): \(option.label)")
                    }
                    continue
                case "-":
                    try store.unset(path, of: id)
                    return
                default:
                    if field.type.attachmentLimits != nil, let item = path.split(separator: ".").dropFirst().first.flatMap({ UUID(uuidString: String($0)) }) {
                        // An attachment's answer is the file's path: it is checked and stored now.
                        do {
                            let attached = try store.attach(file: trimmed, to: id, item: item)
                            console.line("  = \(attached.mediaType.name), \(attached.size.byteCount), sha256 \(attached.reference.short)…")
                            return
                        } catch let error as AttachmentError {
                            console.error("Error: \(error)")
                            guard console.isInteractive else {
                                refusals.count += 1
                                return
                            }
                            continue
                        }
                    }
                    do {
                        let writes = try store.set(path, of: id, to: trimmed)
                        let referral = try store.referral(id)
                        if !field.type.options.isEmpty, let stored = writes.first?.newValue, stored != trimmed {
                            // An option's number or the start of its key: say which it became.
                            console.line("  = \(stored) (\(field.type.display(stored)))")
                        }
                        context.valueWarnings(writes, in: referral).forEach(console.line)
                        if path == "urgency.immediate_risk", writes.first?.newValue == "yes",
                            try store.referral(id).values["urgency.call_made"] != "yes"
                        {
                            try context.urgencyAdvice(for: id).forEach(console.line)
                        }
                        return
                    } catch let error as FormError {
                        console.error("Error: \(error)")
                        guard console.isInteractive else {
                            refusals.count += 1
                            return
                        }
                    }
                }
            }
        }

        /// Who was phoned, when and the reference ask about a call: with no call
        /// made (`urgency.call_made` not yes), the walk does not ask them.
        static func isAboutACallNotMade(_ path: String, values: [String: String]) -> Bool {
            ["urgency.call_to", "urgency.call_at", "urgency.call_reference"].contains(path) && values["urgency.call_made"] != "yes"
        }

        static func hint(for type: FieldType) -> String {
            switch type {
            case .text: "text"
            case .date: "date, such as 2026-03-14"
            case .dateTime: "time, such as 2026-03-14T09:30, or now"
            case .yesNo: "yes/no"
            case .choice(let options): options.enumerated().map { "\($0.offset + 1) \($0.element.key)" }.joined(separator: ", ")
            case .multiChoice(let options): "any of " + options.map(\.key).joined(separator: ", ")
            case .attachment(let limits): "the path of a \(AttachmentMediaType.accepted) file of at most \(limits.fileBytes.byteCount)"
            }
        }
    }
}
