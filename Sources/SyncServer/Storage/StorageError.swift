import Foundation

/// A storage failure either backend reports in one sentence: refusals the
/// operator or the request can act on, and PostgreSQL out of reach. It knows
/// nothing of HTTP: `StorageErrorMiddleware` gives each case its status at
/// the edge.
enum StorageError: Error, CustomStringConvertible {
    case duplicateUser(String)
    /// Text PostgreSQL cannot store (U+0000); it names nothing stored, so the request is refused.
    case unstorableText
    /// A database file others can read, which the server cannot make `0600`.
    case notPrivate(String)
    /// A backup that was not made: the file, and why.
    case backupRefused(String, String)
    /// No database connection came within this many seconds: PostgreSQL is
    /// down or out of reach, or every connection is busy.
    case noConnection(seconds: Int)
    /// The database closed the connection a transaction was using
    /// (PostgreSQL stopped or restarted): the transaction is gone with it.
    case connectionClosed
    /// A form version another publish stored first.
    case formVersionTaken(Int)
    /// Eight push decisions in a row picked a reference already taken
    /// (each has 40 random bits): nothing was written; the device sends again.
    case referencesTaken

    var description: String {
        switch self {
        case .duplicateUser(let name): "A user named '\(name)' already exists."
        case .unstorableText: "The request holds a NUL character, which no id, name or value may contain."
        case .notPrivate(let file): "The database file '\(file)' holds referral content and cannot be made private (0600); run the server as the file's owner or fix its mode."
        case .backupRefused(let file, let why): "No backup was written to '\(file)': \(why)."
        case .noConnection(let seconds): "No connection to the database came within \(seconds) s."
        case .connectionClosed: "The database closed the connection in the middle of the request."
        case .referencesTaken: "Every new reference tried for this push was already taken; nothing of it was stored, so send it again."
        case .formVersionTaken(let version): "Form version \(version) was published by someone else meanwhile; check `sync-server form list` and publish again."
        }
    }
}
