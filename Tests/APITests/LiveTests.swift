@testable import API
import Domain
import Foundation
import Hummingbird
import HummingbirdTesting
import HummingbirdWSClient
import Logging
import PostgresNIO
import Prometheus
import Queue
import Synchronization
import TestSupport
import Testing

/// One API instance on a real socket, with its own pool, LISTEN connection and hub of live
/// events, as a separate `ytempire api` process would have.
struct LiveInstance: Sendable {
    let api: APIClient
    let port: Int
    let hub: LiveHub

    /// A WebSocket URL of this instance.
    func url(_ path: String) -> String { "ws://127.0.0.1:\(port)/api/v1\(path)" }
}

/// Runs `count` API instances on one database while `body` runs.
func withLiveInstances<T: Sendable>(_ db: TestDatabase, count: Int, configuration: LiveConfiguration = LiveConfiguration(),
                                    rateLimits: RateLimitPolicy = TestAuth.generousLimits, auth: AuthConfiguration = TestAuth.configuration,
                                    _ body: @Sendable ([LiveInstance]) async throws -> T) async throws -> T {
    if count == 0 { return try await body([]) }
    let client = db.makeClient(maximumConnections: 4)
    let notifier = Notifier(client: client, channels: [DomainEvents.liveChannel], logger: db.logger)
    let hub = LiveHub(notifier: notifier, configuration: configuration, logger: db.logger)
    let routers = try await APIServer.makeRouters(client: client, registry: PrometheusCollectorRegistry(), version: "test",
                                                  auth: auth, rateLimits: rateLimits, live: hub, logger: db.logger)
    let app = APIServer.application(routers, address: .hostname("127.0.0.1", port: 0), pingInterval: configuration.pingInterval, logger: db.logger)
    return try await withRunningServices([client, notifier, hub], logger: db.logger) {
        // The hub relays only what arrives after its LISTEN: wait for it.
        #expect(try await eventually { notifier.isConnected })
        return try await app.test(.live) { testClient in
            let instance = LiveInstance(api: APIClient(client: testClient), port: try #require(testClient.port), hub: hub)
            return try await withLiveInstances(db, count: count - 1, configuration: configuration, rateLimits: rateLimits, auth: auth) { others in
                try await body([instance] + others)
            }
        }
    }
}

/// A WebSocket client that keeps every text message it receives.
final class LiveSocket: Sendable {
    private let texts = Mutex<[String]>([])
    private let closed = Mutex<Bool>(false)
    let outbound: WebSocketOutboundWriter

    init(outbound: WebSocketOutboundWriter) { self.outbound = outbound }

    /// The messages so far, decoded.
    var messages: [[String: Any]] {
        texts.withLock { $0 }.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
    }

    var isClosed: Bool { closed.withLock { $0 } }

    /// How many messages arrived (without decoding them).
    var count: Int { texts.withLock { $0.count } }

    func messages(of type: String) -> [[String: Any]] { messages.filter { $0["type"] as? String == type } }

    func send(_ object: [String: Any]) async throws {
        let data = try JSONSerialization.data(withJSONObject: object)
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
    }

    /// Waits until some message satisfies `predicate` (false if the socket closes first).
    func waitFor(timeout: Duration = .seconds(30), _ predicate: @escaping ([String: Any]) -> Bool) async throws -> Bool {
        _ = try await eventually(timeout: timeout) { isClosed || messages.contains(where: predicate) }
        return messages.contains(where: predicate)
    }

    fileprivate func received(_ text: String) { texts.withLock { $0.append(text) } }
    fileprivate func ended() { closed.withLock { $0 = true } }

    /// Connects, reads in the background while `body` runs, then closes.
    /// - Parameter read: false for a client that stops reading until `body` returns.
    /// - Returns: what `body` returned and the server's close frame.
    static func connect<T: Sendable>(_ url: String, read: Bool = true, headers: HTTPFields = [:], logger: Logger,
                                     _ body: @escaping @Sendable (LiveSocket) async throws -> T) async throws -> (T, WebSocketCloseFrame?) {
        let result = Slot<T>()
        let close = try await WebSocketClient.connect(url: url, configuration: .init(additionalHeaders: headers), logger: logger) { inbound, outbound, _ in
            let socket = LiveSocket(outbound: outbound)
            var iterator = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            if read {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        let value = try await body(socket)
                        result.value.withLock { $0 = value }
                        try? await outbound.close(.normalClosure, reason: nil)
                    }
                    // A connection the server drops ends the reading as a close does.
                    while let message = try? await iterator.next() {
                        if case .text(let text) = message { socket.received(text) }
                    }
                    socket.ended()
                    try await group.waitForAll()
                }
            } else {
                let value = try await body(socket)
                result.value.withLock { $0 = value }
                while let message = try? await iterator.next() {
                    if case .text(let text) = message { socket.received(text) }
                }
                socket.ended()
            }
        }
        return (try #require(result.value.withLock { $0 }), close)
    }
}

/// A value handed out of an escaping closure.
final class Slot<T: Sendable>: Sendable {
    let value = Mutex<T?>(nil)
}

@Suite struct LiveTests {
    let logger = Logger(label: "live-test", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The video of a message, its type and progress.
    static func video(_ message: [String: Any]) -> (type: String, id: String, progress: Int)? {
        guard let type = message["type"] as? String, type.hasPrefix("video."), let data = message["data"] as? [String: Any],
              let id = data["video_id"] as? String
        else { return nil }
        return (type, id, data["progress"] as? Int ?? -1)
    }

    @Test func aClientOnInstanceBSeesProgressOfAVideoSubmittedThroughInstanceA() async throws {
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            try await withLiveInstances(db, count: 2) { instances in
                let (a, b) = (instances[0], instances[1])
                let owner = try await signUp(a.api, db, "live@example.com", tier: "professional")
                let stranger = try await signUp(a.api, db, "other@example.com")
                let channel = try await a.api.call(.post, "/channels", json: ["name": "Live"], token: owner).decode(Components.Schemas.Channel.self).id
                let otherChannel = try await a.api.call(.post, "/channels", json: ["name": "Other"], token: owner).decode(Components.Schemas.Channel.self).id

                // Three sockets on B: the channel's updates (token in the URL), the account's
                // (token as the first message), and a stranger's account; the analytics stream on A.
                let (videoID, _) = try await LiveSocket.connect(b.url("/ws/video-updates/\(channel)?token=\(owner)"), logger: logger) { updates in
                    try await LiveSocket.connect(b.url("/ws/dashboard-1"), logger: logger) { account in
                        try await account.send(["type": "auth", "token": owner])
                        return try await LiveSocket.connect(b.url("/ws/strangers-tab?token=\(stranger)"), logger: logger) { strangers in
                            try await LiveSocket.connect(a.url("/ws/analytics-stream?token=\(owner)"), logger: logger) { analytics in
                                for socket in [updates, account, strangers, analytics] {
                                    #expect(try await socket.waitFor { $0["type"] as? String == "system.notification" })
                                }
                                let welcome = try #require(account.messages.first?["data"] as? [String: Any])
                                #expect(welcome["event"] as? String == "connected")
                                #expect(welcome["client_id"] as? String == "dashboard-1")
                                #expect(try await eventually { b.hub.socketCount == 3 && a.hub.socketCount == 1 })
                                #expect(try await analytics.waitFor { $0["type"] as? String == "analytics.update" })

                                let accepted = try await a.api.call(.post, "/videos/generate", json: [
                                    "channel_id": channel, "title": "Live from Postgres", "keywords": ["notify"], "duration_target": 20,
                                    "quality_threshold": 60,
                                ], token: owner)
                                #expect(accepted.status == .accepted)
                                let videoID = try accepted.decode(Components.Schemas.VideoAccepted.self).videoId
                                let elsewhere = try await a.api.call(.post, "/videos/generate", json: [
                                    "channel_id": otherChannel, "title": "Another channel", "duration_target": 20, "quality_threshold": 60,
                                ], token: owner)
                                let elsewhereID = try elsewhere.decode(Components.Schemas.VideoAccepted.self).videoId
                                #expect(try await fleet.run(workers: 1) { try await fleet.waitForVideos() })

                                for socket in [updates, account] {
                                    #expect(try await socket.waitFor { Self.video($0)?.type == "video.completed" && Self.video($0)?.id == videoID })
                                    let events = socket.messages.compactMap(Self.video).filter { $0.id == videoID }
                                    let progress = events.filter { $0.type == "video.progress" }.map(\.progress)
                                    #expect(progress.count >= 5, "a progress message per stage: \(progress)")
                                    #expect(progress == progress.sorted(), "progress only grows")
                                    #expect(events.last?.type == "video.completed")
                                    #expect(events.last?.progress == 100)
                                    let message = try #require(socket.messages.last { Self.video($0)?.type == "video.completed" && Self.video($0)?.id == videoID })
                                    #expect(message["timestamp"] is String)
                                    let data = try #require(message["data"] as? [String: Any])
                                    #expect(data["channel_id"] as? String == channel)
                                    #expect(data["status"] as? String == "completed")
                                    #expect(data["user_id"] == nil)
                                }
                                // The channel socket hears only its channel; the account socket hears both.
                                #expect(try await account.waitFor { Self.video($0)?.id == elsewhereID && Self.video($0)?.type == "video.completed" })
                                #expect(!updates.messages.contains { Self.video($0)?.id == elsewhereID })
                                #expect(strangers.messages.compactMap(Self.video).isEmpty, "nothing of another user's")
                                #expect(try await analytics.waitFor {
                                    (($0["data"] as? [String: Any])?["videos"] as? [String: Any])?["completed"] as? Int == 2
                                })

                                // Outbox events other than video changes arrive as system notifications.
                                let ownerID = try await a.api.call(.get, "/users/profile", token: owner).decode(Components.Schemas.Profile.self).id
                                try await DomainEvents.record(type: "quota.warning", userID: ownerID, data: #"{"account_id": "yta_1", "percent": 80}"#,
                                                              on: db.client, logger: db.logger)
                                #expect(try await account.waitFor { message in
                                    let data = message["data"] as? [String: Any]
                                    return message["type"] as? String == "system.notification" && data?["event"] as? String == "quota.warning"
                                        && (data?["details"] as? [String: Any])?["percent"] as? Int == 80
                                })
                                #expect(!updates.messages.contains { ($0["data"] as? [String: Any])?["event"] as? String == "quota.warning" })

                                // The client's own ping is answered; nonsense gets an error, not a close.
                                try await account.send(["type": "ping"])
                                #expect(try await account.waitFor { $0["type"] as? String == "pong" })
                                try await account.outbound.write(.text("not json"))
                                #expect(try await account.waitFor { ($0["data"] as? [String: Any])?["error"] as? String == "invalid_message" })
                                #expect(!account.isClosed)
                                return videoID
                            }.0
                        }.0
                    }.0
                }
                #expect(videoID.hasPrefix("vid_"))
                #expect(try await eventually { a.hub.socketCount == 0 && b.hub.socketCount == 0 }, "closed sockets leave the hub")
            }
        }
    }

    @Test func unauthenticatedOrForeignSubscriptionsAreRefused() async throws {
        try await withDatabase { db in
            var configuration = LiveConfiguration()
            configuration.authTimeout = .seconds(5)
            try await withLiveInstances(db, count: 1, configuration: configuration) { instances in
                let server = instances[0]
                let owner = try await signUp(server.api, db, "owner@example.com")
                let intruder = try await signUp(server.api, db, "intruder@example.com")
                let channel = try await server.api.call(.post, "/channels", json: ["name": "Mine"], token: owner).decode(Components.Schemas.Channel.self).id

                // Requests that are not upgraded get the reason as the HTTP error envelope.
                let foreign = try await server.api.call(.get, "/ws/video-updates/\(channel)?token=\(intruder)")
                #expect(foreign.status == .notFound)
                #expect(try (foreign.decode(Components.Schemas.ErrorEnvelope.self).error) == "not_found")
                #expect(try await server.api.call(.get, "/ws/video-updates/\(channel)?token=garbage").status == .unauthorized)
                #expect(try await server.api.call(.get, "/ws/bad%20id?token=\(owner)").status == .badRequest)
                let plain = try await server.api.call(.get, "/ws/video-updates/\(channel)?token=\(owner)")
                #expect(plain.status == .upgradeRequired)
                #expect(try (plain.decode(Components.Schemas.ErrorEnvelope.self).error) == "upgrade_required")

                // An upgrade with a refused token or another user's channel does not happen.
                await #expect(throws: (any Error).self) {
                    _ = try await LiveSocket.connect(server.url("/ws/video-updates/\(channel)?token=\(intruder)"), logger: logger) { _ in 0 }
                }
                await #expect(throws: (any Error).self) {
                    _ = try await LiveSocket.connect(server.url("/ws/tab?token=expired.or.forged"), logger: logger) { _ in 0 }
                }

                // First-message authentication: a bad token, a foreign channel, or silence close with 1008.
                let (_, badToken) = try await LiveSocket.connect(server.url("/ws/tab"), logger: logger) { socket in
                    try await socket.send(["type": "auth", "token": "forged"])
                    return try await eventually { socket.isClosed }
                }
                #expect(badToken?.closeCode == .policyViolation)
                let (errors, foreignChannel) = try await LiveSocket.connect(server.url("/ws/video-updates/\(channel)"), logger: logger) { socket in
                    try await socket.send(["type": "auth", "token": intruder])
                    _ = try await eventually { socket.isClosed }
                    return socket.messages(of: "error").compactMap { ($0["data"] as? [String: Any])?["error"] as? String }
                }
                #expect(foreignChannel?.closeCode == .policyViolation)
                #expect(errors == ["not_found"])
                let (_, silent) = try await LiveSocket.connect(server.url("/ws/tab"), logger: logger) { socket in
                    try await eventually { socket.isClosed }
                }
                #expect(silent?.closeCode == .policyViolation)
                #expect(server.hub.socketCount == 0)

                // The owner with the token as the first message is in.
                let (welcomed, _) = try await LiveSocket.connect(server.url("/ws/video-updates/\(channel)"), logger: logger) { socket in
                    try await socket.send(["type": "auth", "token": owner])
                    return try await socket.waitFor { ($0["data"] as? [String: Any])?["channel_id"] as? String == channel }
                }
                #expect(welcomed)
            }
        }
    }

    /// A token that is present and invalid is refused before the upgrade, wherever it is
    /// (query or `Authorization`); sockets that wait to authenticate are bounded per address.
    @Test func badTokensAreRefusedBeforeTheUpgradeAndWaitingSocketsAreBounded() async throws {
        try await withDatabase { db in
            var configuration = LiveConfiguration()
            configuration.authTimeout = .seconds(5)
            configuration.maxPendingPerAddress = 2
            try await withLiveInstances(db, count: 1, configuration: configuration) { instances in
                let server = instances[0]
                for headers: HTTPFields in [[.authorization: "Bearer forged.token.value"], [.authorization: "Basic dXNlcjpwYXNz"]] {
                    await #expect(throws: (any Error).self, "\(headers)") {
                        _ = try await LiveSocket.connect(server.url("/ws/tab"), headers: headers, logger: logger) { _ in 0 }
                    }
                    let plain = try await server.api.call(.get, "/ws/tab", headers: headers)
                    #expect(plain.status == .unauthorized)
                }
                #expect(server.hub.socketCount == 0)
                // Two sockets may wait for their auth message; a third from the same address may not.
                let (third, _) = try await LiveSocket.connect(server.url("/ws/one"), logger: logger) { _ in
                    try await LiveSocket.connect(server.url("/ws/two"), logger: logger) { _ in
                        await #expect(throws: (any Error).self) {
                            _ = try await LiveSocket.connect(server.url("/ws/three"), logger: logger) { _ in 0 }
                        }
                        return true
                    }.0
                }
                #expect(third)
                // Once they are gone, there is room again.
                let (_, again) = try await LiveSocket.connect(server.url("/ws/four"), logger: logger) { socket in
                    try await eventually { socket.isClosed }
                }
                #expect(again?.closeCode == .policyViolation, "waited, then closed for silence")
            }
        }
    }

    /// Logout, password reset and account deletion close the sockets of the sessions they
    /// end, on every API instance, with 1008; a socket closes when its access token expires.
    @Test func socketsCloseWhenTheirSessionEndsOrTheirTokenExpires() async throws {
        try await withDatabase { db in
            try await withLiveInstances(db, count: 2) { instances in
                let (one, two) = (instances[0], instances[1])
                let password = "CorrectHorse42battery"
                _ = try await one.api.call(.post, "/auth/register", json: ["email": "socket@example.com", "password": password, "full_name": "S"])
                func login() async throws -> (access: String, refresh: String) {
                    let reply = try await one.api.call(.post, "/auth/login", json: ["email": "socket@example.com", "password": password])
                    let tokens = try reply.decode(Components.Schemas.TokenResponse.self)
                    return (tokens.accessToken, tokens.refreshToken)
                }
                let first = try await login(), second = try await login()
                let ((cClose, bClose), aClose) = try await LiveSocket.connect(one.url("/ws/a?token=\(first.access)"), logger: logger) { a in
                    try await LiveSocket.connect(two.url("/ws/b?token=\(first.access)"), logger: logger) { b in
                        let (_, cClose) = try await LiveSocket.connect(two.url("/ws/c?token=\(second.access)"), logger: logger) { c in
                            #expect(try await a.waitFor { $0["type"] as? String == "system.notification" })
                            #expect(try await b.waitFor { $0["type"] as? String == "system.notification" })
                            #expect(try await c.waitFor { $0["type"] as? String == "system.notification" })
                            #expect(try await one.api.call(.post, "/auth/logout", json: ["refresh_token": first.refresh]).status == .ok)
                            #expect(try await eventually { a.isClosed && b.isClosed })
                            let ended = [a, b].map { $0.messages(of: "error").compactMap { ($0["data"] as? [String: Any])?["error"] as? String } }
                            #expect(ended == [["session_ended"], ["session_ended"]])
                            #expect(!c.isClosed, "another session's socket stays")
                            // A password reset ends every session.
                            _ = try await one.api.call(.post, "/auth/forgot-password", json: ["email": "socket@example.com"])
                            let rows = try await db.client.query("SELECT body FROM email_outbox WHERE subject LIKE 'Reset%'", logger: db.logger)
                            var token = ""
                            for try await body in rows.decode(String.self) { token = body.split(separator: "\n").first { $0.count == 43 }.map(String.init) ?? "" }
                            #expect(try await one.api.call(.post, "/auth/reset-password", json: ["token": token, "new_password": "NewHorse55staple"]).status == .ok)
                            #expect(try await eventually { c.isClosed })
                            return true
                        }
                        return cClose?.closeCode
                    }
                }
                #expect(aClose?.closeCode == .policyViolation && bClose?.closeCode == .policyViolation && cClose == .policyViolation)
                #expect(try await eventually { one.hub.socketCount == 0 && two.hub.socketCount == 0 })
            }
            // An access token that expires closes its socket.
            var auth = TestAuth.configuration
            // Long enough to sign in and connect on a loaded machine, short enough to wait out.
            auth.accessLifetime = .seconds(8)
            try await withLiveInstances(db, count: 1, auth: auth) { instances in
                let reply = try await instances[0].api.call(.post, "/auth/login", json: ["email": "socket@example.com", "password": "NewHorse55staple"])
                let access = try reply.decode(Components.Schemas.TokenResponse.self).accessToken
                let (errors, close) = try await LiveSocket.connect(instances[0].url("/ws/short?token=\(access)"), logger: logger) { socket in
                    _ = try await eventually { socket.isClosed }
                    return socket.messages(of: "error").compactMap { ($0["data"] as? [String: Any])?["error"] as? String }
                }
                #expect(errors == ["token_expired"])
                #expect(close?.closeCode == .policyViolation)
            }
        }
    }

    @Test func anAccountSocketCanNarrowItselfToChosenVideos() async throws {
        try await withDatabase { db in
            try await withLiveInstances(db, count: 1) { instances in
                let server = instances[0]
                let token = try await signUp(server.api, db, "narrow@example.com")
                let userID = try await server.api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
                @Sendable func notify(_ videoID: String, progress: Int) async throws {
                    try await db.client.query("""
                        SELECT pg_notify(\(DomainEvents.liveChannel), json_build_object('type', 'video.progress', 'user_id', \(userID)::text,
                                         'video_id', \(videoID)::text, 'channel_id', 'ch_x', 'progress', \(progress)::int)::text)
                        """, logger: db.logger)
                }
                let (seen, _) = try await LiveSocket.connect(server.url("/ws/tab?token=\(token)"), logger: logger) { socket in
                    #expect(try await socket.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "connected" })
                    try await socket.send(["type": "subscribe", "channel": "video_updates_vid_a"])
                    #expect(try await socket.waitFor {
                        $0["type"] as? String == "subscriptions" && ($0["data"] as? [String: Any])?["channels"] as? [String] == ["video_updates_vid_a"]
                    })
                    try await socket.send(["type": "subscribe", "channel": "vid_a"])
                    #expect(try await socket.waitFor { ($0["data"] as? [String: Any])?["error"] as? String == "invalid_message" })

                    try await notify("vid_b", progress: 10)
                    try await DomainEvents.record(type: "batch.completed", userID: userID, data: "{}", on: db.client, logger: db.logger)
                    try await notify("vid_a", progress: 20)
                    #expect(try await socket.waitFor { Self.video($0)?.id == "vid_a" })
                    #expect(try await socket.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "batch.completed" })
                    #expect(!socket.messages.contains { Self.video($0)?.id == "vid_b" }, "a video not chosen stays quiet")

                    // Unsubscribing the last one hears every video again.
                    try await socket.send(["type": "unsubscribe", "channel": "video_updates_vid_a"])
                    #expect(try await socket.waitFor { ($0["data"] as? [String: Any])?["channels"] as? [String] == ["all"] })
                    try await notify("vid_b", progress: 30)
                    return try await socket.waitFor { Self.video($0)?.id == "vid_b" }
                }
                #expect(seen)
            }
        }
    }

    @Test func connectionsCountAgainstTheCallersRateLimit() async throws {
        try await withDatabase { db in
            // The analytics stream counts in Analytics, which nothing else here touches.
            var limits = TestAuth.generousLimits
            limits.analytics = .init(requests: 2, window: TestAuth.longWindow)
            try await withLiveInstances(db, count: 1, rateLimits: limits) { instances in
                let server = instances[0]
                let owner = try await signUp(server.api, db, "busy@example.com")
                let other = try await signUp(server.api, db, "calm@example.com")
                for _ in 0..<2 {
                    let (welcomed, _) = try await LiveSocket.connect(server.url("/ws/analytics-stream?token=\(owner)"), logger: logger) { socket in
                        try await socket.waitFor { $0["type"] as? String == "system.notification" }
                    }
                    #expect(welcomed)
                }
                // Past the limit: no upgrade, and a plain request gets the 429 envelope with its headers.
                await #expect(throws: (any Error).self) {
                    _ = try await LiveSocket.connect(server.url("/ws/analytics-stream?token=\(owner)"), logger: logger) { _ in 0 }
                }
                let refused = try await server.api.call(.get, "/ws/analytics-stream?token=\(owner)")
                #expect(refused.status == .tooManyRequests)
                #expect(try (refused.decode(Components.Schemas.ErrorEnvelope.self).error) == "rate_limit_exceeded")
                #expect(refused.headers[.retryAfter].flatMap { Int($0) }.map { $0 > 0 } == true)
                #expect(refused.headers[.xRateLimitRemaining] == "0")
                // Authenticating by first message: an error message, then close code 1013 (try again later).
                let (errors, close) = try await LiveSocket.connect(server.url("/ws/analytics-stream"), logger: logger) { socket in
                    try await socket.send(["type": "auth", "token": owner])
                    _ = try await eventually { socket.isClosed }
                    return socket.messages(of: "error").compactMap { ($0["data"] as? [String: Any])?["error"] as? String }
                }
                #expect(errors == ["rate_limit_exceeded"])
                #expect(close?.closeCode == .unknown(1013))
                // Other categories and other users keep their own allowance.
                for url in [server.url("/ws/tab?token=\(owner)"), server.url("/ws/analytics-stream?token=\(other)")] {
                    let (welcomed, _) = try await LiveSocket.connect(url, logger: logger) { socket in
                        try await socket.waitFor { $0["type"] as? String == "system.notification" }
                    }
                    #expect(welcomed, "\(url)")
                }
            }
        }
    }

    @Test func aStoppingServerSaysGoodbyeBeforeClosing() async throws {
        try await withDatabase { db in
            let client = db.makeClient(maximumConnections: 4)
            let notifier = Notifier(client: client, channels: [DomainEvents.liveChannel], logger: db.logger)
            let hub = LiveHub(notifier: notifier, logger: db.logger)
            let routers = try await APIServer.makeRouters(client: client, registry: PrometheusCollectorRegistry(), version: "test",
                                                          auth: TestAuth.configuration, rateLimits: TestAuth.generousLimits, live: hub, logger: db.logger)
            let (ports, port) = AsyncStream.makeStream(of: Int.self)
            let app = APIServer.application(routers, address: .hostname("127.0.0.1", port: 0),
                                            onServerRunning: { port.yield($0.localAddress?.port ?? 0) }, logger: db.logger)
            let access = try await withAPI(db) { api in try await signUp(api, db, "goodbye@example.com") }
            let listener = Slot<Task<(Bool, WebSocketCloseFrame?), any Error>>()
            // As in `ytempire api`: the hub after the application, so it stops first.
            try await withRunningServices([client, notifier, app, hub], logger: db.logger) {
                var iterator = ports.makeAsyncIterator()
                let bound = try #require(await iterator.next())
                let connected = AsyncStream.makeStream(of: Void.self)
                listener.value.withLock { $0 = Task {
                    try await LiveSocket.connect("ws://127.0.0.1:\(bound)/api/v1/ws/tab?token=\(access)", logger: logger) { socket in
                        _ = try await socket.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "connected" }
                        connected.continuation.yield()
                        _ = try await eventually(timeout: .seconds(60)) { socket.isClosed }
                        return socket.messages.contains { ($0["data"] as? [String: Any])?["event"] as? String == "server.shutdown" }
                    }
                } }
                var signal = connected.stream.makeAsyncIterator()
                await signal.next()
            }
            let (saidGoodbye, close) = try await #require(listener.value.withLock { $0 }).value
            #expect(saidGoodbye)
            #expect(close?.closeCode == .goingAway)
        }
    }

    @Test func aClientThatStopsReadingIsDroppedWhileOthersKeepUp() async throws {
        try await withDatabase { db in
            var configuration = LiveConfiguration()
            configuration.bufferSize = 32
            try await withLiveInstances(db, count: 1, configuration: configuration) { instances in
                let server = instances[0]
                let token = try await signUp(server.api, db, "slow@example.com")
                let userID = try await server.api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
                let filler = String(repeating: "x", count: 6000)
                let (rounds, _) = try await LiveSocket.connect(server.url("/ws/fast?token=\(token)"), logger: logger) { fast in
                    try await LiveSocket.connect(server.url("/ws/slow?token=\(token)"), read: false, logger: logger) { _ in
                        #expect(try await eventually { server.hub.socketCount == 2 })
                        // Rounds of 50 large notifications, each read in full by the fast client,
                        // until the hub lets go of the one that reads nothing.
                        var round = 0
                        while server.hub.socketCount == 2 && round < 400 {
                            round += 1
                            try await db.client.query("""
                                SELECT pg_notify(\(DomainEvents.liveChannel), json_build_object(
                                           'type', 'system.notification', 'user_id', \(userID)::text, 'event', 'test.filler',
                                           'details', json_build_object('round', \(round)::int, 'n', n, 'filler', \(filler)::text))::text)
                                  FROM generate_series(1, 50) n
                                """, logger: db.logger)
                            let expected = round * 50
                            #expect(try await eventually { fast.count >= expected + 1 },
                                    "the fast client keeps up (round \(round))")
                            // One failure is the answer: rounds of timeouts would only hang the suite.
                            if fast.count < expected + 1 { break }
                        }
                        #expect(server.hub.socketCount == 1, "the client that stopped reading was dropped")
                        return round
                    }.0
                }
                #expect(rounds < 400)
                #expect(try await eventually { server.hub.socketCount == 0 })
            }
        }
    }

    @Test func storedAnalyticsDaysReachAccountSocketsAsTheOverviewsHeadline() async throws {
        try await withDatabase { db in
            try await withLiveInstances(db, count: 1) { instances in
                let server = instances[0]
                let token = try await signUp(server.api, db, "headline@example.com")
                let stranger = try await signUp(server.api, db, "quiet@example.com")
                let channel = try await server.api.call(.post, "/channels", json: ["name": "Live"], token: token).decode(Components.Schemas.Channel.self).id
                let theirs = try await server.api.call(.post, "/channels", json: ["name": "Quiet"], token: stranger).decode(Components.Schemas.Channel.self).id
                let yesterday = QuotaDay.of(Date(), daysBefore: 1), older = QuotaDay.of(Date(), daysBefore: 40)
                @Sendable func day(_ date: String, _ views: Int64) -> AnalyticsDay {
                    AnalyticsDay(day: date, views: views, minutesWatched: views, averageViewDuration: 60, likes: views / 10, comments: 0, shares: 0,
                                 subscribersGained: 3, subscribersLost: 1, revenue: Money(micros: views * 1000))
                }
                let (seen, _) = try await LiveSocket.connect(server.url("/ws/tab?token=\(token)"), logger: logger) { socket in
                    try await LiveSocket.connect(server.url("/ws/other?token=\(stranger)"), logger: logger) { other in
                        #expect(try await socket.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "connected" })
                        #expect(try await other.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "connected" })
                        // A sync stores days: one inside the overview's 30 days, one before them.
                        try await AnalyticsStore(client: db.client, logger: db.logger)
                            .record(channelID: channel, channel: [day(yesterday, 1_000), day(older, 5_000)], videos: [:])
                        #expect(try await socket.waitFor { $0["type"] as? String == "analytics.update" })
                        let update = try #require(socket.messages(of: "analytics.update").first?["data"] as? [String: Any])
                        #expect(update["period"] as? String == "last_30_days" && update["to"] as? String == yesterday)
                        let metrics = try #require(update["metrics"] as? [String: Any])
                        #expect(metrics["total_views"] as? Int == 1_000 && metrics["subscriber_growth"] as? Int == 2)
                        #expect(metrics["total_revenue"] as? Double == 1.0 && metrics["avg_view_duration"] as? Int == 60)
                        #expect(abs((metrics["engagement_rate"] as? Double ?? 0) - 0.1) < 1e-9)
                        // The same figures as GET /analytics/overview.
                        let overview = try await server.api.call(.get, "/analytics/overview", token: token)
                        #expect(try overview.decode(Components.Schemas.AnalyticsOverview.self).metrics.totalViews == 1_000)
                        // The stranger's own days, stored after the user's: updates reach sockets in commit
                        // order, so once the stranger hears its own, one misrouted earlier would be there too.
                        try await AnalyticsStore(client: db.client, logger: db.logger).record(channelID: theirs, channel: [day(yesterday, 777)], videos: [:])
                        #expect(try await other.waitFor { $0["type"] as? String == "analytics.update" })
                        return other.messages(of: "analytics.update").map { (($0["data"] as? [String: Any])?["metrics"] as? [String: Any])?["total_views"] as? Int }
                    }.0
                }
                #expect(seen == [777], "another user's socket hears only its own figures")
            }
        }
    }

    @Test func aReportsProgressReachesItsOwnersSockets() async throws {
        try await withDatabase { db in
            try await withLiveInstances(db, count: 1) { instances in
                let server = instances[0]
                let token = try await signUp(server.api, db, "progress@example.com")
                let userID = try await server.api.call(.get, "/users/profile", token: token).decode(Components.Schemas.Profile.self).id
                let store = ReportStore(client: db.client, logger: db.logger)
                let today = QuotaDay.of(Date())
                let (queued, _) = try await store.create(userID: userID, request: ReportRequest(type: .summary, format: .csv, from: today, to: today,
                                                                                               channelIDs: []), idempotencyKey: nil)
                _ = try await store.start(id: queued.id)
                let reportID = queued.id
                @Sendable func advance() async throws {
                    try await ReportStore(client: db.client, logger: db.logger).progress(id: reportID, userID: userID, percent: 40)
                }
                let (seen, _) = try await LiveSocket.connect(server.url("/ws/tab?token=\(token)"), logger: logger) { socket in
                    let connected = try await socket.waitFor { ($0["data"] as? [String: Any])?["event"] as? String == "connected" }
                    try await advance()
                    let heard = try await socket.waitFor { Self.reportProgress($0) == reportID + "@40" }
                    return connected && heard
                }
                #expect(seen)
                #expect(try await store.report(id: queued.id, userID: userID)?.progress == 40)
            }
        }
    }

    /// `<report_id>@<progress>` of a `report.progress` notification, nil for anything else.
    static func reportProgress(_ message: [String: Any]) -> String? {
        guard message["type"] as? String == "system.notification", let data = message["data"] as? [String: Any],
              data["event"] as? String == "report.progress", let id = data["report_id"] as? String, let progress = data["progress"] as? Int
        else { return nil }
        return "\(id)@\(progress)"
    }
}
