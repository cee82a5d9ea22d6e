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

/// Checks a signed receipt (docs/security.md, "What a receipt proves"):
/// its signature against `keys`, and, given the store it came from, that
/// the store still holds every change it names and its audit chain still
/// holds the head it names.
struct ReceiptCheck {
    let keys: [ReceiptPublicKey]
    let storage: (any SyncStorage)?

    /// What a check found, for the report.
    struct Finding {
        var document: ReceiptDocument
        var key: ReceiptPublicKey
    }

    /// - Throws: `ReceiptError`, the first thing that does not hold.
    func check(_ signed: SignedReceipt) async throws -> Finding {
        let (document, key) = try signed.verify(with: keys)
        guard let storage else { return Finding(document: document, key: key) }
        for referral in document.referrals {
            let held = try await storage.loggedChangeDigests(device: document.device, record: referral.id, seqs: referral.changes.map(\.seq))
            for change in referral.changes where held[change.seq]?.contains(change.sha256) != true {
                throw ReceiptError.changeMissing(receipt: document.receipt, seq: change.seq, record: referral.id)
            }
        }
        if let head = document.audit {
            let answer = try await storage.checkAuditHead(head)
            if let failure = answer.failure {
                throw ReceiptError.chainMissing(receipt: document.receipt, serverTime: document.serverTime, position: head.position, detail: failure)
            }
        }
        return Finding(document: document, key: key)
    }

    /// Reads a receipt file as `field receipt export` writes it.
    /// - Throws: `OperatorError` naming the file.
    static func read(_ path: String) throws -> SignedReceipt {
        guard let data = FileManager.default.contents(atPath: path) else { throw OperatorError("Cannot read the receipt '\(path)'.") }
        guard let signed = try? JSONDecoder().decode(SignedReceipt.self, from: data) else {
            throw OperatorError("'\(path)' is not a signed receipt (a JSON object with protected, payload and signature, as `field receipt export` writes).")
        }
        return signed
    }

    /// One line about a receipt that holds.
    static func describe(_ finding: Finding, checkedStore: Bool) -> String {
        let document = finding.document
        let referrals = document.referrals.map { $0.reference ?? "draft \($0.id.prefix(8))" }.joined(separator: ", ")
        var line = "Receipt \(document.receipt) of \(document.serverTime) is genuine: signed by key \(finding.key.kid)"
            + "; \(document.user) on device \(document.device.prefix(8)), \(document.changeCount) change\(document.changeCount == 1 ? "" : "s") to \(referrals)"
        if checkedStore {
            line += "; the server holds every change it names"
            if let head = document.audit { line += " and its audit trail holds entry \(head.position)" }
        }
        return line + "."
    }
}

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

