import Foundation

/// A program run at a pseudo-terminal, as a person at a keyboard would run
/// it: started under util-linux `script` (which gives it a terminal and
/// passes on what the test types), through `ChildProcess` like every
/// process the tests start. The test types bytes (keys included: "\r" for
/// Enter, "\u{1B}[A" for Up, "\u{03}" for Ctrl-C) and waits for text to
/// appear, never for time to pass.
public final class TerminalSession {
    private let process: ChildProcess
    private var unread = Data()
    /// Everything the terminal has shown so far.
    public private(set) var transcript = ""

    /// Starts `executable` with `arguments` at a terminal.
    /// - Parameter environment: the program's whole environment.
    public init(_ executable: String, _ arguments: [String] = [], environment: [String: String]) throws {
        let command = ([executable] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        // -q: no banner; -e: script exits with the program's status; /dev/null: no typescript file.
        process = try ChildProcess("script", ["-q", "-e", "-c", command, "/dev/null"], environment: environment,
                                   input: .pipe, output: .pipe, error: .pipe)
    }

    /// Types `keys` exactly as given. Keys typed after the program ended are
    /// lost (the test then sees it in `waitFor`, `finish` and the transcript).
    public func type(_ keys: String) {
        try? process.input!.write(contentsOf: Data(keys.utf8))
    }

    /// How long `waitFor` waits for text before giving up: not a pause the
    /// test takes (it returns as soon as the text shows), only the point at
    /// which a program that stopped answering fails the test, with its
    /// transcript, instead of hanging the run.
    public static let patience: Int32 = 60_000

    /// Blocks until `text` has been shown since the last wait; returns what
    /// was shown up to and including it (all that was left if the program
    /// ended without showing it, or showed nothing for `patience` ms).
    @discardableResult
    public func waitFor(_ text: String) -> String {
        let wanted = Data(text.utf8)
        while true {
            if let found = unread.range(of: wanted) {
                let shown = unread[unread.startIndex..<found.upperBound]
                unread = Data(unread[found.upperBound...])
                return String(decoding: shown, as: UTF8.self)
            }
            var ready = pollfd(fd: process.output!.fileDescriptor, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, Self.patience) == 0 {
                transcript += "\n[nothing shown for \(Self.patience / 1000) s while waiting for \(text.debugDescription)]"
                let shown = String(decoding: unread, as: UTF8.self)
                unread = Data()
                return shown
            }
            let chunk = process.output!.availableData
            if chunk.isEmpty {
                let shown = String(decoding: unread, as: UTF8.self)
                unread = Data()
                return shown
            }
            unread.append(chunk)
            transcript += String(decoding: chunk, as: UTF8.self)
        }
    }

    /// Closes the keyboard, reads what is left and waits for the program: its exit status.
    public func finish() -> Int32 {
        try? process.input!.close()
        while true {
            let chunk = process.output!.availableData
            if chunk.isEmpty { break }
            transcript += String(decoding: chunk, as: UTF8.self)
        }
        return process.wait().status
    }
}
