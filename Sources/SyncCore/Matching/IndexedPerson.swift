import Foundation

/// One person a submitted referral names, as the front door's person index
/// holds them: a child (`children.<id>`) or a household member
/// (`household_members.<id>`), with what matching compares, each normalised
/// once when the referral is indexed.
///
/// The regional procedure asks the worker receiving a referral to check
/// "any previous involvement … in relation to the child or children
/// concerned and any other members of the household" (REFERRALS.md, seeds):
/// the index is what makes that check a look-up (docs/intake.md, "Known to
/// the front door").
public struct IndexedPerson: Sendable, Hashable, Codable {
    public enum Role: String, Sendable, Codable {
        /// A child the referral is about.
        case child
        /// Someone the referral lists as a member of the child's household.
        case member
    }

    /// The referral's id.
    public var record: String
    /// The item the person is: `children.<id>` or `household_members.<id>`.
    public var item: String
    public var role: Role
    /// The name as typed (for display to intake), or nil when none was given.
    public var name: String?
    /// The name folded (`PersonName.fold`): "Zoë O'Brien-Hart" → "zoe obrien hart".
    public var folded: String
    /// Other names the child is known by (the form's `aliases`), folded, one per name.
    public var knownAs: [String]
    /// `YYYY-MM-DD` when the referral gives a valid date of birth.
    public var dateOfBirth: String?
    /// Ten digits, only when the number's check digit is valid (`NHSNumber`).
    public var nhsNumber: String?
    /// The household's postcode, upper case without its space (`LS11AA`).
    public var postcode: String?
    /// The household's address as a key (`Address.key`): postcode and house number, or the folded address.
    public var address: String?

    public init(
        record: String, item: String, role: Role, name: String?, knownAs: [String] = [], dateOfBirth: String? = nil,
        nhsNumber: String? = nil, postcode: String? = nil, address: String? = nil
    ) {
        self.record = record
        self.item = item
        self.role = role
        self.name = name
        self.folded = PersonName.fold(name ?? "")
        self.knownAs = knownAs.map(PersonName.fold).filter { !$0.isEmpty }
        self.dateOfBirth = dateOfBirth
        self.nhsNumber = nhsNumber
        self.postcode = postcode
        self.address = address
    }

    /// A person as the index stored them, every value already normalised (no folding again).
    public init(
        record: String, item: String, role: Role, name: String?, folded: String, knownAs: [String], dateOfBirth: String?, nhsNumber: String?,
        postcode: String?, address: String?
    ) {
        (self.record, self.item, self.role, self.name, self.folded, self.knownAs) = (record, item, role, name, folded, knownAs)
        (self.dateOfBirth, self.nhsNumber, self.postcode, self.address) = (dateOfBirth, nhsNumber, postcode, address)
    }

    /// Who the person is across the index: `<record>/<item>`.
    public var key: String { "\(record)/\(item)" }

    /// The folded name's words in order, a stable key for a name typed in another order.
    public var nameKey: String { folded.split(separator: " ").sorted().joined(separator: " ") }

    /// The people of one referral, read from its current values (paths as
    /// stored: `children.<id>.full_name`…): every present child and
    /// household member, with the household's address. A removed item
    /// (its marker cleared) is left out; a bad NHS number or date is left
    /// blank rather than guessed.
    public static func people(record: String, fields: [String: String]) -> [IndexedPerson] {
        let address = fields["household.address"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
        let postcode = address.flatMap(Address.postcode)
        let addressKey = address.flatMap(Address.key)
        var people: [IndexedPerson] = []
        for (path, value) in fields where value == ItemMarker.present {
            let parts = path.split(separator: ".")
            guard parts.count == 2 else { continue }
            let role: Role
            let nameField: String
            switch parts[0] {
            case "children": (role, nameField) = (.child, "full_name")
            case "household_members": (role, nameField) = (.member, "name")
            default: continue
            }
            func value(_ field: String) -> String? {
                fields["\(path).\(field)"].flatMap { $0.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? nil : $0 }
            }
            let name = value(nameField)
            let born = value("date_of_birth").flatMap(DateOfBirth.normalised)
            let nhs = role == .child ? value("nhs_number").flatMap { NHSNumber.problem($0) == nil ? NHSNumber.digits($0) : nil } : nil
            guard name != nil || born != nil || nhs != nil else { continue }
            people.append(IndexedPerson(
                record: record, item: path, role: role, name: name, knownAs: value("aliases").map(PersonName.aliases) ?? [],
                dateOfBirth: born, nhsNumber: nhs, postcode: postcode, address: addressKey))
        }
        return people.sorted { $0.item < $1.item }
    }

    /// The paths whose values the index reads: a change to any of them re-indexes the referral.
    public static func isIndexed(path: String) -> Bool {
        path.hasPrefix("children.") || path.hasPrefix("household_members.") || path == "household.address"
    }
}

/// Names as matching compares them.
public enum PersonName {
    /// Case, accents and punctuation folded away, hyphens and other
    /// separators made spaces: "Zoë  O'Brien-Hart" → "zoe obrien hart".
    public static func fold(_ name: String) -> String {
        let plain = name.folding(options: [.caseInsensitive, .diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_GB")).lowercased()
        var folded = ""
        var space = false
        for scalar in plain.unicodeScalars {
            if CharacterSet.alphanumerics.contains(scalar) {
                folded.unicodeScalars.append(scalar)
                space = false
            } else if scalar == "'" || scalar == "’" || scalar == "." {
                continue  // O'Brien is obrien, St. is st
            } else if !space, !folded.isEmpty {
                folded.append(" ")
                space = true
            }
        }
        return space ? String(folded.dropLast()) : folded
    }

    /// The form's "other names" answer split into names: "Zee, Zed or Z" → ["Zee", "Zed", "Z"].
    public static func aliases(_ text: String) -> [String] {
        text.replacingOccurrences(of: " or ", with: ",").replacingOccurrences(of: " aka ", with: ",")
            .split(whereSeparator: { ",;/\n".contains($0) }).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }
}

/// Dates of birth as matching compares them.
public enum DateOfBirth {
    /// `YYYY-MM-DD` for a valid calendar date typed so (or `YYYY-M-D`); nil otherwise.
    public static func normalised(_ text: String) -> String? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "-")
        guard parts.count == 3, let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
            let date = CalendarDate(year: year, month: month, day: day)
        else { return nil }
        return date.description
    }

    /// How two dates of birth relate, for a match's reasons.
    public enum Likeness: Equatable, Sendable {
        case same
        /// Day and month swapped (`2016-03-07` and `2016-07-03`): a date typed the American way.
        case swapped
        /// One digit different (`2016-03-17` and `2016-03-12`): a slip of the finger.
        case oneDigit
        case different
    }

    public static func likeness(_ a: String, _ b: String) -> Likeness {
        if a == b { return .same }
        if swapped(a) == b { return .swapped }
        let da = Array(a.utf8), db = Array(b.utf8)
        guard da.count == db.count else { return .different }
        return zip(da, db).filter { $0 != $1 }.count == 1 ? .oneDigit : .different
    }

    /// The date with day and month swapped, when that is another valid date.
    static func swapped(_ date: String) -> String? {
        let parts = date.split(separator: "-")
        guard parts.count == 3, parts[1] != parts[2], let year = Int(parts[0]), let month = Int(parts[2]), let day = Int(parts[1]),
            let other = CalendarDate(year: year, month: month, day: day)
        else { return nil }
        return other.description
    }

    /// Every date a matching date of birth may be: the date, its swap, and
    /// each valid date one digit away (at most about 60), for the index's look-up.
    public static func variants(_ date: String) -> [String] {
        var found: Set<String> = [date]
        if let swapped = swapped(date) { found.insert(swapped) }
        let bytes = Array(date.utf8)
        for index in bytes.indices where bytes[index] != UInt8(ascii: "-") {
            for digit in UInt8(ascii: "0")...UInt8(ascii: "9") where digit != bytes[index] {
                var other = bytes
                other[index] = digit
                if let valid = normalised(String(decoding: other, as: UTF8.self)) { found.insert(valid) }
            }
        }
        return found.sorted()
    }
}

/// Household addresses as matching compares them.
public enum Address {
    /// A UK postcode in the text, upper case without its space (`LS11AA`), or nil.
    public static func postcode(_ text: String) -> String? {
        let upper = text.uppercased()
        guard let found = upper.firstMatch(of: /\b([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})\b/) else { return nil }
        return String(found.1) + String(found.2)
    }

    /// An address as a key two referrals share when they name the same home:
    /// the postcode and the house number or name's first word (`LS11AA|12`),
    /// or without a postcode the whole address folded.
    public static func key(_ text: String) -> String? {
        let folded = PersonName.fold(text)
        guard !folded.isEmpty else { return nil }
        guard let postcode = postcode(text) else { return folded }
        let house = folded.split(separator: " ").first { $0.first?.isNumber == true } ?? folded.split(separator: " ").first ?? ""
        return "\(postcode)|\(house)"
    }
}
