import Domain
package import Foundation
import Logging
import Metrics
import Queue
import ServiceLifecycle
import Synchronization

/// How the live WebSocket endpoints behave. Every default suits production; tests shorten
/// the intervals.
public struct LiveConfiguration: Sendable {
    /// Protocol pings to every socket this often; a socket that does not answer one before
    /// the next is closed.
    public var pingInterval: Duration = .seconds(30)
    /// How long a socket opened without a token may take to send its `auth` message.
    public var authTimeout: Duration = .seconds(5)
    /// Sockets opened without a token that may wait for their `auth` message at once, per
    /// client address and in all, on one instance.
    public var maxPendingPerAddress = 10
    public var maxPending = 1000
    /// Messages queued for one socket; a client that falls this far behind is disconnected
    /// rather than buffered for without bound. Large enough for the burst of cancelling a
    /// 1,000-video batch.
    public var bufferSize = 2048
    /// Sockets one user may hold on one API instance.
    public var maxSocketsPerUser = 50
    /// The analytics stream sends changed figures at most this often after an event, and
    /// looks again this often when nothing happens.
    public var analyticsMinInterval: Duration = .seconds(1)
    public var analyticsRefresh: Duration = .seconds(30)
    /// The console's socket (`/ws/admin`) gets the fleet's snapshot this often.
    public var fleetRefresh: Duration = .seconds(2)

    public init() {}
}

/// What a socket listens to.
struct LiveSubscription: Sendable, Equatable {
    enum Scope: Sendable, Equatable {
        /// Every video and account event of the user (`/ws/{client_id}`).
        case account(clientID: String)
        /// Video events of one channel (`/ws/video-updates/{channel_id}`).
        case channel(String)
        /// Periodic figures (`/ws/analytics-stream`).
        case analytics
        /// The fleet's queues and last hour, for operators (`/ws/admin`).
        case fleet
    }

    var userID: String
    var scope: Scope
    /// The session the socket was opened in: when it ends (logout, password reset, account
    /// deletion), the socket is closed.
    var sessionID: String
    /// When the access token that opened it expires: the socket is closed then.
    var expiresAt: Date
}

/// What a socket's writer receives.
enum LiveOutput: Sendable {
    /// A text frame to send as is.
    case message(String)
    /// Something changed for the user: an analytics socket recomputes its figures.
    case refresh(ContinuousClock.Instant)
    /// New analytics days were stored: an account socket sends the overview's headline figures.
    case overview(ContinuousClock.Instant)
    /// Time for an operator's socket to send the fleet's snapshot.
    case fleet
    /// The socket's authorization ended: send this `error` and close with 1008.
    case end(code: String, message: String)
}

/// A socket's place in the hub: its queue of outgoing messages and a way to add to it.
struct LiveConnection: Sendable {
    let id: Int
    let outputs: AsyncStream<LiveOutput>
    fileprivate let continuation: AsyncStream<LiveOutput>.Continuation

    /// Queues a message for this socket only (replies to its own requests).
    /// - Returns: false when its queue is full (the message was dropped).
    @discardableResult
    func send(_ output: LiveOutput) -> Bool {
        if case .dropped = continuation.yield(output) { return false }
        return true
    }
}

/// The one listener of an API instance: relays the fleet's live notifications (workers and
/// the API publish them with `pg_notify` on `DomainEvents.liveChannel`) to this instance's
/// sockets, so a client sees every change whichever instance it is connected to.
///
/// Each socket has a bounded queue; a socket whose queue is full is closed, so one slow
/// client costs the hub nothing. At shutdown every socket is told and closed.
public final class LiveHub: Service, Sendable {
    private struct Socket: Sendable {
        var subscription: LiveSubscription
        var continuation: AsyncStream<LiveOutput>.Continuation
        /// Drops the connection at once (a slow client cannot take a close frame).
        var abort: @Sendable () -> Void
        /// The videos an account socket narrowed itself to; nil for all of them.
        var videos: Set<String>? = nil
    }

    private let notifier: Notifier
    let configuration: LiveConfiguration
    private let logger: Logger
    /// Sockets by user id, then by socket id.
    private let sockets = Mutex<[String: [Int: Socket]]>([:])
    private let nextID = Atomic<Int>(0)
    private let listening = Mutex<Bool>(false)
    private let stopping = Mutex<Bool>(false)
    private let openSockets = Gauge(label: "ytempire_ws_sockets")
    private let dropped = Counter(label: "ytempire_ws_dropped_total")
    private let relayed = Counter(label: "ytempire_ws_messages_total")

    /// - Parameter notifier: the process's LISTEN connection; it must listen on
    ///   `DomainEvents.liveChannel`.
    public init(notifier: Notifier, configuration: LiveConfiguration = LiveConfiguration(), logger: Logger) {
        self.notifier = notifier
        self.configuration = configuration
        self.logger = logger
    }

    /// Sockets open on this instance.
    public var socketCount: Int { sockets.withLock { $0.values.reduce(0) { $0 + $1.count } } }

    /// Why a socket was not registered.
    enum Refusal: Error {
        /// The user already holds `maxSocketsPerUser` sockets here.
        case tooManySockets
        /// The server is shutting down.
        case stopping
    }

    /// Registers a socket.
    /// - Parameter abort: drops the connection at once (for a socket that fell behind).
    func connect(_ subscription: LiveSubscription, abort: @escaping @Sendable () -> Void) throws(Refusal) -> LiveConnection {
        let (stream, continuation) = AsyncStream.makeStream(of: LiveOutput.self, bufferingPolicy: .bufferingOldest(configuration.bufferSize))
        let id = nextID.add(1, ordering: .relaxed).newValue
        let refusal = sockets.withLock { all -> Refusal? in
            if stopping.withLock({ $0 }) { return .stopping }
            guard all[subscription.userID, default: [:]].count < configuration.maxSocketsPerUser else { return .tooManySockets }
            all[subscription.userID, default: [:]][id] = Socket(subscription: subscription, continuation: continuation, abort: abort)
            return nil
        }
        if let refusal { throw refusal }
        openSockets.record(socketCount)
        return LiveConnection(id: id, outputs: stream, continuation: continuation)
    }

    /// Removes a socket (it closed).
    func disconnect(_ connection: LiveConnection, userID: String) {
        connection.continuation.finish()
        sockets.withLock { all in
            all[userID]?[connection.id] = nil
            if all[userID]?.isEmpty == true { all[userID] = nil }
        }
        openSockets.record(socketCount)
    }

    /// Narrows an account socket to the video ids in `videos` (nil: every video again).
    /// Account notifications other than video changes still reach it.
    func setVideos(_ videos: Set<String>?, for connection: LiveConnection, userID: String) {
        sockets.withLock { $0[userID]?[connection.id]?.videos = videos }
    }

    public func run() async throws {
        for await event in notifier.subscribe(to: DomainEvents.liveChannel, buffer: 16_384).cancelOnGracefulShutdown() {
            switch event {
            case .notification(let payload):
                relay(payload)
            case .reconnected:
                // The first connection is the start; a later one means notifications were lost.
                let wasListening = listening.withLock { state in defer { state = true }; return state }
                if wasListening { broadcastResync() }
            }
        }
        // Shutting down: every socket says goodbye (its writer sees its queue end) before the
        // server, which stops after this service, closes what is left.
        let all = sockets.withLock { all in
            stopping.withLock { $0 = true }
            return all.values.flatMap(\.values)
        }
        for socket in all { socket.continuation.finish() }
        let deadline = ContinuousClock.now + .seconds(5)
        while socketCount > 0 && ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(20)) }
    }

    /// Sends one notification to the sockets it concerns.
    func relay(_ payload: String) {
        guard let object = (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) as? [String: Any],
              let type = object["type"] as? String, let userID = object["user_id"] as? String
        else {
            logger.warning("live: unreadable notification", metadata: ["payload": "\(payload.prefix(200))"])
            return
        }
        let targets = sockets.withLock { $0[userID].map { Array($0) } ?? [] }
        guard !targets.isEmpty else { return }
        if type == SessionRepository.endedEvent {
            // Logout, password reset or account deletion: the sockets of the session (or of
            // every session, when none is named) lose their authorization.
            let session = object["session_id"] as? String
            for (id, socket) in targets where session == nil || socket.subscription.sessionID == session {
                // A socket whose queue is full cannot take the goodbye: it is dropped at once.
                if case .dropped = socket.continuation.yield(.end(code: "session_ended", message: "The session of this socket ended; sign in again")) {
                    dropSlow(id: id, socket: socket)
                }
            }
            return
        }
        var data = object
        data["type"] = nil
        data["user_id"] = nil
        let message = LiveMessage.text(type: type, data: data)
        let channelID = object["channel_id"] as? String
        let now = ContinuousClock.now
        for (id, socket) in targets {
            let output: LiveOutput?
            switch socket.subscription.scope {
            case .account where type == DomainEvents.analyticsUpdate:
                output = .overview(now)
            case .account:
                let narrowedAway = socket.videos.map { videos in (object["video_id"] as? String).map { !videos.contains($0) } ?? false } ?? false
                output = narrowedAway ? nil : .message(message)
            case .channel(let wanted): output = channelID == wanted && type != DomainEvents.analyticsUpdate ? .message(message) : nil
            case .analytics: output = .refresh(now)
            case .fleet: output = nil
            }
            guard let output else { continue }
            relayed.increment()
            if case .dropped = socket.continuation.yield(output) { dropSlow(id: id, socket: socket) }
        }
    }

    private func broadcastResync() {
        let message = LiveMessage.text(type: LiveMessage.systemNotification, data: [
            "event": "live.resync",
            "message": "Live updates were interrupted; some may have been missed. Reload the state you show.",
        ])
        let all = sockets.withLock { $0.values.flatMap { Array($0) } }
        for (id, socket) in all {
            if case .dropped = socket.continuation.yield(.message(message)) { dropSlow(id: id, socket: socket) }
        }
    }

    private func dropSlow(id: Int, socket: Socket) {
        logger.info("live: closing a socket that fell behind", metadata: ["user.id": "\(socket.subscription.userID)"])
        sockets.withLock { all in
            all[socket.subscription.userID]?[id] = nil
            if all[socket.subscription.userID]?.isEmpty == true { all[socket.subscription.userID] = nil }
        }
        socket.continuation.finish()
        socket.abort()
        dropped.increment()
        openSockets.record(socketCount)
    }
}

/// The JSON messages sent to sockets: `{"type": ..., "timestamp": ..., "data": {...}}`.
enum LiveMessage {
    static let systemNotification = "system.notification"

    /// One message; keys sorted so equal content is equal text.
    static func text(type: String, data: [String: Any]) -> String {
        object(["type": type, "timestamp": Date.now.ISO8601Format(), "data": data])
    }

    /// An `analytics.update` whose data is already JSON text.
    static func analytics(_ json: String) -> String {
        let data = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
        return text(type: "analytics.update", data: data)
    }

    /// An error about the client's last message; the socket stays open.
    static func error(_ code: String, _ message: String) -> String {
        object(["type": "error", "timestamp": Date.now.ISO8601Format(), "data": ["error": code, "message": message]])
    }

    private static func object(_ value: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}
