import Foundation
import Testing
@testable import SyncCore

@Suite("Guidance checks")
struct GuidanceTests {
    func referral(kind: ReferralKind = .socialCare, _ values: [String: String]) -> Referral {
        var all = values
        all["@kind"] = kind.rawValue
        return Referral(id: UUID(), createdAt: Date(), createdBy: "alice", updatedAt: Date(), values: all)
    }

    let identified = ["referrer.name": "Jane Smith", "referrer.role": "Health visitor"]

    @Test("an empty referral has only the referrer-identity errors; missing information is warnings")
    func emptyReferral() {
        let report = Guidance.check(referral([:]))
        #expect(report.errors.map(\.path) == ["referrer.name", "referrer.agency"])
        #expect(report.warnings.contains { $0.path == "concern.summary" })
        #expect(report.warnings.contains { $0.path == "children" })
    }

    @Test("a member of the public need not give their identity, and may ask for anonymity with a warning")
    func publicReferrer() {
        let report = Guidance.check(referral(["referrer.type": "public", "referrer.anonymity_requested": "yes"]))
        #expect(report.errors.isEmpty)
        #expect(report.warnings.contains { $0.path == "referrer.anonymity_requested" })
    }

    @Test("a professional can never be anonymous")
    func professionalAnonymity() {
        var values = identified
        values["referrer.anonymity_requested"] = "yes"
        #expect(Guidance.check(referral(values)).errors.map(\.path) == ["referrer.anonymity_requested"])
    }

    @Test("consent refused or not sought needs a recorded reason", arguments: ["refused", "not-sought"])
    func consentReason(status: String) {
        var values = identified
        values["consent.status"] = status
        #expect(Guidance.check(referral(values)).errors.map(\.path) == ["consent.reason"])
        values["consent.reason"] = "Asking would put the child at risk of significant harm"
        #expect(Guidance.check(referral(values)).errors.isEmpty)
    }

    @Test("consent given needs no reason")
    func consentGiven() {
        var values = identified
        values["consent.status"] = "given"
        #expect(Guidance.check(referral(values)).errors.isEmpty)
    }

    @Test("immediate risk without a recorded call warns to phone first")
    func phoneFirst() {
        var values = identified
        values["urgency.immediate_risk"] = "yes"
        #expect(Guidance.check(referral(values)).warnings.contains { $0.path == "urgency.call_made" })
        values["urgency.call_made"] = "yes"
        #expect(!Guidance.check(referral(values)).warnings.contains { $0.path == "urgency.call_made" })
    }

    @Test("levels of need that point elsewhere are warned about, per kind")
    func levels() {
        var values = identified
        values["need.level"] = "2"
        #expect(Guidance.check(referral(values)).warnings.contains { $0.path == "need.level" })
        values["need.level"] = "4"
        #expect(!Guidance.check(referral(values)).warnings.contains { $0.path == "need.level" })
        #expect(Guidance.check(referral(kind: .earlyHelp, values)).warnings.contains { $0.path == "need.level" })
    }

    @Test("group items are checked one by one; removed items are not")
    func items() {
        let child = UUID().lowercased
        let removed = UUID().lowercased
        var values = identified
        values["children.\(child)"] = "present"
        values["children.\(removed).full_name"] = "Gone"
        let report = Guidance.check(referral(values))
        #expect(report.warnings.contains { $0.path == "children.\(child).full_name" })
        #expect(!report.warnings.contains { $0.path.contains(removed) })
        #expect(!report.warnings.contains { $0.path == "children" })
    }

    @Test("an unborn baby needs an expected date of delivery instead of a birth date")
    func preBirth() {
        let child = UUID().lowercased
        var values = identified
        values["children.\(child)"] = "present"
        let before = Guidance.check(referral(kind: .preBirth, values))
        #expect(before.warnings.contains { $0.path == "children.\(child).expected_delivery" })
        values["children.\(child).expected_delivery"] = "2027-04-01"
        let after = Guidance.check(referral(kind: .preBirth, values))
        #expect(!after.warnings.contains { $0.path.hasPrefix("children.\(child).expected_delivery") || $0.path == "children.\(child).date_of_birth" })
    }
}

/// NHS numbers: the modulus-11 check digit, as a warning.
@Suite("NHS number check digit")
struct NHSNumberTests {
    @Test("valid numbers pass however they are spaced", arguments: ["9434765919", "943 476 5919", "943-476-5919", "4010232137", "9990000018"])
    func valid(_ number: String) {
        #expect(NHSNumber.problem(number) == nil)
    }

    @Test("a mistyped digit, a wrong length and an impossible number are each named")
    func invalid() {
        #expect(NHSNumber.problem("9434765918") == "943 476 5918 fails the NHS number's check (its last digit should be 9 for these first nine), so a digit is probably mistyped.")
        #expect(NHSNumber.problem("943476591") == "'943476591' is not an NHS number: an NHS number has 10 digits (as 943 476 5919), this has 9.")
        #expect(NHSNumber.problem("94347659190")?.contains("this has 11") == true)
        #expect(NHSNumber.problem("abc") != nil)
        // First nine digits whose sum leaves 1: no check digit fits.
        #expect(NHSNumber.checkDigit([0, 0, 0, 0, 0, 0, 0, 0, 6]) == nil)
        #expect(NHSNumber.problem("0000000060")?.contains("no check digit fits") == true)
        // Every single-digit change of a valid number is caught.
        let valid = Array("9434765919")
        for index in valid.indices {
            for digit in "0123456789" where digit != valid[index] {
                var changed = valid
                changed[index] = digit
                #expect(NHSNumber.problem(String(changed)) != nil, "\(String(changed)) passed")
            }
        }
    }

    @Test("the guidance warns about a child's failing NHS number and never blocks on it")
    func guidance() {
        let child = UUID()
        var referral = Referral(id: UUID(), createdAt: Date(), createdBy: "jane", updatedAt: Date(), values: [
            "referrer.name": "Jane Smith", "referrer.agency": "Health visiting",
            "children.\(child.lowercased)": "present", "children.\(child.lowercased).nhs_number": "943 476 5918",
        ])
        let report = Guidance.check(referral)
        #expect(report.errors.isEmpty)
        #expect(report.warnings.contains { $0.path == "children.\(child.lowercased).nhs_number" && $0.message.contains("fails the NHS number's check") })
        referral.values["children.\(child.lowercased).nhs_number"] = "943 476 5919"
        #expect(!Guidance.check(referral).warnings.contains { $0.path.hasSuffix("nhs_number") })
    }
}
