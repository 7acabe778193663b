import Domain
import Foundation
import Models
import PostgresNIO

extension TestDatabase {
    /// `count` finished videos of a new user, one an hour up to now, from the simulated history
    /// (`SyntheticHistory`): the same seed makes the same rows.
    public func seedFinishedVideos(count: Int, seed: UInt64, baselineIsExact: Bool = false) async throws {
        let user = try await createUser()
        let channel = try await createChannel(userID: user)
        let videos = SyntheticHistory.videos(count: count, seed: seed, baselineIsExact: baselineIsExact)
        let start = Date().addingTimeInterval(-Double(count) * 3600)
        let ids = videos.indices.map { String(format: "vid_seed%06d", $0) + String(user.suffix(6)) }
        try await client.query("""
            INSERT INTO videos (id, user_id, channel_id, title, script_style, voice_id, thumbnail_style, duration_target, quality_threshold,
                                cost_limit, estimated_cost, spent, status, finished_at, created_at)
            SELECT id, \(user), \(channel), 'Seeded video', style, 'voice_professional_male', 'modern', duration, 70, 100000000, worst, spent,
                   'completed', finished, finished - interval '10 minutes'
              FROM unnest(\(ids)::text[], \(videos.map { Int32($0.durationTarget) })::int4[], \(videos.map(\.scriptStyle))::text[],
                          \(videos.map(\.estimate.micros))::int8[], \(videos.map(\.spent.micros))::int8[],
                          \(videos.indices.map { start.addingTimeInterval(Double($0) * 3600) })::timestamptz[])
                   AS t(id, duration, style, worst, spent, finished)
            """, logger: logger)
    }
}
