import ArgumentParser
import Crypto
import Foundation
import SyncCore

/// `sync-server receipt verify FILE`.
struct ReceiptCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "receipt", abstract: "Check receipts devices were given.", subcommands: [VerifyReceipt.self])
}

struct VerifyReceipt: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a receipt exported with `field receipt export`.",
        discussion: """
            With --key (the server's public keys, as GET /v1/keys or `field receipt keys` gives them), the check needs \
            nothing else: no server, no database. Without it, the server's own store is read: its keys, whether it still \
            holds every change the receipt names, and whether its audit trail still holds the entry the receipt names. \
            Exits 0 when the receipt holds, 1 with one sentence saying what does not.
            """)
    @Argument(help: ArgumentHelp("The receipt file.", valueName: "file")) var file: String
    @Option(help: ArgumentHelp("The server's public keys: a JWK set or one JWK.", valueName: "file")) var key: String?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let signed = try ReceiptCheck.read(file)
        let check: ReceiptCheck
        if let key {
            guard let data = FileManager.default.contents(atPath: key) else { throw OperatorError("Cannot read the key file '\(key)'.") }
            do { check = ReceiptCheck(keys: try ReceiptPublicKey.keys(from: data), storage: nil) } catch ReceiptError.malformed(let why) {
                // About the key file, not the receipt.
                throw OperatorError("The key file '\(key)' cannot check receipts: \(why).")
            }
        } else {
            let store = try await storage.open()
            check = ReceiptCheck(keys: try await store.receiptKeys(), storage: store)
        }
        do {
            print(ReceiptCheck.describe(try await check.check(signed), checkedStore: check.storage != nil))
        } catch let error as ReceiptError {
            print(error.description)
            throw ExitCode(1)
        }
    }
}
