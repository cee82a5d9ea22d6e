import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import SyncCore

/// The admins' users and devices (`ConsoleTemplates.devices`), and revoking a device.
struct DevicesPage {
    struct UserRow {
        let name: String
        let role: String
        let created: String
        let state: String
    }

    struct DeviceRow {
        let id: String
        let user: String
        let registered: String
        let lastSync: String
        let revoked: Bool
        let state: String
        /// What unsent work the device reported erasing, when it erased any.
        let erased: String?
    }

    let users: [UserRow]
    let devices: [DeviceRow]
    let notice: String?
    let erasedCount: Int?
}

/// The confirmation before revoking a device (`ConsoleTemplates.revoke`).
struct RevokePage {
    let id: String
    let user: String
    let registered: String
    let lastSync: String
    let csrf: String
}

extension ConsoleRoutes {
    @Sendable func devices(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.admin])
        let revoked = try Self.query(DoneQuery.self, request, staff: staff).revoked.flatMap { id in id.allSatisfy { $0.isHexDigit || $0 == "-" } ? id : nil }
        return try await devicesPage(staff: staff, notice: revoked.map { "Device \($0) is revoked." })
    }

    private func devicesPage(staff: Staff, notice: String? = nil) async throws -> Response {
        let users = try await storage.users().map {
            DevicesPage.UserRow(name: $0.name, role: $0.role, created: local($0.createdAt), state: $0.disabledAt.map { "Disabled \(local($0))" } ?? "Active")
        }
        let summaries = try await storage.devices(user: nil)
        let devices = summaries.map { device in
            DevicesPage.DeviceRow(
                id: device.id, user: device.user, registered: local(device.registeredAt), lastSync: device.lastSyncAt.map(local) ?? "never",
                revoked: device.revokedAt != nil,
                state: device.revokedAt.map { at in
                    "Revoked \(local(at)) by \(device.revokedBy ?? "?")" + (device.revokeMode == .sendSubmitted ? " (submitted work first)" : "")
                        + (device.wipedAt.map { "; wiped \(local($0))" } ?? "")
                } ?? "Active",
                erased: device.erasedUnsent?.alert)
        }
        let erased = summaries.filter { $0.erasedUnsent?.alert != nil }.count
        return try page(
            "devices", title: "Devices", staff: staff, current: .devices,
            DevicesPage(users: users, devices: devices, notice: notice, erasedCount: erased > 0 ? erased : nil))
    }

    @Sendable func confirmRevoke(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let staff = try await sessions.require(request, context, roles: [.admin])
        let id = try context.parameters.require("id")
        guard let device = try await storage.devices(user: nil).first(where: { $0.id == id }) else {
            throw ConsoleError(.notFound, "No device has id '\(id.prefix(40))'.", staff: staff)
        }
        if let at = device.revokedAt {
            throw ConsoleError(.conflict, "Device \(id) was already revoked at \(local(at)) by \(device.revokedBy ?? "?").", staff: staff)
        }
        return try page(
            "revoke", title: "Revoke a device", staff: staff, current: .devices,
            RevokePage(id: device.id, user: device.user, registered: local(device.registeredAt), lastSync: device.lastSyncAt.map(local) ?? "never", csrf: staff.csrf))
    }

    struct RevokeForm: Decodable {
        var csrf: String?
        var confirm: String?
        var mode: String?
    }

    @Sendable func revoke(_ request: Request, context: SyncRequestContext) async throws -> Response {
        let (staff, id, form) = try await staffForm(RevokeForm.self, request, context, roles: [.admin]) { $0.csrf }
        guard form.confirm == "yes" else {
            throw ConsoleError(.badRequest, "Revoking a device needs its confirmation page; nothing was changed.", staff: staff)
        }
        guard let mode = RevokeMode(rawValue: form.mode ?? RevokeMode.erase.rawValue) else {
            throw ConsoleError(.badRequest, "'\(form.mode!.prefix(40))' is not a way to revoke (erase or send-submitted); nothing was changed.", staff: staff)
        }
        switch try await storage.revoke(device: id, by: staff.user.name, reason: nil, at: Timestamp.string(clock.now()), mode: mode) {
        case .noSuchDevice:
            throw ConsoleError(.notFound, "No device has id '\(id.prefix(40))'.", staff: staff)
        case .alreadyRevoked(let at, let by):
            throw ConsoleError(.conflict, "Device \(id) was already revoked at \(local(at)) by \(by); nothing was changed.", staff: staff)
        case .revoked:
            break
        }
        context.logger.notice("device revoked", metadata: ["device": "\(id)", "via": "console", "mode": "\(mode.rawValue)"])
        return .redirect(to: "/console/devices?revoked=\(id)", type: .normal)
    }

}
