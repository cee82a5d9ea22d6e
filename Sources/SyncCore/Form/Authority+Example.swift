import Foundation

extension Authority {
    /// The shipped example: the seeds' authority. `config/authority.example.json`
    /// holds the same text (a test keeps the two equal) for operators to copy.
    public static let example: Authority = {
        do {
            return try JSONDecoder().decode(Authority.self, from: Data(exampleJSON.utf8))
        } catch {
            preconditionFailure("The built-in authority configuration does not decode: \(error)")
        }
    }()

    /// The shipped example as JSON, as `config/authority.example.json` holds it.
    public static let exampleJSON = #"""
{
  "name": "Worcestershire County Council (Family Front Door)",
  "timeZone": "Europe/London",
  "emergency": { "name": "Police", "phone": "999" },
  "frontDoor": { "name": "Family Front Door", "phone": "01905 822666" },
  "outOfHours": { "name": "Emergency Duty Team (out of hours)", "phone": "01905 768020" },
  "lado": { "name": "Duty LADO", "phone": "01905 846221" },
  "officeHours": {
    "monday": { "opens": "08:30", "closes": "17:00" },
    "tuesday": { "opens": "08:30", "closes": "17:00" },
    "wednesday": { "opens": "08:30", "closes": "17:00" },
    "thursday": { "opens": "08:30", "closes": "17:00" },
    "friday": { "opens": "08:30", "closes": "16:30" }
  },
  "bankHolidays": [
    "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25", "2025-12-25", "2025-12-26",
    "2026-01-01", "2026-04-03", "2026-04-06", "2026-05-04", "2026-05-25", "2026-08-31", "2026-12-25", "2026-12-28",
    "2027-01-01", "2027-03-26", "2027-03-29", "2027-05-03", "2027-05-31", "2027-08-30", "2027-12-27", "2027-12-28"
  ]
}
"""#
}
