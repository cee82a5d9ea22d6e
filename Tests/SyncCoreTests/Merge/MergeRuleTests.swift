import Foundation
import Testing
@testable import SyncCore

@Suite("The merge rule and the server's path checks")
struct MergeRuleTests {
    let early = HLCStamp(wall: 1_000, counter: 0, device: "a")
    let late = HLCStamp(wall: 2_000, counter: 0, device: "b")

    @Test("the same value is never a conflict, whatever the policy", arguments: MergePolicy.allCases)
    func sameValue(policy: MergePolicy) {
        #expect(MergeRule.decide(policy: policy, base: "x", current: .init(value: "y", hlc: early), incoming: .init(value: "y", hlc: late)) == .write("y"))
    }

    @Test("manual: different concurrent values conflict")
    func manual() {
        #expect(MergeRule.decide(policy: .manual, base: nil, current: .init(value: "A", hlc: late), incoming: .init(value: "B", hlc: early)) == .conflict)
    }

    @Test("lww: the higher stamp wins either way round")
    func lww() {
        #expect(MergeRule.decide(policy: .lww, base: nil, current: .init(value: "A", hlc: early), incoming: .init(value: "B", hlc: late)) == .write("B"))
        #expect(MergeRule.decide(policy: .lww, base: nil, current: .init(value: "A", hlc: late), incoming: .init(value: "B", hlc: early)) == .keepCurrent)
    }

    @Test("append: additions to the base in stamp order; a rewrite is kept whole; a clear erases nothing")
    func append() {
        #expect(MergeRule.decide(policy: .append, base: "one", current: .init(value: "one\nfrom B", hlc: late), incoming: .init(value: "one\nfrom A", hlc: early)) == .write("one\nfrom A\nfrom B"))
        #expect(MergeRule.decide(policy: .append, base: "one", current: .init(value: "rewritten", hlc: early), incoming: .init(value: "one\ntwo", hlc: late)) == .write("rewritten\none\ntwo"))
        #expect(MergeRule.decide(policy: .append, base: "one", current: .init(value: "one\ntwo", hlc: early), incoming: .init(value: nil, hlc: late)) == .keepCurrent)
    }

    @Test("set: three-way merge in which additions win and a lone removal holds")
    func set() {
        let order = ["a", "b", "c", "d"]
        #expect(MergeRule.decide(policy: .set, base: "a,b", current: .init(value: "a,b,c", hlc: early), incoming: .init(value: "b,d", hlc: late), optionOrder: order) == .write("b,c,d"))
        #expect(MergeRule.decide(policy: .set, base: "a", current: .init(value: nil, hlc: early), incoming: .init(value: "a,b", hlc: late), optionOrder: order) == .write("b"))
        #expect(MergeRule.decide(policy: .set, base: "a", current: .init(value: "b", hlc: early), incoming: .init(value: nil, hlc: late), optionOrder: order) == .write("b"))
        #expect(MergeRule.decide(policy: .set, base: "a", current: .init(value: "a", hlc: early), incoming: .init(value: nil, hlc: late), optionOrder: order) == .write(nil))
    }

    @Test("the server accepts canonical paths and values and says why it refuses the rest")
    func storedPaths() throws {
        let form = ReferralForm.standard
        let child = "01a2072c-0c9d-749d-bdaa-b12ab7ab38b4"
        #expect(try form.rules(forStoredPath: "concern.summary", value: "text").get().policy == .manual)
        #expect(try form.rules(forStoredPath: "need.indicators", value: "health,parenting").get() == PathRules(policy: .set, optionOrder: FieldType.options(of: "need.indicators")))
        #expect(try form.rules(forStoredPath: "children.\(child)", value: "present").get().policy == .lww)
        #expect(try form.rules(forStoredPath: "children.\(child).date_of_birth", value: "2019-03-14").get().policy == .manual)
        #expect(try form.rules(forStoredPath: "@status", value: "submitted").get().policy == .lww)
        for (path, value) in [
            ("concern.bogus", "x"), ("children.1.full_name", "x"), ("children.\(child.uppercased()).full_name", "x"),
            ("children.\(child).date_of_birth", "14/03/2019"), ("concern.summary", " padded"), ("@status", "acknowledged"),
            ("concern.summary", String(repeating: "x", count: FieldType.maximumTextLength + 1)), ("children.\(child)", "yes"),
        ] {
            #expect(throws: PathRefusal.self, "\(path)") { try form.rules(forStoredPath: path, value: value).get() }
        }
    }
}

extension FieldType {
    static func options(of pattern: String) -> [String] {
        ReferralForm.standard.patterns.first { $0.pattern == pattern }!.field.type.options.map(\.key)
    }
}

@Suite("Wire format")
struct WireFormatTests {
    @Test("an empty value travels as an explicit null, and a missing key reads as nil")
    func explicitNull() throws {
        let change = WireChange(seq: 1, record: "r", path: "concern.summary", value: nil, baseRevision: 3, hlc: "h")
        let json = String(decoding: try JSONEncoder().encode(change), as: UTF8.self)
        #expect(json.contains(#""value":null"#))
        #expect(try JSONDecoder().decode(WireChange.self, from: Data(json.utf8)) == change)
        let missing = #"{"seq":1,"record":"r","path":"p","base_rev":0,"hlc":"h"}"#
        #expect(try JSONDecoder().decode(WireChange.self, from: Data(missing.utf8)).value == nil)
        let summary = String(decoding: try JSONEncoder().encode(SyncSummary()), as: UTF8.self)
        #expect(summary.contains(#""receipt":null"#) && !summary.contains("receiptTime"))
    }
}
