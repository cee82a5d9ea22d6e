import ArgumentParser
import Foundation
import HummingbirdBcrypt
import NIOPosix
import SyncCore

/// A command that could not do what it was asked, for a reason the operator
/// can act on: argument-parser prints `Error: ` and the sentence, without
/// the usage text a `ValidationError` brings, and the command exits 1.
struct OperatorError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
