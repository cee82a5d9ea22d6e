import Foundation
import SyncCore
import TestSupport
import Testing

/// HTTPS end to end: a throwaway certificate authority made with the openssl
/// command in a temporary folder, the real `sync-server serve --tls-cert
/// --tls-key`, and the real `field` binary.
@Suite("TLS between field and sync-server")
struct TLSTests {
    @Test("login --ca trusts a private CA, and later syncs use it")
    func privateCA() async throws {
        let pki = try TestPKI()
        defer { pki.remove() }
        let server = try ServerProcess(tls: (pki.serverCertificate, pki.serverKey))
        #expect(server.url.scheme == "https")
        let token = try server.addUser("jane")
        let field = try FieldHome(seed: nil, clock: .machine, passphrase: Device.passphrase)
        defer { field.remove() }
        let id = try field.run(["new", "--kind", "lado"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["set", id, "concern.summary", "Bruising seen at school"]).status == 0)

        let login = try field.run(["login", "--server", server.url.absoluteString, "--token", token, "--ca", pki.ca])
        #expect(login.status == 0, "\(login.output)")
        #expect(login.output.contains("Logged in to https://127.0.0.1"))
        let sync = try field.run(["sync"])
        #expect(sync.status == 0, "\(sync.output)")
        #expect(sync.output.contains("Pushed 3 change(s): 3 applied"), "\(sync.output)")
        #expect(sync.output.contains("Receipt R-"))
        let stored = try await server.database.rows("SELECT value FROM change_log WHERE path = 'concern.summary'")
        #expect(stored == [["Bruising seen at school"]])

        // TLS 1.1 is refused by the server; 1.2 is accepted.
        let hostPort = "127.0.0.1:\(server.url.port!)"
        let old = try TestPKI.run("/usr/bin/env", ["openssl", "s_client", "-connect", hostPort, "-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"])
        #expect(old.0 != 0 && old.1.contains("protocol version"), "\(old.1)")
        let current = try TestPKI.run("/usr/bin/env", ["openssl", "s_client", "-connect", hostPort, "-tls1_2", "-CAfile", pki.ca])
        #expect(current.1.contains("Verify return code: 0 (ok)"), "\(current.1)")

        // Under TLS the console's sign-in cookie carries the __Host- prefix: this host only, HTTPS only, Path=/.
        let (_, page) = try ChildProcess.run(
            "/usr/bin/env", ["openssl", "s_client", "-connect", hostPort, "-quiet", "-CAfile", pki.ca],
            input: "GET /console/sign-in HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", error: .pipe)
        let cookie = page.lowercased().components(separatedBy: "\r\n").first { $0.hasPrefix("set-cookie: __host-field_console_sign_in=") } ?? ""
        // Attributes in any order (Hummingbird keeps them in a dictionary).
        let attributes = Set(cookie.split(separator: ";").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) })
        #expect(attributes.contains("path=/") && attributes.contains("secure") && !attributes.contains { $0.hasPrefix("domain=") },
                "\(page.prefix(800))")
    }

    @Test("without --ca, or with another CA, the certificate is refused and nothing changes on the device")
    func untrusted() async throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        defer { pki.remove(); other.remove() }
        let server = try ServerProcess(tls: (pki.serverCertificate, pki.serverKey))
        let token = try server.addUser("jane")
        let field = try FieldHome(seed: nil, clock: .machine, passphrase: Device.passphrase)
        defer { field.remove() }
        let id = try field.run(["new", "--kind", "lado"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(try field.run(["set", id, "concern.summary", "Bruising seen at school"]).status == 0)
        let before = try field.run(["status", "--json"]).output

        for extra in [[], ["--ca", other.ca]] {
            let login = try field.run(["login", "--server", server.url.absoluteString, "--token", token] + extra)
            #expect(login.status != 0)
            #expect(login.output.contains("did not present a certificate this device trusts"), "\(login.output)")
            #expect(login.output.contains("--ca FILE"))
            #expect(try field.run(["status", "--json"]).output == before)
            #expect(try field.run(["status"]).output.contains("Not logged in"))
        }
        #expect(try await server.database.rows("SELECT count(*) FROM devices") == [["0"]])
    }

    @Test("plain http:// to another machine is refused before any connection; loopback http stays allowed")
    func insecureHTTP() throws {
        let field = try FieldHome(seed: nil, clock: .machine, passphrase: Device.passphrase)
        defer { field.remove() }
        let start = ContinuousClock.now
        let login = try field.run(["login", "--server", "http://192.0.2.1:1", "--token", "fld_x"])
        #expect(ContinuousClock.now - start < .seconds(5))
        #expect(login.status != 0)
        #expect(login.output.contains("'http://192.0.2.1:1' is plain http:// to another machine"), "\(login.output)")
        #expect(login.output.contains("--allow-insecure-http"))
        #expect(!FileManager.default.fileExists(atPath: field.folder.appendingPathComponent("field.sqlite").path))
        for address in ["http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080", "http://127.1.2.3"] {
            #expect(HTTPTransport.isLoopback(URL(string: address)!), "\(address)")
        }
        for address in ["http://192.0.2.1:1", "http://127.0.0.1.example.org", "http://localhost.example.org", "http://10.0.0.1"] {
            #expect(!HTTPTransport.isLoopback(URL(string: address)!), "\(address)")
        }
        let ca = try field.run(["login", "--server", "http://127.0.0.1:1", "--token", "fld_x", "--ca", "/nonexistent/ca.pem"])
        #expect(ca.status != 0 && ca.output.contains("applies to https:// servers only"))
        let missing = try field.run(["login", "--server", "https://127.0.0.1:1", "--token", "fld_x", "--ca", "/nonexistent/ca.pem"])
        #expect(missing.status != 0 && missing.output.contains("The CA file '/nonexistent/ca.pem' does not exist."))
    }

    @Test("serve names the certificate or key file that is missing, unreadable, invalid or mismatched")
    func serverFileErrors() throws {
        let pki = try TestPKI()
        let other = try TestPKI()
        defer { pki.remove(); other.remove() }
        let garbage = pki.folder.appendingPathComponent("garbage.pem").path
        try Data("not a certificate\n".utf8).write(to: URL(fileURLWithPath: garbage))
        let database = pki.folder.appendingPathComponent("server.sqlite").path
        func serve(_ certificate: String, _ key: String) throws -> (Int32, String) {
            try TestPKI.run(ServerProcess.executable.path, ["serve", "--port", "0", "--db", database, "--tls-cert", certificate, "--tls-key", key])
        }
        let cases: [(String, String, String)] = [
            ("/nonexistent/server.pem", pki.serverKey, "The TLS certificate file '/nonexistent/server.pem' does not exist."),
            (pki.serverCertificate, "/nonexistent/server.key", "The TLS key file '/nonexistent/server.key' does not exist."),
            (garbage, pki.serverKey, "The TLS certificate file '\(garbage)' does not hold a PEM certificate"),
            (pki.serverCertificate, garbage, "The TLS key file '\(garbage)' does not hold an unencrypted PEM private key."),
            (pki.serverCertificate, other.serverKey, "The TLS key file '\(other.serverKey)' does not match the certificate in '\(pki.serverCertificate)'."),
        ]
        for (certificate, key, message) in cases {
            let (status, output) = try serve(certificate, key)
            #expect(status != 0)
            #expect(output.contains(message), "\(output)")
        }
        let (status, output) = try TestPKI.run(ServerProcess.executable.path, ["serve", "--port", "0", "--db", database, "--tls-cert", pki.serverCertificate])
        #expect(status != 0 && output.contains("--tls-cert needs --tls-key"), "\(output)")
    }
}

/// A certificate authority and a server certificate for 127.0.0.1 and
/// localhost, made with the openssl command in a temporary folder.
struct TestPKI {
    let folder: URL
    var ca: String { folder.appendingPathComponent("ca.pem").path }
    var serverCertificate: String { folder.appendingPathComponent("server.pem").path }
    var serverKey: String { folder.appendingPathComponent("server.key").path }

    init() throws {
        folder = try TemporaryFolder.make("pki")
        let p = folder.path
        try Data("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n".utf8)
            .write(to: folder.appendingPathComponent("server.ext"))
        for arguments in [
            ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
             "-subj", "/CN=Throwaway test CA", "-keyout", "\(p)/ca.key", "-out", "\(p)/ca.pem"],
            ["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-subj", "/CN=localhost", "-keyout", "\(p)/server.key", "-out", "\(p)/server.csr"],
            ["x509", "-req", "-in", "\(p)/server.csr", "-CA", "\(p)/ca.pem", "-CAkey", "\(p)/ca.key", "-CAcreateserial",
             "-days", "2", "-extfile", "\(p)/server.ext", "-out", "\(p)/server.pem"],
        ] {
            let (status, output) = try Self.run("/usr/bin/env", ["openssl"] + arguments)
            guard status == 0 else { throw TestFailure("openssl \(arguments[0]) failed: \(output)") }
        }
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// Runs a command to completion; stdout and stderr together.
    static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> (Int32, String) {
        let (termination, output) = try ChildProcess.run(executable, arguments, environment: environment, error: .pipe)
        return (termination.status, output)
    }
}

