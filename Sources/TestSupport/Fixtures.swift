import Domain
import Foundation
import PostgresNIO

/// Rows tests need as a starting point, written directly (the API tests create theirs
/// through the API).
extension TestDatabase {
    /// A verified user on `tier`; returns its id.
    public func createUser(tier: String = "enterprise") async throws -> String {
        let id = PrefixedID.make("usr_")
        try await client.query("""
            INSERT INTO users (id, email, password_hash, full_name, subscription_tier, email_verified_at)
            VALUES (\(id), \(id + "@example.test"), 'x', 'Test User', \(tier), now())
            """, logger: logger)
        return id
    }

    /// Jobs running under a worker, as claims hold them (attempt 1): a stage's reservation is
    /// taken only under a live lease. `abandonJobs` makes them as if their workers died.
    public func runningJobs(_ count: Int) async throws -> [Int64] {
        let rows = try await client.query("""
            INSERT INTO jobs (kind, queue, args, state, attempt, worker_id, attempted_at, lease_until)
            SELECT 'test.hold', 'default', '{}', 'running', 1, 'test-worker', now(), now() + interval '1 hour'
              FROM generate_series(1, \(Int32(count)))
            RETURNING id
            """, logger: logger)
        var ids: [Int64] = []
        for try await id in rows.decode(Int64.self) { ids.append(id) }
        return ids
    }

    /// The jobs of `runningJobs` lose their worker (rescued: no attempt runs them now).
    public func abandonJobs() async throws {
        try await client.query("UPDATE jobs SET state = 'retryable', worker_id = NULL, lease_until = NULL WHERE kind = 'test.hold'", logger: logger)
    }

    /// An active channel of `userID`; returns its id.
    public func createChannel(userID: String) async throws -> String {
        try await ChannelRepository(client: client, logger: logger).create(userID: userID, ChannelChanges(name: "Test Channel")).id
    }

    /// A completed video of `bytes` random bytes with a thumbnail, as the pipeline leaves one
    /// (quality 90 over a threshold of 50), its files in `storage`.
    public func createCompletedVideo(userID: String, channelID: String, bytes: Int, storage: any ArtifactStorage) async throws -> (id: String, data: Data) {
        let id = PrefixedID.make("vid_")
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-\(id).bin")
        defer { try? FileManager.default.removeItem(at: file) }
        try data.write(to: file)
        let size = try await storage.put(key: "videos/\(id)/video.mp4", file: file, contentType: "video/mp4")
        try Data(base64Encoded: ProviderStub.onePixelPNG)?.write(to: file)
        let thumbnail = try await storage.put(key: "videos/\(id)/thumbnail.png", file: file, contentType: "image/png")
        try await client.query("""
            INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                status, progress, cost_limit, quality_score, finished_at)
            VALUES (\(id), \(userID), \(channelID), \("Published " + id), 'educational', 'voice_professional_male', 'modern', 30, 50,
                    'completed', 100, 1000000, 90, now())
            """, logger: logger)
        try await client.query("""
            INSERT INTO artifacts (video_id, kind, storage_key, content_type, size_bytes)
            VALUES (\(id), 'video', \("videos/\(id)/video.mp4"), 'video/mp4', \(size)),
                   (\(id), 'thumbnail', \("videos/\(id)/thumbnail.png"), 'image/png', \(thumbnail))
            """, logger: logger)
        return (id, data)
    }
}
