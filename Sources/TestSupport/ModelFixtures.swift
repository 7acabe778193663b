import Domain
import Foundation
import Models
import PostgresNIO

extension TestDatabase {
    /// `count` finished videos of a new user, one an hour up to now, from the simulated history
    /// (`SyntheticHistory.videos`): the same seed makes the same rows.
    public func seedFinishedVideos(count: Int, seed: UInt64, baselineIsExact: Bool = false) async throws {
        let user = try await createUser()
        try await SyntheticHistory.insertFinishedVideos(client: client, logger: logger, userID: user, channelID: try await createChannel(userID: user),
                                                        count: count, seed: seed, baselineIsExact: baselineIsExact)
    }

    /// `count` videos of a new user that went through a simulated fleet
    /// (`SyntheticHistory.pipeline`): the history the ETA model learns from.
    public func seedPipelineHistory(count: Int, seed: UInt64, slots: Int = 2) async throws {
        let user = try await createUser()
        try await SyntheticHistory.insertPipeline(client: client, logger: logger, userID: user, channelID: try await createChannel(userID: user),
                                                  count: count, seed: seed, slots: slots)
    }
}

extension TestDatabase {
    /// A new user with `channels` channels whose published videos of the last `days` days have
    /// their daily analytics (`SyntheticHistory.publishedVideos`): what the views forecast
    /// learns from.
    /// - Returns: the user and the videos' ids.
    @discardableResult
    /// - Parameter userID: whose videos they are (a new user when nil).
    public func seedPublishedVideos(userID: String? = nil, channels: Int = 4, days: Int = 240,
                                    seed: UInt64) async throws -> (userID: String, videoIDs: [String]) {
        let user: String
        if let userID { user = userID } else { user = try await createUser() }
        var channelIDs: [String] = []
        for _ in 0..<channels { channelIDs.append(try await createChannel(userID: user)) }
        let ids = try await SyntheticHistory.insertPublishedVideos(client: client, logger: logger, userID: user, channelIDs: channelIDs, days: days,
                                                                   seed: seed)
        return (user, ids)
    }
}
