import Domain
import Foundation
import Providers
import Sandbox
import Testing

/// The YouTube client against the sandbox: OAuth, statistics, and resumable uploads that
/// survive failing and dropped chunks, each video arriving once and byte for byte.
@Suite struct YouTubeClientTests {
    func client(_ base: String, chunkSize: Int = 256 << 10) -> YouTubeClient {
        YouTubeClient(endpoints: .sandbox(base, redirectURL: "http://127.0.0.1:1/callback"), chunkSize: chunkSize, timeout: .seconds(10),
                      chunkRetries: 30, retryDelay: .milliseconds(5))
    }

    /// Signs `email` in through the consent page and exchanges the code.
    func connect(_ sandbox: YouTubeSandbox, _ client: YouTubeClient, email: String) async throws -> OAuthTokens {
        let redirect = try #require(sandbox.consent(to: client.authorizationURL(state: "st-1", loginHint: nil), as: email))
        let items = URLComponents(string: redirect)?.queryItems ?? []
        #expect(items.first { $0.name == "state" }?.value == "st-1")
        let code = try #require(items.first { $0.name == "code" }?.value)
        return try await client.exchange(code: code)
    }

    func randomFile(bytes: Int) throws -> (URL, Data) {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-upload-\(UUID().uuidString).mp4")
        try data.write(to: url)
        return (url, data)
    }

    let metadata = UploadMetadata(title: "A video", description: "About queues", tags: ["postgres"], privacyStatus: "private")

    @Test func oauthConnectsRefreshesAndReportsARevokedGrant() async throws {
        let sandbox = YouTubeSandbox()
        try await sandbox.withRunning { base in
            let client = client(base)
            let tokens = try await connect(sandbox, client, email: "creator@example.com")
            #expect(tokens.refreshToken != nil)
            #expect(try await client.email(accessToken: tokens.accessToken) == "creator@example.com")
            let channel = try await client.myChannel(accessToken: tokens.accessToken)
            #expect(channel.id == sandbox.channelID(email: "creator@example.com"))
            let refreshed = try await client.refresh(refreshToken: try #require(tokens.refreshToken))
            #expect(refreshed.accessToken != tokens.accessToken)
            _ = try await client.myChannel(accessToken: refreshed.accessToken)
            // A used authorization code cannot be exchanged twice.
            await #expect(throws: YouTubeError.self) { try await client.exchange(code: "4/not-a-code") }
            sandbox.revoke(email: "creator@example.com")
            let revoked = await #expect(throws: YouTubeError.self) { try await client.refresh(refreshToken: tokens.refreshToken ?? "") }
            #expect(revoked?.kind == .invalidGrant)
            let refused = await #expect(throws: YouTubeError.self) { try await client.myChannel(accessToken: refreshed.accessToken) }
            #expect(refused?.kind == .unauthorized)
        }
    }

    @Test func uploadsThroughFailingAndDroppedChunksArriveOnceAndByteIdentical() async throws {
        var configuration = YouTubeSandbox.Configuration()
        configuration.faults = .init(serverErrorRate: 0.15, dropRate: 0.25)
        let sandbox = YouTubeSandbox(configuration: configuration)
        try await sandbox.withRunning { base in
            let client = client(base)
            let tokens = try await connect(sandbox, client, email: "uploader@example.com")
            var sent: [String: Data] = [:]
            for size in [300_000, 1_048_576, 1_500_001, 2_000_000] {
                let (file, data) = try randomFile(bytes: size)
                defer { try? FileManager.default.removeItem(at: file) }
                var session: String?
                for _ in 0..<20 where session == nil {
                    session = try? await client.openUpload(metadata, size: Int64(size), contentType: "video/mp4", accessToken: tokens.accessToken)
                }
                let progress = try await client.upload(file: file, size: Int64(size), from: 0, session: try #require(session))
                guard case .complete(let videoID) = progress else { Issue.record("upload ended \(progress)"); continue }
                sent[videoID] = data
                // Asking again after completion names the same video: a retry never uploads twice.
                var again: UploadProgress?
                for _ in 0..<20 where again == nil { again = try? await client.uploadStatus(session: try #require(session), size: Int64(size)) }
                #expect(again == .complete(videoID: videoID))
            }
            let stored = sandbox.videos
            #expect(stored.count == 4)
            #expect(sandbox.faultsInjected > 0)
            for video in stored { #expect(sent[video.id] == video.bytes, "video \(video.id) differs") }
        }
    }

    @Test func anInterruptedUploadResumesItsSessionFromWhereTheServerStands() async throws {
        let sandbox = YouTubeSandbox()
        try await sandbox.withRunning { base in
            let client = client(base)
            let tokens = try await connect(sandbox, client, email: "resumer@example.com")
            let size = 1_300_000
            let (file, data) = try randomFile(bytes: size)
            let half = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-half-\(UUID().uuidString).mp4")
            try data.prefix(700_000).write(to: half)
            defer { try? FileManager.default.removeItem(at: file); try? FileManager.default.removeItem(at: half) }
            let session = try await client.openUpload(metadata, size: Int64(size), contentType: "video/mp4", accessToken: tokens.accessToken)
            // The first process dies after sending what it had.
            await #expect(throws: YouTubeError.self) { try await client.upload(file: half, size: Int64(size), from: 0, session: session) }
            let progress = try await client.uploadStatus(session: session, size: Int64(size))
            #expect(progress == .received(bytes: 700_000))
            guard case .received(let offset) = progress else { return }
            let finished = try await client.upload(file: file, size: Int64(size), from: offset, session: session)
            guard case .complete = finished else { Issue.record("resume ended \(finished)"); return }
            #expect(sandbox.videos.count == 1)
            #expect(sandbox.videos.first?.bytes == data)
        }
    }

    @Test func quotaAndUploadLimitsAreReportedInTheirOwnTerms() async throws {
        var configuration = YouTubeSandbox.Configuration()
        configuration.dailyQuota = 3_300
        configuration.uploadsPerChannelPerDay = 1
        let sandbox = YouTubeSandbox(configuration: configuration)
        var roomier = configuration
        roomier.uploadsPerChannelPerDay = 10
        let spent = YouTubeSandbox(configuration: roomier)
        try await sandbox.withRunning { base in
            let client = client(base)
            let tokens = try await connect(sandbox, client, email: "limited@example.com")
            let (file, _) = try randomFile(bytes: 1000)
            defer { try? FileManager.default.removeItem(at: file) }
            let session = try await client.openUpload(metadata, size: 1000, contentType: "video/mp4", accessToken: tokens.accessToken)
            _ = try await client.upload(file: file, size: 1000, from: 0, session: session)
            let limited = await #expect(throws: YouTubeError.self) {
                try await client.openUpload(metadata, size: 1000, contentType: "video/mp4", accessToken: tokens.accessToken)
            }
            #expect(limited?.kind == .uploadLimitExceeded)
            let channel = try #require(sandbox.channelID(email: "limited@example.com"))
            #expect(sandbox.quotaUsed(bucket: channel) == 1600)
            try await spent.withRunning { base in
                let client = self.client(base)
                let tokens = try await connect(spent, client, email: "spent@example.com")
                for _ in 0..<2 { _ = try await client.openUpload(metadata, size: 1000, contentType: "video/mp4", accessToken: tokens.accessToken) }
                let refused = await #expect(throws: YouTubeError.self) {
                    try await client.openUpload(metadata, size: 1000, contentType: "video/mp4", accessToken: tokens.accessToken)
                }
                #expect(refused?.kind == .quotaExceeded)
                #expect(spent.quotaExceededAnswers == 1)
            }
        }
    }
}
