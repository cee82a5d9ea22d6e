import Crypto
import Foundation
import SyncCore
import TestSupport
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Issue 31: attachments travel beside the change log, in chunks the server
/// checks, resumably and once, between the real `field` binary and a real
/// `sync-server` (through `FaultProxy` where the network misbehaves). Each
/// test runs on the backend the suite runs on (SQLite, or PostgreSQL with
/// `SYNC_TEST_BACKEND=postgres`).
@Suite("Attachments travel whole, resumably and once")
struct AttachmentTransferTests {
    /// A practitioner whose laptop syncs through the proxy.
    struct Setup {
        let server: ServerProcess
        let proxy: FaultProxy
        let jane: FieldHome
        let token: String
        let device: String

        init(seed: Int) throws {
            server = try ServerProcess()
            token = try server.addUser("jane")
            proxy = try FaultProxy(to: server)
            jane = try FieldHome(user: "jane", seed: seed, clock: .machine)
            device = try NetworkFaultTests.login(jane, server: proxy.url, token: token)
        }
    }

    /// A file with a JPEG signature and `bytes` bytes in all, its content
    /// fixed by `seed` (SHA-256 in counter mode), in a new temporary folder.
    static func photo(bytes: Int, seed: Int, signature: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0]) throws -> (url: URL, reference: AttachmentReference) {
        var content = Data(signature)
        var counter = 0
        while content.count < bytes {
            content.append(contentsOf: SHA256.hash(data: Data("\(seed)/\(counter)".utf8)))
            counter += 1
        }
        content = content.prefix(bytes)
        let folder = try TemporaryFolder.make("attachment")
        let url = folder.appendingPathComponent("photo-\(seed).jpg")
        try content.write(to: url)
        return (url, AttachmentReference(of: content))
    }

    /// What the server holds of an attachment (`GET /v1/attachments/{sha256}`), as a practitioner asks.
    static func status(_ server: ServerProcess, token: String, _ reference: AttachmentReference) async throws -> (code: Int, held: [Int], received: Bool) {
        let (code, json, _) = try await server.exchange("GET", "v1/attachments/\(reference.sha256)", token: token)
        return (code, (json["held"] as? [Int]) ?? [], json["received"] as? Bool ?? false)
    }

    /// The chunk positions the proxy saw requested from `exchange` on, in order.
    static func chunksSent(_ proxy: FaultProxy, from exchange: Int = 0) -> [Int] {
        proxy.history.dropFirst(exchange).compactMap { seen in
            guard seen.exchange.path.contains("/chunks/") else { return nil }
            return Int(seen.exchange.path.split(separator: "/").last ?? "")
        }
    }

    /// The value the server holds for each attachment `file` field of `record`.
    static func serverFiles(_ server: ServerProcess, _ record: String) async throws -> [String] {
        try await server.database.rows("SELECT value FROM fields WHERE record_id = ? AND path LIKE 'attachments.%.file'", [record]).compactMap { $0[0] }
    }

    /// A chunk sent by hand: the status and JSON of the reply.
    static func postChunk(
        _ server: ServerProcess, token: String, device: String, _ reference: AttachmentReference, position: Int, bytes: Data, digest: String?
    ) async throws -> (Int, [String: Any]) {
        var request = URLRequest(url: server.url.appendingPathComponent("v1/attachments/\(reference.sha256)/chunks/\(position)"))
        request.httpMethod = "POST"
        request.httpBody = bytes
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        request.setValue(device, forHTTPHeaderField: "Field-Device")
        request.setValue("application/octet-stream", forHTTPHeaderField: "Content-Type")
        if let digest { request.setValue(digest, forHTTPHeaderField: "Content-Digest") }
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    static func digest(_ bytes: Data) -> String { "sha-256=:\(Data(SHA256.hash(data: bytes)).base64EncodedString()):" }

    @Test("a cut connection costs the chunk in flight only: the next sync sends what the server lacks, and the referral then names the file")
    func cutConnectionResumes() async throws {
        let setup = try Setup(seed: 7_100)
        let id = try setup.jane.succeed(["new"])
        let (file, reference) = try Self.photo(bytes: 5 * AttachmentChunks.size + 1_000, seed: 1)
        let attached = try setup.jane.succeed(["attach", id, file.path, "--label", "body map, left arm"])
        #expect(attached.contains("Attached \(file.path) as attachments.1: JPEG, 2.6 MB, sha256 \(reference.short)…"), "\(attached)")

        setup.proxy.setRule { $0.path.hasSuffix("/chunks/3") ? .cutRequest : .none }
        let cut = try setup.jane.run(["sync"])
        #expect(cut.status != 0)
        // Progress lines come first (standard error); then the one sentence of the failure.
        let lines = cut.output.split(separator: "\n").filter { !$0.hasPrefix("Uploading attachment ") }.joined(separator: "\n")
        NetworkFaultTests.expectPlainFailure((lines, cut.status), "a sync whose chunk was cut")
        #expect(try await Self.status(setup.server, token: setup.token, reference).held == [0, 1, 2])
        // The push did not happen: the referral does not yet name a file the server lacks.
        #expect(try await Self.serverFiles(setup.server, id).isEmpty)

        setup.proxy.setRule { _ in .none }
        let before = setup.proxy.history.count
        let retry = try setup.jane.succeed(["sync"])
        #expect(Self.chunksSent(setup.proxy, from: before) == [3, 4, 5])
        #expect(retry.contains("Sent 1 attachment(s), 1.0 MB uploaded"), "\(retry)")
        let status = try await Self.status(setup.server, token: setup.token, reference)
        #expect(status.received && status.held == [0, 1, 2, 3, 4, 5])
        #expect(try await Self.serverFiles(setup.server, id) == [reference.stored])
        let listed = try setup.jane.succeed(["attachments", id])
        #expect(listed.contains("body map, left arm") && listed.contains("received by the server"), "\(listed)")
        try await NetworkFaultTests.expectAppliedOnce(setup.server)
    }

    @Test("a chunk damaged on the way is refused (422 chunk-corrupt), stored nowhere, and sent again")
    func corruptedChunkIsResent() async throws {
        let setup = try Setup(seed: 7_200)
        let id = try setup.jane.succeed(["new"])
        let (file, reference) = try Self.photo(bytes: 3 * AttachmentChunks.size, seed: 2)
        try setup.jane.succeed(["attach", id, file.path])
        let damaged = Once()
        setup.proxy.setRule { exchange in
            exchange.path.hasSuffix("/chunks/1") && damaged.first() ? .corruptBody : .none
        }
        try setup.jane.succeed(["sync"])
        #expect(Self.chunksSent(setup.proxy) == [0, 1, 1, 2])
        let firstTry = try #require(setup.proxy.history.first { $0.exchange.path.hasSuffix("/chunks/1") })
        #expect(setup.proxy.reply(to: firstTry.exchange.index)?.contains("chunk-corrupt") == true)
        #expect(try await Self.status(setup.server, token: setup.token, reference).received)
        #expect(try await Self.serverFiles(setup.server, id) == [reference.stored])

        // By hand: a digest that does not match is refused and changes nothing.
        let (other, otherReference) = try Self.photo(bytes: 1_000, seed: 3)
        let content = try Data(contentsOf: other)
        let offer = try JSONEncoder().encode(AttachmentOffer(sha256: otherReference.sha256, size: 1_000, mediaType: "image/jpeg"))
        let (offered, _, _) = try await setup.server.exchange("POST", "v1/attachments", token: setup.token, device: setup.device, body: offer)
        #expect(offered == 200)
        let (refused, body) = try await Self.postChunk(
            setup.server, token: setup.token, device: setup.device, otherReference, position: 0, bytes: content, digest: Self.digest(Data("other".utf8)))
        #expect(refused == 422 && (body["error"] as? [String: Any])?["code"] as? String == ErrorCode.chunkCorrupt, "\(body)")
        #expect(try await Self.status(setup.server, token: setup.token, otherReference).held.isEmpty)
        // Bytes that match their digest but not the file's hash: the whole is checked, and dropped.
        var wrong = content
        wrong[500] ^= 0xFF
        let (dropped, dropBody) = try await Self.postChunk(
            setup.server, token: setup.token, device: setup.device, otherReference, position: 0, bytes: wrong, digest: Self.digest(wrong))
        #expect(dropped == 422 && (dropBody["error"] as? [String: Any])?["code"] as? String == ErrorCode.attachmentCorrupt, "\(dropBody)")
        let after = try await Self.status(setup.server, token: setup.token, otherReference)
        #expect(after.held.isEmpty && !after.received)
    }

    @Test("field killed part way through an upload: the next sync resumes from the chunks the server holds")
    func killedFieldResumes() async throws {
        let setup = try Setup(seed: 7_300)
        let id = try setup.jane.succeed(["new"])
        let (file, reference) = try Self.photo(bytes: 4 * AttachmentChunks.size + 10, seed: 4)
        try setup.jane.succeed(["attach", id, file.path])
        // Chunk 2's reply is held back, so field is waiting for it when it is killed.
        setup.proxy.setRule { $0.path.hasSuffix("/chunks/2") ? .delay(milliseconds: 20_000) : .none }
        let output = setup.jane.folder.appendingPathComponent("killed-sync.out")
        let running = try setup.jane.spawn(["sync"], output: output)
        // Until the server has answered chunk 2 (the proxy holds that answer back from field).
        func answered() -> Bool {
            setup.proxy.history.contains { $0.exchange.path.hasSuffix("/chunks/2") && setup.proxy.reply(to: $0.exchange.index) != nil }
        }
        for _ in 0..<400 where !answered() { usleep(25_000) }
        #expect(Self.chunksSent(setup.proxy) == [0, 1, 2])
        running.signal(SIGKILL)
        _ = running.wait()
        let held = try await Self.status(setup.server, token: setup.token, reference).held
        #expect(held == [0, 1, 2], "the server stored chunk 2 before its reply was held back")

        setup.proxy.setRule { _ in .none }
        let before = setup.proxy.history.count
        try setup.jane.succeed(["sync"])
        #expect(Self.chunksSent(setup.proxy, from: before) == [3, 4])
        #expect(try await Self.status(setup.server, token: setup.token, reference).received)
        #expect(try await Self.serverFiles(setup.server, id) == [reference.stored])
    }

    @Test("the server killed in the middle of receiving a chunk keeps what it had; after its restart the device sends the rest")
    func killedServerResumes() async throws {
        let setup = try Setup(seed: 7_400)
        let id = try setup.jane.succeed(["new"])
        let (file, reference) = try Self.photo(bytes: 4 * AttachmentChunks.size, seed: 5)
        try setup.jane.succeed(["attach", id, file.path])
        setup.proxy.setRule { $0.path.hasSuffix("/chunks/2") ? .closeConnection : .none }
        #expect(try setup.jane.run(["sync"]).status != 0)
        #expect(try await Self.status(setup.server, token: setup.token, reference).held == [0, 1])

        // Half of chunk 2 reaches the server, which is killed (SIGKILL) while it reads the rest.
        let content = try Data(contentsOf: file)
        let chunk = content[AttachmentChunks.range(2, of: Int64(content.count))]
        let head = "POST /v1/attachments/\(reference.sha256)/chunks/2 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer \(setup.token)\r\n"
            + "Field-Device: \(setup.device)\r\nContent-Type: application/octet-stream\r\nContent-Digest: \(Self.digest(Data(chunk)))\r\n"
            + "Content-Length: \(chunk.count)\r\n\r\n"
        let socket = try Self.connect(port: UInt16(setup.server.url.port!))
        Self.send(socket, Array(head.utf8) + Array(chunk.prefix(chunk.count / 2)))
        setup.server.kill()
        close(socket)
        try setup.server.start()
        #expect(try await Self.status(setup.server, token: setup.token, reference).held == [0, 1])

        setup.proxy.setRule { _ in .none }
        let before = setup.proxy.history.count
        try setup.jane.succeed(["sync"])
        #expect(Self.chunksSent(setup.proxy, from: before) == [2, 3])
        #expect(try await Self.status(setup.server, token: setup.token, reference).received)
        #expect(try await Self.serverFiles(setup.server, id) == [reference.stored])
    }

    @Test("the same file attached to two referrals on two devices is stored once, on the device and on the server")
    func duplicateStoredOnce() async throws {
        let setup = try Setup(seed: 7_500)
        let bobToken = try setup.server.addUser("bob")
        let bob = try FieldHome(user: "bob", seed: 7_501, clock: .machine)
        let bobDevice = try NetworkFaultTests.login(bob, server: setup.server.url, token: bobToken)
        let (file, reference) = try Self.photo(bytes: 2 * AttachmentChunks.size + 7, seed: 6)
        let first = try setup.jane.succeed(["new"])
        let second = try setup.jane.succeed(["new"])
        let theirs = try bob.succeed(["new"])
        try setup.jane.succeed(["attach", first, file.path])
        let again = try setup.jane.succeed(["attach", second, file.path])
        #expect(again.contains("already in this device's store: kept once"), "\(again)")
        try bob.succeed(["attach", theirs, file.path])

        let janeSync = try setup.jane.succeed(["sync"])
        #expect(janeSync.contains("Sent 1 attachment(s)"), "\(janeSync)")
        #expect(Self.chunksSent(setup.proxy) == [0, 1, 2])
        let bobSync = try bob.succeed(["sync"])
        #expect(bobSync.contains("Sent 1 attachment(s), 0 bytes uploaded"), "\(bobSync)")
        let chunks = try await setup.server.database.rows("SELECT count(*) FROM attachment_chunks WHERE sha256 = ?", [reference.sha256])
        #expect(chunks.first?.first == "3")
        #expect(try await setup.server.database.rows("SELECT count(*) FROM attachments").first?.first == "1")
        // Received whole, its size and kind are fixed by its hash.
        let offer = try JSONEncoder().encode(AttachmentOffer(sha256: reference.sha256, size: 5, mediaType: "image/jpeg"))
        #expect(try await setup.server.exchange("POST", "v1/attachments", token: bobToken, device: nil, body: offer).0 == 403, "no registered device named")
        #expect(try await setup.server.exchange("POST", "v1/attachments", token: bobToken, device: bobDevice, body: offer).0 == 409)
        for record in [first, second, theirs] { #expect(try await Self.serverFiles(setup.server, record) == [reference.stored]) }
        // On jane's laptop: one copy of the content for her two referrals.
        let store = try LocalStore(
            path: setup.jane.folder.appendingPathComponent("field.sqlite").path, author: "jane", passphrase: FieldHome.passphrase, keyDerivation: .testing)
        #expect(try store.attachments(of: UUID(uuidString: first)!).map(\.reference) == [reference])
        #expect(try store.attachmentContent(reference) == Data(contentsOf: file))
    }

    @Test("limits are checked when a file is attached (kind, the form's size per file and per referral), and the server refuses what no form allows")
    func limits() async throws {
        let setup = try Setup(seed: 7_600)
        let id = try setup.jane.succeed(["new"])
        let folder = try TemporaryFolder.make("limits")
        let text = folder.appendingPathComponent("notes.jpg")
        try Data("not a photo".utf8).write(to: text)
        let kind = try setup.jane.run(["attach", id, text.path])
        #expect(kind.status == 1)
        #expect(kind.output.trimmingCharacters(in: .whitespacesAndNewlines)
            == "Error: '\(text.path)' is not a JPEG, PNG, HEIC or PDF file (read from its first bytes, not its name); only those can be attached.")
        let missing = try setup.jane.run(["attach", id, folder.appendingPathComponent("gone.png").path])
        #expect(missing.status == 1 && missing.output.contains("There is no file"))

        // The authority's form sets the limits: 600,000 bytes a file, 1,000,000 a referral.
        let built = try Data(contentsOf: Repository.file("Sources/SyncCore/Form/Resources/referral-form.json"))
        var document = try FormDocument.decode(built)
        let section = try #require(document.sections.firstIndex { $0.key == "attachments" })
        let field = try #require(document.sections[section].fields.firstIndex { $0.key == "file" })
        document.sections[section].fields[field].maxFileBytes = 600_000
        document.sections[section].fields[field].maxReferralBytes = 1_000_000
        document.version = nil
        let formFile = folder.appendingPathComponent("form-v2.json")
        try document.encoded(sorted: false).write(to: formFile)
        let published = try setup.server.command(["form", "publish", formFile.path])
        let why = try setup.server.commandWithErrors(["form", "publish", formFile.path, "--dry-run"]).error
        #expect(published.status == 0, "\(published.output) \(why)")
        try setup.jane.succeed(["sync"])
        let draft = try setup.jane.succeed(["new"])
        let big = try Self.photo(bytes: 600_001, seed: 7)
        let tooBig = try setup.jane.run(["attach", draft, big.url.path])
        #expect(tooBig.status == 1)
        #expect(tooBig.output.trimmingCharacters(in: .whitespacesAndNewlines)
            == "Error: '\(big.url.path)' is 600.0 KB (600001 bytes); the form allows at most 600.0 KB (600000 bytes) a file, so it was not attached.")
        try setup.jane.succeed(["attach", draft, try Self.photo(bytes: 500_000, seed: 8).url.path])
        let third = try Self.photo(bytes: 500_001, seed: 9)
        let over = try setup.jane.run(["attach", draft, third.url.path])
        #expect(over.status == 1)
        #expect(over.output.contains("would bring this referral's attachments to 1.0 MB; the form allows at most 1.0 MB (1000000 bytes) a referral"), "\(over.output)")
        #expect(try setup.jane.succeed(["attachments", draft]).split(separator: "\n").count == 2)

        // The server: the largest file any version allows is the built-in 25 MiB.
        func offer(_ sha256: String, _ size: Int64, _ type: String) async throws -> (Int, String) {
            let body = try JSONEncoder().encode(AttachmentOffer(sha256: sha256, size: size, mediaType: type))
            let (status, json, _) = try await setup.server.exchange("POST", "v1/attachments", token: setup.token, device: setup.device, body: body)
            return (status, (json["error"] as? [String: Any])?["message"] as? String ?? "")
        }
        let sha = String(repeating: "ab", count: 32)
        #expect(try await offer(sha, AttachmentLimits.standard.fileBytes + 1, "image/jpeg").0 == 413)
        #expect(try await offer(sha, 10, "text/plain") == (415, "'text/plain' is not a kind of file a referral may carry (image/jpeg, image/png, image/heic, application/pdf)."))
        #expect(try await offer("ABC", 10, "image/jpeg").0 == 400)
        #expect(try await offer(sha, 0, "image/jpeg").0 == 400)
        let (notOffered, _) = try await Self.postChunk(
            setup.server, token: setup.token, device: setup.device, AttachmentReference(sha256: String(repeating: "cd", count: 32))!, position: 0,
            bytes: Data([1]), digest: Self.digest(Data([1])))
        #expect(notOffered == 404)
        #expect(try await offer(sha, 11, "image/jpeg").0 == 200)
        // Offered again with another size before it was received: the new offer stands (a wrong first offer cannot block the file).
        #expect(try await offer(sha, 10, "image/jpeg").0 == 200)
        let reference = AttachmentReference(sha256: sha)!
        let notAPhoto = Data("0123456789".utf8)
        let (kindRefused, kindBody) = try await Self.postChunk(
            setup.server, token: setup.token, device: setup.device, reference, position: 0, bytes: notAPhoto, digest: Self.digest(notAPhoto))
        #expect(kindRefused == 415, "\(kindBody)")
        #expect(try await Self.status(setup.server, token: setup.token, reference).held.isEmpty)
        #expect(try await Self.postChunk(setup.server, token: setup.token, device: setup.device, reference, position: 1, bytes: Data([1]), digest: Self.digest(Data([1]))).0 == 400)
        #expect(try await Self.postChunk(setup.server, token: setup.token, device: setup.device, reference, position: 0, bytes: Data([1]), digest: Self.digest(Data([1]))).0 == 400)
        #expect(try await Self.postChunk(setup.server, token: setup.token, device: setup.device, reference, position: 0, bytes: Data(count: 10), digest: nil).0 == 400)

        // A push naming a file the server has not received whole is refused, change by change.
        let change = WireChange(seq: 900, record: id, path: "attachments.\(UUID().uuidString.lowercased()).file", value: reference.stored, baseRevision: 0, hlc: "0001764000000000-0000-\(setup.device)")
        let push = try JSONEncoder().encode(PushRequest(device: setup.device, changes: [change]))
        let (pushed, reply, _) = try await setup.server.exchange("POST", "v1/push", token: setup.token, device: setup.device, body: push)
        let outcome = (reply["outcomes"] as? [[String: Any]])?.first
        #expect(pushed == 200 && outcome?["outcome"] as? String == "rejected", "\(reply)")
        #expect((outcome?["reason"] as? String)?.contains("has not been received whole by the server") == true)
    }

    @Test("revoking a device erases its partial uploads on the server and, at its next sync, every attachment on the device")
    func revocationErases() async throws {
        let setup = try Setup(seed: 7_700)
        let adminToken = try setup.server.addUser("ada", role: .admin)
        let id = try setup.jane.succeed(["new"])
        let (file, reference) = try Self.photo(bytes: 3 * AttachmentChunks.size, seed: 10)
        try setup.jane.succeed(["attach", id, file.path])
        setup.proxy.setRule { $0.path.hasSuffix("/chunks/2") ? .closeConnection : .none }
        #expect(try setup.jane.run(["sync"]).status != 0)
        #expect(try await Self.status(setup.server, token: setup.token, reference).held == [0, 1])

        let (revoked, _, _) = try await setup.server.exchange("POST", "v1/devices/\(setup.device)/revoke", token: adminToken, body: Data("{}".utf8))
        #expect(revoked == 200)
        #expect(try await setup.server.database.rows("SELECT count(*) FROM attachment_chunks").first?.first == "0")
        #expect(try await setup.server.database.rows("SELECT count(*) FROM attachments").first?.first == "0")
        #expect(try setup.server.chainAudit())
        let entry = try await setup.server.database.rows("SELECT detail FROM audit WHERE action = 'revoke'")
        #expect(entry.first?.first??.contains("partial_uploads_erased=1") == true, "\(entry)")

        setup.proxy.setRule { _ in .none }
        let wiped = try setup.jane.run(["sync"])
        #expect(wiped.status != 0 && wiped.output.contains("revoked"), "\(wiped.output)")
        let database = try DatabaseQueueReader(path: setup.jane.folder.appendingPathComponent("field.sqlite").path)
        #expect(try database.count("attachment") == 0)
        #expect(try database.count("attachment_chunk") == 0)
    }
}

/// True the first time it is asked, false ever after.
final class Once: @unchecked Sendable {
    private let lock = NSLock()
    private var done = false
    func first() -> Bool { lock.withLock { defer { done = true }; return !done } }
}

extension AttachmentTransferTests {
    @Test("a device revoked to send submitted work first uploads the files its submitted referrals name before it erases")
    func sendSubmittedCarriesFiles() async throws {
        let setup = try Setup(seed: 7_800)
        let adminToken = try setup.server.addUser("ada", role: .admin)
        let id = try setup.jane.draftAndSubmit("Ann Example")
        let (file, reference) = try Self.photo(bytes: 2 * AttachmentChunks.size + 5, seed: 12)
        try setup.jane.succeed(["attach", id, file.path, "--label", "letter from the school nurse"])
        let (revoked, _, _) = try await setup.server.exchange(
            "POST", "v1/devices/\(setup.device)/revoke", token: adminToken, body: Data(#"{"mode": "send-submitted"}"#.utf8))
        #expect(revoked == 200)
        let wiped = try setup.jane.run(["sync"])
        #expect(wiped.status != 0 && wiped.output.contains("revoked"), "\(wiped.output)")
        #expect(try await Self.status(setup.server, token: adminToken, reference).code == 403, "only practitioners ask")
        let stored = try await setup.server.database.rows("SELECT received_at FROM attachments WHERE sha256 = ?", [reference.sha256])
        #expect((stored.first?.first ?? nil) != nil, "the file reached the server whole")
        #expect(try await Self.serverFiles(setup.server, id) == [reference.stored])
        #expect(try DatabaseQueueReader(path: setup.jane.folder.appendingPathComponent("field.sqlite").path).count("attachment_chunk") == 0)

        // The front door saves it, checked against its hash; an existing file is never overwritten.
        let duty = try FieldHome(user: "ian", seed: 7_801, clock: .machine)
        try NetworkFaultTests.login(duty, server: setup.server.url, token: try setup.server.addUser("ian", role: .intake))
        let saved = duty.folder.appendingPathComponent("saved.jpg")
        let said = try duty.succeed(["intake", "attachment", id, "1", "--to", saved.path])
        #expect(said.contains("sha256 \(reference.short)… checked"), "\(said)")
        #expect(try Data(contentsOf: saved) == Data(contentsOf: file))
        let again = try duty.run(["intake", "attachment", id, String(reference.sha256.prefix(10)), "--to", saved.path])
        #expect(again.status == 1 && again.output.contains("already exists"), "\(again.output)")
        let unknown = try duty.run(["intake", "attachment", id, "7"])
        #expect(unknown.status == 1 && unknown.output.contains("No attachment of this referral is '7'"), "\(unknown.output)")
    }
}

/// Counts rows of a device's store without opening it (no passphrase needed: counts are not content).
struct DatabaseQueueReader {
    let path: String
    init(path: String) throws { self.path = path }
    func count(_ table: String) throws -> Int {
        let (termination, output) = try ChildProcess.run("sqlite3", [path, "SELECT count(*) FROM \(table)"], error: .pipe)
        guard termination == .exit(0), let count = Int(output.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw TestFailure("sqlite3 \(path): \(output)")
        }
        return count
    }
}

extension AttachmentTransferTests {
    /// A blocking TCP connection to 127.0.0.1:`port`.
    static func connect(port: UInt16) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard fd >= 0, connected == 0 else { throw TestFailure("connect: \(String(cString: strerror(errno)))") }
        return fd
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            guard written > 0 else { return }
            offset += written
        }
    }
}
