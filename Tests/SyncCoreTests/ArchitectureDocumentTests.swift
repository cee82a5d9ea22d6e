import Foundation
import TestSupport
import Testing

/// `docs/architecture.md` drawn from the code, and kept so: the files that
/// import GRDB or PostgresNIO are listed in its table, and every folder under
/// `Sources/` is named in its tree. Reads the repository's own files.
@Suite("docs/architecture.md matches the code")
struct ArchitectureDocumentTests {
    static let root = Repository.root
    static let libraries = ["GRDB", "PostgresNIO"]

    static func document() throws -> String {
        try String(contentsOf: root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
    }

    /// Every Swift file under `Sources/`, relative to the repository (`Sources/SyncCore/…`).
    static func sourceFiles() throws -> [String] {
        let sources = root.appendingPathComponent("Sources")
        let walker = FileManager.default.enumerator(atPath: sources.path)
        var files: [String] = []
        while let path = walker?.nextObject() as? String {
            if path.hasSuffix(".swift") { files.append("Sources/" + path) }
        }
        return files.sorted()
    }

    /// `file → [library]` from the code: an `import GRDB` line (or `@preconcurrency import`, or `import struct GRDB.Row`).
    static func importsInCode() throws -> [String: [String]] {
        var found: [String: [String]] = [:]
        for file in try sourceFiles() {
            let text = try String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)
            let imported = text.split(separator: "\n").compactMap { line -> String? in
                let words = line.split(separator: " ").filter { $0 != "@preconcurrency" && $0 != "@_exported" }
                guard words.first == "import", let last = words.last else { return nil }
                let module = String(last.split(separator: ".").first ?? last)
                return libraries.contains(module) ? module : nil
            }
            if !imported.isEmpty { found[file] = Array(Set(imported)).sorted() }
        }
        return found
    }

    /// `file → [library]` from the document's table between `<!-- imports: begin -->` and `<!-- imports: end -->`.
    static func importsInDocument() throws -> [String: [String]] {
        let text = try document()
        guard let begin = text.range(of: "<!-- imports: begin -->"), let end = text.range(of: "<!-- imports: end -->") else {
            Issue.record("docs/architecture.md has no imports table between its markers")
            return [:]
        }
        var found: [String: [String]] = [:]
        for row in text[begin.upperBound..<end.lowerBound].split(separator: "\n") {
            let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, cells[0].hasPrefix("`Sources/") else { continue }
            found[cells[0].trimmingCharacters(in: CharacterSet(charactersIn: "`"))] =
                cells[1].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.sorted()
        }
        return found
    }

    @Test("the files importing GRDB or PostgresNIO are the ones the document lists")
    func storageImports() throws {
        let code = try Self.importsInCode()
        let document = try Self.importsInDocument()
        #expect(!code.isEmpty, "no file imports GRDB: the walk of Sources/ found nothing")
        for (file, modules) in code.sorted(by: { $0.key < $1.key }) where document[file] != modules {
            Issue.record("\(file) imports \(modules.joined(separator: ", ")); docs/architecture.md says \(document[file]?.joined(separator: ", ") ?? "nothing")")
        }
        for file in document.keys.sorted() where code[file] == nil {
            Issue.record("docs/architecture.md lists \(file), which imports neither GRDB nor PostgresNIO (or no longer exists)")
        }
    }

    @Test("the document's code blocks are closed, so its sections render as text")
    func fencesClosed() throws {
        var inside = false
        for line in try Self.document().split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inside.toggle() }
            if inside, line.hasPrefix("## ") { Issue.record("the heading '\(line)' is inside a code block") }
        }
        #expect(!inside, "docs/architecture.md ends inside a code block")
    }

    @Test("every folder under Sources/ is named in the document's tree")
    func everyFolderNamed() throws {
        let text = try Self.document()
        guard let start = text.range(of: "## The tree"), let fence = text.range(of: "```", range: start.upperBound..<text.endIndex),
            let close = text.range(of: "```", range: fence.upperBound..<text.endIndex)
        else {
            Issue.record("docs/architecture.md has no tree under '## The tree'")
            return
        }
        // The tree indents a folder under its parent: rebuild each line's full path from the indentation.
        var named: Set<String> = []
        var parents: [(indent: Int, path: String)] = []
        for line in text[fence.upperBound..<close.lowerBound].split(separator: "\n") {
            let indent = line.prefix { $0 == " " }.count
            guard let word = line.dropFirst(indent).split(separator: " ").first, word.hasSuffix("/") else { continue }
            while let last = parents.last, last.indent >= indent { parents.removeLast() }
            let path = word.hasPrefix("Sources/") ? String(word.dropLast()) : (parents.last.map { $0.path + "/" } ?? "") + word.dropLast()
            named.insert(path)
            parents.append((indent, path))
        }
        let sources = Self.root.appendingPathComponent("Sources")
        var folders: [String] = []
        let walker = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: [.isDirectoryKey])
        while let url = walker?.nextObject() as? URL {
            guard (try url.resourceValues(forKeys: [.isDirectoryKey])).isDirectory == true else { continue }
            let path = "Sources/" + url.path.dropFirst(sources.path.count + 1)
            // Resources and C headers sit inside folders the tree names.
            if path.hasSuffix("/Resources") || path.hasSuffix("/include") { continue }
            folders.append(path)
        }
        #expect(folders.count > 10, "the walk of Sources/ found \(folders.count) folders")
        for folder in folders.sorted() where !named.contains(folder) {
            Issue.record("docs/architecture.md's tree does not name \(folder)/")
        }
    }
}
