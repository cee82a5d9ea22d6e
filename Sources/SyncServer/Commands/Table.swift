import ArgumentParser
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SyncCore

/// Left-aligned columns two spaces apart; the last column is not padded.
/// Every cell is put on one line with its control characters shown
/// (`TerminalText.oneLine`): a device's report or a user's name must not
/// drive the operator's terminal.
enum Table {
    static func render(_ rows: [[String]]) -> String {
        let rows = rows.map { $0.map(TerminalText.oneLine) }
        let columns = rows.map(\.count).max() ?? 0
        let widths = (0..<columns).map { column in rows.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return rows.map { row in
            row.enumerated().map { column, cell in
                column == row.count - 1 ? cell : cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
