import ArgumentParser
import Foundation
import SyncCore

extension Field {
    struct Passphrase: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "passphrase",
            abstract: "Change the passphrase that unlocks this device's store.",
            discussion: """
                Asks for the current passphrase (or reads FIELD_PASSPHRASE), then the new one twice \
                (or reads FIELD_NEW_PASSPHRASE). The store's data key is rewrapped under the new \
                passphrase in one transaction: no referral is rewritten, so nothing can be lost, and \
                the old passphrase stops working at once.
                """)

        func run(in context: Context) async throws {
            let store = try context.store()
            guard let current = context.passphrase else { throw CLIError("The store is not unlocked; nothing was changed.") }
            let new = try context.newPassphrase(
                prompt: "New passphrase (at least 8 characters): ", environmentKey: "FIELD_NEW_PASSPHRASE")
            try store.changePassphrase(from: current, to: new, keyDerivation: context.keyDerivation)
            context.passphrase = new
            context.console.line("Passphrase changed; use the new one from now on.")
        }
    }
}
