import Foundation
import TestSupport
import Testing

/// A practitioner's laptop through the real `field` binary: logged in to a
/// server, and referrals drafted on it the way a practitioner would.
enum PractitionerLaptop {
    /// Jane's laptop logged in to a fresh server; her token.
    static func janeOnline(_ server: ServerProcess, seed: Int = 71) throws -> (FieldHome, String) {
        let jane = try FieldHome(user: "jane", seed: seed)
        let token = try server.addUser("jane")
        #expect(try jane.run(["login", "--server", server.url.absoluteString, "--token", token]).status == 0)
        return (jane, token)
    }

    /// A referral drafted on `home` through `field`, submitted unless `submit` is false; its id.
    static func referral(_ home: FieldHome, summary: String = "Bruises on both upper arms", immediateRisk: Bool = false, submit: Bool = true) throws -> String {
        let id = try home.run(["new"]).output.trimmingCharacters(in: .whitespacesAndNewlines)
        var values = [("referrer.name", "Jane Smith"), ("referrer.agency", "Worcester Health Visiting Team"), ("concern.summary", summary)]
        if immediateRisk { values += [("urgency.immediate_risk", "yes"), ("urgency.call_made", "yes")] }
        for (path, value) in values {
            let set = try home.run(["set", id, path, value])
            #expect(set.status == 0, "set \(path): \(set.output)")
        }
        #expect(try home.run(["add", id, "children"]).status == 0)
        #expect(try home.run(["set", id, "children.1.full_name", "Amy Smith"]).status == 0)
        if submit {
            let submitted = try home.run(["submit", id])
            #expect(submitted.status == 0, "submit: \(submitted.output)")
        }
        return id
    }
}
