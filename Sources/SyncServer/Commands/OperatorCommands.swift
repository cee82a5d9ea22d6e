import ArgumentParser
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SyncCore

/// A command that could not do what it was asked, for a reason the operator
/// can act on: argument-parser prints `Error: ` and the sentence, without
/// the usage text a `ValidationError` brings, and the command exits 1.
struct OperatorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `sync-server user list`: who may sign in, never their tokens or hashes.
struct ListUsers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List users: name, role, when they were added and whether disabled (never their tokens).")
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let users = try await storage.open().users()
        guard !users.isEmpty else {
            print("There are no users yet; add one with `sync-server user add NAME --role practitioner`.")
            return
        }
        print(Table.render([["NAME", "ROLE", "CREATED", "STATE"]] + users.map { user in
            let state = user.disabledAt.map { "disabled \($0) by \(user.disabledBy ?? "?")" } ?? "active"
            return [user.name, user.role, user.createdAt, state]
        }))
    }
}

/// `sync-server device list`: each device, its user, and whether it still syncs.
struct ListDevices: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List devices: id, user, when registered, when last synced, and whether revoked or wiped.",
        discussion: "STATE is active, revoked (the device will erase its referral data when it next reaches the server) or wiped (it has).")
    @Option(help: "Only this user's devices.") var user: String?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        if let user, try await !store.users().contains(where: { $0.name == user }) {
            throw OperatorError("There is no user named '\(user)'.")
        }
        let devices = try await store.devices(user: user)
        guard !devices.isEmpty else {
            print(user.map { "\($0) has no devices registered." } ?? "No device has registered yet.")
            return
        }
        print(Table.render([["DEVICE", "USER", "REGISTERED", "LAST SYNC", "STATE"]] + devices.map {
            [$0.id, $0.user, $0.registeredAt, $0.lastSyncAt ?? "never", Self.state($0)]
        }))
    }

    /// active; revoked AT by WHO; wiped AT (revoked AT by WHO), then, when
    /// it erased unsent work, `ALERT: …` (`WipeReport.alert`).
    static func state(_ device: DeviceSummary) -> String {
        guard let revokedAt = device.revokedAt else { return "active" }
        let revoked = "revoked \(revokedAt) by \(device.revokedBy ?? "?")" + (device.revokeMode == .sendSubmitted ? ", submitted work first" : "")
        guard let wipedAt = device.wipedAt else { return revoked }
        let alert = device.erasedUnsent?.alert.map { "; ALERT: \($0)" } ?? ""
        let sent = (device.erasedUnsent?.sentFirst ?? 0) > 0 ? "; \(device.erasedUnsent!.sentFirst) submitted referral(s) sent first" : ""
        return "wiped \(wipedAt) (\(revoked))\(sent)\(alert)"
    }
}

/// A device named by its id or a unique start of it, as `field` takes referral ids.
enum DevicePrefix {
    /// The one device whose id is or starts with `text`; one sentence otherwise.
    static func resolve(_ text: String, in storage: any SyncStorage) async throws -> String {
        let prefix = text.lowercased()
        guard !prefix.isEmpty, prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
            throw OperatorError("'\(text.prefix(80))' is not a device id or the start of one (hex digits and hyphens, as `sync-server device list` shows).")
        }
        let matches = try await storage.deviceIDs(startingWith: prefix)
        if matches.contains(prefix) { return prefix }
        switch matches.count {
        case 0: throw OperatorError("There is no device whose id starts with '\(text)'; `sync-server device list` shows them.")
        case 1: return matches[0]
        default: throw OperatorError("'\(text)' is the start of \(matches.count < 10 ? "\(matches.count)" : "10 or more") device ids (\(matches.prefix(3).joined(separator: ", "))\(matches.count > 3 ? ", …" : "")); give more of the id.")
        }
    }
}

/// `sync-server audit show`: the audit trail, filtered.
struct ShowAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show audit entries, oldest first: the latest --limit of those every given filter selects.",
        discussion: "Entries hold ids, counts and receipt references, never referral content. `audit verify` checks that none was altered.")
    @Option(help: "Only entries by this actor: a user's name, or for an operator command the operating-system user who ran it.") var actor: String?
    @Option(help: "Only entries of this action: login, push, pull, resolve, revoke, wiped, denied, add-user, new-epoch, …") var action: String?
    @Option(help: "Only entries about this referral: its id or the start of one.") var record: String?
    @Option(help: "Only entries at or after this time, UTC: 2026-11-23 or 2026-11-23T10:00:00Z.") var since: String?
    @Option(help: "At most this many entries, the latest.") var limit = 100
    @OptionGroup var storage: StorageOptions

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1; got \(limit).") }
    }

    func run() async throws {
        var filter = AuditFilter(actor: actor, action: action, limit: limit)
        if let record {
            let prefix = record.lowercased()
            guard !prefix.isEmpty, prefix.allSatisfy({ $0.isHexDigit || $0 == "-" }) else {
                throw OperatorError("'\(record.prefix(80))' is not a referral id or the start of one (hex digits and hyphens).")
            }
            filter.record = prefix
        }
        if let since {
            guard let start = Self.time(since) else {
                throw OperatorError("'\(since.prefix(80))' is not a date or time: give 2026-11-23 or 2026-11-23T10:00:00Z.")
            }
            filter.since = Timestamp.string(start)
        }
        let entries = try await storage.open().auditEntries(filter)
        guard !entries.isEmpty else {
            print("No audit entries match.")
            return
        }
        print(Table.render([["#", "AT", "ACTOR", "ACTION", "RECORD", "DETAIL"]] + entries.map {
            [String($0.id), $0.event.at, $0.event.actor, $0.event.action, $0.event.record ?? "-", $0.event.detail]
        }))
    }

    /// `2026-11-23` (midnight UTC) or a timestamp `Timestamp.date` reads (UTC unless it says otherwise).
    static func time(_ text: String) -> Date? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return Timestamp.date(trimmed.count == 10 ? trimmed + "T00:00" : trimmed)
    }
}

/// Left-aligned columns two spaces apart; the last column is not padded.
/// Every cell is put on one line with its control characters shown
/// (`TerminalText.oneLine`): a device's report or a user's name must not
/// drive the operator's terminal.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(TerminalText.oneLine) }
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}

/// `sync-server user set-password NAME`: the user's web console password,
/// read from standard input (never an argument, which `ps` and shell
/// history would show), stored as a bcrypt hash.
struct SetPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-password",
        abstract: "Set a user's web console password, read from standard input; ends their console sessions.",
        discussion: "At a terminal the password is asked for without echo, twice; otherwise the first line of standard input is the password (`printf '%s\\n' \"$PASSWORD\" | sync-server user set-password ian`). 12 to 72 bytes. Only a bcrypt hash is kept. The web console is for intake and admin users.")
    @Argument(help: "The user's name.") var name: String
    @OptionGroup var storage: StorageOptions

    /// Shortest and longest password, in bytes (bcrypt reads 72 at most).
    static let lengths = 12...72

    func run() async throws {
        let password: String
        if isatty(STDIN_FILENO) == 1 {
            guard let first = Self.ask("New console password for \(name): "), let second = Self.ask("The same again: ") else {
                throw OperatorError("No password was given, so nothing changed.")
            }
            guard first == second else { throw OperatorError("The two passwords differ, so nothing changed.") }
            password = first
        } else {
            guard let line = readLine(strippingNewline: true) else {
                throw OperatorError("Standard input was empty: give the password on its first line, so nothing changed.")
            }
            password = line
        }
        let bytes = password.utf8.count
        guard Self.lengths.contains(bytes) else {
            throw OperatorError("A console password must have \(Self.lengths.lowerBound) to \(Self.lengths.upperBound) bytes; this one has \(bytes), so nothing changed.")
        }
        let store = try await storage.open()
        let hash = try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: ConsoleSessions.bcryptCost) }
        guard try await store.setPassword(of: name, hash: hash) else { throw OperatorError("There is no user named '\(name)'.") }
        try await store.audit(AuditEvent(at: Timestamp.string(Date()), actor: OperatorActor.current, action: "set-password", record: nil, detail: "user=\(name)"))
        let role = try await store.consoleCredential(name: name)?.user.role
        print("The console password of \(name) is set; their earlier console sessions have ended.")
        if role == .practitioner {
            print("Note: \(name) is a practitioner, and the console refuses practitioners; they use field on their own device.")
        }
    }

    /// Reads a line from the terminal without echoing it (`getpass`-like, via termios).
    static func ask(_ prompt: String) -> String? {
        FileHandle.standardError.write(Data(prompt.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var quiet = saved
        quiet.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        defer {
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true)
    }
}

/// `sync-server user totp NAME`: a new second factor for the web console.
struct SetTOTP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "totp",
        abstract: "Give a user a new authenticator-app secret (TOTP, RFC 6238) for the web console, and print its otpauth:// URI once.",
        discussion: "Open the URI as a QR code in the user's authenticator app (`qrencode -t ansiutf8 URI`); from then on signing in needs its 6-digit code. The URI is shown once: run the command again to replace a lost one (the old secret stops working), or --remove to take the second factor away. `serve --require-totp ROLE` makes it compulsory for a role.")
    @Argument(help: "The user's name.") var name: String
    @Flag(help: "Remove the user's second factor instead (refused at sign-in if their role requires one).") var remove = false
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        let (secret, uri) = ConsoleSessions.newSecondFactor(for: name)
        guard try await store.setTOTPSecret(of: name, secret: remove ? nil : secret) else {
            throw OperatorError("There is no user named '\(name)'.")
        }
        try await store.audit(AuditEvent(
            at: Timestamp.string(Date()), actor: OperatorActor.current, action: remove ? "remove-totp" : "set-totp", record: nil, detail: "user=\(name)"))
        if remove {
            print("\(name) no longer has a second factor; their console sessions have ended.")
        } else {
            print(uri)
        }
    }
}

/// `sync-server export`: submitted referrals for a case-management system,
/// on standard output, a page at a time (docs/export.md).
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write submitted referrals changed after a cursor as FHIR R4, CSV or JSON on standard output; the next cursor on standard error.",
        discussion: "Start with --since 0 and pass the printed cursor next time: a referral changed again (a new decision, a late edit) comes again. The same as GET /v1/export for intake and admin users. Every export is an audit entry.")
    @Option(help: "The cursor an earlier export printed; 0 for everything.") var since: Int64 = 0
    @Option(help: "fhir, csv or json.") var format = "json"
    @Option(help: "At most this many referrals (1 to 1,000).") var limit = 100
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let (since, format, limit): (Int64, ExportFormat, Int)
        do {
            (since, format, limit) = try ExportRoutes.parameters(since: String(self.since), format: self.format, limit: String(self.limit))
        } catch let error as APIError {
            throw OperatorError(error.message)
        }
        let store = try await storage.open()
        var page = try await store.exportPage(since: since, limit: limit)
        if format == .fhir { try await page.addAttachments(from: store) }
        // The same Patient for the same child across referrals, as GET /v1/export gives it.
        let patients = format == .fhir ? try await ExportPatients.read(for: page, in: store) : ExportPatients()
        let body = try format.render(
            page, form: try await FormRegistry(storage: store).reload().union, next: "/v1/export?format=\(format.rawValue)&since=\(page.cursor)&limit=\(limit)",
            patients: patients)
        try await store.audit(ExportRoutes.auditEvent(page, format: format, since: since, actor: OperatorActor.current, at: Timestamp.string(Date())))
        FileHandle.standardOutput.write(body)
        FileHandle.standardError.write(Data("Exported \(page.referrals.count) referral(s); next cursor \(page.cursor)\(page.more ? " (more waiting)" : "").\n".utf8))
    }
}
