import ArgumentParser
import Foundation
import SyncCore

extension Field {
    /// `field receipt show|verify|export|keys`: the signed receipts this device
    /// was given, checked offline against the server keys pinned at login
    /// (docs/field-cli.md, "Receipts"; docs/security.md, "What a receipt proves").
    struct Receipts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "receipt",
            abstract: "Show, check and export the signed receipts the server gave this device; no network needed.",
            subcommands: [Show.self, Verify.self, Export.self, Keys.self])
    }
}

/// Finds the receipts `given` names: a receipt code (`R-XXXX-XXXX`), or a
/// referral (its reference `F-XXXX-XXXX`, id or unique id prefix), whose
/// receipts are every push that carried its changes.
func receipts(named given: String, in store: LocalStore) throws -> [StoredReceipt] {
    let trimmed = given.trimmingCharacters(in: .whitespaces)
    if trimmed.uppercased().hasPrefix("R-") {
        let found = try store.receipts(reference: trimmed)
        guard !found.isEmpty else {
            throw CLIError("This device holds no receipt '\(TerminalText.visible(trimmed))'; `field receipt show` with a referral lists its receipts.")
        }
        return found
    }
    let id: UUID
    if trimmed.uppercased().hasPrefix("F-") {
        guard let summary = try store.summaries().first(where: { $0.reference?.uppercased() == trimmed.uppercased() }) else {
            throw CLIError("No referral on this device has the reference '\(TerminalText.visible(trimmed))'.")
        }
        id = summary.id
    } else {
        id = try store.referralID(matching: trimmed)
    }
    let found = try store.receipts(referral: id.lowercased)
    guard !found.isEmpty else {
        throw CLIError("This device holds no receipt for referral \(id.lowercased.prefix(13)): a receipt is kept by the device that sent the changes, at its `field sync` (`field status` says whether the server has received it).")
    }
    return found
}

/// Whether `given` names a receipt (`R-…`) rather than a referral.
func given(_ given: String, isReceipt: Bool) -> Bool {
    given.trimmingCharacters(in: .whitespaces).uppercased().hasPrefix("R-") == isReceipt
}

/// Checks one kept receipt with the pinned keys; the document, or one sentence saying what fails.
func check(_ receipt: StoredReceipt, in store: LocalStore) throws -> Result<(ReceiptDocument, ReceiptPublicKey), ReceiptError> {
    guard let signed = receipt.signed else { return .failure(.unsigned(receipt: receipt.reference)) }
    // What was found when it arrived (checked against what was sent) stands.
    if let problem = receipt.problem { return .failure(.mismatch(problem)) }
    do {
        let (document, key) = try signed.verify(with: try store.pinnedReceiptKeys())
        if let mismatch = LocalStore.mismatch(document, receipt: Receipt(reference: receipt.reference, serverTime: receipt.serverTime, records: [], changes: 0), device: store.deviceID, acknowledged: []) {
            return .failure(.mismatch(mismatch))
        }
        return .success((document, key))
    } catch let error as ReceiptError {
        return .failure(error)
    }
}

extension Field.Receipts {
    struct Show: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "show",
            abstract: "Print a receipt, or every receipt of a referral: when, by whom, which changes (by SHA-256), the audit entry it names, and whether it checks out.")
        @Argument(help: "A receipt (R-XXXX-XXXX), or a referral: its reference (F-XXXX-XXXX), id or a unique prefix; all receipts when omitted.")
        var reference: String?
        @OptionGroup var output: JSONOption

        struct Shown: Encodable {
            var reference: String
            var serverTime: String
            var checksOut: Bool
            var problem: String?
            var document: ReceiptDocument?
            var key: String?

            enum CodingKeys: String, CodingKey {
                case reference, serverTime = "server_time", checksOut = "checks_out", problem, document, key
            }
        }

        func run(in context: Context) async throws {
            let store = try context.store()
            let found = try reference.map { try receipts(named: $0, in: store) } ?? store.receipts()
            var shown: [Shown] = []
            for receipt in found {
                switch try check(receipt, in: store) {
                case .success(let (document, key)):
                    // The time as signed, not the store's copy of it.
                    shown.append(Shown(reference: receipt.reference, serverTime: document.serverTime, checksOut: true, document: document, key: key.kid))
                case .failure(let error):
                    shown.append(Shown(
                        reference: receipt.reference, serverTime: receipt.serverTime, checksOut: false, problem: error.description,
                        document: try? receipt.signed?.unverifiedDocument()))
                }
            }
            if output.json { return try context.console.json(shown) }
            if shown.isEmpty { context.console.line("No receipts yet: the server gives one at each `field sync` that sends changes.") }
            let summaries = Dictionary(try store.summaries().map { ($0.id.lowercased, $0) }, uniquingKeysWith: { first, _ in first })
            for item in shown {
                context.console.line("Receipt \(item.reference), \(item.serverTime)")
                if let key = item.key {
                    context.console.line("  Signed by the server's key \(key): checks out on this device.")
                } else {
                    context.console.line("  DOES NOT CHECK OUT: \(item.problem ?? "")")
                }
                guard let document = item.document else { continue }
                context.console.line("  \(document.user) on device \(document.device); \(document.changeCount) change(s):")
                for referral in document.referrals {
                    let reference = referral.reference ?? summaries[referral.id]?.reference
                    let seqs = referral.changes.map(\.seq)
                    let range = seqs.isEmpty ? "" : " (change \(seqs.min()!)\(seqs.count > 1 ? "–\(seqs.max()!)" : ""))"
                    context.console.line("    \(reference ?? "draft") \(referral.id): \(referral.changes.count) change(s)\(range)")
                    for attachment in referral.attachments ?? [] {
                        context.console.line("      with attachment sha256 \(attachment.sha256) (\(attachment.size.byteCount)), received whole")
                    }
                }
                if let head = document.audit {
                    context.console.line("  Audit trail entry \(head.position) (\(head.hash.prefix(12))…): this device presents it at each sync, and the server must still hold it.")
                }
            }
        }
    }

    struct Verify: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check a receipt's signature with the server keys pinned at login, offline; exits 1 with one sentence when it does not check out.")
        @Argument(help: "A receipt (R-XXXX-XXXX), or a referral (reference, id or prefix): each of its receipts.") var reference: String

        func run(in context: Context) async throws {
            let store = try context.store()
            var failed = false
            for receipt in try receipts(named: reference, in: store) {
                switch try check(receipt, in: store) {
                case .success(let (document, key)):
                    context.console.line("Receipt \(receipt.reference) of \(document.serverTime) checks out: signed by the server's key \(key.kid), pinned on this device, for \(document.changeCount) change(s) to \(document.referrals.count) referral(s).")
                case .failure(let error):
                    context.console.line("Receipt \(receipt.reference): \(error.description)")
                    failed = true
                }
            }
            if failed { throw ExitCode(1) }
        }
    }

    struct Export: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Write a receipt as signed (JSON) to a new file (0600), for someone who checks it with the server's public keys, taken from the server (GET /v1/keys), not from this laptop.",
            discussion: "For a referral, its submission's receipt (the push that carried the submission), else its newest.")
        @Argument(help: "A receipt (R-XXXX-XXXX), or a referral (reference, id or prefix).") var reference: String
        @Option(help: "The file to write (a new one); standard output by default.") var to: String?

        func run(in context: Context) async throws {
            let store = try context.store()
            let found = try receipts(named: reference, in: store)
            var chosen = found[0]
            if !given(reference, isReceipt: true), found.count > 1,
               let referral = found.flatMap(\.referrals).first(where: { id in found.allSatisfy { $0.referrals.contains(id) } }),
               let submitted = try store.submissionReceipt(of: referral), let match = found.first(where: { $0.reference == submitted }) {
                chosen = match
            }
            guard let signed = chosen.signed else {
                throw CLIError("Receipt \(chosen.reference) came from a server before signed receipts: there is nothing signed to export.")
            }
            if case .failure(let error) = try check(chosen, in: store) {
                // Exported as it is (it may be evidence of tampering), but never passed off as sound.
                context.console.error("Warning: receipt \(chosen.reference) does not check out on this device: \(error.description)")
            }
            let data = try signed.encoded() + Data("\n".utf8)
            guard let to else {
                FileHandle.standardOutput.write(data)
                return
            }
            // A new file only, owner-only (a receipt names referrals): never over another file, a link, or the store.
            let descriptor = open(to, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0o600)
            guard descriptor >= 0 else {
                let reason = errno == EEXIST ? "it already exists; give a new file" : String(cString: strerror(errno))
                throw CLIError("Cannot write the receipt to '\(to)': \(reason).")
            }
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
            handle.write(data)
            try handle.close()
            context.console.line("Wrote receipt \(chosen.reference) to \(to).")
        }
    }

    struct Keys: FieldCommand {
        static let configuration = CommandConfiguration(
            commandName: "keys",
            abstract: "Print the server's receipt keys this device pinned, as a JWK set: for comparing with the server's own (GET /v1/keys); whoever checks your receipt should take the keys from the server, not from you.")

        func run(in context: Context) async throws {
            let keys = try context.store().pinnedReceiptKeys()
            guard !keys.isEmpty else {
                throw CLIError("No receipt keys are pinned on this device: `field login` pins the server's.")
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            FileHandle.standardOutput.write(try encoder.encode(ReceiptKeySet(keys: keys)) + Data("\n".utf8))
        }
    }
}
