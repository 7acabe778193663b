@testable import API
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Queue
import TestSupport
import Testing

/// The operator console: its pages (the same for everyone, no data in them, a strict content
/// policy, only digits of a job id reaching a page), its two files, the fleet's minutes, the
/// chores' last runs, and its live socket, which only an operator may open and which closes
/// when the role is revoked.
@Suite struct ConsoleTests {
    let logger = Logger(label: "console-test", factory: { _ in SwiftLogNoOpLogHandler() })

    @Test func thePagesAndTheirFilesAreServedUnderAStrictPolicyAndNothingElse() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                for (uri, page) in [("/admin", "queues"), ("/admin/queues", "queues"), ("/admin/jobs", "jobs"), ("/admin/fleet", "fleet"),
                                    ("/admin/audit", "audit"), ("/admin/jobs/42", "job")] {
                    try await api.client.execute(uri: uri, method: .get) { response in
                        let html = String(buffer: response.body)
                        #expect(response.status == .ok && html.contains(#"data-page="\#(page)""#), "\(uri)")
                        let policy = response.headers[.contentSecurityPolicy] ?? ""
                        #expect(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"), "\(policy)")
                        #expect(response.headers[.cacheControl] == "no-store")
                        #expect(html.contains("/admin/assets/console.js?v=") && !html.contains("http://") && !html.contains("https://"))
                    }
                }
                try await api.client.execute(uri: "/admin/jobs/42", method: .get) { response in
                    #expect(String(buffer: response.body).contains(#"data-job-id="42""#))
                }
                for uri in ["/admin/jobs/4a2", "/admin/jobs/%3Cscript%3E", "/admin/jobs/12345678901234567890", "/admin/nothing",
                            "/admin/assets/head.mustache", "/admin/assets/..%2Fhead.mustache", "/admin/assets/%2Fetc%2Fpasswd"] {
                    try await api.client.execute(uri: uri, method: .get) { response in
                        #expect(response.status == .notFound, "\(uri)")
                    }
                }
                try await api.client.execute(uri: "/admin/assets/console.js", method: .get) { response in
                    #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("application/javascript") == true)
                    #expect(String(buffer: response.body).contains("/ws/admin"))
                }
                try await api.client.execute(uri: "/admin/assets/console.css", method: .get) { response in
                    #expect(response.status == .ok && response.headers[.contentType]?.hasPrefix("text/css") == true)
                }
            }
        }
    }

    @Test func theFleetsMinutesCountCompletionsFailuresAndWaits() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "ops@example.com")
                #expect(try await api.call(.get, "/admin/activity", token: token).status == .forbidden)
                try await Operators(client: db.client, logger: db.logger).set(email: "ops@example.com", granted: true, by: .commandLine(login: "test"))
                // Half a minute into the minute before this one (so every row below falls in one minute, whenever
                // the test runs): two jobs done after waiting 4 s and 10 s, one failed twice and waiting to retry;
                // two hours ago, one done (outside the window).
                let t = "(date_trunc('minute', now()) - interval '30 s')"
                try await db.client.query("""
                    INSERT INTO jobs (queue, kind, state, attempt, run_at, attempted_at, finished_at, created_at, errors) VALUES
                      ('minutes', 'noop', 'completed', 1, \(unescaped: t) - interval '12 s', \(unescaped: t) - interval '8 s', \(unescaped: t),
                       \(unescaped: t) - interval '12 s', '[]'),
                      ('minutes', 'noop', 'completed', 1, \(unescaped: t) - interval '12 s', \(unescaped: t) - interval '2 s', \(unescaped: t),
                       \(unescaped: t) - interval '12 s', '[]'),
                      ('minutes', 'noop', 'retryable', 2, now() + interval '1 min', \(unescaped: t) - interval '1 s', NULL, \(unescaped: t) - interval '20 s',
                       jsonb_build_array(jsonb_build_object('attempt', 1, 'at', \(unescaped: t) - interval '5 s', 'error', 'x'),
                                         jsonb_build_object('attempt', 2, 'at', \(unescaped: t), 'error', 'y'))),
                      ('other', 'noop', 'completed', 1, now() - interval '2 h', now() - interval '2 h', now() - interval '2 h', now() - interval '2 h', '[]')
                    """, logger: db.logger)
                let activity = try await api.call(.get, "/admin/activity?minutes=60&queue=minutes", token: token)
                let series = try activity.decode(Components.Schemas.AdminActivity.self).series
                #expect(series.count == 60)
                // The previous minute, or the one before if a minute began between the insert and the read.
                let busy = series.indices.filter { series[$0].completed > 0 }
                #expect(busy.count == 1 && busy.allSatisfy { $0 >= 57 }, "\(busy)")
                let minute = try #require(busy.first.map { series[$0] })
                #expect(minute.completed == 2 && minute.failed == 2 && minute.started == 2, "\(minute)")
                #expect(minute.latencyP50Seconds.map { abs($0 - 7) < 0.5 } == true, "\(minute)")
                #expect(series.indices.filter { !busy.contains($0) }.allSatisfy {
                    series[$0].completed == 0 && series[$0].latencyP50Seconds == nil && series[$0].failed == 0
                })
                let all = try await api.call(.get, "/admin/activity?minutes=180", token: token).decode(Components.Schemas.AdminActivity.self).series
                #expect(all.count == 180 && all.reduce(0) { $0 + $1.completed } == 3)
                for bad in ["minutes=0", "minutes=1441", "minutes=x", "queue=no%20spaces"] {
                    let refused = try await api.call(.get, "/admin/activity?\(bad)", token: token)
                    #expect(refused.status == .badRequest, "\(bad): \(refused.body)")
                }
            }
        }
    }

    @Test func theLiveSocketIsAnOperatorsAndClosesWhenTheRoleIsRevoked() async throws {
        try await withDatabase { db in
            var configuration = LiveConfiguration()
            configuration.fleetRefresh = .milliseconds(300)
            try await withLiveInstances(db, count: 1, configuration: configuration) { instances in
                let server = instances[0]
                let user = try await signUp(server.api, db, "user@example.com")
                let operatorToken = try await signUp(server.api, db, "ops@example.com")
                let operators = Operators(client: db.client, logger: db.logger)
                try await operators.set(email: "ops@example.com", granted: true, by: .commandLine(login: "test"))
                _ = try await JobStore(client: db.client, logger: db.logger).insert(NewJob(kind: "noop", queue: "live_console"))
                // A plain request says why: 403 for a user, 426 (speak WebSocket) for an operator.
                #expect(try await server.api.call(.get, "/ws/admin?token=\(user)").status == .forbidden)
                #expect(try await server.api.call(.get, "/ws/admin?token=\(operatorToken)").status == .upgradeRequired)
                await #expect(throws: (any Error).self) {
                    _ = try await LiveSocket.connect(server.url("/ws/admin?token=\(user)"), logger: logger) { _ in 0 }
                }
                let (seen, close) = try await LiveSocket.connect(server.url("/ws/admin?token=\(operatorToken)"), logger: logger) { socket in
                    let snapshot = try await socket.waitFor { message in
                        guard message["type"] as? String == "fleet.snapshot", let data = message["data"] as? [String: Any],
                              let queues = data["queues"] as? [[String: Any]] else { return false }
                        return queues.contains { $0["name"] as? String == "live_console" && ($0["counts"] as? [String: Int])?["available"] == 1 }
                            && (data["series"] as? [Any])?.count == 60
                    }
                    // Revoked: the next look closes the socket with the reason.
                    try await operators.set(email: "ops@example.com", granted: false, by: .commandLine(login: "test"))
                    _ = try await eventually { socket.isClosed }
                    let reasons = socket.messages(of: "error").compactMap { ($0["data"] as? [String: Any])?["error"] as? String }
                    return snapshot && reasons == ["forbidden"]
                }
                #expect(seen)
                #expect(close?.closeCode == .policyViolation)
            }
        }
    }

    @Test func theWorkersPageShowsTheLeadersChoresLastRunsAndFailures() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "ops@example.com")
                try await Operators(client: db.client, logger: db.logger).set(email: "ops@example.com", granted: true, by: .commandLine(login: "test"))
                let runs = ChoreRunStore(client: db.client, logger: db.logger)
                try await runs.record("rescuer", leaderID: "leader-1", duration: .milliseconds(12), rows: 3, error: nil)
                try await runs.record("pruner", leaderID: "leader-1", duration: .milliseconds(40), rows: 0, error: "connection reset")
                // A later success keeps the failure visible.
                try await runs.record("pruner", leaderID: "leader-2", duration: .milliseconds(7), rows: 10, error: nil)
                let workers = try await api.call(.get, "/admin/workers", token: token)
                let chores = try workers.decode(Components.Schemas.AdminWorkers.self).chores
                #expect(chores.map(\.name) == ["pruner", "rescuer"], "\(workers.body)")
                #expect(chores.count == 2)
                if chores.count == 2 {
                    #expect(chores[0].leaderId == "leader-2" && chores[0].rowsChanged == 10 && chores[0].durationMs == 7
                            && chores[0].lastError == "connection reset" && chores[0].lastErrorAt != nil)
                    #expect(chores[1].rowsChanged == 3 && chores[1].lastError == nil)
                }
            }
        }
    }
}
