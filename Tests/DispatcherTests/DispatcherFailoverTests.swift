import Domain
import Foundation
import Queue
import TestSupport
import Testing

/// Two real `ytempire dispatcher` processes: one leads, both send, no delivery is ever in
/// flight twice, and when the leader is killed the other takes over and every event arrives.
@Suite struct DispatcherFailoverTests {
    @Test func deliveriesContinueWhenTheLeadingDispatcherIsKilled() async throws {
        let receiver = WebhookReceiver(slowDelay: .milliseconds(150))
        try await withDatabase { db in
            let key = Data((0..<32).map { _ in UInt8.random(in: 0...255) })
            let cipher = try TokenCipher(key: key)
            var policy = WebhookPolicy()
            policy.allowInsecureURLs = true
            let webhooks = WebhookRepository(client: db.client, cipher: cipher, policy: policy, logger: db.logger)
            let user = try await db.createUser()
            try await receiver.run { base in
                _ = try await webhooks.create(userID: user, url: base + "/slow", events: ["video.completed"], description: "slow", secret: nil)
                _ = try await webhooks.create(userID: user, url: base + "/flaky", events: ["video.completed"], description: "flaky", secret: nil)
                let environment = [
                    "YTEMPIRE_TOKEN_KEY": key.base64EncodedString(), "YTEMPIRE_WEBHOOK_ALLOW_INSECURE": "1",
                    "YTEMPIRE_WEBHOOK_SCHEDULE": "100ms,100ms,100ms", "YTEMPIRE_WEBHOOK_TIMEOUT": "5s", "YTEMPIRE_WEBHOOK_CONCURRENCY": "2",
                    "LOG_LEVEL": "warning",
                ]
                let arguments = ["dispatcher", "--leader-ttl", "2s", "--rescue-interval", "200ms", "--schedule-interval", "100ms",
                                 "--sender-lease", "3s"]
                let dispatchers = try (0..<2).map { _ in try ChildProcess.ytempire(arguments, databaseURL: db.urlString, environment: environment) }
                func leader() async throws -> ChildProcess? {
                    let rows = try await db.client.query("SELECT leader_id FROM leader WHERE expires_at > now()", logger: db.logger)
                    for try await id in rows.decode(String.self) {
                        return dispatchers.first { id.contains("-\($0.pid)-") }
                    }
                    return nil
                }
                func record(_ count: Int, from first: Int) async throws {
                    for index in first..<(first + count) {
                        try await DomainEvents.record(type: "video.completed", userID: user, data: #"{"video_id": "vid_\#(index)"}"#,
                                                      on: db.client, logger: db.logger)
                    }
                }
                func succeeded() async throws -> Int {
                    try await db.scalar("SELECT count(*) FROM webhook_deliveries WHERE status = 'succeeded'")
                }

                let elected = try await eventually(timeout: .seconds(60)) { try await leader() != nil }
                #expect(elected, "no leader: \(dispatchers.map { $0.output.suffix(600) })")
                let doomed = try #require(try await leader())
                try await record(20, from: 0)
                #expect(try await eventually(timeout: .seconds(120)) { try await succeeded() == 40 })
                // Both processes send (deliveries are jobs any dispatcher claims), only one leads.
                #expect(try await db.scalar("SELECT count(DISTINCT worker_id) FROM jobs WHERE queue = 'webhooks' AND worker_id IS NOT NULL") == 2)

                // Kill the leader while deliveries are under way.
                try await record(20, from: 20)
                _ = try await eventually(timeout: .seconds(60)) { try await succeeded() >= 44 }
                doomed.signal(SIGKILL)
                _ = await doomed.waitForExit()
                let survivor = try #require(dispatchers.first { $0 !== doomed })
                let tookOver = try await eventually(timeout: .seconds(60)) { try await leader() === survivor }
                #expect(tookOver, "the survivor did not take over: \(survivor.output.suffix(800))")
                try await record(10, from: 40)
                let all = try await eventually(timeout: .seconds(180)) { try await succeeded() == 100 }
                let count = try await succeeded()
                #expect(all, "\(count) of 100 deliveries succeeded: \(survivor.output.suffix(800))")

                // Never two attempts of one delivery at once; every event reached both endpoints.
                #expect(!receiver.overlapped)
                #expect(Set(receiver.received(path: "/slow").map(\.id)).count == 50)
                #expect(Set(receiver.received(path: "/flaky").map(\.id)).count == 50)
                // A delivery the killed process was sending may be sent again after its lease (at
                // least once), never more than once per attempt it made.
                let resent = receiver.received(path: "/slow").count - 50
                #expect(resent <= 8, "\(resent) deliveries to /slow were sent again")
                survivor.signal(SIGTERM)
                #expect(await survivor.waitForExit() == 0, "the survivor drains and exits cleanly: \(survivor.output.suffix(800))")
            }
        }
    }
}
