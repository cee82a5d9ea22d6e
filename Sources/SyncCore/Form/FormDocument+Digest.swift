import Crypto
import Foundation

// Kept apart from FormDocument.swift so that scripts/fuzz can build the form
// decoder without swift-crypto.
extension FormDocument {
    /// The SHA-256 of `encoded()`, in lowercase hex: what the server stores
    /// and lists (`GET /v1/forms`, `form list`) and a device compares.
    public var digest: String {
        Hex.string(SHA256.hash(data: encoded()))
    }
}
