import ArgumentParser
import Foundation
import SyncCore

struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "device", abstract: "List and revoke devices.", subcommands: [ListDevices.self, RevokeDevice.self])
}

struct RevokeDevice: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "revoke",
        abstract: "Revoke a lost or stolen device (or a leaver's): every call from it is refused, and it erases its referral data when it next reaches the server.",
        discussion: """
            The device signed in with a token of its own, issued when it registered and bound to its id; that token \
            stops working at once. The user's token was never stored on the device: rotate it as well \
            (`sync-server user rotate-token NAME`) only if the user may have written it down where a thief could find it.
            """)
    @Argument(help: "The device's id, or a start of it that no other device's id has (shown by `field login` and `sync-server device list`).")
    var id: String
    @OptionGroup var reason: ReasonOption
    @Flag(help: "For a laptop still in its owner's hands (a leaver): the server takes the changes of its submitted referrals at its next contact, then it erases; drafts are erased.")
    var sendSubmittedFirst = false
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        let device = try await DevicePrefix.resolve(id, in: store)
        let mode: RevokeMode = sendSubmittedFirst ? .sendSubmitted : .erase
        switch try await store.revoke(device: device, by: OperatorActor.current, reason: reason.reason, at: Timestamp.string(Date()), mode: mode) {
        case .noSuchDevice:
            throw OperatorError("There is no device with id '\(device)'.")
        case .alreadyRevoked(let at, let by):
            print("Device \(device) was already revoked at \(at) by \(by); nothing changed.")
        case .revoked:
            print("Device \(device) is revoked" + (sendSubmittedFirst
                ? "; at its next contact it sends its submitted referrals, then erases its referral data."
                : "; it erases its referral data at its next contact, and `device list` will show any unsent work it erased."))
        }
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
