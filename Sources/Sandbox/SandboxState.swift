import Foundation

/// Everything the sandbox remembers, guarded by one lock in `YouTubeSandbox` and kept in
/// its state file when it has one.
struct SandboxState: Codable, Sendable {
    struct Account: Codable, Sendable {
        var channelID: String
        var email: String
        var title: String
        var createdAt: Date
        var subscribers: Int
        var uploadsByDay: [String: Int] = [:]
    }

    struct Grant: Codable, Sendable {
        var email: String
        var clientID: String
        var redirectURI: String
        var scope: String
    }

    struct Token: Codable, Sendable {
        var email: String
        var clientID: String
        var expiresAt: Date
        /// The scopes granted, space-separated.
        var scope: String = ""
    }

    struct RefreshToken: Codable, Sendable {
        var email: String
        var clientID: String
        var scope: String
        var revoked = false
    }

    struct Video: Codable, Sendable {
        var id: String
        var channelID: String
        var title: String
        var description: String
        var tags: [String]
        var privacyStatus: String
        var contentType: String
        var bytes: Data
        var publishedAt: Date
        var thumbnail: Data?
    }

    struct Session: Codable, Sendable {
        var channelID: String
        var total: Int
        var contentType: String
        var title: String
        var description: String
        var tags: [String]
        var privacyStatus: String
        var received = Data()
        var createdAt: Date
        var videoID: String?
    }

    /// When the sandbox started (public channels' uploads are dated from it).
    var startedAt: Date
    var accounts: [String: Account] = [:]
    var grants: [String: Grant] = [:]
    var tokens: [String: Token] = [:]
    var refreshTokens: [String: RefreshToken] = [:]
    var videos: [String: Video] = [:]
    var videoOrder: [String] = []
    var sessions: [String: Session] = [:]
    /// Quota units spent, by bucket (project or channel) and Pacific day.
    var quota: [String: Int] = [:]
    var quotaExceededAnswers = 0
    var faultsInjected = 0

    /// The account for `email`, created on first sign-in like a fresh Google account with a channel.
    mutating func account(email: String, now: Date) -> Account {
        if let existing = accounts[email] { return existing }
        let account = Account(channelID: "UC" + SandboxID.make(22), email: email,
                              title: email.split(separator: "@").first.map { String($0) } ?? email, createdAt: now,
                              subscribers: 100 + email.utf8.reduce(0) { ($0 * 31 + Int($1)) % 900 })
        accounts[email] = account
        return account
    }

    func account(channelID: String) -> Account? { accounts.values.first { $0.channelID == channelID } }
}

/// Random identifiers shaped like Google's.
enum SandboxID {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")

    static func make(_ length: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<length).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}

/// YouTube's quota day: it resets at midnight America/Los_Angeles (DST-aware).
enum PacificDay {
    static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/Los_Angeles") ?? .gmt
        return calendar
    }()

    /// `yyyy-MM-dd` of the Pacific day containing `date`.
    static func of(_ date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }
}
