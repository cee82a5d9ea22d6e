import Foundation
import SyncCore

/// A test clock a test can move while the server runs: each reading is the
/// time written in the file (`2026-11-23T10:00:00Z`), moved on by 1 ms per
/// reading since the file last changed, so stamps stay distinct.
final class FileClock: WallClock, @unchecked Sendable {
    let path: String
    private let lock = NSLock()
    private var written: String = ""
    private var stepping = SteppingClock(start: Date(timeIntervalSince1970: 0), step: 0.001)

    init(path: String) {
        self.path = path
    }

    func now() -> Date {
        let text = (try? String(contentsOfFile: path, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return lock.withLock {
            if text != written, let start = Timestamp.date(text) {
                written = text
                stepping = SteppingClock(start: start, step: 0.001)
            }
            return stepping.now()
        }
    }
}
