import Foundation
import SyncCore

/// What every command runs against: the device's home folder, its store
/// (opened once, on first use), the authority's configuration, the clock and
/// the console. One context serves a one-shot command or a whole session.
final class Context: @unchecked Sendable {
    let home: URL
    let author: String
    let clock: any WallClock
    let ids: (any IDGenerator)?
    let console: Console
    private var openedStore: LocalStore?
    /// The passphrase that opened the store, for `field passphrase`; in memory only.
    var passphrase: String?
    /// How a new store derives its key (cheaper under FIELD_TEST_FAST_KDF).
    let keyDerivation: KeyDerivation
    private var loadedAuthority: Authority?
    /// The referral `use <id>` chose in a session: commands that take an id
    /// use it when none is given. Nil outside a session and until `use`.
    var currentReferral: UUID?
    /// Whether commands run inside a session (`field` with no subcommand).
    var isSession = false

    init(
        home: URL, author: String, clock: any WallClock, ids: (any IDGenerator)?, console: Console,
        keyDerivation: KeyDerivation = .standard
    ) {
        self.home = home
        self.keyDerivation = keyDerivation
        self.author = author
        self.clock = clock
        self.ids = ids
        self.console = console
    }

    /// Reads the environment:
    /// - `FIELD_HOME`: the device's data folder (default `~/.field`);
    /// - `FIELD_USER`: who this device writes as on first use (default `$USER`);
    /// - `FIELD_PASSPHRASE`: the store's passphrase, for scripts (otherwise
    ///   it is asked for at the terminal, once per process);
    /// - `FIELD_TEST_NOW` and `FIELD_TEST_SEED`: testing hooks that fix the
    ///   clock (it then moves one second per reading) and seed the ids;
    /// - `FIELD_TEST_FAST_KDF=1`: a testing hook that makes new stores derive
    ///   their key with a 1 MiB scrypt instead of 128 MiB. Never for real data.
    static func fromEnvironment(console: Console = Console()) throws -> Context {
        let environment = ProcessInfo.processInfo.environment
        let home = environment["FIELD_HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".field")
        let author = environment["FIELD_USER"] ?? environment["USER"] ?? "practitioner"
        var clock: any WallClock = SystemClock()
        if let fixed = environment["FIELD_TEST_NOW"] {
            guard let start = Timestamp.date(fixed) else {
                throw CLIError("FIELD_TEST_NOW '\(fixed)' is not a time such as 2026-11-23T09:00:00Z.")
            }
            clock = SteppingClock(start: start)
        }
        let ids = environment["FIELD_TEST_SEED"].flatMap(UInt64.init).map { UUIDv7Generator(clock: clock, seed: $0) }
        let keyDerivation: KeyDerivation = environment["FIELD_TEST_FAST_KDF"] == "1" ? .testing : .standard
        return Context(home: home, author: author, clock: clock, ids: ids, console: console, keyDerivation: keyDerivation)
    }

    /// The form versions this device has, read without the passphrase (a
    /// form is not referral content): the built-in form when there is no
    /// store yet.
    func formCatalog() throws -> FormCatalog {
        if let openedStore { return openedStore.forms }
        return try LocalStore.formCatalog(at: home.appendingPathComponent("field.sqlite").path)
    }

    /// The store, opened (and the home folder made) on first use.
    func store() throws -> LocalStore {
        if let openedStore { return openedStore }
        do {
            // Referral content and the server token live here: owner only.
            try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw CLIError("Cannot create the field home folder '\(home.path)'; set FIELD_HOME to a folder you can write.")
        }
        let file = home.appendingPathComponent("field.sqlite").path
        let passphrase = try self.passphrase ?? askPassphrase(for: file)
        let store = try LocalStore(
            path: file, author: author, passphrase: passphrase, keyDerivation: keyDerivation, clock: clock, ids: ids)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)
        openedStore = store
        self.passphrase = passphrase
        return store
    }

    /// Drops the open store, so that the next command opens it again (with
    /// the passphrase already given): after a revocation erased it, the store
    /// has a new device id that only a fresh open reads.
    func reopenStore() {
        openedStore = nil
    }

    /// Whether the store is open (its passphrase given) in this process.
    var isUnlocked: Bool { openedStore != nil }

    /// `FIELD_PASSPHRASE`, or the passphrase typed at the terminal (twice for
    /// a new store, which takes it as its own).
    private func askPassphrase(for file: String) throws -> String {
        if let given = ProcessInfo.processInfo.environment["FIELD_PASSPHRASE"] { return given }
        guard console.isInteractive else {
            throw CLIError("The device's store is encrypted and no passphrase was given; set FIELD_PASSPHRASE, or run `field` at a terminal, where a session asks for it once.")
        }
        // A store without a keyring (new, or written before encryption) takes
        // the passphrase it is first given: a person types that one twice.
        if !LocalStore.hasKeyring(at: file) {
            return try newPassphrase(prompt: "Choose a passphrase for this device's store (at least 8 characters): ")
        }
        guard let typed = console.secret("Passphrase for \(home.path): ") else {
            throw CLIError("No passphrase was typed; the store stays locked.")
        }
        return typed
    }

    /// A new passphrase: `FIELD_NEW_PASSPHRASE`, or typed twice at the terminal.
    func newPassphrase(prompt: String, environmentKey: String? = nil) throws -> String {
        if let environmentKey, let given = ProcessInfo.processInfo.environment[environmentKey] { return given }
        guard let first = console.secret(prompt) else {
            throw CLIError("No new passphrase was given; set \(environmentKey ?? "FIELD_PASSPHRASE") or run `field` at a terminal.")
        }
        guard let second = console.secret("Type it again: "), second == first else {
            throw CLIError("The two passphrases typed differ; nothing was changed.")
        }
        return first
    }

    /// `$FIELD_HOME/authority.json` if present (and valid, else a warning), or the shipped example.
    func authority() throws -> Authority {
        if let loadedAuthority { return loadedAuthority }
        let file = home.appendingPathComponent("authority.json")
        var authority = Authority.example
        authorityIsExample = true
        if FileManager.default.fileExists(atPath: file.path) {
            do {
                authority = try Authority.load(contentsOf: file)
                authorityIsExample = false
            } catch {
                // Whom to phone must never be hidden by a broken file.
                console.error("Warning: \(error) Using the shipped example's numbers until it is fixed.")
            }
        }
        loadedAuthority = authority
        return authority
    }

    /// Whether the contacts in use are the shipped example's (no
    /// `authority.json`, or one that does not load), not the user's authority's.
    private(set) var authorityIsExample = true

    var authorityFile: URL { home.appendingPathComponent("authority.json") }

    /// When the shipped example's numbers are in use: lines saying so, and how
    /// to configure the authority; empty once `authority.json` is in place.
    func exampleAuthorityNotice(indent: String = "") throws -> [String] {
        _ = try authority()
        guard authorityIsExample else { return [] }
        return [
            "\(indent)These numbers are the shipped example's (\(Authority.example.name)), not necessarily your authority's.",
            "\(indent)Configure yours: `field contacts --init` writes the example to $FIELD_HOME/authority.json; edit its numbers and hours.",
        ]
    }
}

/// An error of the CLI itself, with its one-sentence message.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}
