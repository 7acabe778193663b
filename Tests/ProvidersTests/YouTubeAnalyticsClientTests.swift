import Domain
import Foundation
import Providers
import Sandbox
import Synchronization
import Testing

/// The YouTube Analytics `reports.query` through the real client against the sandbox: the
/// shapes of totals, a day series and top videos, sums that agree with the sandbox's own
/// figures, and Google's refusals (scopes, unsupported queries).
@Suite struct YouTubeAnalyticsClientTests {
    final class Clock: Sendable {
        let now = Mutex(Date().addingTimeInterval(-5 * 86_400))
    }

    func client(_ base: String) -> YouTubeClient { SandboxSignIn.client(base) }

    /// Signs in, optionally with only some of the client's scopes.
    func connect(_ sandbox: YouTubeSandbox, _ client: YouTubeClient, email: String, scopes: [String]? = nil) async throws -> String {
        try await SandboxSignIn.tokens(sandbox, client, email: email, scopes: scopes).accessToken
    }

    @Test func reportsAgreeWithTheSandboxsDailyFiguresAndRefuseWhatGoogleRefuses() async throws {
        let clock = Clock()
        var configuration = YouTubeSandbox.Configuration()
        configuration.now = { clock.now.withLock { $0 } }
        let sandbox = YouTubeSandbox(configuration: configuration)
        try await sandbox.withRunning { base in
            let client = client(base)
            let token = try await connect(sandbox, client, email: "analyst@example.com")
            let metadata = UploadMetadata(title: "Numbers", description: "", tags: [], privacyStatus: "public")
            var videos: [String] = []
            for size in [1000, 2000] {
                let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-analytics-\(UUID().uuidString).mp4")
                try Data(repeating: 7, count: size).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let session = try await client.openUpload(metadata, size: Int64(size), contentType: "video/mp4", accessToken: token)
                guard case .complete(let id) = try await client.upload(file: file, size: Int64(size), from: 0, session: session) else {
                    Issue.record("upload did not complete"); return
                }
                videos.append(id)
            }
            // Four days later the videos have a history.
            clock.now.withLock { $0 = $0.addingTimeInterval(4 * 86_400) }
            let fresh = try await connect(sandbox, client, email: "analyst@example.com")
            let channel = try await client.myChannel(accessToken: fresh).id
            let days = sandbox.dailyMetrics(channelID: channel, from: "2000-01-01", to: "2999-12-31")
            let first = try #require(days.map(\.day).min())
            let last = try #require(days.map(\.day).max())
            #expect(Set(days.map(\.day)).count >= 3)

            let totals = try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views", "likes", "estimatedRevenue"]),
                                                          accessToken: fresh)
            #expect(totals.columns == ["views", "likes", "estimatedRevenue"])
            #expect(totals.rows.count == 1)
            #expect(totals.records.first?["views"]?.number == Double(days.reduce(0) { $0 + $1.views }))
            #expect(totals.records.first?["likes"]?.number == Double(days.reduce(0) { $0 + $1.likes }))
            let revenue = days.reduce(0.0) { $0 + $1.estimatedRevenue }
            #expect(abs((totals.records.first?["estimatedRevenue"]?.number ?? 0) - revenue) < 0.001)

            let series = try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views", "averageViewDuration"],
                                                                         dimension: .day), accessToken: fresh)
            #expect(series.columns == ["day", "views", "averageViewDuration"])
            #expect(series.records.map { $0["day"]?.text ?? "" } == Array(Set(days.map(\.day))).sorted())
            for record in series.records {
                let day = days.filter { $0.day == record["day"]?.text }
                #expect(record["views"]?.number == Double(day.reduce(0) { $0 + $1.views }))
            }

            let top = try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views"], dimension: .video,
                                                                      sort: "-views", maxResults: 1), accessToken: fresh)
            let byVideo = Dictionary(grouping: days, by: \.videoID).mapValues { $0.reduce(0) { $0 + $1.views } }
            // The most viewed (two videos may tie: then either is the top one).
            let topID = try #require(top.records.first?["video"]?.text)
            #expect(top.rows.count == 1 && byVideo[topID] == byVideo.values.max())
            #expect(top.records.first?["views"]?.number == Double(byVideo.values.max() ?? -1))
            let one = try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views"], videoIDs: [videos[0]]),
                                                       accessToken: fresh)
            #expect(one.records.first?["views"]?.number == Double(byVideo[videos[0]] ?? 0))
            // Nothing yet for today: the rows are absent, and the table is empty.
            let future = try await client.analyticsReport(AnalyticsQuery(startDate: "2999-01-01", endDate: "2999-01-02", metrics: ["views"]),
                                                          accessToken: fresh)
            #expect(future.rows.isEmpty)

            // Google's refusals: an unknown metric, a top-videos query without its sort, revenue
            // without the monetary scope, and no analytics scope at all.
            for query in [AnalyticsQuery(startDate: first, endDate: last, metrics: ["impressions"]),
                          AnalyticsQuery(startDate: first, endDate: last, metrics: ["views"], dimension: .video)] {
                let refused = await #expect(throws: YouTubeError.self) { try await client.analyticsReport(query, accessToken: fresh) }
                #expect(refused?.kind == .rejected && refused?.status == 400)
            }
            let basic = try await connect(sandbox, client, email: "analyst@example.com",
                                          scopes: ["https://www.googleapis.com/auth/yt-analytics.readonly", "email"])
            _ = try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views"]), accessToken: basic)
            let money = await #expect(throws: YouTubeError.self) {
                try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["estimatedRevenue"]), accessToken: basic)
            }
            #expect(money?.status == 403)
            let none = try await connect(sandbox, client, email: "analyst@example.com", scopes: ["email"])
            let scopeless = await #expect(throws: YouTubeError.self) {
                try await client.analyticsReport(AnalyticsQuery(startDate: first, endDate: last, metrics: ["views"]), accessToken: none)
            }
            #expect(scopeless?.status == 403 && scopeless?.message.contains("insufficient") == true)
        }
    }
}
