import Domain
import Foundation
@testable import Models
import Providers
import TestSupport
import Testing

/// The views forecast on simulated channels' daily analytics: the baseline is the channel's
/// median video at that age among those that had reached it, the model learns views on a log
/// scale and beats that median on the newest videos, and the same history gives the same
/// metrics.
@Suite struct ViewsForecastTests {
    @Test func theBaselineIsTheChannelsMedianVideoAmongThoseThatHadReachedTheHorizon() {
        func curve(_ id: String, day: Int, observed: Int, daily: Int64) -> ViewsForecast.Curve {
            ViewsForecast.Curve(videoID: id, channelID: "ch", publishedDay: day, observedDays: observed,
                                views: Array(repeating: daily, count: observed))
        }
        // In order of publication: three old videos, one too young on the day of the forecast.
        let channel = [curve("a", day: 100, observed: 30, daily: 10), curve("b", day: 101, observed: 30, daily: 30),
                       curve("c", day: 102, observed: 30, daily: 20), curve("d", day: 108, observed: 30, daily: 1000)]
        let video = curve("v", day: 110, observed: 3, daily: 10)
        // By day 112 (its third day), "d" (published day 108) had not reached day 7.
        let peers = ViewsForecast.peers(in: channel, horizon: 7, byDay: 112)
        #expect(peers.map(\.videoID) == ["c", "b", "a"])
        let row = ViewsForecast.row(video, horizon: 7, age: 3, peers: peers)
        #expect(row.baseline == 140, "the median of 70, 210 and 140")
        #expect(row.features.count == ViewsForecast.features.count)
        #expect(row.features[2] == 30 && row.features[3] == 10, "views so far and on the last day")
        #expect(row.features[7] == 60, "the same videos' median after three days")
        // With no earlier video at that age, the baseline is the views so far; and it is never below them.
        #expect(ViewsForecast.row(video, horizon: 30, age: 3, peers: []).baseline == 30)
        #expect(ViewsForecast.row(video, horizon: 30, age: 3, peers: []).features[6].isNaN)
        let strong = curve("s", day: 110, observed: 3, daily: 100)
        #expect(ViewsForecast.row(strong, horizon: 7, age: 3, peers: peers).baseline == 300)
        // Examples only of videos whose horizon is covered, answered by YouTube's count.
        let examples = ViewsForecast.examples(channel + [video])
        #expect(examples.count == 4 * (7 + 10))
        #expect(Set(examples.compactMap(\.group)) == ["a", "b", "c", "d"], "a video's forecasts are one group")
        #expect(Set(examples.filter { $0.features[0] == 7 }.map(\.actual)) == [70, 210, 140, 7000])
        #expect(Set(examples.filter { $0.features[0] == 30 }.map(\.actual)) == [300, 900, 600, 30000])
    }

    @Test func simulatedChannelsTrainAForecastThatBeatsTheChannelMedianAndReproducesItsMetrics() async throws {
        try await withDatabase { db in
            let (_, ids) = try await db.seedPublishedVideos(seed: 7)
            #expect(ids.count > 300)
            let model = ViewsForecast(client: db.client, logger: db.logger)
            let curves = try await model.curves(where: "true", limit: 100_000)
            // Each video's days are read back as they were simulated, up to yesterday.
            let simulated = Dictionary(uniqueKeysWithValues: zip(ids, SyntheticHistory.publishedVideos(channels: 4, days: 240, seed: 7)))
            #expect(curves.count == ids.count)
            #expect(curves.allSatisfy { curve in
                simulated[curve.videoID].map { curve.observedDays == min(30, $0.publishedDaysAgo) && Array(curve.views.prefix(curve.observedDays)) == $0.views }
                    ?? false
            })
            #expect(curves.contains { $0.observedDays == 30 } && curves.contains { $0.observedDays < 7 })
            let jobs = try ModelJobs.temporary(db)
            let first = try await jobs.train(ViewsForecast.id)
            #expect(first.status == .active, "\(first.reason ?? "") \(first.metrics)")
            #expect(first.parameters[LabelScale.parameter] == "log1p")
            #expect(first.metrics.model.mae < first.metrics.baseline.mae * 0.7, "\(first.metrics)")
            print("views-forecast on the simulated channels: \(first.metrics), \(first.trainingRows) training rows")
            let second = try await jobs.train(ViewsForecast.id)
            #expect(second.metrics == first.metrics && second.version == 2)
            #expect(first.testRows + first.trainingRows == Set(ViewsForecast.examples(curves).compactMap(\.group)).count, "videos, split whole")
            // The stored version predicts in views: the booster's log1p turned back.
            let (version, booster) = try #require(try await jobs.registry.loadActive(ViewsForecast.id))
            let examples = Array(ViewsForecast.examples(curves).suffix(200))
            let predicted = try version.predict(booster, examples.map(\.features))
            let raw = try booster.predict(examples.map(\.features))
            #expect(zip(predicted, raw).allSatisfy { $0 == expm1($1) })
            let within = zip(predicted, examples).filter { abs($0 - $1.actual) <= $1.actual }.count
            #expect(within >= 150, "\(within) of 200 forecasts within 100% of the views")

            // A day the analytics miss ends what a video's figures cover: the days after it do
            // not count its missing views as none.
            let full = try #require(curves.first { $0.observedDays == 30 })
            try await db.client.query("""
                DELETE FROM video_analytics_daily
                 WHERE video_id = \(full.videoID)
                   AND day = (SELECT (published_at AT TIME ZONE 'America/Los_Angeles')::date + 10 FROM videos WHERE id = \(full.videoID))
                """, logger: db.logger)
            let gapped = try await model.curves(where: "v.id = \(full.videoID)", limit: 1)
            #expect(gapped.first?.observedDays == 10 && gapped.first?.views(through: 30) == nil)
        }
    }
}
