import Foundation
import GRDB
import Synchronization

/// The device's form versions, shared by every copy of one `LocalStore` so
/// that a version fetched by a sync is the one the next command uses.
final class FormShelf: Sendable {
    private let catalog: Mutex<FormCatalog>

    init(_ catalog: FormCatalog) { self.catalog = Mutex(catalog) }

    var current: FormCatalog { catalog.withLock { $0 } }

    func replace(with newer: FormCatalog) {
        catalog.withLock { if newer.versions.count > $0.versions.count { $0 = newer } }
    }

    func reset(to catalog: FormCatalog) {
        self.catalog.withLock { $0 = catalog }
    }
}

extension LocalStore {
    /// The catalog of the built-in form and the versions stored in
    /// `form_version`, in order; it stops before a gap or a document that no
    /// longer reads (neither can happen but by a hand edit).
    static func storedForms(_ db: Database) throws -> FormCatalog {
        var forms = [ReferralForm.standard]
        for row in try Row.fetchAll(db, sql: "SELECT version, document FROM form_version ORDER BY version") {
            let version: Int = row["version"]
            let document: String = row["document"]
            guard version == forms.count + 1,
                  let form = try? FormDocument.decode(Data(document.utf8)).referralForm(), form.version == version
            else { break }
            forms.append(form)
        }
        return FormCatalog(checked: forms)
    }

    /// The form versions of the store at `path`, read without unlocking it
    /// (forms are not referral content); the built-in form alone when there
    /// is no store, or it predates form versions.
    public static func formCatalog(at path: String) throws -> FormCatalog {
        guard FileManager.default.fileExists(atPath: path) else { return .builtIn }
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try queue.read { db in
            try db.tableExists("form_version") ? try storedForms(db) : .builtIn
        }
    }

    /// Stores a form version fetched from the server (`GET /v1/forms/{n}`).
    /// Versions are stored in order: `data` must be the version after the
    /// newest this device has.
    /// - Throws: `FormDocumentError` when it does not read as a form, or is
    ///   not that next version.
    public func storeFormVersion(_ data: Data) throws {
        let form = try FormDocument.decode(data).referralForm()
        try writer.write { db in
            let known = try Self.storedForms(db)
            guard form.version == known.latest.version + 1 else {
                if form.version <= known.latest.version { return }  // fetched twice: already here
                throw FormDocumentError.invalid("Form version \(form.version) came before version \(known.latest.version + 1).")
            }
            try db.execute(
                sql: "INSERT INTO form_version (version, document, fetched_at) VALUES (?, ?, ?)",
                arguments: [form.version, String(decoding: form.document.encoded(), as: UTF8.self), Timestamp.string(clock.now())])
        }
        formShelf.replace(with: try writer.read(Self.storedForms))
    }

    /// The SHA-256 (lowercase hex) of each form version's document as the
    /// server serves it (keys sorted), by version: what `GET /v1/forms` lists.
    public func formDigests() -> [Int: String] {
        Dictionary(uniqueKeysWithValues: forms.versions.map { ($0.version, $0.document.digest) })
    }

    /// Replaces this device's versions from `first` on with `documents`
    /// (versions `first`, `first + 1`…, as the server serves them), in one
    /// transaction: for a server restored from a backup whose versions are no
    /// longer this device's. Drafts on a version that goes keep their values;
    /// `show` lists what their version does not ask.
    /// - Throws: `FormDocumentError` when a document does not read or is out
    ///   of order; nothing is changed then.
    public func replaceFormVersions(from first: Int, with documents: [Data]) throws {
        precondition(first >= 2)
        let forms = try documents.map { data throws(FormDocumentError) in try FormDocument.decode(data).referralForm() }
        for (offset, form) in forms.enumerated() where form.version != first + offset {
            throw FormDocumentError.invalid("Form version \(form.version) came where version \(first + offset) was expected.")
        }
        try writer.write { db in
            try db.execute(sql: "DELETE FROM form_version WHERE version >= ?", arguments: [first])
            for form in forms {
                try db.execute(
                    sql: "INSERT INTO form_version (version, document, fetched_at) VALUES (?, ?, ?)",
                    arguments: [form.version, String(decoding: form.document.encoded(), as: UTF8.self), Timestamp.string(clock.now())])
            }
        }
        formShelf.reset(to: try writer.read(Self.storedForms))
    }

    /// The form a referral is written on: its own version (`@form`), or, on
    /// a device that has not fetched that version yet, every version's fields
    /// together, so that nothing it holds goes unshown.
    public func form(for referral: Referral) -> ReferralForm {
        forms.form(of: referral) ?? forms.union
    }
}
