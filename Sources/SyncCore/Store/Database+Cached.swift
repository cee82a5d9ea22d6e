import GRDB

extension Database {
    /// Runs a statement kept compiled for the life of the connection: the
    /// store's hot paths (edits, pulled pages, push replies) run the same few
    /// statements thousands of times.
    func run(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }

    func row(_ sql: String, _ arguments: StatementArguments = StatementArguments()) throws -> Row? {
        try Row.fetchOne(cachedStatement(sql: sql), arguments: arguments)
    }
}
