package import Foundation
import Domain

/// Analytics beyond the user's own channels: trends (YouTube's most-popular chart and the
/// user's videos) and competitors.
extension APIService {
    func getAnalyticsTrends(_ input: Operations.GetAnalyticsTrends.Input) async throws -> Operations.GetAnalyticsTrends.Output {
        let caller = try CurrentUser.require()
        let period = analyticsPeriod(input.query.period?.rawValue, fallback: "last_7_days")
        let days = period.days
        let region = input.query.regionCode ?? "US"
        guard region.utf8.count == 2, region.unicodeScalars.allSatisfy({ ("A"..."Z").contains($0) }) else {
            throw APIError.validation("region_code is an ISO 3166-1 alpha-2 code such as US", field: "region_code")
        }
        let category = input.query.categoryId?.rawValue
        let store = TrendStore(client: client, logger: logger)
        try await store.follow(userID: caller.user.id, region: region, category: category)
        // Today's chart, fetched once on the first request of the day.
        var reason: String?
        if let youtube {
            let figures = PublicFigures(client: client, gateway: youtube.gateway, cipher: youtube.cipher, policy: youtube.policy, logger: logger)
            do {
                try await figures.snapshotChart(userID: caller.user.id, region: region, category: category)
            } catch PublicFigures.Unavailable.noQuota {
                reason = "No connected YouTube account has quota left today (or none is connected)"
            } catch PublicFigures.Unavailable.disconnected {
                reason = "The YouTube account chosen needs reconnecting"
            } catch let error as YouTubeError where error.kind == .rejected {
                reason = "YouTube has no most-popular chart for region \(region)\(category.map { " and category \($0)" } ?? "")"
            } catch let error as YouTubeError {
                logger.warning("trends: the chart could not be fetched", metadata: ["error": "\(error)"])
                reason = "YouTube did not answer; the chart is fetched again on the next request"
            }
        } else {
            reason = "YouTube is not configured on this server"
        }
        let today = Date()
        let trends = try await store.trends(userID: caller.user.id, region: region, category: category, days: days, today: today)
        let status: Components.Schemas.AnalyticsTrends.ChartPayload.StatusPayload =
            trends.chartDay == QuotaDay.of(today) ? .current : trends.chartDay == nil ? .unavailable : .stale
        let keyword = { (keyword: TrendKeyword) in
            Components.Schemas.TrendKeyword(keyword: keyword.keyword, videos: keyword.videos, current: keyword.current,
                                            previous: keyword.previous, growth: keyword.growth)
        }
        return .ok(.init(body: .json(.init(
            period: .init(rawValue: period.name) ?? .last7Days, regionCode: region, categoryId: category, from: trends.from, to: trends.to,
            previousFrom: trends.previousFrom, previousTo: trends.previousTo,
            chart: .init(
                method: "Keywords of the daily most-popular charts, ranked by appearances (videos times days on the chart) in the period; "
                    + "previous is the same count over the period before.",
                status: status, statusReason: status == .current ? nil : reason, snapshotDay: trends.chartDay,
                snapshots: trends.chartSnapshots, previousSnapshots: trends.previousChartSnapshots, videos: trends.chartVideos,
                trending: trends.chart.map { .init(rank: $0.rank, youtubeVideoId: $0.youtubeVideoID, title: $0.title, channelTitle: $0.channelTitle,
                                                   views: $0.views) },
                keywords: trends.chartKeywords.map(keyword)),
            own: .init(
                method: "Keywords of your published videos, ranked by the growth of the views of the videos carrying them "
                    + "(YouTube Analytics, the period's days up to yesterday against the days before).",
                videos: trends.ownVideos, videosWithViews: trends.ownVideosWithViews, keywords: trends.ownKeywords.map(keyword))))))
    }

    func getAnalyticsCompetitors(_ input: Operations.GetAnalyticsCompetitors.Input) async throws -> Operations.GetAnalyticsCompetitors.Output {
        let caller = try CurrentUser.require()
        let period = analyticsPeriod(input.query.period?.rawValue)
        let day = QuotaDay.of(Date())
        let (own, competitors) = try await CompetitorStore(client: client, logger: logger)
            .comparison(userID: caller.user.id, day: day, days: period.days)
        return .ok(.init(body: .json(.init(period: .init(rawValue: period.name) ?? .last30Days, day: day,
                                           channels: own.map(\.schema), competitors: competitors.map(\.schema)))))
    }

    func addCompetitor(_ input: Operations.AddCompetitor.Input) async throws -> Operations.AddCompetitor.Output {
        let caller = try CurrentUser.require()
        guard case .json(let body) = input.body else { throw APIError.validation("A JSON body is required") }
        let store = CompetitorStore(client: client, logger: logger)
        let (competitor, created) = try await store.add(userID: caller.user.id, youtubeChannelID: body.youtubeChannelId)
        guard created else { return .ok(.init(body: .json(competitor.schema))) }
        // The first snapshot at once when an account has quota; else the next channel sync's.
        if let youtube {
            let figures = PublicFigures(client: client, gateway: youtube.gateway, cipher: youtube.cipher, policy: youtube.policy, logger: logger)
            do {
                try await figures.snapshotCompetitors(userID: caller.user.id)
            } catch let error as YouTubeError {
                logger.info("competitors: the first snapshot waits for the next sync", metadata: ["error": "\(error)"])
            } catch is PublicFigures.Unavailable {}
        }
        let current = try await store.list(userID: caller.user.id).first { $0.id == competitor.id } ?? competitor
        return .created(.init(body: .json(current.schema)))
    }

    func removeCompetitor(_ input: Operations.RemoveCompetitor.Input) async throws -> Operations.RemoveCompetitor.Output {
        let caller = try CurrentUser.require()
        guard try await CompetitorStore(client: client, logger: logger).remove(id: input.path.competitorId, userID: caller.user.id) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(.init(message: "The competitor was removed"))))
    }
}

extension Competitor {
    var schema: Components.Schemas.Competitor {
        .init(competitorId: id, youtubeChannelId: youtubeChannelID, title: title, status: .init(status), createdAt: createdAt)
    }
}

extension ComparedChannel {
    var schema: Components.Schemas.ComparedChannel {
        .init(id: id, youtubeChannelId: youtubeChannelID, title: title, status: .init(status), snapshotDay: figures?.day,
              subscribers: figures?.subscribers, views: figures?.views, videoCount: figures?.videoCount,
              subscriberChange: figures?.subscriberChange, uploadsPerWeek: figures?.uploadsPerWeek, medianViews: figures?.medianViews,
              recentVideos: figures?.recentVideos)
    }
}
