import Foundation

/// The server's answer to a device presenting the newest audit head it was
/// given (`GET /v1/pull?audit_position=N&audit_hash=H`): whether its audit
/// chain still holds that entry there (docs/security.md, "The chain's head
/// held outside the server"). A chain that was shortened (its newest entries
/// deleted) or rewritten (an entry changed, and every hash after it
/// recomputed) does not.
public struct AuditHeadCheck: Codable, Sendable, Equatable {
    /// The position presented.
    public var position: Int64
    /// True when the entry at `position` has the hash presented.
    public var holds: Bool
    /// How many entries the chain has now.
    public var length: Int64

    public init(position: Int64, holds: Bool, length: Int64) {
        self.position = position
        self.holds = holds
        self.length = length
    }

    /// Why it does not hold, in words: "it has only 41 entries" or "its entry 42 was rewritten".
    public var failure: String? {
        guard !holds else { return nil }
        return position > length ? "it has only \(length) entr\(length == 1 ? "y" : "ies"), the newest were removed" : "its entry \(position) has another hash: it was rewritten"
    }
}
