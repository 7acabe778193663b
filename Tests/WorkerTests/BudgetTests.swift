import Domain
import Foundation
import PostgresNIO
import TestSupport
import Testing

/// The user's budgets as ceilings over all videos: enforced in the reservation's statement,
/// so parallel workers cannot pass them, and announced once per threshold.
@Suite struct BudgetTests {
    @Test func aMonthlyBudgetSmallerThanTheBatchHoldsToTheMicroUnderEightWorkers() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: PipelineTests.pricedPlan())
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let requests = try (0..<12).map { try PipelineHarness.request(channelID: channel, title: "Budget video \($0)", duration: 10, threshold: 0) }
            _ = try await harness.submission.submit(userID: user, requests, batch: BatchOptions())
            // Set after the submission: the budget must stop work already queued, not only new submissions.
            let budget = Money(dollars: 0.75)
            _ = try await CostBudgets(client: db.client, logger: db.logger).update(userID: user, CostLimitsChange(monthlyBudget: .some(budget)))
            try await harness.run(workers: 8) {
                #expect(try await harness.waitForVideos(timeout: .seconds(300)))
                // The alerts of the thresholds reached, once each.
                _ = try await eventually(timeout: .seconds(30)) {
                    try await db.scalar("SELECT count(*) FROM domain_events WHERE type = 'cost.limit_reached'") >= 2
                }
            }
            let spent = try await db.scalar("SELECT coalesce(sum(amount), 0)::int8 FROM cost_ledger WHERE user_id = \(user)")
            #expect(spent <= Int(budget.micros), "the ledger \(spent) passed the monthly budget \(budget.micros)")
            #expect(spent > Int(budget.micros) / 2, "the budget was used, not refused outright")
            // The running sums agree with the ledger to the micro, and nothing is held.
            #expect(try await db.scalar("SELECT spent FROM cost_periods WHERE user_id = \(user) AND kind = 'month'") == spent)
            #expect(try await db.scalar("SELECT coalesce(sum(spent), 0)::int8 FROM cost_periods WHERE user_id = \(user) AND kind = 'day'") == spent)
            #expect(try await db.scalar("SELECT coalesce(sum(reserved), 0)::int8 FROM cost_periods WHERE user_id = \(user)") == 0)
            // The overflow stopped with budget_exceeded, and its refused stage was never paid for.
            let stopped = try await db.scalar("SELECT count(*) FROM videos WHERE error_code = 'budget_exceeded'")
            #expect(stopped > 0)
            #expect(try await db.scalar("SELECT count(*) FROM videos WHERE status = 'processing'") == 0)
            #expect(try await db.scalar("""
                SELECT count(*) FROM videos v JOIN video_stages s ON s.video_id = v.id AND s.status = 'failed'
                 WHERE v.error_code = 'budget_exceeded' AND EXISTS (SELECT 1 FROM cost_ledger l WHERE l.video_id = v.id AND l.stage = s.stage)
                """) == 0)
            let alerts = try await db.client.query("""
                SELECT (data->>'threshold')::float8, count(*) FROM domain_events
                 WHERE type = 'cost.limit_reached' AND data->>'scope' = 'monthly_budget' GROUP BY 1 ORDER BY 1
                """, logger: db.logger)
            var announced: [Double: Int64] = [:]
            for try await (threshold, count) in alerts.decode((Double, Int64).self) { announced[threshold] = count }
            #expect(announced[0.5] == 1 && announced[0.8] == 1, "each threshold reached is announced once: \(announced)")
            try await harness.expectCostInvariant()
        }
    }

    @Test func aDailyBudgetRefusesTheReservationThatWouldPassIt() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db, plan: PipelineTests.pricedPlan())
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let video = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 1)).videos[0].videoID
            _ = try await CostBudgets(client: db.client, logger: db.logger).update(userID: user, CostLimitsChange(dailyBudget: .some(Money(dollars: 0.1))))
            let ledger = CostLedger(client: db.client, logger: db.logger)
            let quote = CostQuote(choice: ProviderChoice(provider: "openai", model: "gpt-4o"), usage: Usage([:]), amount: Money(dollars: 0.03),
                                  unit: "token_out", units: 3000, unitPrice: 0.00001)
            let jobs = try await db.runningJobs(10)
            let outcomes = try await withThrowingTaskGroup(of: CostLedger.Reservation.self) { group in
                for job in jobs {
                    group.addTask { try await ledger.reserve(jobID: job, attempt: 1, videoID: video, stage: .script, quote: quote) }
                }
                return try await group.reduce(into: [CostLedger.Reservation]()) { $0.append($1) }
            }
            // $0.10 a day holds three reservations of 3 cents, whatever the video's own limit of $1 allows.
            #expect(outcomes.filter { $0 == .reserved }.count == 3)
            #expect(outcomes.filter { $0 == .dailyBudget }.count == 7)
            #expect(try await db.scalar("SELECT reserved FROM cost_periods WHERE user_id = \(user) AND kind = 'day'") == 90_000)
            try await db.abandonJobs()
            #expect(try await ledger.settleAbandoned(videoID: video) == 3)
            #expect(try await db.scalar("SELECT spent FROM cost_periods WHERE user_id = \(user) AND kind = 'day'") == 90_000)
            #expect(try await db.scalar("SELECT reserved FROM cost_periods WHERE user_id = \(user) AND kind = 'day'") == 0)
            // A new submission whose estimate does not fit what is left is refused.
            do {
                _ = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, duration: 600, costLimit: 5))
                Issue.record("a submission past the daily budget was accepted")
            } catch {
                let domain = error as? DomainError ?? (error as? PostgresTransactionError)?.closureError as? DomainError
                #expect(domain?.code == .budgetExceeded && domain?.reason == "daily_budget", "\(error)")
            }
        }
    }

    @Test func aCallReservedBeforeMidnightCountsInItsReservationsDay() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let video = try await harness.submission.submit(userID: user, try PipelineHarness.request(channelID: channel, costLimit: 1)).videos[0].videoID
            let ledger = CostLedger(client: db.client, logger: db.logger)
            let quote = CostQuote(choice: ProviderChoice(provider: "openai", model: "gpt-4o"), usage: Usage([:]), amount: Money(dollars: 0.05),
                                  unit: "call", units: 1, unitPrice: 0.05)
            let job = try #require(try await db.runningJobs(1).first)
            #expect(try await ledger.reserve(jobID: job, attempt: 1, videoID: video, stage: .script, quote: quote) == .reserved)
            // As if it had been taken yesterday: its hold sits in yesterday's row.
            try await db.client.query("""
                WITH r AS (UPDATE cost_reservations SET day = day - 1 WHERE job_id = \(job) RETURNING user_id, day, amount)
                SELECT cost_period_add(user_id, day + 1, 0, -amount), cost_period_add(user_id, day, 0, amount) FROM r
                """, logger: db.logger)
            try await db.abandonJobs()
            #expect(try await ledger.settleAbandoned(videoID: video) == 1)
            #expect(try await db.scalar("SELECT count(*) FROM cost_ledger WHERE day = (SELECT min(starts_on) FROM cost_periods WHERE kind = 'day')") == 1)
            #expect(try await db.scalar("""
                SELECT count(*) FROM cost_periods WHERE kind = 'day' AND spent = 50000 AND reserved = 0
                   AND starts_on = (SELECT min(starts_on) FROM cost_periods WHERE kind = 'day')
                """) == 1, "the settled call is yesterday's spend, not today's")
            #expect(try await db.scalar("SELECT coalesce(sum(spent + reserved), 0)::int8 FROM cost_periods WHERE kind = 'day'") == 50_000)
        }
    }

    @Test func theAdvisorFindsACheaperModelRedosWastedSpendAndBudgetPaceInTheUsersOwnLedger() async throws {
        try await withDatabase { db in
            let harness = try PipelineHarness(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let videos = try await harness.submission.submit(userID: user, try (0..<8).map {
                try PipelineHarness.request(channelID: channel, title: "Advice \($0)")
            }, batch: BatchOptions()).videos.map(\.videoID)
            func charge(_ job: Int64, _ video: String, _ stage: String, _ provider: String, _ model: String, _ amount: Int64) async throws {
                try await db.client.query("""
                    INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis)
                    VALUES (\(job), 1, \(video), \(user), \(stage), \(provider), \(model), 1, 'call', 0, \(amount), 'actual')
                    """, logger: db.logger)
            }
            // Four videos voiced by a dear model, four by a cheap one; one cheap one failed after spending.
            // On the voice's own part of the review the cheap model is 3 points behind; on the whole
            // score (its scripts were weaker) 10: only the stage's part counts for the voice.
            for (index, video) in videos.enumerated() {
                let dear = index < 4
                try await charge(Int64(700_000 + index), video, "voice", "elevenlabs", dear ? "multilingual" : "turbo", dear ? 400_000 : 100_000)
                try await db.client.query("""
                    UPDATE videos SET quality_score = \(Int32(dear ? 90 : 80)),
                           quality = jsonb_build_object('score', \(Int32(dear ? 90 : 80)), 'script_length', \(Int32(dear ? 90 : 70)),
                                                        'keyword_coverage', 90, 'thumbnail', 85, 'audio_duration', \(Int32(dear ? 95 : 92))),
                           spent = spent + \(dear ? 400_000 : 100_000),
                           status = \(index == 7 ? "failed" : "completed"), error_code = \(index == 7 ? "quality_below_threshold" : nil)
                     WHERE id = \(video)
                    """, logger: db.logger)
            }
            // One video's thumbnail redone after its review: a second run (a job of its own) of 4 cents;
            // a retried attempt inside one run is not a redo.
            try await charge(810_000, videos[1], "thumbnail", "openai", "dall-e-3", 40_000)
            try await charge(810_001, videos[1], "thumbnail", "openai", "dall-e-3", 40_000)
            try await db.client.query("""
                INSERT INTO cost_ledger (job_id, attempt, video_id, user_id, stage, provider, model, units, unit, unit_price, amount, basis)
                VALUES (810002, 1, \(videos[2]), \(user), 'thumbnail', 'openai', 'dall-e-3', 1, 'call', 0, 40000, 'assumed'),
                       (810002, 2, \(videos[2]), \(user), 'thumbnail', 'openai', 'dall-e-3', 1, 'call', 0, 40000, 'actual')
                """, logger: db.logger)
            let advisor = CostAdvisor(client: db.client, logger: db.logger)
            let advice = try await advisor.suggestions(userID: user)
            #expect(advice.reason == nil && advice.videosConsidered == 8)
            let cheaper = try #require(advice.suggestions.first { $0.kind == .cheaperModel })
            #expect(cheaper.title == "Use elevenlabs/turbo for the voice stage")
            // Four dear calls a month at 30 cents more each.
            #expect(cheaper.projectedMonthlySaving == Money(dollars: 1.2))
            #expect(cheaper.evidence["average_score_cheaper"] == 92 && cheaper.evidence["average_score_expensive"] == 95)
            let wasted = try #require(advice.suggestions.first { $0.kind == .failedSpend })
            #expect(wasted.projectedMonthlySaving == Money(dollars: 0.1) && wasted.evidence["videos"] == 1)
            let redone = advice.suggestions.filter { $0.kind == .frequentRedo }
            #expect(redone.count == 1)
            #expect(redone.first?.title == "The thumbnail stage is redone often")
            #expect(redone.first?.projectedMonthlySaving == Money(dollars: 0.04))
            #expect(redone.first?.evidence["videos"] == 1 && redone.first?.evidence["extra_runs"] == 1)
            #expect(advice.suggestions.first?.kind == .cheaperModel, "largest saving first")
            #expect(!advice.suggestions.contains { $0.kind == .budgetPace }, "no budgets set")

            // Budgets, at noon on the 10th of a 30-day month (UTC, the user's zone), with a dollar spent that day.
            let noon = try #require(ISO8601DateFormatter().date(from: "2030-06-10T12:00:00Z"))
            try await db.client.query("SELECT cost_period_add(\(user), '2030-06-10'::date, 1000000, 0)", logger: db.logger)
            try await db.client.query("INSERT INTO cost_budgets (user_id, daily_budget, monthly_budget) VALUES (\(user), 1500000, 3000000)",
                                      logger: db.logger)
            let pace = try await advisor.suggestions(userID: user, now: noon).suggestions.filter { $0.kind == .budgetPace }
            // Today: $1 in half a day makes $2 against $1.50, reached at 18:00. The month: $1 in 9.5 days
            // makes $3.16 against $3, reached on day 28.5.
            #expect(pace.map(\.title).sorted() == ["This month's budget runs out around day 29", "Today's budget runs out around 18:00"])
            #expect(pace.allSatisfy { $0.projectedMonthlySaving == .zero })
            #expect(pace.first { $0.title.hasPrefix("Today") }?.evidence["projected"] == 2)
            // A budget the pace stays within says nothing.
            try await db.client.query("UPDATE cost_budgets SET daily_budget = 2500000, monthly_budget = 4000000 WHERE user_id = \(user)",
                                      logger: db.logger)
            #expect(try await advisor.suggestions(userID: user, now: noon).suggestions.filter { $0.kind == .budgetPace }.isEmpty)
        }
    }
}
