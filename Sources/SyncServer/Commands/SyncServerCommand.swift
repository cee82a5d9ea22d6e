import ArgumentParser
import Foundation
import SyncCore

@main
struct SyncServerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sync-server",
        abstract: "The central server devices sync referrals with.",
        subcommands: [Serve.self, UserCommand.self, DeviceCommand.self, AuditCommand.self, ReceiptCommand.self, KeyCommand.self, Backup.self, Restore.self, MigrateStore.self, Export.self, FormCommand.self])

    /// Whatever the server writes (the database and its companions, backups)
    /// holds referral content or leads to it: nothing it creates is readable
    /// by other users.
    static func main() async {
        umask(0o077)
        await main(nil)
    }
}
