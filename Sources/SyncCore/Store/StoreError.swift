import Foundation
import GRDB

/// Why the store refused an action. Nothing was written when one is thrown.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownReferral(String)
    case ambiguousReferral(String, matches: [String])
    case discarded(UUID)
    case alreadySubmitted(UUID)
    /// Only a draft moves to another form version.
    case notDraft(UUID, ReferralStatus)
    case itemRemoved(path: String)
    case submissionBlocked(UUID, findings: [GuidanceFinding])
    case wrongPassphrase
    case weakPassphrase(length: Int)
    case keyringMissing
    /// A sealed value that does not open: the file was altered or damaged.
    case unreadable(record: String, path: String)
    /// The disk holding the store is full: SQLite's `SQLITE_FULL` on a write
    /// (its transaction rolled back, the store as it was), or
    /// `SQLITE_IOERR_SHMSIZE` on opening (the log's index could not grow).
    case diskFull
    /// An attachment's sealed content does not open (or is missing): the file was altered or damaged.
    case unreadableAttachment(String)

    public var description: String {
        switch self {
        case .unknownReferral(let prefix):
            "No referral on this device has an id starting '\(prefix)'; `field list` shows them."
        case .ambiguousReferral(let prefix, let matches):
            "'\(prefix)' matches \(matches.count) referrals (\(matches.prefix(3).joined(separator: ", "))); give more of the id."
        case .discarded(let id):
            "Referral \(id.lowercased) was discarded and can no longer be changed."
        case .alreadySubmitted(let id):
            "Referral \(id.lowercased) has been submitted and cannot be discarded."
        case .notDraft(let id, let status):
            "Referral \(id.lowercased) is \(status.rawValue), so it stays on the form version it was written on; only a draft is upgraded."
        case .itemRemoved(let path):
            "'\(path)' belongs to an item that was removed."
        case .submissionBlocked(let id, let findings):
            "Referral \(id.lowercased) cannot be submitted yet: "
                + findings.map(\.message).joined(separator: " ")
        case .wrongPassphrase:
            "The passphrase does not open this device's store; nothing was changed."
        case .keyringMissing:
            "This store holds sealed referrals but its keyring is gone, so no passphrase can open it; restore field.sqlite from a backup."
        case .weakPassphrase(let length):
            "A passphrase of \(length) characters is too short; use at least 8."
        case .unreadable(let record, let path):
            "The stored value of \(path) in referral \(record) does not open with this store's key; the file was altered or damaged."
        case .unreadableAttachment(let sha256):
            "The attachment sha256:\(sha256.prefix(12))… stored on this device does not open with this store's key; the file was altered or damaged."
        case .diskFull:
            "This device's disk is full, so field cannot use its store now: nothing was changed and everything saved before is intact; free some space and try again."
        }
    }

    /// `error` as a practitioner should read it: the store's full disk
    /// (GRDB's `DatabaseError` with `SQLITE_FULL`, or `SQLITE_IOERR_SHMSIZE`
    /// when a store opened on a full disk cannot make its log's index)
    /// becomes `.diskFull`; any other error is returned unchanged.
    public static func plain(_ error: any Error) -> any Error {
        if let error = error as? DatabaseError,
            error.resultCode == .SQLITE_FULL || error.extendedResultCode == .SQLITE_IOERR_SHMSIZE
        {
            return StoreError.diskFull
        }
        return error
    }
}
