import Foundation
import SyncCore
import TestSupport

/// A real store in a fresh temporary folder, with a fixed clock and seeded ids.
struct TestStore {
    let store: LocalStore
    let folder: URL
    let clock: SteppingClock

    init(author: String = "alice", start: String = "2026-11-23T09:00:00Z", seed: UInt64 = 1) throws {
        folder = try TemporaryFolder.make("synccore")
        clock = SteppingClock(start: Timestamp.date(start)!)
        store = try LocalStore(
            path: folder.appendingPathComponent("field.sqlite").path, author: author, passphrase: Self.passphrase,
            keyDerivation: .testing, clock: clock,
            ids: UUIDv7Generator(clock: clock, seed: seed))
    }

    static let passphrase = "correct horse battery staple"

    var path: String { folder.appendingPathComponent("field.sqlite").path }

    /// Opens the same file again, as a new process would.
    func reopen() throws -> LocalStore {
        try LocalStore(
            path: path, author: "someone-else", passphrase: Self.passphrase, keyDerivation: .testing, clock: clock,
            ids: UUIDv7Generator(clock: clock, seed: 99))
    }
}
