import Foundation
import SyncCore

/// The layout around every page (`ConsoleTemplates.layout`): the title, the
/// page's own HTML (rendered and escaped by its template), and the navigation
/// for whoever is signed in.
struct LayoutPage {
    struct Navigation {
        let name: String
        let role: String
        let csrf: String
        let intake: Bool
        let admin: Bool
        let atQueue: Bool
        let atConflicts: Bool
        let atDevices: Bool
        let atAudit: Bool

        init(staff: Staff, current: ConsoleRoutes.Section?) {
            name = staff.user.name
            role = staff.user.role.rawValue
            csrf = staff.csrf
            intake = staff.user.role == .intake
            admin = staff.user.role == .admin
            atQueue = current == .queue
            atConflicts = current == .conflicts
            atDevices = current == .devices
            atAudit = current == .audit
        }
    }

    let title: String
    let body: String
    let staff: Navigation?
}
