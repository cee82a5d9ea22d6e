import Foundation
import SyncCore
import TestSupport
import Testing
import Yams
@testable import SyncServer

/// `docs/openapi.yaml` describes exactly the routes the server registers, and
/// every operation declares what it can answer. Read with Yams as the YAML it
/// is: the checks walk the parsed document (paths, operations, status codes,
/// components), whatever its formatting.
@Suite("OpenAPI document")
struct OpenAPITests {
    static let document = Repository.file("docs/openapi.yaml")
    static let methods: Set<String> = ["get", "post", "put", "patch", "delete", "head", "options"]

    struct Operation: Hashable {
        var method: String
        var path: String
        var responses: [String] = []
        var secured = true
        var usesDeviceHeader = false
        var readsBody = false
    }

    /// The whole document, parsed.
    static func root() throws -> Node {
        guard let root = try Yams.compose(yaml: try String(contentsOf: document, encoding: .utf8)), root.mapping != nil else {
            throw TestFailure("docs/openapi.yaml is not a YAML mapping")
        }
        return root
    }

    /// The operations under `paths`, in document order.
    static func operations() throws -> [Operation] {
        guard let paths = try root().value("paths")?.mapping else { throw TestFailure("docs/openapi.yaml has no paths") }
        var operations: [Operation] = []
        for (pathKey, item) in paths {
            guard let path = pathKey.string, let item = item.mapping else { continue }
            for (methodKey, body) in item {
                guard let method = methodKey.string, methods.contains(method) else { continue }
                var operation = Operation(method: method.uppercased(), path: path)
                operation.responses = body.value("responses")?.mapping?.compactMap { $0.key.string } ?? []
                if let security = body.value("security")?.sequence, security.isEmpty { operation.secured = false }
                operation.usesDeviceHeader = body.value("parameters")?.sequence?.contains {
                    $0.value("$ref")?.string?.hasPrefix("#/components/parameters/FieldDevice") == true
                } ?? false
                operation.readsBody = body.value("requestBody") != nil
                operations.append(operation)
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
        #expect(operations.count == Set(operations.map { "\($0.method) \($0.path)" }).count)
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
        let readers = try Self.operations().filter(\.readsBody)
        #expect(!readers.isEmpty)
        for operation in readers {
            #expect(operation.responses.contains("400") && operation.responses.contains("413"), "\(operation.method) \(operation.path)")
        }
    }

    @Test("every $ref names a schema, response or parameter the document defines")
    func referencesResolve() throws {
        let root = try Self.root()
        var references: [String] = []
        func collect(_ node: Node) {
            if let mapping = node.mapping {
                for (key, value) in mapping {
                    if key.string == "$ref", let target = value.string { references.append(target) } else { collect(value) }
                }
            } else if let sequence = node.sequence {
                sequence.forEach(collect)
            }
        }
        collect(root)
        #expect(references.count > 20)
        for reference in Set(references).sorted() {
            let parts = reference.split(separator: "/").map(String.init)
            #expect(parts.first == "#" && parts.count == 4 && parts[1] == "components", "\(reference) is not a local component")
            let target = parts.dropFirst().reduce(Optional(root)) { node, part in node?.value(part) }
            #expect(target != nil, "\(reference) names nothing in docs/openapi.yaml")
        }
    }
}

extension Node {
    /// The value under `key` in a mapping, however the key was written (plain or quoted).
    func value(_ key: String) -> Node? { mapping?.first { $0.key.string == key }?.value }
}
