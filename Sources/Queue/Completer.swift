import Logging
import Synchronization

/// Batches job completions: handlers hand in leases, one loop writes them many per statement.
///
/// There is no timer: while one statement is in flight the next batch gathers, the way a
/// database groups commits, so a busy worker writes big batches and an idle one writes at
/// once. Leases stay pending (and extended) until a statement succeeds.
final class Completer: Sendable {
    private let store: JobStore
    private let deadline: Duration
    private let batchSize: Int
    private let logger: Logger
    private let onCompleted: @Sendable ([JobLease]) -> Void
    private let pendingLeases = Mutex<[JobLease]>([])
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    /// - Parameter deadline: how long one write may go unanswered before it is given up and tried again.
    init(store: JobStore, batchSize: Int, deadline: Duration, logger: Logger, onCompleted: @escaping @Sendable ([JobLease]) -> Void) {
        self.store = store
        self.deadline = deadline
        self.batchSize = max(1, batchSize)
        self.logger = logger
        self.onCompleted = onCompleted
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a job for completion.
    func complete(_ lease: JobLease) {
        pendingLeases.withLock { $0.append(lease) }
        wake.yield()
    }

    /// Leases handed in but not yet written.
    var pending: [JobLease] { pendingLeases.withLock { $0 } }

    /// Writes completions until `finish()` is called, then writes what is left.
    func run() async {
        for await _ in wakes { await flush() }
        await flush()
    }

    /// Ends `run()` after a last flush.
    func finish() { wake.finish() }

    private func flush() async {
        var failures = 0
        while true {
            let batch = pendingLeases.withLock { Array($0.prefix(batchSize)) }
            guard !batch.isEmpty else { return }
            do {
                let done = try await withDeadline(deadline) { [store] in try await store.complete(batch) }
                pendingLeases.withLock { $0.removeFirst(batch.count) }
                if done.count < batch.count {
                    let refused = Set(batch).subtracting(done).map { "\($0.jobID)@\($0.attempt)" }.sorted()
                    logger.warning("completions refused: the jobs were taken from this worker before they completed",
                                   metadata: ["count": "\(refused.count)", "jobs": "\(refused.joined(separator: ","))"])
                }
                onCompleted(done)
                failures = 0
            } catch {
                failures += 1
                if Task.isCancelled { return }
                logger.error("completing jobs failed; retrying", metadata: ["error": "\(String(reflecting: error))"])
                try? await Task.sleep(for: .milliseconds(min(5_000, 50 << min(failures, 7))))
            }
        }
    }
}
