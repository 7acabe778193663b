import Foundation
import Logging
import PostgresNIO
import Queue

/// Whom a job works for, as the console shows it: the video its arguments name and that
/// video's owner, or the user its arguments or its `owner` name.
public struct AdminJobOwners: Sendable {
    public struct Owner: Sendable, Equatable {
        public var user: (id: String, email: String)?
        public var video: (id: String, title: String, status: String)?

        public static func == (lhs: Owner, rhs: Owner) -> Bool {
            lhs.user?.id == rhs.user?.id && lhs.user?.email == rhs.user?.email && lhs.video?.id == rhs.video?.id
                && lhs.video?.title == rhs.video?.title && lhs.video?.status == rhs.video?.status
        }
    }

    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public func owner(of job: Job) async throws -> Owner {
        let rows = try await client.query("""
            SELECT v.id, v.title, v.status, u.id, u.email
              FROM jobs j
              LEFT JOIN videos v ON v.id = j.args ->> 'video_id'
              LEFT JOIN users u ON u.id = coalesce(v.user_id, j.args ->> 'user_id', j.owner)
             WHERE j.id = \(job.id)
            """, logger: logger)
        for try await (videoID, title, status, userID, email) in rows.decode((String?, String?, String?, String?, String?).self) {
            var owner = Owner()
            if let videoID, let title, let status { owner.video = (videoID, title, status) }
            if let userID, let email { owner.user = (userID, email) }
            return owner
        }
        return Owner()
    }
}
