import Foundation
import SyncCore
import Testing
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The web console's edges over plain HTTP against a real server: sign-in
/// refusals and limits, the session's idle end, CSRF, security headers,
/// and bad input answered with a page and a 4xx, never a 500.
@Suite("Web console: sign-in, sessions and bad input")
struct ConsoleBoundaryTests {
    /// A browser reduced to what these checks need: cookies by hand, redirects not followed.
    final class Client: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
        let base: URL
        var cookies: [String: String] = [:]
        lazy var session = URLSession(configuration: .ephemeral, delegate: self, delegateQueue: nil)

        init(_ base: URL) { self.base = base }

        func urlSession(
            _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse, newRequest request: URLRequest,
            completionHandler: @escaping (URLRequest?) -> Void
        ) {
            completionHandler(nil)
        }

        struct Reply {
            let status: Int
            let headers: [String: String]
            let body: String
            var location: String? { headers["Location"] }
        }

        func send(_ method: String, _ path: String, form: [String: String]? = nil, raw: String? = nil) async throws -> Reply {
            var request = URLRequest(url: URL(string: base.absoluteString + path)!)
            request.httpMethod = method
            request.httpShouldHandleCookies = false
            if !cookies.isEmpty {
                request.setValue(cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; "), forHTTPHeaderField: "Cookie")
            }
            if let form {
                request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                var components = URLComponents()
                components.queryItems = form.map { URLQueryItem(name: $0.key, value: $0.value) }
                request.httpBody = Data((components.percentEncodedQuery ?? "").replacingOccurrences(of: "+", with: "%2B").utf8)
            } else if let raw {
                request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
                request.httpBody = Data(raw.utf8)
            }
            let (data, response) = try await session.data(for: request)
            let http = response as! HTTPURLResponse
            var headers: [String: String] = [:]
            for (key, value) in http.allHeaderFields { headers[String(describing: key)] = String(describing: value) }
            for field in (headers["Set-Cookie"] ?? "").components(separatedBy: ", ") {
                let pair = field.split(separator: ";").first.map(String.init) ?? ""
                guard let equals = pair.firstIndex(of: "=") else { continue }
                let name = String(pair[..<equals]).trimmingCharacters(in: .whitespaces)
                let value = String(pair[pair.index(after: equals)...])
                if value.isEmpty { cookies[name] = nil } else { cookies[name] = value }
            }
            return Reply(status: http.statusCode, headers: headers, body: String(decoding: data, as: UTF8.self))
        }

        /// The value of the hidden `csrf` input on `page`.
        static func csrf(in page: String) -> String? {
            guard let range = page.range(of: #"name="csrf" value="([0-9a-f]+)""#, options: .regularExpression) else { return nil }
            return String(page[range]).components(separatedBy: "value=\"").last?.replacingOccurrences(of: "\"", with: "")
        }

        func signIn(_ user: String, _ password: String, code: String? = nil) async throws -> Reply {
            let page = try await send("GET", "/console/sign-in")
            var form = ["username": user, "password": password, "csrf": Self.csrf(in: page.body) ?? ""]
            if let code { form["code"] = code }
            return try await send("POST", "/console/sign-in", form: form)
        }
    }

    @Test("sign-in: wrong password, practitioner, missing second factor and the failure limit are refused with a sentence; a session ends after its idle time and at sign-out")
    func signInAndSessions() async throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z", options: ["--require-totp", "admin", "--auth-failure-limit", "3"])
        _ = try server.addUser("ian", role: .intake)
        _ = try server.addUser("ada", role: .admin)
        _ = try server.addUser("jane")
        for name in ["ian", "ada", "jane"] {
            #expect(try server.command(["user", "set-password", name], input: "a long enough password\n").status == 0)
        }
        let (short, shortOutput) = try server.command(["user", "set-password", "ian"], input: "short\n")
        #expect(short != 0 && shortOutput.isEmpty)

        let browser = Client(server.url)
        let wrongly = "The user name, password or code is not right"
        let wrong = try await browser.signIn("ian", "not the password")
        #expect(wrong.status == 401 && wrong.body.contains(wrongly))
        let unknown = try await browser.signIn("nobody", "a long enough password")
        #expect(unknown.status == 401 && unknown.body.contains(wrongly))
        // A NUL cut the name short in SQLite's lookup ("ian\0x" found ian) while the limit counted another name: refused outright.
        let nul = try await browser.signIn("ian\u{0}x", "a long enough password")
        #expect(nul.status == 400 && nul.body.contains("NUL") && browser.cookies["field_console"] == nil)
        // Two sign-in pages open at once: the first still works.
        let twoTabs = Client(server.url)
        let firstTab = try await twoTabs.send("GET", "/console/sign-in")
        _ = try await twoTabs.send("GET", "/console/sign-in")
        let fromFirst = try await twoTabs.send(
            "POST", "/console/sign-in", form: ["username": "ian", "password": "a long enough password", "csrf": Client.csrf(in: firstTab.body) ?? ""])
        #expect(fromFirst.status == 303)
        let practitioner = try await browser.signIn("jane", "a long enough password")
        #expect(practitioner.status == 403 && practitioner.body.contains("Practitioners cannot sign in here"))
        let admin = try await browser.signIn("ada", "a long enough password")
        #expect(admin.status == 403 && admin.body.contains("sync-server user totp ada"))
        #expect(browser.cookies["field_console"] == nil)

        // Signed in: the headers, then the idle timeout.
        let signedIn = try await browser.signIn("ian", "a long enough password")
        #expect(signedIn.status == 303 && signedIn.location == "/console/queue")
        let cookie = try #require(signedIn.headers["Set-Cookie"])
        #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/console"))
        let queue = try await browser.send("GET", "/console/queue")
        #expect(queue.status == 200)
        #expect(queue.headers["Content-Security-Policy"]?.hasPrefix("default-src 'self'") == true)
        #expect(queue.headers["X-Frame-Options"] == "DENY")
        #expect(!queue.body.contains("<script"))
        try server.setTime("2026-11-23T12:29:00Z")
        #expect(try await browser.send("GET", "/console/queue").status == 200)
        try server.setTime("2026-11-23T13:00:00Z")
        let expired = try await browser.send("GET", "/console/queue")
        #expect(expired.status == 303 && expired.location == "/console/sign-in")

        // Sign-out ends the session on the server, not only in the browser.
        _ = try await browser.signIn("ian", "a long enough password")
        let kept = browser.cookies
        let page = try await browser.send("GET", "/console/queue")
        let out = try await browser.send("POST", "/console/sign-out", form: ["csrf": Client.csrf(in: page.body) ?? ""])
        #expect(out.status == 303 && out.location == "/console/sign-in?done=signed-out")
        browser.cookies = kept
        #expect(try await browser.send("GET", "/console/queue").status == 303)

        // A wrong code reads as a wrong password: it does not confirm the password.
        #expect(try server.command(["user", "totp", "ian"]).status == 0)
        let noCode = try await Client(server.url).signIn("ian", "a long enough password")
        let badPassword = try await Client(server.url).signIn("ian", "wrong password")
        #expect(noCode.status == 401 && noCode.body.contains(wrongly) && badPassword.body.contains(wrongly))
        // The failure limit (3 here): then 429 with Retry-After, even with the right password.
        let other = Client(server.url)
        for _ in 0..<3 { _ = try await other.signIn("ian", "wrong password") }
        let limited = try await other.signIn("ian", "a long enough password")
        #expect(limited.status == 429 && limited.headers["Retry-After"] != nil && limited.body.contains("Too many failed sign-ins"))
    }

    @Test("a POST without its CSRF token, with another session's or to an id the user may not see changes nothing; bad input is a 4xx page, never a 500")
    func csrfAndBadInput() async throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        _ = try server.addUser("ian", role: .intake)
        _ = try server.addUser("ada", role: .admin)
        for name in ["ian", "ada"] {
            #expect(try server.command(["user", "set-password", name], input: "a long enough password\n").status == 0)
        }
        let jane = try await Device(server: server, token: try server.addUser("jane"))
        defer { jane.remove() }
        let record = try jane.store.createReferral(kind: .socialCare)
        try jane.store.set("referrer.name", of: record, to: "Jane Smith")
        try jane.store.set("referrer.agency", of: record, to: "Health visiting")
        try jane.store.set("concern.summary", of: record, to: "Bruises")
        _ = try jane.store.submit(record)
        try await jane.sync()
        let draft = try jane.store.createReferral(kind: .socialCare)
        try jane.store.set("concern.summary", of: draft, to: "Not submitted")
        try await jane.sync()
        let id = record.lowercased

        let ian = Client(server.url)
        #expect(try await ian.signIn("ian", "a long enough password").status == 303)
        let ada = Client(server.url)
        #expect(try await ada.signIn("ada", "a long enough password").status == 303)
        let page = try await ian.send("GET", "/console/referrals/\(id)")
        #expect(page.status == 200 && page.body.contains("not yet acknowledged"))
        let token = try #require(Client.csrf(in: page.body))

        // No token, a wrong one, another user's: 403, nothing recorded.
        let adaToken = try #require(Client.csrf(in: try await ada.send("GET", "/console/conflicts").body))
        // The wrong token differs from the right one in its first digit (a
        // token starting with "0" made "0" + the rest the right one: 1 in 16).
        let wrong = (token.hasPrefix("0") ? "1" : "0") + token.dropFirst()
        for form in [[:], ["csrf": wrong], ["csrf": adaToken]] {
            let refused = try await ian.send("POST", "/console/referrals/\(id)/acknowledge", form: form)
            #expect(refused.status == 403 && refused.body.contains("nothing was changed"))
        }
        #expect(try await ian.send("GET", "/console/referrals/\(id)").body.contains("not yet acknowledged"))
        // Intake may not see drafts: the same 404 as an id that does not exist.
        let hidden = try await ian.send("GET", "/console/referrals/\(draft.lowercased)")
        let missing = try await ian.send("GET", "/console/referrals/01a207a4-0b28-7000-8000-000000000000")
        #expect(hidden.status == 404 && missing.status == 404)
        #expect(hidden.body.replacingOccurrences(of: draft.lowercased, with: "ID") == missing.body.replacingOccurrences(of: "01a207a4-0b28-7000-8000-000000000000", with: "ID"))
        let draftAck = try await ian.send("POST", "/console/referrals/\(draft.lowercased)/acknowledge", form: ["csrf": token])
        #expect(draftAck.status == 404)
        // An admin page for intake, an intake page for an admin: 403 with the role it needs.
        #expect(try await ian.send("GET", "/console/audit").status == 403)
        #expect(try await ada.send("GET", "/console/queue").status == 403)

        // Bad input: a page with a 4xx, never a 500.
        let cases: [(String, String, String?)] = [
            ("GET", "/console/queue?view=everything", nil),
            ("GET", "/console/referrals/%00%01", nil),
            ("GET", "/console/referrals/" + String(repeating: "a", count: 5000), nil),
            ("POST", "/console/referrals/\(id)/rating", "csrf=\(token)&rating=purple&reason=x"),
            ("POST", "/console/referrals/\(id)/rating", "csrf=\(token)&rating=red&reason="),
            ("POST", "/console/referrals/\(id)/decision", "csrf=\(token)&outcome=malicious&note=x"),
            ("POST", "/console/referrals/\(id)/decision", "csrf=\(token)&outcome=s47-enquiry&note="),
            ("POST", "/console/referrals/\(id)/decision", "csrf=\(token)&note=%ZZ"),
            ("POST", "/console/referrals/\(id)/acknowledge", String(repeating: "x=y&", count: 20_000)),
            ("POST", "/console/sign-in", "username[]=a&password[x]=b"),
        ]
        for (method, path, body) in cases {
            let reply = try await ian.send(method, path, raw: body)
            #expect((400..<500).contains(reply.status), "\(method) \(path.prefix(60)) \(body?.prefix(60) ?? ""): \(reply.status)")
            #expect(reply.headers["Content-Type"]?.hasPrefix("text/html") == true, "\(method) \(path.prefix(60)): \(reply.headers["Content-Type"] ?? "")")
        }
        let audit = try await ada.send("GET", "/console/audit?referral=not-hex!")
        #expect(audit.status == 400 && audit.body.contains("not a referral id"))
        let resolve = try await ada.send(
            "POST", "/console/conflicts/nope/resolve",
            form: ["csrf": adaToken, "pick": "1", "reason": "x"])
        #expect(resolve.status == 404)
        // The audit filter as a browser sends it: a space as +.
        let filtered = try await ada.send("GET", "/console/audit?user=ian&action=read+queue")
        #expect(filtered.status == 200 && filtered.body.contains("value=\"read queue\""))
        // Revoking twice: the second is refused, with no second audit entry.
        let deviceToken = try #require(Client.csrf(in: try await ada.send("GET", "/console/devices").body))
        let device = jane.store.deviceID.lowercased()
        #expect(try await ada.send("POST", "/console/devices/\(device)/revoke", form: ["csrf": deviceToken, "confirm": "yes"]).status == 303)
        let twice = try await ada.send("POST", "/console/devices/\(device)/revoke", form: ["csrf": deviceToken, "confirm": "yes"])
        #expect(twice.status == 409 && twice.body.contains("already revoked"))
        #expect(try await ada.send("GET", "/console/devices/\(device)/revoke").status == 409)
        let revokes = try server.command(["audit", "show", "--action", "revoke"]).output
        #expect(revokes.components(separatedBy: "\n").filter { $0.contains(device) }.count == 1)
        // After all that, nothing was recorded on the referral.
        let after = try await ian.send("GET", "/console/referrals/\(id)")
        #expect(after.body.contains("not yet acknowledged") && after.body.contains("not rated") && after.body.contains("none yet"))
        #expect(try server.command(["audit", "verify"]).status == 0)
    }

    @Test("the queue and the referral page mark open referrals that name a child with the same NHS number, however it is spaced; a decided one stops counting")
    func sameNHSNumber() async throws {
        let server = try ServerProcess(clock: "2026-11-23T12:00:00Z")
        _ = try server.addUser("ian", role: .intake)
        #expect(try server.command(["user", "set-password", "ian"], input: "a long enough password\n").status == 0)
        let jane = try await Device(server: server, token: try server.addUser("jane"))
        defer { jane.remove() }
        func referral(_ child: String, nhs: String) throws -> UUID {
            let record = try jane.store.createReferral(kind: .socialCare)
            try jane.store.set("referrer.name", of: record, to: "Jane Smith")
            try jane.store.set("referrer.agency", of: record, to: "Health visiting")
            try jane.store.set("concern.summary", of: record, to: "Bruises")
            let item = try jane.store.addItem(to: "children", of: record)
            try jane.store.set("children.\(item.lowercased).full_name", of: record, to: child)
            try jane.store.set("children.\(item.lowercased).nhs_number", of: record, to: nhs)
            _ = try jane.store.submit(record)
            return record
        }
        let first = try referral("Amy Smith", nhs: "943 476 5919")
        let second = try referral("Amy Smyth", nhs: "9434765919")
        let other = try referral("Ben Jones", nhs: "401 023 2137")
        let first2 = try referral("Amy S", nhs: "943-476-5919")
        _ = first2
        try await jane.sync()

        let ian = Client(server.url)
        #expect(try await ian.signIn("ian", "a long enough password").status == 303)
        let queue = try await ian.send("GET", "/console/queue?view=all").body
        func row(_ id: UUID) -> String {
            queue.components(separatedBy: "<tr").first { $0.contains("nowrap\"><a href=\"/console/referrals/\(id.lowercased)\"") } ?? ""
        }
        #expect(row(first).contains("SAME NHS NUMBER") && row(first).contains("/console/referrals/\(second.lowercased)"))
        #expect(row(second).contains("SAME NHS NUMBER") && row(second).contains("/console/referrals/\(first.lowercased)"))
        #expect(!row(other).contains("SAME NHS NUMBER"))
        let page = try await ian.send("GET", "/console/referrals/\(first.lowercased)").body
        #expect(page.contains("names a child with the same NHS number"))

        // Deciding the second: it is no longer an open referral for the first.
        let token = try #require(Client.csrf(in: try await ian.send("GET", "/console/referrals/\(second.lowercased)").body))
        let decided = try await ian.send(
            "POST", "/console/referrals/\(second.lowercased)/decision", form: ["csrf": token, "outcome": "advice-given", "note": "Known to us"])
        // Post, then redirect: reloading the page sends nothing again.
        #expect(decided.status == 303 && decided.location == "/console/referrals/\(second.lowercased)?done=decided")
        #expect(try await ian.send("GET", decided.location!).body.contains("Decision recorded"))
        // Deciding again without a reason: the console's own sentence, and the typed note kept.
        let again = try await ian.send(
            "POST", "/console/referrals/\(second.lowercased)/decision", form: ["csrf": token, "outcome": "no-further-action", "note": "My typed note"])
        #expect(again.status == 409 && again.body.contains("already decided") && again.body.contains("My typed note"))
        #expect(!again.body.contains("--change"))
        // A GET of a form's address: an HTML 405 with Allow, not JSON.
        let get = try await ian.send("GET", "/console/referrals/\(second.lowercased)/decision")
        #expect(get.status == 405 && get.headers["Allow"] == "POST" && get.headers["Content-Type"]?.hasPrefix("text/html") == true)
        // A change after the decision is marked on the queue and on the answer.
        try jane.store.set("concern.summary", of: second, to: "Bruises, and now a burn")
        try await jane.sync()
        let changedQueue = try await ian.send("GET", "/console/queue?view=all").body
        let changedRow = changedQueue.components(separatedBy: "<tr").first { $0.contains("nowrap\"><a href=\"/console/referrals/\(second.lowercased)\"") } ?? ""
        #expect(changedRow.contains("CHANGED since the front door saw it"))
        let changedPage = try await ian.send("GET", "/console/referrals/\(second.lowercased)").body
        #expect(changedPage.contains("since the front door decided it") && changedPage.contains("What is the cause for concern?"))
        let after = try await ian.send("GET", "/console/queue?view=all").body
        let firstRow = after.components(separatedBy: "<tr").first { $0.contains("nowrap\"><a href=\"/console/referrals/\(first.lowercased)\"") } ?? ""
        #expect(!firstRow.contains("/console/referrals/\(second.lowercased)"))
        #expect(firstRow.contains("SAME NHS NUMBER"))  // the third, still open
    }
}
