import Foundation
import SyncCore

/// How ids, paths and times are shown to people.
enum Format {
    /// The shortest prefix of `id` (at least 13 characters, the time part of a
    /// v7 id plus a little) that no other id in `others` shares.
    static func shortID(_ id: UUID, among others: [UUID]) -> String {
        let text = id.lowercased
        var length = 13
        let rest = others.map(\.lowercased).filter { $0 != text }
        while length < text.count, rest.contains(where: { $0.hasPrefix(text.prefix(length)) }) {
            length += 1
        }
        return String(text.prefix(length))
    }

    /// A stored path as a person types it: live group items by position
    /// (`children.1.full_name`), removed ones by id.
    static func path(_ stored: String, in referral: Referral) -> String {
        let parts = stored.split(separator: ".").map(String.init)
        guard parts.count >= 2, let item = UUID(uuidString: parts[1]),
            let position = referral.items(of: parts[0]).firstIndex(of: item)
        else { return stored }
        return ([parts[0], String(position + 1)] + parts.dropFirst(2)).joined(separator: ".")
    }

    /// A stored value as a person reads it, on one line (`TerminalText.oneLine`).
    static func value(_ stored: String?, at path: String, form: ReferralForm) -> String {
        guard let stored else { return "(empty)" }
        if path.split(separator: ".").count == 2, let section = form.section(String(path.split(separator: ".")[0])), section.isGroup {
            return stored == ItemMarker.present ? "(added)" : TerminalText.oneLine(stored)
        }
        return TerminalText.oneLine(form.field(atStoredPath: path)?.1.type.display(stored) ?? stored)
    }

    /// A device as people recognise it: `this device`, or its user's name and
    /// the last four characters of its id (`jane's device 3f2a`), never the
    /// time-ordered start that looks like a referral's id.
    static func device(_ device: String, author: String, this: String? = nil) -> String {
        if let this, device.lowercased() == this.lowercased() { return "this device" }
        if device == ConsoleDevice.id { return "\(author) in the web console" }
        if device == ServerDevice.id { return "the server" }
        return "\(author)'s device \(device.suffix(4))"
    }

    /// A moment in the authority's local time: `Wed 25 Nov 2026 10:00`.
    static func localTime(_ date: Date, _ authority: Authority) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_GB")
        formatter.timeZone = TimeZone(identifier: authority.timeZone)
        formatter.dateFormat = "EEE d MMM yyyy HH:mm"
        return formatter.string(from: date)
    }

    /// The front door's decisions, numbered, oldest first: outcome, who and
    /// when, the note for the referrer and, for a change, why.
    static func decisionLines(_ decisions: [DecisionRecord], indent: String) -> [String] {
        decisions.enumerated().flatMap { index, decision in
            ["\(indent)\(index + 1). \(decision.title), \(decision.decidedAt) by \(decision.decidedBy)"]
                + (decision.reason.map { ["\(indent)   changed because: \(TerminalText.oneLine($0))"] } ?? [])
                + ["\(indent)   note: \(TerminalText.oneLine(decision.note))"]
        }
    }

    /// Pads columns to their widest cell.
    static func table(_ rows: [[String]]) -> [String] {
        guard let columns = rows.map(\.count).max() else { return [] }
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
    }
}

extension Context {
    /// The referral an id or id prefix names.
    func referralID(_ prefix: String) throws -> UUID {
        try store().referralID(matching: prefix)
    }

    /// The device's date now.
    var today: CalendarDate { CalendarDate.today(at: clock.now(), in: .current) }

    /// A warning line for each value just written that looks wrong (a birth
    /// in the future, a delivery in the past, an NHS number failing its
    /// check digit): it is stored all the same. "Today"
    /// is the date of the write (`referral.updatedAt`), so no clock is read.
    func valueWarnings(_ writes: [FieldWrite], in referral: Referral) -> [String] {
        let today = CalendarDate.today(at: referral.updatedAt, in: .current)
        return writes.compactMap { write in
            guard write.changed, let value = write.newValue,
                let message = Guidance.valueWarning(path: write.path, value: value, today: today)
            else { return nil }
            return "Warning: \(Format.path(write.path, in: referral)): \(message) It is saved as given."
        }
    }

    /// What to do when a child is at immediate risk: phone first, whom, and the
    /// 48-hour confirmation.
    func urgencyAdvice(for id: UUID) throws -> [String] {
        let authority = try authority()
        let now = clock.now()
        let duty = authority.dutyContact(at: now)
        let when = authority.isOfficeOpen(at: now) ? "office hours now" : "out of hours now"
        return [
            "The child is at immediate risk: phone before you write.",
            "  In immediate danger: \(authority.emergency.name), \(authority.emergency.phone).",
            "  Otherwise (\(when)): \(duty.name), \(duty.phone).",
        ] + (try exampleAuthorityNotice(indent: "  ")) + [
            "After the call, record it: field set \(id.lowercased.prefix(13)) urgency.call_made yes",
            "The written referral must confirm the call within 48 hours.",
        ]
    }

    /// The written-confirmation deadline, once a call is recorded.
    func callDeadline(in referral: Referral) throws -> String? {
        guard referral.values["urgency.call_made"] == "yes",
            let call = referral.values["urgency.call_at"].flatMap({ Timestamp.date($0) })
        else { return nil }
        let authority = try authority()
        let due = Authority.writtenConfirmationDue(afterCallAt: call)
        let late = clock.now() > due ? " (passed)" : ""
        return "Phone call recorded \(Format.localTime(call, authority)); written confirmation due by \(Format.localTime(due, authority))\(late)."
    }
}
