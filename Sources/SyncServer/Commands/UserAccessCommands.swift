import ArgumentParser
import Foundation
import SyncCore

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
