import Foundation
import GRDB

/// The server this device is registered with.
public struct ServerLogin: Sendable, Equatable {
    public var server: String
    public var token: String
    public var user: String
    public var role: Role
    /// PEM certificates of the authorities trusted for this server instead of
    /// the system's (`field login --ca`), or nil.
    public var ca: String?

    public init(server: String, token: String, user: String, role: Role, ca: String? = nil) {
        self.server = server
        self.token = token
        self.user = user
        self.role = role
        self.ca = ca
    }
}

/// The device's registration: the server, its token (sealed) and the user it acts for.
extension LocalStore {
    /// - Parameter lastSeq: the highest change number the server has from this
    ///   device; the device numbers its next changes past it (a device restored
    ///   from a backup would otherwise reuse numbers).
    public func saveLogin(_ login: ServerLogin, lastSeq: Int64? = nil) throws {
        try writer.write { db in
            try db.run("UPDATE device SET server_url = ?, token = ?, role = ?, author = ?, server_ca = ?, next_seq = max(next_seq, ?)",
                [login.server, cipher.seal(login.token, record: Self.deviceRecord, path: Self.tokenPath), login.role.rawValue,
                 login.user, login.ca, (lastSeq ?? 0) + 1])
        }
    }

    public func login() throws -> ServerLogin? {
        try writer.read { db in
            guard let row = try db.row("SELECT server_url, token, author, role, server_ca FROM device"),
                let server: String = row["server_url"],
                let token = try cipher.open(row, "token", record: Self.deviceRecord, path: Self.tokenPath)
            else { return nil }
            return ServerLogin(server: server, token: token, user: row["author"], role: Role(rawValue: row["role"] ?? "") ?? .practitioner, ca: row["server_ca"])
        }
    }
}
