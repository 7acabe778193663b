import Domain
import Foundation
import PostgresNIO

/// An account with a little of everything a report reads, and the sums a report of it must show.
public struct ReportHistory: Sendable {
    public var userID: String
    public var channels: [String]
    public var videos: [String]
    /// Over the last 30 days (the user's days; analytics days are YouTube's).
    public var spend: Int64
    public var ledgerRows: Int
    public var views: Int64
    public var analyticsDays: Int
    public var revenue: Int64
    /// The title a spreadsheet would run as a formula.
    public static let hostileTitle = #"=HYPERLINK("http://evil.example","click")"#
}

extension TestDatabase {
    /// Two channels, three published videos (one titled `ReportHistory.hostileTitle`), ledger
    /// rows and analytics days over the last ten days, for `userID`.
    public func createReportHistory(userID: String) async throws -> ReportHistory {
        let repository = ChannelRepository(client: client, logger: logger)
        let channels = [try await repository.create(userID: userID, ChannelChanges(name: "Alpha")).id,
                        try await repository.create(userID: userID, ChannelChanges(name: "Beta, \"quoted\"")).id]
        let titles = [ReportHistory.hostileTitle, "Plain title", "Line\nbreak, comma"]
        var videos: [String] = []
        for (index, title) in titles.enumerated() {
            let id = PrefixedID.make("vid_")
            try await client.query("""
                INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                    status, progress, cost_limit, youtube_video_id, finished_at)
                VALUES (\(id), \(userID), \(channels[index % 2]), \(title), 'educational', 'voice', 'modern', 30, 50, 'published', 100, 5000000,
                        \("yt" + id), now() - interval '3 days')
                """, logger: logger)
            videos.append(id)
        }
        var spend: Int64 = 0, rows = 0
        for (index, video) in videos.enumerated() {
            for stage in 0..<3 {
                let amount = Int64(100_000 * (index + 1) + 10_000 * stage + 7)
                try await client.query("""
                    INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis,
                                             created_at)
                    VALUES (\(Int64(800_000 + index * 10 + stage)), 1, \(video), \(userID), \(["script", "voice", "thumbnail"][stage]),
                            \(["openai", "elevenlabs", "openai"][stage]), \(["gpt-4o-mini", "eleven_multilingual_v2", "dall-e-3"][stage]), 1, 'call',
                            0.1, \(amount), 'actual', now() - make_interval(days => \(Int32(index + 1))))
                    """, logger: logger)
                spend += amount
                rows += 1
            }
        }
        let store = AnalyticsStore(client: client, logger: logger)
        var views: Int64 = 0, revenue: Int64 = 0, days = 0
        for (index, channel) in channels.enumerated() {
            var channelDays: [AnalyticsDay] = []
            for back in 2...6 {
                let count = Int64(100 * (index + 1) + back)
                let money = Money(micros: count * 1_500)
                channelDays.append(AnalyticsDay(day: QuotaDay.of(Date(), daysBefore: back), views: count, minutesWatched: count * 2,
                                                averageViewDuration: 90, likes: count / 10, comments: 1, shares: 2, subscribersGained: 3,
                                                subscribersLost: 1, revenue: money))
                views += count
                revenue += money.micros
                days += 1
            }
            let perVideo = Dictionary(uniqueKeysWithValues: videos.enumerated().filter { $0.offset % 2 == index }.map { ($0.element, channelDays) })
            try await store.record(channelID: channel, channel: channelDays, videos: perVideo)
        }
        return ReportHistory(userID: userID, channels: channels, videos: videos, spend: spend, ledgerRows: rows, views: views,
                             analyticsDays: days, revenue: revenue)
    }
}
