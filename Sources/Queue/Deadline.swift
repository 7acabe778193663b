import Logging
import Synchronization

/// Thrown by `withDeadline` when the call gave no answer in time.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    public var limit: Duration
    public var description: String { "no answer within \(limit)" }
}

/// Runs `body` and gives up on it after `limit`, cancelling it and leaving it to end by itself.
///
/// The loops that keep a fleet alive (claims, heartbeats, completions, elections, chores) must
/// go on when the database is restarted or a pooler drops connections under them, and the
/// database client can lose a query on a connection that closed as it was handed out: its
/// answer never comes, and cancelling the waiting task does not end the wait. A task group
/// would wait for that child forever, so the call runs in a task of its own and the caller
/// races it against the clock instead.
public func withDeadline<T: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let work = Task { try await body() }
    let answer = FirstAnswer<T>()
    let timer = Task {
        try? await Task.sleep(for: limit)
        guard !Task.isCancelled else { return }
        work.cancel()
        answer.resume(with: .failure(DeadlineExceeded(limit: limit)))
    }
    Task {
        let result = await work.result
        timer.cancel()
        answer.resume(with: result)
    }
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { answer.install($0) }
    } onCancel: {
        // The caller goes at once, even when the call ignores its cancellation.
        work.cancel()
        timer.cancel()
        answer.resume(with: .failure(CancellationError()))
    }
}

/// The first answer of several racing tasks, for a continuation that may be installed before
/// or after it comes.
private final class FirstAnswer<T: Sendable>: Sendable {
    private enum State {
        case waiting
        case installed(CheckedContinuation<T, any Error>)
        case answered(Result<T, any Error>)
        case delivered
    }

    private let state = Mutex(State.waiting)

    func install(_ continuation: CheckedContinuation<T, any Error>) {
        let ready = state.withLock { state -> Result<T, any Error>? in
            guard case .answered(let result) = state else {
                state = .installed(continuation)
                return nil
            }
            state = .delivered
            return result
        }
        if let ready { continuation.resume(with: ready) }
    }

    func resume(with result: Result<T, any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<T, any Error>? in
            switch state {
            case .waiting:
                state = .answered(result)
                return nil
            case .installed(let continuation):
                state = .delivered
                return continuation
            case .answered, .delivered:
                return nil
            }
        }
        continuation?.resume(with: result)
    }
}

/// Runs `body` until it answers, for a process starting while its database restarts or a
/// pooler in front of it recovers: each try is given `attempt` to answer, failures are retried
/// after a growing pause (up to 5 s), and the last error is thrown once `patience` is spent.
/// Errors `isPermanent` accepts (a schema that is too old, say) are thrown at once.
public func untilAnswered<T: Sendable>(_ what: String, patience: Duration = .seconds(120), attempt: Duration = .seconds(15),
                                       logger: Logger, isPermanent: @escaping @Sendable (any Error) -> Bool = { _ in false },
                                       _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let start = ContinuousClock.now
    var pause: Duration = .milliseconds(250)
    while true {
        do {
            return try await withDeadline(attempt, body)
        } catch {
            if error is CancellationError || isPermanent(error) || start.duration(to: .now) + pause > patience { throw error }
            logger.warning("the database did not answer; trying again", metadata: ["step": "\(what)", "error": "\(String(reflecting: error))"])
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }
}
