import Foundation

/// NHS numbers: ten digits, the last a modulus-11 check digit (NHS Digital,
/// "NHS number" data dictionary: weights 10 down to 2 on the first nine
/// digits; 11 minus the remainder of their sum by 11 is the check digit, 11
/// meaning 0 and 10 meaning no valid number). Spaces and hyphens, as people
/// write them (`943 476 5919`), are ignored.
///
/// A number that fails is a warning, never a block: a referral must not wait
/// for a number someone can check later.
public enum NHSNumber {
    /// The ten digits of `text`, or nil if it is not ten digits once spaces and hyphens are removed.
    public static func digits(_ text: String) -> String? {
        let digits = text.filter { $0 != " " && $0 != "-" }
        guard digits.count == 10, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return digits
    }

    /// The check digit the first nine digits call for; nil when no digit
    /// can be right (the sum leaves a remainder of 1).
    public static func checkDigit(_ first9: some Collection<Int>) -> Int? {
        let sum = zip(first9, (2...10).reversed()).map { $0 * $1 }.reduce(0, +)
        switch 11 - sum % 11 {
        case 11: return 0
        case 10: return nil
        case let digit: return digit
        }
    }

    /// Why `text` is not a valid NHS number, in one sentence; nil if it is one.
    public static func problem(_ text: String) -> String? {
        guard let digits = digits(text) else {
            let count = text.filter(\.isNumber).count
            return "'\(text.prefix(40))' is not an NHS number: an NHS number has 10 digits (as 943 476 5919), this has \(count)."
        }
        let numbers = digits.compactMap(\.wholeNumberValue)
        guard let expected = checkDigit(numbers.prefix(9)) else {
            return "\(formatted(digits)) cannot be an NHS number: no check digit fits its first nine digits, so one of them is mistyped."
        }
        guard expected == numbers[9] else {
            return "\(formatted(digits)) fails the NHS number's check (its last digit should be \(expected) for these first nine), so a digit is probably mistyped."
        }
        return nil
    }

    /// `9434765919` as people write it: `943 476 5919`.
    public static func formatted(_ digits: String) -> String {
        let characters = Array(digits)
        guard characters.count == 10 else { return digits }
        return String(characters[0..<3]) + " " + String(characters[3..<6]) + " " + String(characters[6..<10])
    }
}
