import Logging
import PostgresNIO
import ServiceLifecycle
import Synchronization

/// What a `Notifier` subscriber receives.
public enum NotifierEvent: Sendable, Equatable {
    /// A NOTIFY arrived on the subscribed channel.
    case notification(payload: String)
    /// The listening connection was (re)established: notifications sent while it was down
    /// are lost, so subscribers should look for work as if woken.
    case reconnected
}

/// Holds one LISTEN connection per process and fans its notifications out to in-process
/// subscribers, so a hundred claim loops cost the database one listening session.
///
/// It reconnects with backoff when the connection drops; polling in the subscribers covers
/// the gap.
public final class Notifier: Service, Sendable {
    private struct Subscriber: Sendable {
        var channel: String
        var continuation: AsyncStream<NotifierEvent>.Continuation
    }

    private let client: PostgresClient
    private let channels: [String]
    private let logger: Logger
    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let connected = Mutex<Bool>(false)

    /// - Parameters:
    ///   - client: the pool to take the listening connection from.
    ///   - channels: the channels to LISTEN on; default the queue's own.
    public init(client: PostgresClient, channels: [String] = [NotificationChannel.jobs, NotificationChannel.control], logger: Logger) {
        self.client = client
        self.channels = channels
        self.logger = logger
    }

    /// Whether the listening connection is up.
    public var isConnected: Bool { connected.withLock { $0 } }

    /// A stream of the notifications on `channel`. It ends when the caller stops iterating.
    /// - Parameter buffer: notifications kept for a subscriber that has not caught up; beyond
    ///   it the oldest are dropped (wake-ups can be; relayed events want a larger buffer).
    public func subscribe(to channel: String, buffer: Int = 256) -> AsyncStream<NotifierEvent> {
        let (stream, continuation) = AsyncStream.makeStream(of: NotifierEvent.self, bufferingPolicy: .bufferingNewest(buffer))
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = Subscriber(channel: channel, continuation: continuation) }
        continuation.onTermination = { [weak self] _ in
            self?.subscribers.withLock { _ = $0.removeValue(forKey: id) }
        }
        return stream
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var backoff: Duration = .milliseconds(100)
            while !Task.isCancelled {
                do {
                    try await self.client.withConnection { connection in
                        try await self.listen(connection, channels: self.channels[...], sequences: [])
                    }
                } catch {
                    if Task.isCancelled { break }
                    self.logger.warning("notifier connection lost", metadata: ["error": "\(String(reflecting: error))"])
                }
                self.connected.withLock { $0 = false }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
        subscribers.withLock { subs in
            for sub in subs.values { sub.continuation.finish() }
            subs.removeAll()
        }
    }

    /// LISTENs on each channel in turn (postgres-nio scopes a listen to a closure), then
    /// consumes all sequences at once.
    private func listen(_ connection: PostgresConnection, channels: ArraySlice<String>,
                        sequences: [(String, PostgresNotificationSequence)]) async throws {
        if let channel = channels.first {
            try await connection.listen(on: channel) { sequence in
                try await self.listen(connection, channels: channels.dropFirst(), sequences: sequences + [(channel, sequence)])
            }
            return
        }
        connected.withLock { $0 = true }
        broadcast(.reconnected, channel: nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (channel, sequence) in sequences {
                group.addTask {
                    for try await notification in sequence {
                        self.broadcast(.notification(payload: notification.payload), channel: channel)
                    }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    private func broadcast(_ event: NotifierEvent, channel: String?) {
        let targets = subscribers.withLock { subs in
            subs.values.filter { channel == nil || $0.channel == channel }.map(\.continuation)
        }
        for target in targets { target.yield(event) }
    }
}
