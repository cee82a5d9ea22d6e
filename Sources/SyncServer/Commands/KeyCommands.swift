import ArgumentParser
import Crypto
import Foundation
import SyncCore

/// `--receipt-key`: the server's receipt signing key file, shared by
/// `serve` and `key rotate`.
struct ReceiptKeyOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The receipt signing key (Ed25519, a private JWK, 0600), created at the first start: by default beside the SQLite database (DB.receipt-key), or sync-server.receipt-key with PostgreSQL. Instances sharing a database should share it.",
        valueName: "file"))
    var receiptKey: String?

    func path(_ storage: StorageOptions) -> String { receiptKey ?? ReceiptKeyFile.defaultPath(for: storage) }
}

/// `sync-server key rotate|list`: the receipt signing keys.
struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key", abstract: "Rotate and list the receipt signing keys.", subcommands: [RotateReceiptKey.self, ListReceiptKeys.self])
}

struct RotateReceiptKey: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rotate",
        abstract: "Make a new receipt signing key; the old one is retired, and stays to check what it signed.",
        discussion: """
            The key file is replaced whole (a new file renamed over it, 0600); a running server signs its next receipt with the new key. \
            The old private key is gone; its public half stays in the store and at GET /v1/keys. \
            Instances sharing a PostgreSQL database need the new file copied to each.
            """)
    @OptionGroup var reason: ReasonOption
    @OptionGroup var key: ReceiptKeyOptions
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        let path = key.path(storage)
        let at = Timestamp.string(Date())
        let old = FileManager.default.fileExists(atPath: path) ? try? ReceiptKeyFile.read(path) : nil
        let new = ReceiptSigningKey(Curve25519.Signing.PrivateKey(), created: at)
        // Recorded first: a receipt signed with the new key is never unknown to the store.
        try await store.addReceiptKey(new.publicKey, retiringOthers: true, at: at, audit: AuditEvent(
            at: at, actor: OperatorActor.current, action: "rotate-receipt-key", record: nil,
            detail: OperatorActor.detail("kid=\(new.id) retired=\(old?.id ?? "-")", reason: reason.reason)))
        if old == nil, !FileManager.default.fileExists(atPath: path) {
            try ReceiptKeyFile.create(new, at: path)
        } else {
            try ReceiptKeyFile.replace(path, with: new)
        }
        print("New receipt key \(new.id) in '\(path)' (0600)" + (old.map { "; \($0.id) is retired and still checks what it signed." } ?? "."))
    }
}

struct ListReceiptKeys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the receipt keys: id, made, retired.")
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let keys = try await storage.open().receiptKeys()
        if keys.isEmpty { print("No receipt keys yet: `serve` makes one at its first start.") }
        for key in keys {
            print("\(key.kid)  made \(key.created ?? "?")" + (key.retired.map { "  retired \($0)" } ?? "  current"))
        }
    }
}
