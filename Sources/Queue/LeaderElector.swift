import Logging
import ServiceLifecycle
import Synchronization

/// Elects one leader among any number of processes through a lease row, so exactly one runs
/// maintenance. The leader renews every `ttl / 3`; when it dies, another takes over once the
/// lease expires (at most `ttl`), and a leader that shuts down cleanly resigns at once.
public final class LeaderElector: Service, Sendable {
    /// The election's name in the `leader` table.
    public let name: String
    /// This candidate's id.
    public let candidateID: String
    /// How long a won lease lasts without renewal. Default 15 s.
    public let ttl: Duration
    private let store: LeaderStore
    private let logger: Logger
    /// Until when the won lease surely holds: when the winning round was sent, plus the lease,
    /// less a fifth of it for scheduling; nil when not leading.
    private let leading = Mutex<ContinuousClock.Instant?>(nil)
    private let changes = Mutex<[AsyncStream<Bool>.Continuation]>([])

    public init(store: LeaderStore, name: String = "maintenance", candidateID: String, ttl: Duration = .seconds(15), logger: Logger) {
        self.store = store
        self.name = name
        self.candidateID = candidateID
        self.ttl = ttl
        self.logger = logger
    }

    /// Whether this process holds the lease now: a round that won it, and not so long ago that
    /// the lease may have run out meanwhile (a renewal unanswered, a paused process).
    public var isLeader: Bool { leading.withLock { $0.map { ContinuousClock.now < $0 } ?? false } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await self.electOnce()
                try? await Task.sleep(for: self.isLeader ? self.ttl / 3 : self.ttl / 5)
            }
        }
        if isLeader {
            try? await withDeadline(ttl / 3) { [store, name, candidateID] in try await store.resign(name: name, candidate: candidateID) }
            set(nil)
            logger.info("resigned leadership")
        }
    }

    /// One election round: take or renew the lease. A failed round steps down, which is safe:
    /// nobody else can win before the old lease expires.
    public func electOnce() async {
        let won: Bool
        let sentAt = ContinuousClock.now
        do {
            // Unanswered for a third of the lease: step down rather than lead on a lease that may be gone.
            won = try await withDeadline(ttl / 3) { [store, name, candidateID, ttl] in
                try await store.acquireOrRenew(name: name, candidate: candidateID, ttl: ttl)
            }
        } catch {
            logger.warning("leader election failed", metadata: ["error": "\(String(reflecting: error))"])
            won = false
        }
        set(won ? sentAt + ttl - ttl / 5 : nil)
    }

    private func set(_ until: ContinuousClock.Instant?) {
        let changed = leading.withLock { current in
            defer { current = until }
            return (current != nil) != (until != nil)
        }
        if changed {
            logger.info(until != nil ? "became leader" : "lost leadership", metadata: ["leader.candidate": "\(candidateID)"])
        }
    }
}
