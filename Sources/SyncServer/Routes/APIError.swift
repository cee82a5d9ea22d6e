import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// An error that chooses its own status and answers `{"error": {"message": …}}`.
struct APIError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    /// Extra headers, such as `Retry-After` on a 429.
    let headers: HTTPFields
    /// A machine-readable cause for clients that act on it (`ErrorCode`).
    let code: String?

    init(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:], code: String? = nil) {
        self.status = status
        self.message = message
        self.headers = headers
        self.code = code
    }

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        let body = try JSONEncoder().encode(ErrorBody(message: message, code: code))
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: body)))
    }
}
