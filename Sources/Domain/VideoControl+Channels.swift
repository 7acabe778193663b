import Foundation
import PostgresNIO

extension VideoControl {
    /// Cancels the work of a channel's videos, then deletes the channel with its videos.
    /// - Returns: the storage keys of their artifacts, or nil when the channel is not the user's.
    public func deleteChannel(id: String, userID: String) async throws -> [String]? {
        let cancelled = try await client.withRetryingTransaction(logger: logger) { connection in
            try await cancelVideos(where: .channel, is: id, userID: userID, message: "The channel was deleted", on: connection)
        }
        if cancelled > 0 { try await pipeline.ledger.settleAbandoned() }
        let deleted = try await client.query("""
            WITH a AS (SELECT a.storage_key FROM artifacts a JOIN videos v ON v.id = a.video_id WHERE v.channel_id = \(id)),
                 d AS (DELETE FROM channels WHERE id = \(id) AND user_id = \(userID) RETURNING id)
            SELECT (SELECT count(*) FROM d), coalesce((SELECT array_agg(storage_key) FROM a), '{}')
            """, logger: logger)
        for try await (count, keys) in deleted.decode((Int64, [String]).self) { return count > 0 ? keys : nil }
        return nil
    }
}
