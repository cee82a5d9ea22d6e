import ArgumentParser
import Foundation
import SyncCore

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "audit", abstract: "Read and check the audit trail.", subcommands: [ShowAudit.self, VerifyAudit.self])
}

struct VerifyAudit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check the audit trail's hash chain and name the first entry that does not match.",
        discussion: "Exits 0 when the chain is intact, 1 when it is broken. On PostgreSQL, entries the servers have committed but not yet chained (a server chains its own just after their commits, and its next start chains what a killed one left) are chained first. With --receipts, the chain is also checked against receipts devices were given, held outside the server: a chain whose newest entries were deleted, or rewritten whole, still links up, but no longer holds the entries those receipts name.")
    @Option(help: ArgumentHelp("A folder of receipts exported with `field receipt export` (*.json): each must be genuine, its changes held, and its audit entry still on the chain.", valueName: "dir"))
    var receipts: String?
    @OptionGroup var storage: StorageOptions

    func run() async throws {
        let store = try await storage.open()
        var failed = false
        switch try await store.verifyAudit() {
        case .intact(let entries):
            print("The audit trail of \(entries) entries is intact.")
        case .broken(_, let description):
            print("The audit trail is broken at \(description): it or an entry before it was altered, removed or reordered.")
            failed = true
        }
        if let receipts {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: receipts) else {
                throw OperatorError("Cannot read the folder of receipts '\(receipts)'.")
            }
            let files = names.filter { $0.hasSuffix(".json") }.sorted()
            guard !files.isEmpty else {
                throw OperatorError("There are no receipts (*.json, as `field receipt export` writes them) in '\(receipts)': nothing was checked against them.")
            }
            let check = ReceiptCheck(keys: try await store.receiptKeys(), storage: store)
            var held = 0
            for name in files {
                let path = (receipts as NSString).appendingPathComponent(name)
                do {
                    _ = try await check.check(try ReceiptCheck.read(path))
                    held += 1
                } catch let error as ReceiptError {
                    print("\(name): \(error.description)")
                    failed = true
                } catch let error as OperatorError {
                    print("\(name): \(error.description)")
                    failed = true
                }
            }
            print("\(held) of \(files.count) receipt\(files.count == 1 ? "" : "s") in '\(receipts)' hold against this server's store.")
        }
        if failed { throw ExitCode(1) }
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
