import Domain
import Foundation
import Providers
import Sandbox
import Testing

/// Public YouTube through the real client against the sandbox: other creators' channels, their
/// uploads playlists, the most-popular chart, 1 unit a call, and Google's refusals.
@Suite struct YouTubePublicDataClientTests {
    func client(_ base: String) -> YouTubeClient { SandboxSignIn.client(base) }

    func tokens(_ sandbox: YouTubeSandbox, _ client: YouTubeClient, email: String, scopes: [String]? = nil) async throws -> OAuthTokens {
        try await SandboxSignIn.tokens(sandbox, client, email: email, scopes: scopes)
    }

    @Test func channelsPlaylistsAndTheChartAreServedAndCharged() async throws {
        let sandbox = YouTubeSandbox()
        try await sandbox.withRunning { base in
            let client = client(base)
            let granted = try await tokens(sandbox, client, email: "watcher@example.com")
            #expect(granted.grantsAnalytics && granted.grantsRevenue)
            let token = granted.accessToken
            let own = try #require(sandbox.channelID(email: "watcher@example.com"))
            let tech = try #require(sandbox.publicChannels.first { $0.title == "Tech Daily" })
            let play = try #require(sandbox.publicChannels.first { $0.title == "Play More" })

            // channels.list by id: known channels answer, an unknown id is left out.
            let channels = try await client.channels(ids: [tech.id, "UCunknownChannel0000000X", own], accessToken: token)
            #expect(Set(channels.map(\.id)) == [tech.id, own])
            let techChannel = try #require(channels.first { $0.id == tech.id })
            #expect(techChannel.title == "Tech Daily" && techChannel.uploadsPlaylist == "UU" + tech.id.dropFirst(2))
            #expect(techChannel.videoCount > 100 && techChannel.subscribers >= Int64(tech.subscribers) && techChannel.views > 0)

            // The uploads playlist: the newest 50, newest first, whose statistics videos.list serves.
            let playlist = try #require(techChannel.uploadsPlaylist)
            let page = try await client.playlistVideos(playlistID: playlist, maxResults: 50, pageToken: nil, accessToken: token)
            let uploads = page.videos
            #expect(uploads.count == 50 && page.nextPageToken != nil)
            // The next page goes on where the first stopped.
            let second = try await client.playlistVideos(playlistID: playlist, maxResults: 50, pageToken: page.nextPageToken, accessToken: token)
            #expect(second.videos.first.flatMap(\.publishedAt).map { $0 < (uploads.last?.publishedAt ?? .distantPast) } == true)
            let dates = uploads.compactMap(\.publishedAt)
            #expect(dates.count == 50 && dates == dates.sorted(by: >))
            let stats = try await client.videoStatistics(ids: uploads.map(\.videoID), accessToken: token)
            // Every upload but perhaps the newest (published this very minute) has views.
            #expect(stats.count == 50 && stats.dropFirst().allSatisfy { $0.views > 0 })

            // The chart: a region's channels only, a category narrows it.
            let japan = try await client.mostPopular(regionCode: "JP", categoryID: nil, maxResults: 50, accessToken: token)
            #expect(!japan.isEmpty && japan.allSatisfy { $0.channelTitle == play.title })
            let gaming = try await client.mostPopular(regionCode: "US", categoryID: "20", maxResults: 10, accessToken: token)
            #expect(gaming.count == 10 && gaming.allSatisfy { $0.channelTitle == play.title && !$0.tags.isEmpty })
            let week = Date().addingTimeInterval(-7 * 86_400 - 60)
            #expect(gaming.allSatisfy { ($0.publishedAt ?? .distantPast) >= week })

            // Google's refusals.
            await #expect(throws: YouTubeError.self) {
                _ = try await client.mostPopular(regionCode: "US", categoryID: "99", maxResults: 5, accessToken: token)
            }
            do {
                _ = try await client.playlistVideos(playlistID: "UUunknownChannel0000000X", maxResults: 5, pageToken: nil, accessToken: token)
                Issue.record("an unknown playlist was served")
            } catch let error as YouTubeError {
                #expect(error.kind == .rejected && error.status == 404)
            }
            // 1 unit per call that was served: 1 channels.list, 2 playlistItems.list, 1 videos.list and 2 charts.
            #expect(sandbox.quotaUsed(bucket: own) == 6)

            // Granted scopes are reported: without the monetary scope, no revenue.
            let partial = try await tokens(sandbox, client, email: "partial@example.com",
                                           scopes: ["https://www.googleapis.com/auth/youtube.readonly", OAuthTokens.analyticsScope])
            #expect(partial.grantsAnalytics && !partial.grantsRevenue)
            let none = try await tokens(sandbox, client, email: "none@example.com", scopes: ["https://www.googleapis.com/auth/youtube.readonly"])
            #expect(!none.grantsAnalytics)
        }
    }
}
