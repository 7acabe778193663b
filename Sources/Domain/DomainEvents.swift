import Foundation
import Logging
import PostgresNIO
import Queue

/// Domain events: the outbox the dispatcher fans out to webhooks, and the live
/// notifications every API instance relays to WebSocket clients.
public enum DomainEvents {
    /// The NOTIFY channel of live updates that API instances relay to WebSocket clients.
    /// Payload: JSON with `type` and `user_id`. Video changes (`video.progress`,
    /// `video.completed`, `video.failed`, `video.cancelled`, `video.published`) add `video_id`,
    /// `channel_id`, `status`, `stage`, `progress`, `spent`, `reserved`; `analytics.update` adds
    /// `channel_id` (its analytics days were stored); every other outbox
    /// event arrives as `system.notification` with `event`, `event_id` and `details` (a trigger on
    /// `domain_events`, migration 0106, which names this channel too).
    public static let liveChannel = "ytempire_live_events"
    /// The channel notified (empty payload) when outbox events commit, to wake the fan-out.
    public static let outboxChannel = "ytempire_outbox"

    /// Writes an outbox event in the caller's transaction, so it exists exactly when the
    /// change it describes does.
    /// - Parameter data: a JSON object (text).
    public static func record(type: String, userID: String, data: String, on executor: any PostgresExecutor, logger: Logger) async throws {
        try await executor.run("""
            INSERT INTO domain_events (id, user_id, type, data) VALUES (\(PrefixedID.make("evt_")), \(userID), \(type), \(data)::jsonb)
            """, logger: logger)
    }

    /// Publishes a video's current state to listeners (sent when the transaction commits).
    public static func publishVideo(_ videoID: String, type: String, on executor: any PostgresExecutor, logger: Logger) async throws {
        try await executor.run("""
            SELECT pg_notify(\(liveChannel), json_build_object(
                       'type', \(type)::text, 'video_id', id, 'user_id', user_id, 'channel_id', channel_id, 'status', status,
                       'stage', stage, 'progress', progress, 'spent', spent / 1e6, 'reserved', reserved / 1e6)::text)
              FROM videos WHERE id = \(videoID)
            """, logger: logger)
    }

    /// Tells listeners that a channel's analytics days were stored (sent when the transaction
    /// commits): `analytics.update` with `channel_id`.
    public static func publishAnalytics(channelID: String, on executor: any PostgresExecutor, logger: Logger) async throws {
        try await executor.run("""
            SELECT pg_notify(\(liveChannel), json_build_object('type', \(analyticsUpdate)::text, 'user_id', user_id, 'channel_id', id)::text)
              FROM channels WHERE id = \(channelID)
            """, logger: logger)
    }

    /// The live notification of stored analytics.
    public static let analyticsUpdate = "analytics.update"

    /// JSON text of a flat dictionary (event data).
    public static func json(_ object: [String: any Sendable]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
