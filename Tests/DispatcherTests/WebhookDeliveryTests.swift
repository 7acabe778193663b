import Dispatcher
import Domain
import Foundation
import Queue
import TestSupport
import Testing

/// Webhook delivery end to end: outbox events fanned out to subscribed endpoints, signed per
/// Standard Webhooks (checked by the reference Python implementation), retried with the same
/// `webhook-id`, 410 disabling, a slow receiver not holding up another.
@Suite struct WebhookDeliveryTests {
    /// A policy at test speed.
    static var fast: WebhookPolicy {
        var policy = WebhookPolicy()
        policy.schedule = [.milliseconds(100), .milliseconds(100), .milliseconds(100)]
        // Generous: the receivers run in this (busy) test process, and a timed-out attempt is
        // sent again, which the expectations below would count.
        policy.timeout = .seconds(15)
        policy.concurrencyPerEndpoint = 1
        policy.allowInsecureURLs = true
        return policy
    }

    /// Runs two workers with the webhook queue and the fan-out while `body` runs.
    func withDispatcher<T: Sendable>(_ db: TestDatabase, cipher: TokenCipher, _ body: () async throws -> T) async throws -> T {
        let fleet = PipelineFleet(db: db)
        return try await fleet.run(workers: 2, settings: try fleet.choreSettings(cipher: cipher, webhookPolicy: Self.fast),
                                   queues: [WebhookDeliveryArgs.queue: 8], body)
    }

    /// The deliveries to `url` with their attempts and their jobs, for a failure message.
    static func deliveryLog(_ db: TestDatabase, url: String) async throws -> String {
        let rows = try await db.client.query("""
            SELECT concat_ws(' ', d.status, d.attempts, d.sending_until - now(), d.next_attempt_at - now(), j.state, j.attempt,
                             j.run_at - now(), j.errors::text,
                             (SELECT string_agg(concat_ws('/', a.attempt, a.status_code, a.latency_ms, a.error), '; ')
                                FROM webhook_attempts a WHERE a.delivery_id = d.id))
              FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id LEFT JOIN jobs j ON j.id = d.job_id
             WHERE w.url = \(url)
            """, logger: db.logger)
        var lines: [String] = []
        for try await line in rows.decode(String.self) { lines.append(line) }
        return lines.joined(separator: "\n")
    }

    /// Verifies every received request with the `standardwebhooks` package from PyPI.
    func verifyWithPython(_ received: [WebhookReceiver.Received], secret: String) throws -> Bool {
        let lines = try received.map { request -> String in
            let object: [String: String] = ["id": request.id, "timestamp": request.timestamp, "signature": request.signature, "body": request.body]
            return String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-webhooks-\(UUID().uuidString).jsonl")
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", """
            import json, sys
            from standardwebhooks.webhooks import Webhook, WebhookVerificationError
            hook = Webhook(sys.argv[1])
            for line in open(sys.argv[2]):
                r = json.loads(line)
                try:
                    hook.verify(r["body"], {"webhook-id": r["id"], "webhook-timestamp": r["timestamp"], "webhook-signature": r["signature"]})
                except WebhookVerificationError:
                    sys.exit(1)
            """, secret, file.path]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    @Test func eventsAreDeliveredSignedOnceAndRetriedWithTheSameID() async throws {
        let receiver = WebhookReceiver()
        try await withDatabase { db in
            let cipher = try TokenCipher.ephemeral()
            let webhooks = WebhookRepository(client: db.client, cipher: cipher, policy: Self.fast, logger: db.logger)
            let user = try await db.createUser()
            let stranger = try await db.createUser()
            try await receiver.run { base in
                let (ok, secret) = try await webhooks.create(userID: user, url: base + "/ok", events: ["video.completed", "batch.completed"],
                                                             description: "main", secret: nil)
                let (flaky, flakySecret) = try await webhooks.create(userID: user, url: base + "/flaky", events: ["video.completed"],
                                                                     description: nil, secret: "a-chosen-secret-of-some-length")
                try await withDispatcher(db, cipher: cipher) {
                    for index in 0..<5 {
                        try await DomainEvents.record(type: "video.completed", userID: user, data: #"{"video_id": "vid_\#(index)"}"#,
                                                      on: db.client, logger: db.logger)
                    }
                    try await DomainEvents.record(type: "video.failed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    try await DomainEvents.record(type: "video.completed", userID: stranger, data: "{}", on: db.client, logger: db.logger)
                    let delivered = try await eventually(timeout: .seconds(180)) {
                        try await db.scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'") == 10
                    }
                    let log = try await Self.deliveryLog(db, url: base + "/flaky") + "\n" + Self.deliveryLog(db, url: base + "/ok")
                    #expect(delivered, "\(log)")
                }
                // Each event once per endpoint on success; nothing unsubscribed, nothing of another user.
                let good = receiver.received(path: "/ok")
                #expect(good.count == 5)
                #expect(Set(good.map(\.id)).count == 5)
                let attempts = Dictionary(grouping: receiver.received(path: "/flaky"), by: \.id)
                #expect(attempts.count == 5)
                #expect(attempts.values.allSatisfy { $0.count == 3 }, "two failures then a success, under one webhook-id")
                #expect(!receiver.overlapped)
                let first = try #require(good.first)
                let body = try #require(try JSONSerialization.jsonObject(with: Data(first.body.utf8)) as? [String: Any])
                #expect(body["type"] as? String == "video.completed")
                #expect((body["data"] as? [String: Any])?["video_id"] != nil)
                #expect(body["timestamp"] is String)
                #expect(try verifyWithPython(good, secret: secret))
                // A chosen secret signs with its UTF-8 bytes: the reference library takes them as whsec_ + base64.
                #expect(try verifyWithPython(receiver.received(path: "/flaky"), secret: "whsec_" + Data(flakySecret.utf8).base64EncodedString()))
                #expect(try verifyWithPython(good, secret: "whsec_" + Data(flakySecret.utf8).base64EncodedString()) == false)
                // The log shows each attempt with its status code.
                let log = try #require(try await webhooks.log(endpointID: flaky.id, userID: user, limit: 100))
                #expect(log.filter { $0.statusCode == 500 }.count == 10)
                #expect(log.filter { $0.statusCode == 200 }.count == 5)
                #expect(log.first?.responseBody != nil)
                #expect(try await webhooks.log(endpointID: ok.id, userID: stranger, limit: 10) == nil)
            }
        }
    }

    /// Receivers answering `Retry-After: inf` (with a 200) and `1e300` (with a 429) crashed the
    /// dispatcher (a trapping conversion) and, rescued, crash-looped the fleet. Now the
    /// attempts are recorded, the huge wait is a day, and deliveries go on.
    @Test func absurdRetryAfterAnswersAreRecordedAndTheDispatcherLivesOn() async throws {
        let receiver = WebhookReceiver()
        try await withDatabase { db in
            let cipher = try TokenCipher.ephemeral()
            let webhooks = WebhookRepository(client: db.client, cipher: cipher, policy: Self.fast, logger: db.logger)
            let user = try await db.createUser()
            try await receiver.run { base in
                for path in ["/retry-inf", "/busy-forever"] {
                    _ = try await webhooks.create(userID: user, url: base + path, events: ["video.completed"], description: nil, secret: nil)
                }
                try await withDispatcher(db, cipher: cipher) {
                    try await DomainEvents.record(type: "video.completed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    let recorded = try await eventually(timeout: .seconds(60)) {
                        try await db.scalar("SELECT count(*) FROM webhook_attempts") >= 2
                    }
                    let log = try await Self.deliveryLog(db, url: base + "/busy-forever")
                    #expect(recorded, "\(log)")
                    // A later event is still delivered: the dispatcher is alive.
                    _ = try await webhooks.create(userID: user, url: base + "/ok", events: ["batch.completed"], description: nil, secret: nil)
                    try await DomainEvents.record(type: "batch.completed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    let alive = try await eventually(timeout: .seconds(60)) { !receiver.received(path: "/ok").isEmpty }
                    #expect(alive)
                }
                #expect(try await db.scalar("""
                    SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                     WHERE w.url LIKE '%/retry-inf' AND d.status = 'succeeded'
                    """) == 1)
                // The 429's wait of 1e300 seconds became a day.
                #expect(try await db.scalar("""
                    SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                     WHERE w.url LIKE '%/busy-forever' AND d.status <> 'succeeded'
                       AND d.next_attempt_at BETWEEN now() + interval '23 hours' AND now() + interval '25 hours'
                    """) == 1)
            }
        }
    }

    @Test func a410DisablesTheEndpointAndASlowReceiverDoesNotHoldUpAnother() async throws {
        // `/slow` holds every request until the test opens its gate.
        let receiver = WebhookReceiver(slowDelay: .seconds(3600))
        try await withDatabase { db in
            let cipher = try TokenCipher.ephemeral()
            let webhooks = WebhookRepository(client: db.client, cipher: cipher, policy: Self.fast, logger: db.logger)
            let user = try await db.createUser()
            try await receiver.run { base in
                let (gone, _) = try await webhooks.create(userID: user, url: base + "/gone", events: ["video.failed"], description: nil, secret: nil)
                _ = try await webhooks.create(userID: user, url: base + "/slow", events: ["video.completed"], description: nil, secret: nil)
                _ = try await webhooks.create(userID: user, url: base + "/ok", events: ["video.completed"], description: nil, secret: nil)
                try await withDispatcher(db, cipher: cipher) {
                    for _ in 0..<4 {
                        try await DomainEvents.record(type: "video.completed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    }
                    // The fast receiver gets all four while the slow one has answered none.
                    let succeeded = { (path: String) in
                        try await db.scalar("""
                            SELECT count(*) FROM webhook_deliveries d JOIN webhook_endpoints w ON w.id = d.endpoint_id
                             WHERE w.url = \(base + path) AND d.status = 'succeeded'
                            """)
                    }
                    let fastDone = try await eventually(timeout: .seconds(60)) { try await succeeded("/ok") == 4 }
                    #expect(fastDone)
                    #expect(try await succeeded("/slow") == 0)
                    receiver.openSlowGate()
                    try await DomainEvents.record(type: "video.failed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    let disabled = try await eventually(timeout: .seconds(90)) {
                        try await db.scalar("SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled'") == 1
                    }
                    let log = try await Self.deliveryLog(db, url: base + "/gone")
                    #expect(disabled, "\(log)")
                    // Once disabled, later events are not sent to it.
                    try await DomainEvents.record(type: "video.failed", userID: user, data: "{}", on: db.client, logger: db.logger)
                    let slowDone = try await eventually(timeout: .seconds(120)) { try await succeeded("/slow") == 4 }
                    #expect(slowDone)
                }
                // One delivery (an attempt whose outcome could not be recorded is sent again: at least once).
                #expect(Set(receiver.received(path: "/gone").map(\.id)).count == 1)
                #expect(try await db.scalar("SELECT count(*) FROM email_outbox WHERE subject LIKE '%webhook was disabled%'") == 1)
                let endpoint = try #require(try await webhooks.list(userID: user).first { $0.id == gone.id })
                #expect(endpoint.disabledReason?.contains("410") == true)
                // A test delivery still reaches a disabled endpoint, to check a fix.
                #expect(try await webhooks.sendTest(id: gone.id, userID: user) != nil)
            }
        }
    }

    @Test func anEndpointFailingLongerThanTheLimitIsDisabledAndItsOwnerTold() async throws {
        let receiver = WebhookReceiver()
        try await withDatabase { db in
            let cipher = try TokenCipher.ephemeral()
            let policy = {
                var policy = Self.fast
                policy.schedule = Array(repeating: .milliseconds(200), count: 50)
                policy.disableAfter = .seconds(1)
                policy.responseLimit = 100
                return policy
            }()
            let webhooks = WebhookRepository(client: db.client, cipher: cipher, policy: policy, logger: db.logger)
            let user = try await db.createUser()
            try await receiver.run { base in
                let (down, _) = try await webhooks.create(userID: user, url: base + "/down", events: ["quota.warning"], description: nil, secret: nil)
                let fleet = PipelineFleet(db: db)
                try await fleet.run(workers: 1, settings: try fleet.choreSettings(cipher: cipher, webhookPolicy: policy),
                                    queues: [WebhookDeliveryArgs.queue: 4]) {
                    try await DomainEvents.record(type: "quota.warning", userID: user, data: "{}", on: db.client, logger: db.logger)
                    let disabled = try await eventually(timeout: .seconds(60)) {
                        try await db.scalar("SELECT count(*) FROM webhook_endpoints WHERE status = 'disabled'") == 1
                    }
                    let log = try await Self.deliveryLog(db, url: base + "/down")
                    #expect(disabled, "\(log)")
                }
                let endpoint = try #require(try await webhooks.list(userID: user).first)
                #expect(endpoint.disabledReason?.hasPrefix("Every delivery failed") == true)
                #expect(try await db.scalar("SELECT count(*) FROM email_outbox WHERE subject LIKE '%webhook was disabled%'") == 1)
                #expect(receiver.received(path: "/down").count >= 2)
                // The log keeps the first bytes of each answer only.
                let log = try #require(try await webhooks.log(endpointID: down.id, userID: user, limit: 100))
                #expect(log.allSatisfy { ($0.responseBody?.utf8.count ?? 0) <= 100 })
                #expect(log.first?.statusCode == 503)
                #expect(try await db.scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'failed'") == 1)
            }
        }
    }

    @Test func theFanoutWakesWhenEventsCommitRatherThanAtItsNextRound() async throws {
        let receiver = WebhookReceiver()
        try await withDatabase { db in
            let cipher = try TokenCipher.ephemeral()
            let jobs = WebhookJobs(client: db.client, cipher: cipher, policy: Self.fast, logger: db.logger)
            let user = try await db.createUser()
            try await receiver.run { base in
                _ = try await WebhookRepository(client: db.client, cipher: cipher, policy: Self.fast, logger: db.logger)
                    .create(userID: user, url: base + "/ok", events: ["video.completed"], description: nil, secret: nil)
                // One round an hour: only the outbox's NOTIFY can start one in time.
                var registry = JobRegistry()
                jobs.register(into: &registry)
                let notifier = Notifier(client: db.client, channels: [NotificationChannel.jobs, DomainEvents.outboxChannel], logger: db.logger)
                let elector = LeaderElector(store: LeaderStore(client: db.client, logger: db.logger), candidateID: "wake-test", ttl: .seconds(30),
                                            logger: db.logger)
                let claims = db.makeClient()
                let worker = Worker(configuration: WorkerConfiguration(id: "wake-test", queues: [WebhookDeliveryArgs.queue: 4]), client: claims,
                                    registry: registry, notifier: notifier, logger: db.logger)
                let maintainer = Maintainer(elector: elector, tasks: [WebhookFanout(store: jobs.store, interval: .seconds(3600))],
                                            notifier: notifier, logger: db.logger)
                try await withRunningServices([notifier, claims, worker, elector, maintainer], logger: db.logger) {
                    let ready = try await eventually { notifier.isConnected && elector.isLeader }
                    #expect(ready)
                    for index in 1...3 {
                        try await DomainEvents.record(type: "video.completed", userID: user, data: #"{"video_id": "vid_\#(index)"}"#,
                                                      on: db.client, logger: db.logger)
                        let delivered = try await eventually(timeout: .seconds(60)) { receiver.received(path: "/ok").count == index }
                        #expect(delivered, "event \(index) delivered without waiting for the hourly round")
                    }
                }
            }
        }
    }

    @Test func theOutboxPrunerRemovesOnlyWhatWasHandledLongAgo() async throws {
        try await withDatabase { db in
            let user = try await db.createUser()
            for name in ["old", "recent", "pending"] {
                try await DomainEvents.record(type: "video.completed", userID: user, data: #"{"name": "\#(name)"}"#, on: db.client, logger: db.logger)
            }
            try await db.client.query("""
                UPDATE domain_events SET dispatched_at = CASE data->>'name' WHEN 'old' THEN now() - interval '40 days'
                                                                           WHEN 'recent' THEN now() - interval '1 hour' END,
                                         created_at = now() - interval '40 days'
                """, logger: db.logger)
            let outbox = EmailOutbox(logger: db.logger)
            try await outbox.enqueue(to: "a@example.com", subject: "sent long ago", body: "-", on: db.client)
            try await outbox.enqueue(to: "b@example.com", subject: "not sent yet", body: "-", on: db.client)
            try await db.client.query("UPDATE email_outbox SET sent_at = now() - interval '40 days' WHERE subject = 'sent long ago'", logger: db.logger)
            try await db.client.query("UPDATE email_outbox SET created_at = now() - interval '40 days'", logger: db.logger)

            // A retention shorter than two days counts as two days.
            #expect(try await OutboxPruner(client: db.client, logger: db.logger, retention: .seconds(60)).runOnce() == 2)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events WHERE data->>'name' IN ('recent', 'pending')") == 2)
            #expect(try await db.scalar("SELECT count(*) FROM domain_events") == 2)
            #expect(try await db.scalar("SELECT count(*) FROM email_outbox WHERE subject = 'not sent yet'") == 1)
            #expect(try await db.scalar("SELECT count(*) FROM email_outbox") == 1)
            #expect(try await OutboxPruner(client: db.client, logger: db.logger).runOnce() == 0)
        }
    }
}
