import Crypto
import Foundation

// Signing and checking a receipt: the part of `SignedReceipt` that needs
// swift-crypto (the wire type itself does not, so the decoder fuzzer can
// build it with a bare swiftc).
extension SignedReceipt {
    /// Signs `document` with `key` (the server's current signing key).
    /// - Throws: an encoding or signing error (neither happens with a valid key).
    public static func sign(_ document: ReceiptDocument, with key: ReceiptSigningKey) throws -> SignedReceipt {
        let header = try JSONEncoder.sorted.encode(Header(alg: "EdDSA", kid: key.id, typ: mediaType))
        let protected = Base64URL.encode(header)
        let payload = Base64URL.encode(try document.encoded())
        let signature = try key.privateKey.signature(for: Data("\(protected).\(payload)".utf8))
        return SignedReceipt(protected: protected, payload: payload, signature: Base64URL.encode(signature))
    }

    /// The document, read without checking the signature (to show a receipt
    /// that failed; never to trust one).
    /// - Throws: `ReceiptError.malformed`.
    public func unverifiedDocument() throws -> ReceiptDocument {
        try payloadDocument(ReceiptDocument.self)
    }

    /// Checks the signature against `keys` and returns the document.
    /// - Throws: `ReceiptError`: `.malformed` (not a JWS, or not EdDSA),
    ///   `.unknownKey` (its key id is none of `keys`), `.badSignature` (any
    ///   byte of the header, payload or signature changed).
    public func verify(with keys: [ReceiptPublicKey]) throws -> (document: ReceiptDocument, key: ReceiptPublicKey) {
        let key = try checkSignature(with: keys)
        let document = try unverifiedDocument()
        guard document.type == ReceiptDocument.typeName else { throw ReceiptError.malformed("its payload is a \(document.type.prefix(40)), not a receipt") }
        return (document, key)
    }

    /// Checks the signature against `keys` and returns the document's
    /// reference, time and audit head, without reading its changes: a device
    /// presents its newest receipt's head at every sync, and a large push's
    /// receipt lists thousands of change digests (issue 30).
    /// - Throws: `ReceiptError`, as `verify(with:)`.
    public func verifiedHead(with keys: [ReceiptPublicKey]) throws -> ReceiptDocument.Head {
        _ = try checkSignature(with: keys)
        let head = try payloadDocument(ReceiptDocument.Head.self)
        guard head.type == ReceiptDocument.typeName else { throw ReceiptError.malformed("its payload is a \(head.type.prefix(40)), not a receipt") }
        return head
    }

    /// The key that signed this receipt, once its signature checks out.
    private func checkSignature(with keys: [ReceiptPublicKey]) throws -> ReceiptPublicKey {
        let header = try header()
        guard header.alg == "EdDSA" else { throw ReceiptError.malformed("it is signed with \(header.alg.prefix(20)), not EdDSA") }
        guard let key = keys.first(where: { $0.id == header.kid }) else { throw ReceiptError.unknownKey(header.kid) }
        let publicKey = try key.publicKey
        guard let signature = Base64URL.decode(self.signature),
              publicKey.isValidSignature(signature, for: Data("\(protected).\(payload)".utf8))
        else { throw ReceiptError.badSignature(key.id) }
        return key
    }

    private func payloadDocument<Document: Decodable>(_ type: Document.Type) throws -> Document {
        guard let bytes = Base64URL.decode(payload) else { throw ReceiptError.malformed("its payload is not base64url") }
        do {
            return try JSONDecoder().decode(Document.self, from: bytes)
        } catch {
            throw ReceiptError.malformed("its payload is not a receipt document")
        }
    }
}
