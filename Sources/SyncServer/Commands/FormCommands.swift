import ArgumentParser
import Foundation
import SyncCore

/// `sync-server form`: an authority's own form, as versions (docs/form.md).
struct FormCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "form", abstract: "Publish and list versions of the referral form.",
        subcommands: [PublishForm.self, ListForms.self, ShowForm.self])
}

/// `sync-server form publish FILE`: checks a form file and stores it as the next version.
struct PublishForm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "publish",
        abstract: "Check a form file and publish it as the next version; devices fetch it on their next sync.",
        discussion: """
            The file is JSON as described by docs/form.schema.json; start from the current version with \
            `sync-server form show > form.json`. It is refused, with the reason, when a path appears twice, a type or \
            merge policy is unknown, a choice has no options, a group has no item name, a path the guidance's rules \
            read is missing, or a path changes its type or policy or reuses a retired one. A path left out of the \
            file is retired from this version on: drafts already on an older version keep it until upgraded \
            (`field upgrade`), and its values stay in the history and the export. Publishing is an audit entry.
            """)
    @Argument(help: "The form file (JSON).") var file: String
    @OptionGroup var reason: ReasonOption
    @Flag(help: "Check the file against the published versions and say what it would change, without publishing.") var dryRun = false
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw OperatorError("The form file '\(file)' cannot be read (is the path right?).")
        }
        let store = try await storage.open()
        let catalog = try await FormRegistry(storage: store).reload()
        let form: ReferralForm
        do {
            form = try catalog.nextVersion(from: FormDocument.decode(data))
        } catch {
            throw OperatorError("'\(file)' was not published: \(error)")
        }
        let change = catalog.difference(from: catalog.latest, to: form)
        let summary = "adds \(Self.list(change.added)), retires \(Self.list(change.retired))"
        if dryRun {
            print("'\(file)' would be published as form version \(form.version): it \(summary). Nothing was published.")
            return
        }
        let document = form.document
        do {
            try await store.publishForm(PublishedForm(
                version: form.version, document: String(decoding: document.encoded(), as: UTF8.self), digest: document.digest,
                publishedAt: Timestamp.string(Date()), publishedBy: OperatorActor.current), reason: reason.reason)
        } catch let error as StorageError {
            throw OperatorError(error.description)
        }
        print("Published form version \(form.version) (sha256 \(document.digest.prefix(12))): it \(summary). Devices fetch it on their next sync.")
    }

    static func list(_ paths: [String]) -> String {
        paths.isEmpty ? "no paths" : paths.count <= 6 ? paths.joined(separator: ", ") : paths.prefix(5).joined(separator: ", ") + " and \(paths.count - 5) more"
    }
}

/// `sync-server form list`: every version, newest last.
struct ListForms: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the form's versions: number, questions, retired paths, when and by whom published.")
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        let catalog = try await FormRegistry(storage: store).reload()
        let published = Dictionary(uniqueKeysWithValues: try await store.publishedForms().map { ($0.version, $0) })
        var rows = [["VERSION", "QUESTIONS", "RETIRES", "PUBLISHED", "BY", "SHA256"]]
        for form in catalog.versions {
            let retired = catalog.retiredIn.filter { $0.value == form.version }.count
            let entry = published[form.version]
            rows.append([
                String(form.version), String(form.patterns.count), String(retired), entry?.publishedAt ?? "built in", entry?.publishedBy ?? "-",
                String((entry?.digest ?? form.document.digest).prefix(12)),
            ])
        }
        print(Table.render(rows))
    }
}

/// `sync-server form show [VERSION]`: a version's form file, to edit and publish as the next.
struct ShowForm: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print a version's form file (the newest by default), to edit and publish as the next version.")
    @Argument(help: "The version; the newest when left out.") var version: Int?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let catalog = try await FormRegistry(storage: try await storage.open()).reload()
        guard let form = version.map({ catalog.form(version: $0) }) ?? catalog.latest else {
            throw OperatorError("Form version \(version!) is not published; the newest is \(catalog.latest.version).")
        }
        var document = form.document
        if version == nil { document.version = nil }  // to publish as the next, once edited
        print(String(decoding: document.encoded(sorted: false), as: UTF8.self))
    }
}
