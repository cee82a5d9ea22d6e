import Foundation
import Synchronization
import SyncCore

/// The form versions this server process knows (`FormCatalog`): the built-in
/// form and every version published to its store (`sync-server form
/// publish`, docs/form.md).
///
/// Publishing writes only to the store, which every instance shares, so an
/// instance reads the store again when it meets a version it does not hold:
/// a pull whose log says a newer one exists, a push that names one or a path
/// no version it holds has, a fetch of one. Reading is cheap (`current` takes
/// a lock and copies a reference), and the store is read only on such a miss.
final class FormRegistry: Sendable {
    private let storage: any SyncStorage
    private let state = Mutex(FormCatalog.builtIn)

    init(storage: any SyncStorage) {
        self.storage = storage
    }

    /// The catalog as last read.
    var current: FormCatalog { state.withLock { $0 } }

    /// The catalog, read again from the store first when it lacks `version`.
    func catalog(holding version: Int) async throws -> FormCatalog {
        let known = current
        guard version > known.latest.version else { return known }
        return try await reload()
    }

    /// The catalog for a push: read again from the store when the push names
    /// a form version, or a path, that the catalog lacks.
    func catalog(for push: PushRequest) async throws -> FormCatalog {
        let known = current
        let stale = push.changes.contains { change in
            if change.path == RecordPath.form { return (change.value.flatMap(Int.init) ?? 0) > known.latest.version }
            if case .failure = known.union.rules(forStoredPath: change.path, value: nil) { return true }
            return false
        }
        return stale ? try await reload() : known
    }

    /// Reads every published version from the store; throws the store's
    /// error, or `FormDocumentError` for a stored document that no longer
    /// reads (which only a hand edit of the table can make).
    @discardableResult
    func reload() async throws -> FormCatalog {
        let published = try await storage.publishedForms()
        let known = current
        guard published.count + 1 > known.versions.count else { return known }
        var forms = [ReferralForm.standard]
        for form in published {
            let read = try FormDocument.decode(Data(form.document.utf8)).referralForm()
            guard read.version == form.version else {
                throw FormDocumentError.invalid("The stored form version \(form.version) says it is version \(read.version).")
            }
            forms.append(read)
        }
        let catalog = FormCatalog(checked: forms)
        return state.withLock { held in
            if catalog.versions.count > held.versions.count { held = catalog }
            return held
        }
    }

    /// `conflicts` with each question as every version words it (the store
    /// knows only the built-in form's), so a question a later version added
    /// is named, not shown as its path.
    func labelled(_ conflicts: [ConflictSummary]) -> [ConflictSummary] {
        let union = current.union
        return conflicts.map { conflict in
            var conflict = conflict
            conflict.question = union.field(atStoredPath: conflict.path)?.1.question ?? conflict.question
            return conflict
        }
    }
}
