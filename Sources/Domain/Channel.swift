import Foundation

/// A YouTube channel a user produces videos for.
public struct Channel: Sendable, Equatable {
    public var id: String
    public var name: String
    public var youtubeChannelID: String?
    public var category: String?
    public var targetAudience: String?
    /// The posting schedule as JSON (`{"frequency": …, "preferred_times": […]}`), validated on write.
    public var postingSchedule: PostingSchedule?
    public var status: ChannelStatus
    public var healthScore: Int
    public var videosCount: Int
    public var subscribers: Int64
    public var monthlyViews: Int64
    public var createdAt: Date
}

/// When a channel publishes: a frequency and preferred times of day (`HH:MM`, 24-hour).
public struct PostingSchedule: Sendable, Equatable, Codable {
    public static let frequencies = ["daily", "weekly", "biweekly", "monthly", "custom"]

    public var frequency: String
    public var preferredTimes: [String]

    public init(frequency: String, preferredTimes: [String]) throws {
        guard Self.frequencies.contains(frequency) else {
            throw DomainError(.invalid, "posting_schedule.frequency must be one of \(Self.frequencies.joined(separator: ", "))",
                              field: "posting_schedule.frequency")
        }
        guard preferredTimes.count <= 24 else {
            throw DomainError(.invalid, "posting_schedule.preferred_times has at most 24 entries", field: "posting_schedule.preferred_times")
        }
        for time in preferredTimes where !Self.isTimeOfDay(time) {
            throw DomainError(.invalid, "posting_schedule.preferred_times entries must be HH:MM (24-hour), got '\(time.prefix(20))'",
                              field: "posting_schedule.preferred_times")
        }
        self.frequency = frequency
        self.preferredTimes = preferredTimes
    }

    static func isTimeOfDay(_ text: String) -> Bool {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ $0.count == 2 && $0.allSatisfy(\.isASCII) }),
              let hour = Int(parts[0]), let minute = Int(parts[1]) else { return false }
        return (0..<24).contains(hour) && (0..<60).contains(minute)
    }

    enum CodingKeys: String, CodingKey {
        case frequency
        case preferredTimes = "preferred_times"
    }
}

/// The fields a create or update sets; nil leaves a field as it is on update.
public struct ChannelChanges: Sendable {
    public var name: String?
    public var youtubeChannelID: String?
    public var category: String?
    public var targetAudience: String?
    public var postingSchedule: PostingSchedule?
    public var status: String?

    public init(name: String? = nil, youtubeChannelID: String? = nil, category: String? = nil, targetAudience: String? = nil,
                postingSchedule: PostingSchedule? = nil, status: String? = nil) {
        self.name = name
        self.youtubeChannelID = youtubeChannelID
        self.category = category
        self.targetAudience = targetAudience
        self.postingSchedule = postingSchedule
        self.status = status
    }

    /// Checks lengths and formats; `creating` also requires a name.
    public func validate(creating: Bool) throws {
        if creating, name == nil { throw DomainError(.invalid, "name is required", field: "name") }
        if let name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard (1...100).contains(trimmed.count) else { throw DomainError(.invalid, "name must be 1 to 100 characters", field: "name") }
        }
        if let id = youtubeChannelID {
            // YouTube channel ids are "UC" and 22 URL-safe base64 characters; accept any such id-like token.
            guard (2...64).contains(id.count), id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }) else {
                throw DomainError(.invalid, "youtube_channel_id must be 2 to 64 letters, digits, '-' or '_'", field: "youtube_channel_id")
            }
        }
        if let category, category.count > 50 { throw DomainError(.invalid, "category is at most 50 characters", field: "category") }
        if let audience = targetAudience, audience.count > 100 {
            throw DomainError(.invalid, "target_audience is at most 100 characters", field: "target_audience")
        }
        if let status, !["active", "suspended"].contains(status) {
            throw DomainError(.invalid, "status must be active or suspended", field: "status")
        }
    }
}
