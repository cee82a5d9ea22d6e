import ArgumentParser
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SyncCore

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "user", abstract: "Manage users.", subcommands: [AddUser.self, ListUsers.self, RotateToken.self, DisableUser.self, EnableUser.self, SetRole.self, SetPassword.self, SetTOTP.self])
}

extension Role: ExpressibleByArgument {}

struct AddUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Add a user and print their bearer token, once.",
        discussion: "Only a hash of the token is stored: copy it now, it cannot be shown again.")

    @Argument(help: "The user's name, as it appears on every change they make.") var name: String
    @Option(help: "practitioner, intake or admin.") var role: Role
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= 100 else {
            throw ValidationError("A user name must have 1 to 100 characters; got '\(TerminalText.visible(name))'.")
        }
        // A name is shown on every change and in every table: nothing in it may drive a terminal.
        guard !trimmed.unicodeScalars.contains(where: { TerminalText.isHidden($0) || $0 == "\n" || $0 == "\t" }) else {
            throw ValidationError("A user name may not hold control characters; got '\(TerminalText.visible(name))'.")
        }
        let token = Tokens.make()
        do {
            _ = try await storage.open(creatingIfMissing: true).addUser(
                name: trimmed, role: role, tokenHash: Tokens.hash(token), by: OperatorActor.current, at: Timestamp.string(Date()))
        } catch let error as StorageError {
            throw OperatorError(error.description)
        }
        print(token)
    }
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

/// `sync-server user rotate-token NAME`: a new token, and the end of
/// everything the old one opened.
struct RotateToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate-token",
        abstract: "Give a user a new token and make the old one stop working at once; prints the new token once.",
        discussion: """
            Everything the old token opened ends with it: the user's web console sessions, and the tokens their \
            devices were given when they logged in. Each device then logs in again with the new token \
            (`field login --server URL --token NEW`); nothing it has not sent is lost.
            """)
    @Argument(help: "The user's name.") var name: String
    @OptionGroup var reason: ReasonOption
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let token = Tokens.make()
        guard try await storage.open().replaceToken(
            of: name, tokenHash: Tokens.hash(token), by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date())) else {
            throw OperatorError("There is no user named '\(name)'.")
        }
        print(token)
        FileHandle.standardError.write(Data("The old token of \(name) no longer works; their console sessions have ended and each of their devices must log in again with this token.\n".utf8))
    }
}

/// `sync-server user disable NAME`: access that has lost its reason (a
/// leaver, a suspension) ends everywhere at once.
struct DisableUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disable",
        abstract: "Stop a user signing in anywhere: their console sessions end at once and their devices are refused.",
        discussion: """
            Every request with the user's token or their devices' tokens gets 403 with the reason, and nothing is \
            taken from them; what their devices have not sent stays on the devices, unsent, until the user is \
            enabled again (`sync-server user enable NAME`). To erase a device that left the user's hands, revoke \
            it as well (`sync-server device revoke`).
            """)
    @Argument(help: "The user's name.") var name: String
    @OptionGroup var reason: ReasonOption
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        switch try await storage.open().setDisabled(true, user: name, by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date())) {
        case .noSuchUser: throw OperatorError("There is no user named '\(name)'.")
        case .unchanged: print("\(name) was already disabled; nothing changed.")
        case .changed: print("\(name) is disabled: their console sessions have ended and their devices are refused.")
        }
    }
}

/// `sync-server user enable NAME`: undoes `disable`.
struct EnableUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable",
        abstract: "Let a disabled user sign in again, with the token and password they had.",
        discussion: "Their devices' next sync sends what waited on them.")
    @Argument(help: "The user's name.") var name: String
    @OptionGroup var reason: ReasonOption
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        switch try await storage.open().setDisabled(false, user: name, by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date())) {
        case .noSuchUser: throw OperatorError("There is no user named '\(name)'.")
        case .unchanged: print("\(name) was not disabled; nothing changed.")
        case .changed: print("\(name) is enabled again.")
        }
    }
}

/// `sync-server user set-role NAME ROLE`.
struct SetRole: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-role",
        abstract: "Give a user another role (practitioner, intake or admin); their console sessions end.",
        discussion: """
            The new role holds from the user's next request. A practitioner made intake or admin can no longer \
            push from their devices: let them sync first, or their unsent drafts wait on the device.
            """)
    @Argument(help: "The user's name.") var name: String
    @Argument(help: "practitioner, intake or admin.") var role: Role
    @OptionGroup var reason: ReasonOption
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        switch try await storage.open().setRole(of: name, to: role, by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date())) {
        case .noSuchUser: throw OperatorError("There is no user named '\(name)'.")
        case .unchanged: print("\(name) already is \(role.rawValue); nothing changed.")
        case .changed(let previous): print("\(name) is now \(role.rawValue) (was \(previous ?? "?")); their console sessions have ended.")
        }
    }
}
