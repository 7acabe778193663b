package import Foundation
import Domain

/// Channel management: the caller's channels only; another user's id answers 404.
extension APIService {
    func listChannels(_ input: Operations.ListChannels.Input) async throws -> Operations.ListChannels.Output {
        let caller = try CurrentUser.require()
        let pagination = try Pagination(page: input.query.page, limit: input.query.limit)
        let status = input.query.status.flatMap { $0 == .all ? nil : $0.rawValue }
        let (channels, total) = try await channels.list(userID: caller.user.id, status: status, offset: pagination.offset,
                                                        limit: pagination.limit)
        return .ok(.init(body: .json(.init(channels: channels.map(\.schema), total: total, page: pagination.page,
                                           pages: pagination.pages(total: total)))))
    }

    func createChannel(_ input: Operations.CreateChannel.Input) async throws -> Operations.CreateChannel.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let changes = ChannelChanges(name: body.name, youtubeChannelID: body.youtubeChannelId, category: body.category,
                                     targetAudience: body.targetAudience, postingSchedule: try body.postingSchedule.map { try PostingSchedule(frequency: $0.frequency.rawValue, preferredTimes: $0.preferredTimes ?? []) })
        let channel = try await channels.create(userID: caller.user.id, changes)
        // Linked to a connected account: its last 90 days of YouTube Analytics are fetched now.
        if channel.youtubeChannelID != nil {
            try await AnalyticsBackfills(client: client, logger: logger).startIfLinked(channelID: channel.id, userID: caller.user.id)
        }
        return .created(.init(body: .json(channel.schema)))
    }

    func getChannel(_ input: Operations.GetChannel.Input) async throws -> Operations.GetChannel.Output {
        let caller = try CurrentUser.require()
        guard let channel = try await channels.channel(id: input.path.channelId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(channel.schema)))
    }

    func updateChannel(_ input: Operations.UpdateChannel.Input) async throws -> Operations.UpdateChannel.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let changes = ChannelChanges(name: body.name, youtubeChannelID: body.youtubeChannelId, category: body.category,
                                     targetAudience: body.targetAudience, postingSchedule: try body.postingSchedule.map { try PostingSchedule(frequency: $0.frequency.rawValue, preferredTimes: $0.preferredTimes ?? []) },
                                     status: body.status?.rawValue)
        guard let channel = try await channels.update(id: input.path.channelId, userID: caller.user.id, changes) else {
            throw APIError.notFound
        }
        if body.youtubeChannelId != nil {
            try await AnalyticsBackfills(client: client, logger: logger).startIfLinked(channelID: channel.id, userID: caller.user.id)
        }
        return .ok(.init(body: .json(channel.schema)))
    }

    func deleteChannel(_ input: Operations.DeleteChannel.Input) async throws -> Operations.DeleteChannel.Output {
        let caller = try CurrentUser.require()
        guard let keys = try await control.deleteChannel(id: input.path.channelId, userID: caller.user.id) else { throw APIError.notFound }
        try? await artifacts?.delete(keys: keys)
        return .ok(.init(body: .json(.init(message: "The channel and its videos were deleted"))))
    }
}

extension Channel {
    var schema: Components.Schemas.Channel {
        .init(id: id, name: name, youtubeChannelId: youtubeChannelID, category: category, targetAudience: targetAudience,
              postingSchedule: postingSchedule.flatMap { schedule in
                  Components.Schemas.PostingSchedule.FrequencyPayload(rawValue: schedule.frequency)
                      .map { .init(frequency: $0, preferredTimes: schedule.preferredTimes) }
              },
              status: .init(status), healthScore: healthScore, videosCount: videosCount,
              subscribers: subscribers, monthlyViews: monthlyViews, createdAt: createdAt)
    }
}
