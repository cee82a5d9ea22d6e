import Foundation
import TestSupport
import Testing
@testable import SyncCore

@Suite("The authority's contacts and hours")
struct AuthorityTests {
    let authority = Authority.example

    @Test("the shipped example file is the built-in default")
    func exampleFileMatches() throws {
        let file = Repository.file("config/authority.example.json")
        #expect(try Authority.load(contentsOf: file) == authority)
    }

    @Test("office hours follow the seeds, in London time", arguments: [
        ("2026-11-23T08:29:00Z", false),  // Monday 08:29 GMT
        ("2026-11-23T08:30:00Z", true),
        ("2026-11-26T16:59:00Z", true),   // Thursday
        ("2026-11-27T16:30:00Z", false),  // Friday closes at 16:30
        ("2026-11-28T12:00:00Z", false),  // Saturday
        ("2026-12-25T12:00:00Z", false),  // Christmas Day
        ("2026-12-28T12:00:00Z", false),  // Boxing Day (substitute)
        ("2026-07-01T07:45:00Z", true),   // 08:45 British Summer Time
    ])
    func officeHours(instant: String, open: Bool) {
        #expect(authority.isOfficeOpen(at: Timestamp.date(instant)!) == open)
        #expect(authority.dutyContact(at: Timestamp.date(instant)!) == (open ? authority.frontDoor : authority.outOfHours))
    }

    @Test("written confirmation of a phone referral is due 48 hours after the call")
    func confirmation() {
        #expect(Authority.writtenConfirmationDue(afterCallAt: Timestamp.date("2026-11-27T15:00:00Z")!) == Timestamp.date("2026-11-29T15:00:00Z"))
    }

    @Test("a broken configuration is refused with the file and the fault named")
    func broken() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("authority-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        var json = Authority.exampleJSON.replacingOccurrences(of: "\"08:30\"", with: "\"8h30\"")
        try json.write(to: file, atomically: true, encoding: .utf8)
        #expect(throws: AuthorityError.self) { try Authority.load(contentsOf: file) }
        do { _ = try Authority.load(contentsOf: file) } catch { #expect("\(error)".contains("'8h30'")) }
        json = "{}"
        try json.write(to: file, atomically: true, encoding: .utf8)
        do { _ = try Authority.load(contentsOf: file) } catch { #expect("\(error)".contains(file.path)) }
    }
}

@Suite("Time and ids")
struct EnvironmentTests {
    @Test("timestamps round-trip through their text form")
    func timestamps() {
        for text in ["1970-01-01T00:00:00Z", "2026-11-23T09:00:00Z", "2028-02-29T23:59:59Z"] {
            #expect(Timestamp.string(Timestamp.date(text)!) == text)
        }
        #expect(Timestamp.date("2026-02-30T00:00") == nil)
        for bad in ["2026-11-23", "2026-11-23T25:00", "2026-11-23T10:00:61Z", "2026-11-23T10:00Zx", "2026-11-23T10:00+1", "x026-11-23T10:00"] {
            #expect(Timestamp.date(bad) == nil, "\(bad)")
        }
        #expect(Timestamp.date("2026-11-23 10:00") == Timestamp.date("2026-11-23T10:00:00Z"))
        #expect(Timestamp.date("2026-11-23T10:00+01:00") == Timestamp.date("2026-11-23T09:00:00Z"))
        #expect(Timestamp.date("2026-11-23T10:00-0130") == Timestamp.date("2026-11-23T11:30:00Z"))
        // Without an offset, the given zone's wall clock (London is on summer time in July).
        #expect(Timestamp.date("2026-07-01T09:30", timeZone: TimeZone(identifier: "Europe/London")!) == Timestamp.date("2026-07-01T08:30:00Z"))
    }

    @Test("v7 ids are time-ordered, and a seed makes them repeatable")
    func ids() {
        let clock = SteppingClock(start: Timestamp.date("2026-11-23T09:00:00Z")!)
        let ids = (0..<50).map { _ in UUIDv7Generator(clock: clock, seed: 7).next() }
        #expect(ids.map(\.lowercased) == ids.map(\.lowercased).sorted())
        #expect(ids.allSatisfy { $0.lowercased.dropFirst(14).first == "7" })
        let a = UUIDv7Generator(clock: SteppingClock(start: Date(timeIntervalSince1970: 0)), seed: 3)
        let b = UUIDv7Generator(clock: SteppingClock(start: Date(timeIntervalSince1970: 0)), seed: 3)
        #expect(a.next() == b.next())
    }

    @Test("hybrid logical clock stamps never go backwards, even when the wall clock does")
    func hlc() {
        let start = HLCStamp(wall: 5_000, counter: 0, device: "d")
        let same = HLCStamp.next(after: start, now: Date(timeIntervalSince1970: 4))
        #expect(same > start && same.wall == 5_000 && same.counter == 1)
        let later = HLCStamp.next(after: same, now: Date(timeIntervalSince1970: 6))
        #expect(later.wall == 6_000 && later.counter == 0)
        #expect(HLCStamp(later.description) == later)
    }
}
