import Crypto
import Foundation

extension AttachmentReference {
    /// The reference of `content`: its SHA-256. (Apart from the type, so that
    /// the decoder fuzzer, built without swift-crypto, can compile the form.)
    public init(of content: Data) {
        self.init(sha256: Hex.string(SHA256.hash(data: content)))!
    }
}
