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
