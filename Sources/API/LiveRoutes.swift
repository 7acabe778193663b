import Domain
package import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import NIOCore
import Synchronization

/// The request context of WebSocket upgrade requests.
public struct LiveRequestContext: RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let webSocket: WebSocketHandlerReference<Self>
    /// The connection, to drop a client that fell behind or never authenticated.
    let channel: any NIOCore.Channel
    /// What the upgrade request's `?token=` authorized, for the socket handler.
    let grant: LiveGrant
    /// The peer's IP address.
    let peerAddress: String?
    /// The client behind the API's trusted proxies, as a rate-limit key (set by the routes).
    var clientAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        webSocket = .init()
        channel = source.channel
        grant = LiveGrant()
        peerAddress = source.channel.remoteAddress?.ipAddress
    }
}

/// Carries an authorization from the upgrade check to the socket it opens.
final class LiveGrant: Sendable {
    let subscription = Mutex<LiveSubscription?>(nil)
    /// For a socket upgraded without a token: its place among the sockets waiting to
    /// authenticate (`PendingSockets`), given back once it authenticates or its connection closes.
    let pendingPlace = Mutex<PendingSockets.Place?>(nil)
}

/// `WS /ws/{client_id}`, `WS /ws/video-updates/{channel_id}`, `WS /ws/analytics-stream` and,
/// for operators, `WS /ws/admin` under the API's base path.
///
/// A client authenticates with its access token, either `?token=` on the URL (checked before
/// the upgrade: a bad token or another user's channel is answered with the HTTP error
/// envelope) or as its first message `{"type": "auth", "token": "..."}` within
/// `LiveConfiguration.authTimeout` (a failure is an `error` message and close code 1008).
/// Each connection counts as one request of the caller's rate limit (the analytics stream in
/// Analytics, the others in General): past it, a 429 before the upgrade, or after a first
/// message an `error` message and close code 1013 (try again later).
/// Then it receives `{"type", "timestamp", "data"}` messages: `system.notification`
/// (`connected` first), `video.progress`, `video.completed`, `video.failed`,
/// `video.cancelled`, `video.published`, and `analytics.update`: on the analytics stream the
/// account's figures at a glance, on `/ws/{client_id}` the overview's headline figures (last 30
/// days) each time a sync stores new YouTube Analytics days. `/ws/admin` (operators only, else
/// 403) sends `fleet.snapshot` every `LiveConfiguration.fleetRefresh`: each queue as
/// `GET /admin/queues` lists it, and the last hour as `GET /admin/activity` gives it.
/// It may send `{"type": "ping"}` and gets a `pong`. On `/ws/{client_id}` it may send
/// `{"type": "subscribe" | "unsubscribe", "channel": "video_updates_<video_id>"}` (a video's
/// `websocket_channel`) to hear of chosen videos only (its account notifications still come);
/// the answer is a `subscriptions` message listing them (`all` when none is chosen).
struct LiveRoutes: Sendable {
    let hub: LiveHub
    let tokens: AccessTokens
    let channels: ChannelRepository
    let analytics: LiveAnalytics
    /// The fleet's snapshot for operators' sockets.
    let fleet: FleetPulse
    let rateLimits: RateLimitPolicy
    let gate: RateLimitGate
    let trustedProxies: TrustedProxies
    /// Sockets waiting for their `auth` message, by address.
    let pending: PendingSockets

    /// Path → what the socket subscribes to, given the path's parameters.
    private static let endpoints: [(path: RouterPath, scope: @Sendable (Parameters) throws -> LiveSubscription.Scope)] = [
        ("\(APIServer.basePath)/ws/analytics-stream", { _ in .analytics }),
        ("\(APIServer.basePath)/ws/admin", { _ in .fleet }),
        ("\(APIServer.basePath)/ws/video-updates/{channel_id}", { .channel(try $0.require("channel_id")) }),
        ("\(APIServer.basePath)/ws/{client_id}", { parameters in
            let clientID = try parameters.require("client_id")
            guard (1...64).contains(clientID.count),
                  clientID.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "-_.".unicodeScalars.contains($0) })
            else {
                throw APIError.validation("client_id is 1 to 64 letters, digits, '-', '_' or '.'", field: "client_id", issue: "invalid")
            }
            return .account(clientID: clientID)
        }),
    ]

    /// The router the upgrade requests go through first. A request it declines (not an
    /// upgrade, or refused) continues to the HTTP router, whose `addFallbacks` answer it.
    func webSocketRouter() -> Router<LiveRequestContext> {
        let router = Router(context: LiveRequestContext.self)
        for endpoint in Self.endpoints {
            router.ws(endpoint.path, shouldUpgrade: { request, context in
                var context = context
                context.clientAddress = trustedProxies.client(peer: context.peerAddress, forwardedFor: request.headers[values: .xForwardedFor])
                let scope = try endpoint.scope(context.parameters)
                guard let token = try Self.presentedToken(request) else {
                    // Unauthenticated until its first message: only so many such sockets wait. The
                    // place is given back when the connection closes, whether or not the upgrade
                    // ever completes.
                    guard let place = pending.reserve(context.clientAddress) else {
                        throw APIError(.tooManyRequests, code: "rate_limit_exceeded",
                                       message: "Too many sockets are waiting to authenticate", retryAfter: 5)
                    }
                    context.channel.closeFuture.whenComplete { _ in place.release() }
                    context.grant.pendingPlace.withLock { $0 = place }
                    return .upgrade([:])
                }
                let (subscription, headers) = try await authorize(token: token, scope: scope)
                context.grant.subscription.withLock { $0 = subscription }
                return .upgrade(headers)
            }, onUpgrade: { inbound, outbound, context in
                let scope = try endpoint.scope(context.requestContext.parameters)
                try await serve(scope: scope, inbound: inbound, outbound: outbound, context: context.requestContext)
            })
        }
        return router
    }

    /// The same paths on the HTTP router, for requests that were not upgraded: the reason as
    /// the error envelope (400 for a bad client id, 401 for a bad token, 404 for another
    /// user's channel), or 426 when nothing else is wrong.
    func addFallbacks(to router: Router<APIRequestContext>) {
        for endpoint in Self.endpoints {
            router.get(endpoint.path) { request, context -> Response in
                let scope = try endpoint.scope(context.parameters)
                if let token = try Self.presentedToken(request) { _ = try await authorize(token: token, scope: scope) }
                throw APIError(.upgradeRequired, code: "upgrade_required",
                               message: "This endpoint speaks WebSocket: connect with a WebSocket client (HTTP Upgrade)")
            }
        }
    }

    /// Who may subscribe to what: a valid token, the channel must be the caller's, and the
    /// connection must fit in the caller's rate limit.
    /// - Returns: the subscription and the rate-limit headers.
    private func authorize(token: String, scope: LiveSubscription.Scope) async throws -> (LiveSubscription, HTTPFields) {
        let caller = try await tokens.caller(token)
        if case .channel(let channelID) = scope, try await channels.channel(id: channelID, userID: caller.user.id) == nil {
            throw APIError(.notFound, code: "not_found", message: "No channel \(channelID)")
        }
        if scope == .fleet, !caller.user.isOperator { throw APIError(.forbidden, code: "forbidden", message: "Operators only") }
        let (category, limit) = rateLimits.category(forLive: scope)
        let headers = try await gate.admit(category: category, limit: limit, who: "user:\(caller.user.id)")
        return (LiveSubscription(userID: caller.user.id, scope: scope, sessionID: caller.sessionID, expiresAt: caller.expiresAt), headers)
    }

    /// The token an upgrade request carries: `?token=` (or `?access_token=`), or an
    /// `Authorization: Bearer` header; nil when it carries none. Any token present is checked
    /// before the upgrade.
    /// - Throws: 401 for an `Authorization` header that is not a bearer token.
    private static func presentedToken(_ request: Request) throws -> String? {
        let token = request.uri.queryParameters["token"] ?? request.uri.queryParameters["access_token"]
        if let token = token.map(String.init), !token.isEmpty { return token }
        guard let header = request.headers[.authorization] else { return nil }
        let bearer = header.count > 7 && header.prefix(7).lowercased() == "bearer " ? String(header.dropFirst(7).filter { $0 != " " }) : ""
        guard !bearer.isEmpty else { throw APIError.unauthorized("The Authorization header must be Bearer <access token>") }
        return bearer
    }

    /// One socket from authentication to close.
    private func serve(scope: LiveSubscription.Scope, inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter,
                       context: LiveRequestContext) async throws {
        let configuration = hub.configuration
        let channel = context.channel
        let logger = context.logger
        var messages = inbound.messages(maxSize: 64 * 1024).makeAsyncIterator()
        var subscription = context.grant.subscription.withLock { $0 }
        let place = context.grant.pendingPlace.withLock { $0 }
        defer { place?.release() }
        if subscription == nil {
            // Authentication by first message, within the allowed time.
            let deadline = Task {
                try await Task.sleep(for: configuration.authTimeout)
                try? await outbound.write(.text(LiveMessage.error("unauthorized", "No auth message within the allowed time")))
                try? await outbound.close(.policyViolation, reason: "authentication timed out")
                try await Task.sleep(for: .seconds(2))
                channel.close(promise: nil)
            }
            defer { deadline.cancel() }
            guard let first = try await messages.next() else { return }
            deadline.cancel()
            place?.release()
            do {
                guard case .text(let text) = first, let request = Self.clientMessage(text), request["type"] as? String == "auth",
                      let token = request["token"] as? String
                else { throw APIError.unauthorized(#"The first message must be {"type": "auth", "token": "<access token>"}"#) }
                subscription = try await authorize(token: token, scope: scope).0
            } catch let error as APIError {
                let limited = error.status == .tooManyRequests
                let message = limited ? "\(error.message); try again in \(error.retryAfter ?? 1) s" : error.message
                try? await outbound.write(.text(LiveMessage.error(error.code, message)))
                try? await outbound.close(limited ? .unknown(1013) : .policyViolation, reason: error.code)
                return
            }
        }
        guard let subscription else { return }
        let connection: LiveConnection
        do {
            connection = try hub.connect(subscription, abort: { channel.close(promise: nil) })
        } catch .tooManySockets {
            try? await outbound.write(.text(LiveMessage.error("too_many_connections",
                                                              "At most \(configuration.maxSocketsPerUser) sockets per user on one server")))
            try? await outbound.close(.unknown(1013), reason: "too many connections")
            return
        } catch .stopping {
            try? await outbound.close(.goingAway, reason: "server shutting down")
            return
        }
        defer { hub.disconnect(connection, userID: subscription.userID) }
        connection.send(.message(Self.welcome(scope)))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                if let end = try await write(connection, userID: subscription.userID, to: outbound, logger: logger) {
                    // Its session ended or its token expired.
                    try? await outbound.write(.text(LiveMessage.error(end.code, end.message)))
                    try? await outbound.close(.policyViolation, reason: end.code)
                    channel.close(promise: nil)
                    return
                }
                // The hub let go of this socket: the server is stopping (or the socket fell behind
                // and is gone already, when these writes fail).
                try? await outbound.write(.text(LiveMessage.text(type: LiveMessage.systemNotification, data: [
                    "event": "server.shutdown", "message": "This server is stopping; reconnect to another",
                ])))
                try? await outbound.close(.goingAway, reason: "server shutting down")
            }
            group.addTask {
                // The socket lives no longer than the access token that opened it.
                let left = subscription.expiresAt.timeIntervalSinceNow
                if left < 366 * 86_400 {
                    try await Task.sleep(for: .milliseconds(Int64(max(0, left) * 1000)))
                    // A socket whose queue is full cannot take the goodbye: it is dropped.
                    if !connection.send(.end(code: "token_expired", message: "The access token of this socket expired; reconnect with a fresh one")) {
                        channel.close(promise: nil)
                    }
                }
            }
            if scope == .fleet {
                connection.send(.fleet)
                group.addTask {
                    while true {
                        try await Task.sleep(for: configuration.fleetRefresh)
                        connection.send(.fleet)
                    }
                }
            }
            if scope == .analytics {
                connection.send(.refresh(.now))
                group.addTask {
                    while true {
                        try await Task.sleep(for: configuration.analyticsRefresh)
                        connection.send(.refresh(.now))
                    }
                }
            }
            // The videos this socket narrowed itself to (`subscribe`); none: all of them.
            var videos = Set<String>()
            while let message = try await messages.next() {
                guard case .text(let text) = message, let request = Self.clientMessage(text), let type = request["type"] as? String else {
                    connection.send(.message(LiveMessage.error("invalid_message", #"Messages are JSON objects with a "type""#)))
                    continue
                }
                switch type {
                case "ping": connection.send(.message(LiveMessage.text(type: "pong", data: [:])))
                case "auth": connection.send(.message(LiveMessage.error("already_authenticated", "This socket is authenticated already")))
                case "subscribe", "unsubscribe":
                    guard case .account = scope else {
                        connection.send(.message(LiveMessage.error("unsupported", "Only /ws/{client_id} sockets choose their videos")))
                        continue
                    }
                    guard let name = request["channel"] as? String, name.hasPrefix(Self.videoChannelPrefix),
                          name.count > Self.videoChannelPrefix.count
                    else {
                        connection.send(.message(LiveMessage.error(
                            "invalid_message", #"Send {"type": "\#(type)", "channel": "video_updates_<video_id>"} (the video's websocket_channel)"#)))
                        continue
                    }
                    let videoID = String(name.dropFirst(Self.videoChannelPrefix.count))
                    if type == "subscribe" { videos.insert(videoID) } else { videos.remove(videoID) }
                    hub.setVideos(videos.isEmpty ? nil : videos, for: connection, userID: subscription.userID)
                    connection.send(.message(LiveMessage.text(type: "subscriptions", data: [
                        "channels": videos.isEmpty ? ["all"] : videos.sorted().map { Self.videoChannelPrefix + $0 },
                    ])))
                default: connection.send(.message(LiveMessage.error("unknown_message", "Unknown message type \(type); send ping")))
                }
            }
            group.cancelAll()
        }
    }

    /// Sends what the hub queues for the socket until the hub lets go of it, or its
    /// authorization ends (returned: the socket is to be closed with 1008).
    private func write(_ connection: LiveConnection, userID: String, to outbound: WebSocketOutboundWriter,
                       logger: Logger) async throws -> (code: String, message: String)? {
        let minInterval = hub.configuration.analyticsMinInterval
        var lastFigures = ""
        var lastLook: ContinuousClock.Instant?
        var lastHeadline: ContinuousClock.Instant?
        for await output in connection.outputs {
            switch output {
            case .end(let code, let message):
                return (code, message)
            case .message(let text):
                try await outbound.write(.text(text))
            case .fleet:
                do {
                    // The role is read again each time: a revoked operator's socket is closed.
                    guard try await fleet.isOperator(userID) else { return ("forbidden", "Operators only") }
                    try await outbound.write(.text(try await fleet.snapshot()))
                } catch is CancellationError {
                    throw CancellationError()
                } catch {
                    // The database is unreachable for a moment (or a row would not decode): the next tick looks again.
                    logger.warning("live: fleet snapshot unavailable", metadata: ["error": "\(String(reflecting: error))"])
                }
            case .refresh(let asked):
                // One look answers every request made before it started.
                if let lastLook, asked < lastLook { continue }
                if let lastLook, lastLook.duration(to: .now) < minInterval { try await Task.sleep(until: lastLook + minInterval) }
                lastLook = .now
                let figures: String
                do { figures = try await analytics.snapshot(userID: userID) } catch {
                    // The database is unreachable for a moment: the next refresh looks again.
                    logger.warning("live: analytics unavailable", metadata: ["error": "\(String(reflecting: error))"])
                    continue
                }
                if figures != lastFigures {
                    lastFigures = figures
                    try await outbound.write(.text(LiveMessage.analytics(figures)))
                }
            case .overview(let asked):
                // A sync stores a channel's days in several steps: one look answers them all.
                if let lastHeadline, asked < lastHeadline { continue }
                if let lastHeadline, lastHeadline.duration(to: .now) < minInterval { try await Task.sleep(until: lastHeadline + minInterval) }
                lastHeadline = .now
                let headline: String
                do { headline = try await analytics.headline(userID: userID) } catch {
                    logger.warning("live: analytics unavailable", metadata: ["error": "\(String(reflecting: error))"])
                    continue
                }
                try await outbound.write(.text(LiveMessage.analytics(headline)))
            }
        }
        return nil
    }

    /// `websocket_channel` of a submitted video: this prefix and its id.
    static let videoChannelPrefix = "video_updates_"

    private static func welcome(_ scope: LiveSubscription.Scope) -> String {
        var data: [String: Any] = ["event": "connected"]
        switch scope {
        case .account(let clientID): data["client_id"] = clientID; data["subscription"] = "account"
        case .channel(let channelID): data["channel_id"] = channelID; data["subscription"] = "channel"
        case .analytics: data["subscription"] = "analytics"
        case .fleet: data["subscription"] = "fleet"
        }
        return LiveMessage.text(type: LiveMessage.systemNotification, data: data)
    }

    private static func clientMessage(_ text: String) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
    }
}
