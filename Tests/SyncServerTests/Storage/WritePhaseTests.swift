import Testing
@testable import SyncServer

/// PostgreSQL runs a write phase's statements as one (`SQLDialect.combined`);
/// the statements themselves are exercised on a real PostgreSQL by every
/// push of the server suites with `SYNC_TEST_BACKEND=postgres`.
@Suite("Write phase: statements folded into one on PostgreSQL")
struct WritePhaseTests {
    @Test("placeholders are renumbered after the binds before them; a lone write is left as it is")
    func renumbering() {
        #expect(SQLDialect.renumbered("UPDATE t SET a = $1 WHERE id = $2 AND b = $10", after: 3) == "UPDATE t SET a = $4 WHERE id = $5 AND b = $13")
        #expect(SQLDialect.renumbered("SELECT $1", after: 0) == "SELECT $1")
        let one = SQLWrite(sql: "UPDATE t SET a = $1", binds: [.int(1)])
        #expect(SQLDialect.combined([one]).map(\.sql) == [one.sql])
        #expect(SQLDialect.combined([]).isEmpty)
    }

    @Test("several writes become one WITH statement, binds in order; past the bind limit, another statement")
    func folding() {
        let a = SQLWrite(sql: "INSERT INTO a (x) VALUES ($1), ($2)", binds: [.int(1), .int(2)])
        let b = SQLWrite(sql: "UPDATE b SET y = $1 WHERE id = $2", binds: [.text("y"), .text("id")])
        let c = SQLWrite(sql: "INSERT INTO c (z) VALUES ($1)", binds: [.int(3)])
        let folded = SQLDialect.combined([a, b, c])
        #expect(folded.count == 1)
        #expect(folded.first?.sql == "WITH w1 AS (INSERT INTO a (x) VALUES ($1), ($2)), w2 AS (UPDATE b SET y = $3 WHERE id = $4) INSERT INTO c (z) VALUES ($5)")
        #expect(folded.first?.binds == a.binds + b.binds + c.binds)

        let big = SQLWrite(sql: "INSERT INTO a (x) VALUES ($1)", binds: Array(repeating: .int(0), count: SQLDialect.maximumBinds - 1))
        let split = SQLDialect.combined([big, b, c])
        #expect(split.map(\.binds.count) == [SQLDialect.maximumBinds - 1, 3])
        #expect(split.last?.sql == "WITH w1 AS (UPDATE b SET y = $1 WHERE id = $2) INSERT INTO c (z) VALUES ($3)")
    }
}
