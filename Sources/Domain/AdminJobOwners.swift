import Foundation
import Logging
import PostgresNIO
import Queue

/// Whom a job works for, as the console shows it: the video its arguments name and that
/// video's owner, or the user its arguments or its `owner` name.
public struct AdminJobOwners: Sendable {
    public struct Owner: Sendable, Equatable {
        public struct User: Sendable, Equatable {
            public var id: String
            public var email: String
        }

        public struct Video: Sendable, Equatable {
            public var id: String
            public var title: String
            public var status: String
        }

        public var user: User?
        public var video: Video?
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
            if let videoID, let title, let status { owner.video = Owner.Video(id: videoID, title: title, status: status) }
            if let userID, let email { owner.user = Owner.User(id: userID, email: email) }
            return owner
        }
        return Owner()
    }
}
