import Foundation
import HTTPTypes
import Hummingbird
import SyncCore

/// A refusal shown as a console page: its status and one sentence; a
/// redirect to the sign-in page when there is no live session.
struct ConsoleError: HTTPResponseError, CustomStringConvertible {
    let status: HTTPResponse.Status
    let message: String
    /// Who was signed in, so the page keeps its navigation.
    var staff: Staff?
    /// Extra headers, such as `Allow` on a 405.
    var headers: HTTPFields = [:]

    init(_ status: HTTPResponse.Status, _ message: String, staff: Staff? = nil, headers: HTTPFields = [:]) {
        self.status = status
        self.message = message
        self.staff = staff
        self.headers = headers
    }

    /// No live session: go and sign in.
    static let signIn = ConsoleError(.seeOther, "Sign in first.")

    var description: String { "\(status.code) \(message)" }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        if status == .seeOther { return .redirect(to: "/console/sign-in", type: .normal) }
        let heading: String
        switch status {
        case .notFound: heading = "Not found"
        case .forbidden: heading = "Not allowed"
        default: heading = "Not done"
        }
        var fields = ConsoleMiddleware.headers
        for field in headers { fields[field.name] = field.value }
        return try ConsoleRoutes.page(
            "message", title: heading, staff: staff, status: status, headers: fields,
            MessagePage(
                heading: heading, text: message, link: staff.map { ConsoleRoutes.start(for: $0.user.role) } ?? "/console/sign-in",
                linkText: staff == nil ? "Sign in" : "Back to the console"))
    }
}
