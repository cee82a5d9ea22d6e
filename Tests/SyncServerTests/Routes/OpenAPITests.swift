import Foundation
import TestSupport
import SyncCore
import Testing
@testable import SyncServer

/// `docs/openapi.yaml` describes exactly the routes the server registers, and
/// every operation declares what it can answer. Read with a small line parser
/// over the document's own formatting (see its header), not a YAML library.
@Suite("OpenAPI document")
struct OpenAPITests {
    static let document = Repository.file("docs/openapi.yaml")

    struct Operation: Hashable {
        var method: String
        var path: String
        var responses: [String] = []
        var secured = true
        var usesDeviceHeader = false
    }

    /// The operations under `paths:`, in document order.
    static func operations() throws -> [Operation] {
        let lines = try String(contentsOf: document, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        let methods: Set<String> = ["get", "post", "put", "patch", "delete", "head", "options"]
        var operations: [Operation] = []
        var path: String?
        var inPaths = false
        var inResponses = false
        for raw in lines {
            let line = String(raw)
            if !line.hasPrefix(" ") && !line.isEmpty && !line.hasPrefix("#") {
                inPaths = line == "paths:"
                continue
            }
            guard inPaths else { continue }
            let indent = line.prefix { $0 == " " }.count
            let text = line.trimmingCharacters(in: .whitespaces)
            switch indent {
            case 2 where text.hasPrefix("/") && text.hasSuffix(":"):
                path = String(text.dropLast())
                inResponses = false
            case 4 where text.hasSuffix(":") && methods.contains(String(text.dropLast())):
                operations.append(Operation(method: text.dropLast().uppercased(), path: path ?? "?"))
                inResponses = false
            case 6:
                inResponses = text == "responses:"
                if text == "security: []" { operations[operations.count - 1].secured = false }
            case 8 where inResponses && text.hasPrefix("\"") && text.hasSuffix("\":"):
                operations[operations.count - 1].responses.append(String(text.dropFirst().dropLast(2)))
            case 8 where text.contains("#/components/parameters/FieldDevice"):
                operations[operations.count - 1].usesDeviceHeader = true
            default:
                break
            }
        }
        return operations
    }

    /// The API routes the server registers, as `METHOD /path/{param}`. The
    /// web console's pages (`/console/…`) are HTML for people, not API:
    /// docs/console.md describes them and ConsoleBrowserTests drives them.
    static func registeredRoutes() throws -> Set<String> {
        let folder = try TemporaryFolder.make("openapi")
        defer { try? FileManager.default.removeItem(at: folder) }
        let storage = try SQLiteStorage(path: folder.appendingPathComponent("server.sqlite").path)
        let router = buildRouter(ServerConfiguration(), storage: storage, metrics: ServerMetrics())
        return Set(router.routes.filter { !$0.path.description.hasPrefix("/console") }.map { route in
            let path = route.path.description.split(separator: "/").map { part in
                part.hasPrefix(":") ? "{\(part.dropFirst())}" : String(part)
            }
            return "\(route.method.rawValue) /" + path.joined(separator: "/")
        })
    }

    @Test("the document's paths and methods are exactly the routes the server registers")
    func pathsMatchRoutes() throws {
        let documented = Set(try Self.operations().map { "\($0.method) \($0.path)" })
        let registered = try Self.registeredRoutes()
        #expect(registered.count >= 13)
        #expect(documented.subtracting(registered).isEmpty, "documented but not served: \(documented.subtracting(registered).sorted())")
        #expect(registered.subtracting(documented).isEmpty, "served but not documented: \(registered.subtracting(documented).sorted())")
    }

    @Test("every operation declares its responses: success, and the errors its middleware can give")
    func responsesDeclared() throws {
        let operations = try Self.operations()
        #expect(operations.count == Set(operations).count)
        for operation in operations {
            let name = "\(operation.method) \(operation.path)"
            #expect(operation.responses.contains("200"), "\(name) declares no 200")
            #expect(operation.responses.allSatisfy { Int($0).map { (200...599).contains($0) } == true }, "\(name): \(operation.responses)")
            guard operation.secured else { continue }
            // Everything under /v1 passes the authentication middleware and the rate limiter.
            #expect(operation.path.hasPrefix("/v1/"), "\(name) is secured but not under /v1")
            for status in ["401", "429"] {
                #expect(operation.responses.contains(status), "\(name) does not declare \(status)")
            }
            // A revoked device gets 410 everywhere but on its wipe report.
            if operation.path != "/v1/devices/wiped" {
                #expect(operation.responses.contains("410"), "\(name) does not declare 410")
                #expect(operation.usesDeviceHeader, "\(name) does not document Field-Device")
            }
            // Role-guarded and device-checked routes answer 403.
            if operation.path.contains("/intake/") || operation.path.contains("/conflicts") || operation.path.contains("/revoke")
                || ["/v1/push", "/v1/register"].contains(operation.path)
            {
                #expect(operation.responses.contains("403"), "\(name) does not declare 403")
            }
            // Routes with an id answer 404 for one the caller may not see.
            if operation.path.contains("{id}") {
                #expect(operation.responses.contains("404"), "\(name) does not declare 404")
            }
        }
    }

    @Test("every route that reads a body declares 400 and 413")
    func bodiesDeclared() throws {
        let text = try String(contentsOf: Self.document, encoding: .utf8)
        for operation in try Self.operations() {
            // The operation's own block: from its method line to the next operation or path.
            let marker = "  \(operation.path):\n    \(operation.method.lowercased()):\n"
            guard let start = text.range(of: marker) else {
                Issue.record("no block for \(operation.method) \(operation.path)")
                continue
            }
            let rest = text[start.upperBound...]
            let end = rest.range(of: "\n  /")?.lowerBound ?? rest.range(of: "\ncomponents:")?.lowerBound ?? rest.endIndex
            guard rest[..<end].contains("requestBody:") else { continue }
            #expect(operation.responses.contains("400") && operation.responses.contains("413"), "\(operation.method) \(operation.path)")
        }
    }
}
