import Foundation

/// A synthetic corpus of referrals for measuring the front door's matching
/// (docs/intake.md, "How well matching works"): households of children with
/// made-up names (syllables, never real people), referred again and again by
/// different agencies, each referral typed as a busy practitioner would:
/// often no NHS number, names with typing slips, in another order, a
/// known-as name, half a double-barrelled surname, a date of birth with day
/// and month swapped or one digit wrong or missing, a family that moved.
/// Siblings (twins among them) share a surname, a home and sometimes a
/// birthday, and must not be taken for one another.
///
/// Deterministic for a seed. Each referral is its values as stored
/// (`children.<id>.full_name`…), with the truth: which child each child item is.
public struct ReferralCorpus {
    public struct Referral {
        public var id: String
        /// Current values by path, as a device would push them.
        public var fields: [String: String]
        /// For each child item (`children.<id>`), the child it really is.
        public var children: [String: Int]
        public var agency: String
    }

    public private(set) var referrals: [Referral] = []
    /// How many distinct children the referrals name.
    public private(set) var childCount = 0

    /// Every pair of child items in two different referrals that are one
    /// child, as `IndexedPerson.key` pairs (`record/item`), smaller first.
    public var sameChildPairs: Set<[String]> {
        var byChild: [Int: [String]] = [:]
        for referral in referrals {
            for (item, child) in referral.children { byChild[child, default: []].append("\(referral.id)/\(item)") }
        }
        var pairs = Set<[String]>()
        for keys in byChild.values where keys.count > 1 {
            for i in keys.indices {
                for j in keys.indices where j > i && keys[i].split(separator: "/")[0] != keys[j].split(separator: "/")[0] {
                    pairs.insert([keys[i], keys[j]].sorted())
                }
            }
        }
        return pairs
    }

    struct Child {
        var given: String
        var surname: String
        var knownAs: String?
        var born: (year: Int, month: Int, day: Int)
        var nhs: String
    }

    struct Household {
        var addresses: [String]
        var adults: [(name: String, born: String)]
        var children: [Int]
    }

    /// `referrals` referrals about roughly `referrals * 0.6` children, from
    /// `seed`; referrals are numbered from `first` (their ids depend on it), so
    /// two corpora with different `first` can share one server.
    public init(referrals count: Int, seed: UInt64, first: Int = 0) {
        var random = SplitMix(seed: seed)
        let syllables = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "da", "re", "pa", "ri", "sa", "to", "be", "na", "li", "mo", "ze", "fe",
                         "ga", "ho", "ju", "ke", "ly", "ma", "ne", "ol", "pi", "qu", "ro", "si", "tu", "va", "wy", "xa", "yo", "zu"]
        func word(_ parts: Int) -> String {
            var text = ""
            for _ in 0..<parts { text += syllables[random.below(syllables.count)] }
            return text.prefix(1).uppercased() + text.dropFirst()
        }
        var givenNames = Set<String>()
        while givenNames.count < 400 { givenNames.insert(word(2 + random.below(2))) }
        var surnames = Set<String>()
        while surnames.count < 1_500 { surnames.insert(word(2 + random.below(2)) + ["son", "ley", "ton", "er", "well", ""][random.below(6)]) }
        let given = givenNames.sorted()
        let family = surnames.sorted()
        // A few surnames are very common (Zipf-like), as in life: they make the hard negatives.
        func surname() -> String { family[min(family.count - 1, Int(Double(family.count) * pow(random.unit(), 2.2)))] }
        func address() -> String {
            let area = ["XQ", "ZV", "QY", "JX"][random.below(4)]
            return "\(1 + random.below(180)) \(word(2)) \(["Road", "Street", "Close", "Lane"][random.below(4)]), \(word(2)) \(area)\(1 + random.below(9)) \(random.below(10))\(["AB", "CD", "EF", "GH", "JK"][random.below(5)])"
        }

        var children: [Child] = []
        var households: [Household] = []
        let childTarget = max(2, count * 6 / 10)
        while children.count < childTarget {
            let surnameOf = surname()
            var household = Household(addresses: [address()], adults: [], children: [])
            if random.chance(0.15) { household.addresses.append(address()) }  // moves between referrals
            household.adults.append((given[random.below(given.count)] + " " + surnameOf, "19\(75 + random.below(20))-0\(1 + random.below(9))-1\(random.below(10))"))
            if random.chance(0.5) { household.adults.append((given[random.below(given.count)] + " " + surname(), "19\(70 + random.below(25))-1\(random.below(3))-2\(random.below(9))")) }
            let size = 1 + random.below(3)
            var twinOf: (year: Int, month: Int, day: Int)?
            for index in 0..<size {
                var born = (2008 + random.below(17), 1 + random.below(12), 1 + random.below(28))
                if index > 0, let twin = twinOf, random.chance(0.15) { born = twin }  // twins
                twinOf = born
                let double = random.chance(0.05) ? surnameOf + "-" + surname() : surnameOf
                let child = Child(
                    given: given[random.below(given.count)], surname: double, knownAs: random.chance(0.08) ? word(1) + ["", "y", "ie"][random.below(3)] : nil,
                    born: born, nhs: Self.nhsNumber(&random))
                household.children.append(children.count)
                children.append(child)
            }
            households.append(household)
        }
        childCount = children.count

        // Which child each referral is about: every child at least once, the rest repeats.
        var mentions = Array(children.indices)
        while mentions.count < count { mentions.append(random.below(children.count)) }
        mentions = Array(mentions.prefix(count))
        let householdOf = Dictionary(uniqueKeysWithValues: households.enumerated().flatMap { index, household in household.children.map { ($0, index) } })
        let agencies = ["Oakfield Primary", "Health visiting", "Police", "Youth service", "GP practice", "A&E", "Housing", "A neighbour"]
        for (offset, child) in mentions.enumerated() {
            let number = first + offset
            let record = String(format: "0190%04x-0000-7000-8000-%012x", number >> 16, number)
            var fields: [String: String] = ["@kind": "social-care", "@status": "submitted", "referrer.agency": agencies[random.below(agencies.count)]]
            var truth: [String: Int] = [:]
            let household = households[householdOf[child]!]
            var about = [child]
            if household.children.count > 1, random.chance(0.2) { about.append(household.children.first { $0 != child }!) }
            for (index, who) in about.enumerated() {
                let item = "children." + Self.itemID(number, index)
                fields[item] = "present"
                truth[item] = who
                let person = children[who]
                let (name, usedAlias) = Self.typed(person, &random)
                fields["\(item).full_name"] = name
                // Other names, when the practitioner knows them: the known-as name, or the real one when the child goes by the other.
                if let alias = person.knownAs, random.chance(0.6) { fields["\(item).aliases"] = usedAlias ? person.given : alias }
                if let born = Self.typedBirth(person.born, &random) { fields["\(item).date_of_birth"] = born }
                if random.chance(0.35) { fields["\(item).nhs_number"] = person.nhs }
            }
            let moved = household.addresses.count > 1 && random.chance(0.5)
            if random.chance(0.9) { fields["household.address"] = household.addresses[moved ? 1 : 0] }
            if random.chance(0.4) {
                for (index, adult) in household.adults.enumerated() {
                    let member = "household_members." + Self.itemID(number, 8 + index)
                    fields[member] = "present"
                    fields["\(member).name"] = adult.name
                    fields["\(member).date_of_birth"] = adult.born
                }
            }
            referrals.append(Referral(id: record, fields: fields, children: truth, agency: fields["referrer.agency"]!))
        }
    }

    /// An item's id as a device gives it (a lowercase UUID), unique per referral number and position.
    static func itemID(_ number: Int, _ position: Int) -> String {
        String(format: "019a%04x-0000-7000-8000-%012x", number >> 16, (number & 0xFFFF) * 16 + position)
    }

    /// The child's name as one practitioner typed it.
    static func typed(_ child: Child, _ random: inout SplitMix) -> (name: String, usedAlias: Bool) {
        var surname = child.surname
        if surname.contains("-"), random.chance(0.3) { surname = String(surname.split(separator: "-")[random.below(2)]) }
        var given = child.given
        var usedAlias = false
        if let alias = child.knownAs, random.chance(0.3) { (given, usedAlias) = (alias, true) }
        let roll = random.unit()
        if roll < 0.08 { given = slip(given, &random) } else if roll < 0.16 { surname = slip(surname, &random) }
        if random.chance(0.05) { return ("\(surname.uppercased()) \(given)", usedAlias) }
        return (random.chance(0.1) ? "\(given.lowercased()) \(surname.lowercased())" : "\(given) \(surname)", usedAlias)
    }

    /// A typing slip: a letter dropped, doubled, changed, or two swapped.
    static func slip(_ word: String, _ random: inout SplitMix) -> String {
        var letters = Array(word)
        guard letters.count >= 4 else { return word }
        let at = 1 + random.below(letters.count - 2)
        switch random.below(4) {
        case 0: letters.remove(at: at)
        case 1: letters.insert(letters[at], at: at)
        case 2: letters[at] = Array("aeiourstln")[random.below(10)]
        default: letters.swapAt(at, at + 1)
        }
        return String(letters)
    }

    /// The date of birth as typed: usually right, sometimes swapped, a digit off, or left out.
    static func typedBirth(_ born: (year: Int, month: Int, day: Int), _ random: inout SplitMix) -> String? {
        let roll = random.unit()
        if roll < 0.07 { return nil }
        var (year, month, day) = born
        if roll < 0.12, day <= 12, day != month { (month, day) = (day, month) }
        else if roll < 0.16 {
            day += day % 10 == 9 || day == 28 ? -1 : 1  // one digit of the day
        }
        return String(format: "%04d-%02d-%02d", year, month, day)
    }

    /// A random NHS number with a valid check digit (modulus 11).
    static func nhsNumber(_ random: inout SplitMix) -> String {
        while true {
            let digits = (0..<9).map { _ in random.below(10) }
            let total = digits.enumerated().reduce(0) { $0 + $1.element * (10 - $1.offset) }
            let check = 11 - total % 11
            if check == 10 { continue }
            return digits.map(String.init).joined() + String(check == 11 ? 0 : check)
        }
    }
}

/// SplitMix64: a small, fast, seedable generator, the same on every platform.
public struct SplitMix {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    public mutating func chance(_ p: Double) -> Bool { unit() < p }
}
