import Crypto
import Foundation
import SyncCore
import Testing

/// The receipt format's fixed points (docs/protocol.md, "Signed receipts"):
/// the change digest's test vectors and the example receipt the document
/// shows, checked with its public key.
@Suite("Receipts: the change digest and the documented example")
struct ReceiptTests {
    static let device = "01a25036-c1e1-7f7d-85cf-a1f587ddb129"
    static let referral = "01a25036-d4ee-78f0-b137-8bb76cdb6c66"
    static let stamp = "0001795417493958-0000-01a25036-c1e1-7f7d-85cf-a1f587ddb129"

    @Test("a change's SHA-256 is the documented one, for a value and for a cleared field")
    func digestVectors() {
        #expect(ChangeDigest.sha256(device: Self.device, seq: 7, record: Self.referral, path: "concern.summary", hlc: Self.stamp, value: "Bruises on both arms – “seen”")
            == "8f0321c28474ce06be0a52314edfca1a0c7e84739f3f28478d87cc6ead2b2747")
        #expect(ChangeDigest.sha256(device: Self.device, seq: 7, record: Self.referral, path: "concern.summary", hlc: Self.stamp, value: nil)
            == "e0d3571e3f60a05df45ce9ed2e04d95647e582cc0f92e4b7160aa312fac1162f")
        // Length prefixes: moving a character from one field to the next changes the digest.
        #expect(ChangeDigest.sha256(device: "ab", seq: 1, record: "c", path: "p", hlc: "h", value: "v")
            != ChangeDigest.sha256(device: "a", seq: 1, record: "bc", path: "p", hlc: "h", value: "v"))
        #expect(ChangeDigest.sha256(device: "a", seq: 1, record: "c", path: "p", hlc: "h", value: "")
            != ChangeDigest.sha256(device: "a", seq: 1, record: "c", path: "p", hlc: "h", value: nil))
    }

    static let example = SignedReceipt(
        protected: "eyJhbGciOiJFZERTQSIsImtpZCI6IkotbTAwX19SVFNqSXVoQS05WU1SNVNCTnI4RlZoQU9mcGozSXpKT3AwU1EiLCJ0eXAiOiJmaWVsZC1zeW5jLXJlY2VpcHQranNvbiJ9",
        payload: "eyJhdWRpdCI6eyJoYXNoIjoiOWQ2MDc3YzMxNDJiZTQ4YWUwYmVmZjEyYzQ4YmFkY2E1MzA3N2M3NGY1ZDJjNDdkZGFkNzcyZDVkYjc0MmE1NyIsInBvc2l0aW9uIjoyfSwiZGV2aWNlIjoiMDFhMjUwMzYtYzFlMS03ZjdkLTg1Y2YtYTFmNTg3ZGRiMTI5IiwiZXBvY2giOiIzYjczYTQ3MGYzZDliMDkzNzJmYzNhYmVjMjQyY2Q4ZSIsInJlY2VpcHQiOiJSLVBWQjgtVE1OQyIsInJlZmVycmFscyI6W3siY2hhbmdlcyI6W3sic2VxIjoxLCJzaGEyNTYiOiJiMDgxYjA1NjJlNmFjZDAzYzZlYzI0NTg5ZTVmN2FmNjhkYzQwZTU1Y2ZhYmU1MGJkYjMwZGNjOTU3MDY4ODBkIn0seyJzZXEiOjIsInNoYTI1NiI6ImExYTQ5ZDdjZTVlZWNlMjVlNzljNWNjOTJmMWIwNDY4OGRhYWZlZmM0MDUwYWI2Mzg2MTcxOTc0NmRiNjUzMDYifSx7InNlcSI6Mywic2hhMjU2IjoiOWRkMmY5ZjYwODJhYmYzMTJjOGRjOTY2YjBiMmM3OThiNDQ1N2UzMDkwYmE4YjQyNzAyMDg4YTg2NmVjOTQyOCJ9XSwiaWQiOiIwMWEyNTAzNi1kNGVlLTc4ZjAtYjEzNy04YmI3NmNkYjZjNjYifV0sInNlcnZlcl90aW1lIjoiMjAyNi0xMi0wN1QxMToxNTowOFoiLCJ0eXBlIjoiZmllbGQtc3luYy9yZWNlaXB0IiwidXNlciI6ImphbmUiLCJ2ZXJzaW9uIjoxfQ",
        signature: "eJhBieSkL-At6wHzYgVvc220a2NDI_Q7k1zKZ6gIz4HmIsYvF89YJ1fS3gKn7-70SALM5xdY4SiltQgPH6njDA")
    static let key = ReceiptPublicKey(x: "2PvC4-OYgIsvO3gPcoSYhq3gLtn0phzAT3-f0Ft-PEk", kid: "J-m00__RTSjIuhA-9YMR5SBNr8FVhAOfpj3IzJOp0SQ")

    @Test("the documented example checks out with its key, and its key id is the key's RFC 7638 thumbprint")
    func documentedExample() throws {
        #expect(ReceiptPublicKey.thumbprint(x: Self.key.x) == Self.key.kid)
        let (document, key) = try Self.example.verify(with: [Self.key])
        #expect(key == Self.key)
        #expect(document.receipt == "R-PVB8-TMNC" && document.changeCount == 3 && document.audit?.position == 2)
        // The payload is the document's canonical encoding: the same bytes again.
        #expect(Base64URL.encode(try document.encoded()) == Self.example.payload)
        #expect(throws: ReceiptError.unknownKey(Self.key.kid)) { try Self.example.verify(with: []) }
    }

    @Test("a receipt signed now checks out with its key, and with no other")
    func roundTrip() throws {
        let signer = ReceiptSigningKey(Curve25519.Signing.PrivateKey())
        let document = ReceiptDocument(
            receipt: "R-0000-0001", epoch: "e", device: Self.device, user: "Zoë Ó'Brien", serverTime: "2026-12-07T10:00:00Z",
            referrals: [.init(id: Self.referral, reference: "F-0000-0001", changes: [.init(seq: 1, sha256: String(repeating: "a", count: 64))])],
            audit: AuditHead(position: 9, hash: String(repeating: "b", count: 64)))
        // The hand-written canonical encoding is Foundation's sorted-key JSON, byte for byte, whatever a string holds.
        var tricky = document
        tricky.user = "Zoë \"Ó'Brien\" \\ / \n\t\u{01}\u{1F} 🧸"
        tricky.referrals.append(.init(id: "x", reference: nil, changes: []))
        tricky.audit = nil
        #expect(try tricky.encoded() == JSONEncoder.sorted.encode(tricky))
        #expect(try document.encoded() == JSONEncoder.sorted.encode(document))
        #expect(Base64URL.decode(Base64URL.encode(Data([0xFB, 0xFF]))) == Data([0xFB, 0xFF]) && Base64URL.encode(Data([0xFB, 0xFF, 0xBF])) == "-_-_")
        // Only the one canonical encoding decodes: no two signature texts stand for the same bytes.
        #expect(Base64URL.decode("AA") == Data([0]) && Base64URL.decode("AB") == nil && Base64URL.decode("AA==") == nil)
        // The one-pass decoder against Foundation's base64 with the canonical check, the definition it replaced.
        func foundation(_ text: String) -> Data? {
            guard text.utf8.allSatisfy({ Base64URLTests.alphabet.contains($0) }) else { return nil }
            let base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            guard let data = Data(base64Encoded: base64 + String(repeating: "=", count: (4 - base64.count % 4) % 4)),
                  Base64URL.encode(data) == text else { return nil }
            return data
        }
        let alphabet = Base64URLTests.alphabet
        for length in 0...70 {
            // Bytes and positions spread by a fixed rule: the same test every run.
            let bytes = Data((0..<length).map { UInt8(truncatingIfNeeded: length &* 131 &+ $0 &* 29 &+ 7) })
            let text = Base64URL.encode(bytes)
            #expect(Base64URL.decode(text) == bytes, "\(length) bytes")
            // Every text one character away (another letter of the alphabet, a byte outside it, one more, one fewer).
            var variants = [String(text.dropLast()), text + "A", text + "="]
            if !text.isEmpty {
                var changed = Array(text.utf8)
                let position = length * 7 % changed.count
                for replacement in [UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: " "), 0xC3, alphabet[length % alphabet.count]] {
                    changed[position] = replacement
                    variants.append(String(decoding: changed, as: UTF8.self))
                }
            }
            for variant in variants { #expect(Base64URL.decode(variant) == foundation(variant), "\(variant)") }
        }
        let signed = try SignedReceipt.sign(document, with: signer)
        #expect(try signed.verify(with: [signer.publicKey]).document == document)
        let other = ReceiptSigningKey(Curve25519.Signing.PrivateKey())
        #expect(throws: ReceiptError.unknownKey(signer.id)) { try signed.verify(with: [other.publicKey]) }
        // The right id with another key's bytes: the signature does not match.
        var impostor = other.publicKey
        impostor.kid = signer.id
        #expect(throws: ReceiptError.badSignature(signer.id)) { try signed.verify(with: [impostor]) }
        #expect(throws: ReceiptError.self) { try ReceiptPublicKey.keys(from: Data(#"{"keys":[{"kty":"OKP","crv":"Ed25519","x":"2PvC4-OYgIsvO3gPcoSYhq3gLtn0phzAT3-f0Ft-PEk","kid":"wrong"}]}"#.utf8)) }
    }
}

enum Base64URLTests {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
}
