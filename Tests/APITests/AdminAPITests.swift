@testable import API
import Domain
import Foundation
import Hummingbird
import Queue
import TestSupport
import Testing

/// The admin API: operators only (checked against the database on every request, so a grant
/// or a revocation counts at once), queues paused, resumed, drained and limited, jobs found by
/// their arguments and retried, cancelled and discarded one by one or in bulk after a
/// confirmed count, and every action in the audit log under the operator's id.
@Suite struct AdminAPITests {
    @Test func anOperatorRunsTheQueuesAndJobsAndEveryActionIsAudited() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let userToken = try await signUp(api, db, "user@example.com")
                let token = try await signUp(api, db, "ops@example.com")
                // Not an operator yet: 403 with the envelope on every admin route, and nothing changes.
                let waiting = try await JobStore(client: db.client, logger: db.logger).insert(NewJob(kind: "noop", queue: "untouched")).id
                let everyRoute: [(HTTPRequest.Method, String, [String: Any]?)] = [
                    (.get, "/admin/queues", nil), (.post, "/admin/queues/untouched/pause", nil), (.post, "/admin/queues/untouched/resume", nil),
                    (.post, "/admin/queues/untouched/drain", nil), (.put, "/admin/queues/untouched/limit", ["limit": 1]),
                    (.get, "/admin/jobs", nil), (.get, "/admin/jobs/\(waiting)", nil), (.post, "/admin/jobs/\(waiting)/retry", nil),
                    (.post, "/admin/jobs/\(waiting)/cancel", nil), (.post, "/admin/jobs/\(waiting)/discard", nil),
                    (.post, "/admin/jobs/bulk", ["action": "discard", "filter": [:] as [String: Any], "confirm_count": 1]), (.get, "/admin/audit", nil),
                ]
                for (method, path, body) in everyRoute {
                    let refused = try await api.call(method, path, json: body, token: token)
                    #expect(try refused.status == .forbidden && (refused.decode(Components.Schemas.ErrorEnvelope.self).error) == "forbidden", "\(path): \(refused.body)")
                }
                #expect(try await db.scalar("""
                    SELECT count(*) FROM jobs j LEFT JOIN queues q ON q.name = j.queue
                     WHERE j.id = \(waiting) AND j.state = 'available' AND q.paused_at IS NULL AND q.concurrency_limit IS NULL
                    """) == 1)
                #expect(try await db.scalar("SELECT count(*) FROM operator_audit") == 0)
                try await Operators(client: db.client, logger: db.logger).set(email: "ops@example.com", granted: true, by: .commandLine(login: "test"))
                let operatorID = try #require(try await db.text("SELECT id FROM users WHERE email = 'ops@example.com'"))

                // Three jobs on a queue no worker serves here.
                let store = JobStore(client: db.client, logger: db.logger)
                var ids: [Int64] = []
                for video in ["vid_a", "vid_b", "vid_c"] {
                    ids.append(try await store.insert(NewJob(kind: "noop", args: #"{"video_id": "\#(video)", "user_id": "\#(operatorID)"}"#,
                                                             queue: "admin_test")).id)
                }
                // The same token works at once: the flag is read with the session.
                let queues = try await api.call(.get, "/admin/queues", token: token)
                let queue = try #require(try queues.decode(Components.Schemas.AdminQueueList.self).queues.first { $0.name == "admin_test" }, "\(queues.body)")
                #expect(queue.counts.additionalProperties["available"] == 3 && !queue.paused)
                #expect(try await api.call(.get, "/admin/queues", token: userToken).status == .forbidden)

                let paused = try await api.call(.post, "/admin/queues/admin_test/pause", token: token)
                #expect(try paused.status == .ok && paused.decode(Components.Schemas.AdminQueue.self).paused, "\(paused.body)")
                #expect(try await api.call(.post, "/admin/queues/admin_test/resume", token: token).decode(Components.Schemas.AdminQueue.self).paused == false)
                let drained = try await api.call(.post, "/admin/queues/admin_test/drain", token: token)
                #expect(try drained.status == .accepted && drained.decode(Components.Schemas.AdminQueue.self).paused && drained.decode(Components.Schemas.AdminQueue.self).running == 0)
                #expect(try await api.call(.put, "/admin/queues/admin_test/limit", json: ["limit": 2], token: token).decode(Components.Schemas.AdminQueue.self).concurrencyLimit == 2)
                let cleared = try await api.call(.put, "/admin/queues/admin_test/limit", json: ["limit": NSNull()], token: token)
                #expect(try cleared.status == .ok && cleared.decode(Components.Schemas.AdminQueue.self).concurrencyLimit == nil && cleared.decode(Components.Schemas.AdminQueue.self).name == "admin_test",
                        "\(cleared.body)")
                #expect(try await api.call(.put, "/admin/queues/admin_test/limit", json: ["limit": 0], token: token).status == .badRequest)
                #expect(try await api.call(.post, "/admin/queues/no_such_queue/pause", token: token).status == .notFound)

                // Jobs by their arguments, and pages by cursor.
                let found = try await api.call(.get, "/admin/jobs?queue=admin_test&arg=video_id:vid_b", token: token)
                let jobs = try found.decode(Components.Schemas.AdminJobPage.self).jobs
                #expect(jobs.count == 1 && jobs.first?.id == ids[1], "\(found.body)")
                // Untyped on purpose: the job's arguments are free-form JSON.
                #expect(((found.body["jobs"] as? [[String: Any]])?.first?["args"] as? [String: Any])?["video_id"] as? String == "vid_b")
                let first = try await api.call(.get, "/admin/jobs?queue=admin_test&limit=2", token: token).decode(Components.Schemas.AdminJobPage.self)
                let next = try #require(first.nextBefore)
                let second = try await api.call(.get, "/admin/jobs?queue=admin_test&limit=2&before=\(next)", token: token)
                    .decode(Components.Schemas.AdminJobPage.self)
                #expect(first.jobs.map(\.id) == [ids[2], ids[1]])
                #expect(second.jobs.map(\.id) == [ids[0]] && second.nextBefore == nil)
                for bad in ["arg=video_id", "arg=:x", "limit=501", "limit=0", "before=0", "queue=no%20spaces"] {
                    #expect(try await api.call(.get, "/admin/jobs?\(bad)", token: token).status == .badRequest, "\(bad)")
                }

                // One job: its owner, then discarded, retried and cancelled.
                let detail = try await api.call(.get, "/admin/jobs/\(ids[0])", token: token)
                #expect(try detail.decode(Components.Schemas.AdminJobDetail.self).user?.email == "ops@example.com", "\(detail.body)")
                #expect(try await api.call(.get, "/admin/jobs/987654321", token: token).status == .notFound)
                #expect(try await api.call(.post, "/admin/jobs/\(ids[0])/discard", token: token).decode(Components.Schemas.AdminJob.self).state == .discarded)
                let again = try await api.call(.post, "/admin/jobs/\(ids[0])/discard", token: token)
                #expect(try again.status == .conflict && (again.decode(Components.Schemas.ErrorEnvelope.self).error) == "invalid_state", "\(again.body)")
                #expect(try await api.call(.post, "/admin/jobs/\(ids[0])/retry", token: token).decode(Components.Schemas.AdminJob.self).state == .available)
                #expect(try await api.call(.post, "/admin/jobs/\(ids[0])/cancel", token: token).decode(Components.Schemas.AdminJob.self).state == .cancelled)

                // In bulk: a preview counts, a stale confirmation is refused, the right one acts.
                let filter: [String: Any] = ["queue": "admin_test", "state": "available"]
                let preview = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "discard", "filter": filter], token: token)
                #expect(try preview.decode(Components.Schemas.AdminBulkResult.self).matched == 2 && !preview.decode(Components.Schemas.AdminBulkResult.self).applied, "\(preview.body)")
                let stale = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "discard", "filter": filter, "confirm_count": 3], token: token)
                #expect(stale.status == .conflict)
                let bulk = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "discard", "filter": filter, "confirm_count": 2], token: token)
                #expect(try bulk.decode(Components.Schemas.AdminBulkResult.self).changed == 2 && bulk.decode(Components.Schemas.AdminBulkResult.self).applied, "\(bulk.body)")
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE queue = 'admin_test' AND state = 'discarded'") == 2)

                // Bulk retry: of two given-up jobs sharing a unique key, only the newer runs again.
                let unfinished: Set<JobState> = [.available, .scheduled, .running, .retryable]
                let older = try await store.insert(NewJob(kind: "noop", queue: "admin_test", uniqueKey: "once", uniqueStates: unfinished)).id
                _ = try await store.discard(id: older)
                let newer = try await store.insert(NewJob(kind: "noop", queue: "admin_test", uniqueKey: "once", uniqueStates: unfinished)).id
                _ = try await store.discard(id: newer)
                let given = ["queue": "admin_test", "state": "discarded"]
                let retryCount = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "retry", "filter": given], token: token)
                #expect(try retryCount.decode(Components.Schemas.AdminBulkResult.self).matched == 3, "\(retryCount.body)")
                let retried = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "retry", "filter": given, "confirm_count": 3], token: token)
                #expect(try retried.status == .ok && retried.decode(Components.Schemas.AdminBulkResult.self).changed == 3, "\(retried.body)")
                let (newerState, olderState) = (try await store.job(id: newer)?.state, try await store.job(id: older)?.state)
                #expect(newerState == .available && olderState == .discarded)

                // A video's jobs are spared: they follow their video.
                let stage = try await store.insert(NewJob(kind: "video.script", args: #"{"video_id": "vid_x"}"#, queue: "admin_test")).id
                let spared = try await api.call(.post, "/admin/jobs/\(stage)/cancel", token: token)
                #expect(try spared.status == .conflict && (spared.decode(Components.Schemas.ErrorEnvelope.self).message).contains("cancel the video") == true, "\(spared.body)")
                let cancelCount = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "cancel", "filter": ["queue": "admin_test"]], token: token)
                #expect(try cancelCount.decode(Components.Schemas.AdminBulkResult.self).matched == 3, "the three retried jobs, not the stage's: \(cancelCount.body)")
                let cancelled = try await api.call(.post, "/admin/jobs/bulk", json: ["action": "cancel", "filter": ["queue": "admin_test"], "confirm_count": 3],
                                                   token: token)
                let stageState = try await store.job(id: stage)?.state
                #expect(try cancelled.decode(Components.Schemas.AdminBulkResult.self).changed == 3 && stageState == .available, "\(cancelled.body)")
                #expect(try await api.call(.post, "/admin/jobs/bulk", json: ["action": "cancel", "filter": [:] as [String: Any], "confirm_count": 10_001],
                                           token: token).status == .badRequest)

                // The audit log: every action, by the operator, newest first.
                let audit = try await api.call(.get, "/admin/audit?limit=100", token: token)
                let entries = try audit.decode(Components.Schemas.AdminAuditPage.self).entries
                let actions = entries.map(\.action)
                #expect(actions == ["jobs.cancel", "jobs.retry", "jobs.discard", "job.cancel", "job.retry", "job.discard", "queue.limit", "queue.limit",
                                    "queue.drain", "queue.resume", "queue.pause", "operator.grant"], "\(actions)")
                #expect(entries.dropLast().allSatisfy { $0.actor == operatorID } && entries.last?.actor == "cli:test")
                let discardEntry = try #require(entries.first { $0.action == "jobs.discard" })
                #expect(discardEntry.affected == 2)
                // Untyped on purpose: an entry's details are free-form JSON.
                let rawEntries = audit.body["entries"] as? [[String: Any]] ?? []
                #expect((rawEntries.first { $0["action"] as? String == "jobs.discard" }?["details"] as? [String: Any])?["state"] as? String == "available")

                // Revoked: refused at once, with the same token.
                try await Operators(client: db.client, logger: db.logger).set(email: "ops@example.com", granted: false, by: .commandLine(login: "test"))
                #expect(try await api.call(.get, "/admin/queues", token: token).status == .forbidden)
            }
        }
    }

    @Test func theConsoleSeesTheWorkersThePipelineTheQuotaAndTheWebhooksOfEveryUser() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "fleet-ops@example.com")
                try await Operators(client: db.client, logger: db.logger).set(email: "fleet-ops@example.com", granted: true, by: .commandLine(login: "test"))
                // A worker on another host running one job, and the dispatcher's lease.
                try await db.client.query("INSERT INTO workers (id, host, pid, queues) VALUES ('w-far', 'host-b', 4242, '{video_script}')", logger: db.logger)
                let job = try await JobStore(client: db.client, logger: db.logger).insert(NewJob(kind: "noop", queue: "video_script")).id
                try await db.client.query("""
                    UPDATE jobs SET state = 'running', worker_id = 'w-far', attempt = 1, attempted_at = now(), lease_until = now() + interval '1 minute'
                     WHERE id = \(job)
                    """, logger: db.logger)
                try await db.client.query("""
                    INSERT INTO leader (name, leader_id, expires_at) VALUES ('fleet-test', 'w-far', now() + interval '30 seconds')
                    """, logger: db.logger)
                let workers = try await api.call(.get, "/admin/workers", token: token)
                let fleet = try workers.decode(Components.Schemas.AdminWorkers.self)
                let far = try #require(fleet.workers.first { $0.id == "w-far" }, "\(workers.body)")
                #expect(far.host == "host-b" && far.running == 1 && far.queues == ["video_script"])
                #expect(fleet.leaders.contains { $0.name == "fleet-test" && $0.leaderId == "w-far" })

                // Another user's videos through a simulated fleet in the last minutes, and money held now.
                try await db.seedPipelineHistory(count: 40, seed: 8)
                try await db.client.query("""
                    INSERT INTO cost_reservations (job_id, attempt, video_id, stage, provider, model, amount)
                    SELECT 999999, 1, id, 'voice', 'elevenlabs', 'eleven_multilingual_v2', 1500000 FROM videos ORDER BY id LIMIT 1
                    """, logger: db.logger)
                let pipeline = try await api.call(.get, "/admin/pipeline", token: token)
                let figures = try pipeline.decode(Components.Schemas.AdminPipeline.self)
                #expect(figures.stages.map(\.stage) == PipelineStage.allCases.map(\.rawValue), "\(pipeline.body)")
                let voice = try #require(figures.stages.first { $0.stage == "voice" })
                #expect(voice.completedLastHour == 40 && (voice.p50Seconds ?? 0) > 0 && (voice.p99Seconds ?? 0) >= (voice.p50Seconds ?? 0), "\(voice)")
                #expect(figures.videos.additionalProperties["completed"] == 40 && figures.reservedNow == 1.5)

                // Every user's YouTube accounts with today's quota, and failing webhooks by host only.
                let owner = try await db.createUser()
                try await db.client.query("""
                    INSERT INTO youtube_accounts (id, user_id, email, youtube_channel_id, channel_name, access_token, refresh_token, token_expires_at,
                                                  quota_limit, quota_day, quota_used, recent_failures)
                    VALUES ('yt_acc_fleet', \(owner), 'creator@example.com', 'UC_fleet', 'Fleet channel', '\\x00', '\\x00', now(), 10000,
                            (now() AT TIME ZONE 'America/Los_Angeles')::date, 1650, 2)
                    """, logger: db.logger)
                let youtube = try await api.call(.get, "/admin/youtube", token: token)
                let quota = try youtube.decode(Components.Schemas.AdminYouTube.self)
                let account = try #require(quota.accounts.first, "\(youtube.body)")
                #expect(account.quotaUsed == 1650 && account.healthScore == 80 && account.userId == owner)
                #expect(quota.waitingUploads == 0 && quota.nextReset > Date())
                try await db.client.query("""
                    INSERT INTO webhook_endpoints (id, user_id, url, events, secret, failing_since)
                    VALUES ('wh_fleet', \(owner), 'https://hooks.example.com/secret-path?token=abc', '{video.completed}', '\\x00', now() - interval '1 hour')
                    """, logger: db.logger)
                let webhooks = try await api.call(.get, "/admin/webhooks", token: token)
                let endpoint = try #require(try webhooks.decode(Components.Schemas.AdminWebhooks.self).endpoints.first, "\(webhooks.body)")
                #expect(endpoint.host == "https://hooks.example.com" && !String(decoding: webhooks.data, as: UTF8.self).contains("secret-path"))
            }
        }
    }
}
