import Foundation
import NIOSSL

/// `--tls-cert` and `--tls-key`: the PEM files `serve` answers HTTPS with.
/// Every problem is reported as one sentence naming the file.
enum TLSFiles {
    /// A server configuration for TLS 1.2 and later, checked up front (a
    /// key that does not match its certificate is found here, not at the
    /// first connection).
    static func configuration(certificate certificatePath: String, key keyPath: String) throws -> TLSConfiguration {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(read(certificatePath, what: "TLS certificate")))
        } catch let error as TLSFileError {
            throw error
        } catch {
            throw TLSFileError("The TLS certificate file '\(certificatePath)' does not hold a PEM certificate (-----BEGIN CERTIFICATE-----).")
        }
        guard !chain.isEmpty else {
            throw TLSFileError("The TLS certificate file '\(certificatePath)' does not hold a PEM certificate (-----BEGIN CERTIFICATE-----).")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: Array(read(keyPath, what: "TLS key")), format: .pem)
        } catch let error as TLSFileError {
            throw error
        } catch {
            throw TLSFileError("The TLS key file '\(keyPath)' does not hold an unencrypted PEM private key.")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.minimumTLSVersion = .tlsv12
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSFileError("The TLS key file '\(keyPath)' does not match the certificate in '\(certificatePath)'.")
        }
        return configuration
    }

    private static func read(_ path: String, what: String) throws -> Data {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
            throw TLSFileError("The \(what) file '\(path)' does not exist.")
        }
        guard !isFolder.boolValue else { throw TLSFileError("The \(what) file '\(path)' is a folder, not a PEM file.") }
        guard FileManager.default.isReadableFile(atPath: path), let data = FileManager.default.contents(atPath: path) else {
            throw TLSFileError("The \(what) file '\(path)' cannot be read by this user.")
        }
        return data
    }
}

struct TLSFileError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
