import Foundation
import Synchronization

/// The two SQL dialects the server speaks. The statements the backends share
/// are written once, in PostgreSQL's form (`$1` placeholders, standard
/// `INSERT … ON CONFLICT`, `WITH k(a, b) AS (VALUES …)`); what differs is
/// here and in the backends' revision allocation and locking.
enum SQLDialect: Sendable {
    case sqlite
    case postgres

    /// `sql` as this dialect reads it. SQLite: placeholders that come in
    /// order (`$1`, `$2`, … each once, as multi-row statements have them)
    /// become plain `?`, because SQLite looks a numbered `?N` up in a list,
    /// which made a 12,000-value insert quadratic (87% of a push's time,
    /// measured with perf); others become `?N`.
    func statement(_ sql: String) -> String {
        guard self == .sqlite else { return sql }
        guard sql.utf8.count <= Self.longestKept else { return Self.positional(sql) }
        if let known = Self.translated.withLock({ $0[sql] }) { return known }
        let translated = Self.positional(sql)
        Self.translated.withLock { if $0.count < Self.translationsKept { $0[sql] = translated } }
        return translated
    }

    /// Statements already translated for SQLite: the hand-written ones are
    /// a few dozen, run thousands of times a minute (the translation was 2 %
    /// of a loaded server's time, measured with perf). Built statements
    /// whose text varies with their input (a push's key lists, multi-row
    /// inserts) are longer than `longestKept` and are translated each time,
    /// so they do not fill the table; past `translationsKept` entries
    /// nothing more is kept.
    private static let translated = Mutex<[String: String]>([:])
    private static let translationsKept = 256
    /// The longest statement kept translated and prepared, in bytes: every
    /// hand-written statement is shorter; a built one is longer as soon as
    /// it lists a few keys.
    static let longestKept = 2_048

    private static func positional(_ sql: String) -> String {
        let dollar = UInt8(ascii: "$"), question = UInt8(ascii: "?"), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        var positional: [UInt8] = []
        positional.reserveCapacity(sql.utf8.count)
        var expected = 1
        var bytes = sql.utf8.makeIterator()
        var pending = bytes.next()
        while let byte = pending {
            pending = bytes.next()
            guard byte == dollar else {
                positional.append(byte)
                continue
            }
            var number = 0
            while let digit = pending, digit >= zero, digit <= nine {
                number = number * 10 + Int(digit - zero)
                pending = bytes.next()
            }
            guard number == expected else { return sql.replacingOccurrences(of: "$", with: "?") }
            expected += 1
            positional.append(question)
        }
        return String(decoding: positional, as: UTF8.self)
    }

    /// The most placeholders one statement may hold: SQLite's default limit
    /// is 32,766, PostgreSQL's 65,535; both are kept well under.
    static let maximumBinds = 30_000
}

extension SQLDialect {
    /// PostgreSQL: `writes` folded into data-modifying `WITH` statements
    /// (`WITH w1 AS (INSERT …), w2 AS (UPDATE …) INSERT …`), each holding at
    /// most `maximumBinds` values, with every write's `$N` renumbered after
    /// those before it. PostgreSQL runs every part of such a statement
    /// against one snapshot and checks foreign keys at its end, so the
    /// writes must touch different rows, as a write phase's do (each table's
    /// rows once; a referral inserted or updated, not both).
    static func combined(_ writes: [SQLWrite]) -> [SQLWrite] {
        var statements: [SQLWrite] = []
        var group: [SQLWrite] = []
        var count = 0
        func flush() {
            defer { group = []; count = 0 }
            guard group.count > 1 else {
                statements.append(contentsOf: group)
                return
            }
            var binds: [SQLBind] = []
            var parts: [String] = []
            for write in group {
                parts.append(renumbered(write.sql, after: binds.count))
                binds.append(contentsOf: write.binds)
            }
            let last = parts.removeLast()
            let with = parts.enumerated().map { "w\($0.offset + 1) AS (\($0.element))" }.joined(separator: ", ")
            statements.append(SQLWrite(sql: "WITH \(with) \(last)", binds: binds))
        }
        for write in writes {
            if count + write.binds.count > maximumBinds { flush() }
            group.append(write)
            count += write.binds.count
        }
        flush()
        return statements
    }

    /// `sql` with each `$N` made `$(N + offset)`. The statements folded are
    /// the server's own, with no `$` but in placeholders (checked: a
    /// programming error stops the process rather than corrupt a statement).
    static func renumbered(_ sql: String, after offset: Int) -> String {
        guard offset > 0 else { return sql }
        let dollar = UInt8(ascii: "$"), zero = UInt8(ascii: "0"), nine = UInt8(ascii: "9")
        var out: [UInt8] = []
        out.reserveCapacity(sql.utf8.count + sql.utf8.count / 8)
        var bytes = sql.utf8.makeIterator()
        var pending = bytes.next()
        while let byte = pending {
            pending = bytes.next()
            out.append(byte)
            guard byte == dollar else { continue }
            var number = 0
            var digits = 0
            while let digit = pending, digit >= zero, digit <= nine {
                number = number * 10 + Int(digit - zero)
                digits += 1
                pending = bytes.next()
            }
            // A `$` that is not a placeholder (a dollar-quoted string, an
            // identifier) would be corrupted: the folded statements have none.
            precondition(digits > 0, "a folded statement has a $ that is not a placeholder: \(sql.prefix(80))")
            out.append(contentsOf: String(number + offset).utf8)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

// MARK: SQLite (GRDB)
