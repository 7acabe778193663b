import Logging
import Synchronization

/// Batches job completions: handlers hand in ids, one loop writes them many per statement.
///
/// There is no timer: while one statement is in flight the next batch gathers, the way a
/// database groups commits, so a busy worker writes big batches and an idle one writes at
/// once. Ids stay pending (and their leases extended) until a statement succeeds.
final class Completer: Sendable {
    private let store: JobStore
    private let workerID: String
    private let batchSize: Int
    private let logger: Logger
    private let onCompleted: @Sendable ([Int64]) -> Void
    private let pending = Mutex<[Int64]>([])
    private let wake: AsyncStream<Void>.Continuation
    private let wakes: AsyncStream<Void>

    init(store: JobStore, workerID: String, batchSize: Int, logger: Logger, onCompleted: @escaping @Sendable ([Int64]) -> Void) {
        self.store = store
        self.workerID = workerID
        self.batchSize = max(1, batchSize)
        self.logger = logger
        self.onCompleted = onCompleted
        (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Queues a job for completion.
    func complete(_ id: Int64) {
        pending.withLock { $0.append(id) }
        wake.yield()
    }

    /// Ids handed in but not yet written.
    var pendingIDs: [Int64] { pending.withLock { $0 } }

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
            let batch = pending.withLock { Array($0.prefix(batchSize)) }
            guard !batch.isEmpty else { return }
            do {
                let done = try await store.complete(ids: batch, workerID: workerID)
                pending.withLock { $0.removeFirst(batch.count) }
                if done.count < batch.count {
                    logger.warning("jobs were taken from this worker before they completed",
                                   metadata: ["count": "\(batch.count - done.count)"])
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
