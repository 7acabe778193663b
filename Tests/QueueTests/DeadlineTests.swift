import Logging
import Queue
import Synchronization
import Testing

/// `withDeadline`: the guard the fleet's loops put around calls that may never answer.
@Suite struct DeadlineTests {
    @Test func anAnswerInTimeIsReturned() async throws {
        let value = try await withDeadline(.seconds(30)) { 42 }
        #expect(value == 42)
        await #expect(throws: ExampleError.self) { try await withDeadline(.seconds(30)) { () async throws -> Int in throw ExampleError() } }
    }

    /// A call that never answers and ignores cancellation, like a query lost on a closed
    /// connection: the caller gets `DeadlineExceeded` and goes on.
    @Test func aCallThatNeverAnswersIsGivenUp() async throws {
        let cancelled = Atomic<Bool>(false)
        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(200)) { () async -> Int in
                await withTaskCancellationHandler {
                    await withUnsafeContinuation { (_: UnsafeContinuation<Int, Never>) in }
                } onCancel: {
                    cancelled.store(true, ordering: .relaxed)
                }
            }
        }
        let askedToStop = cancelled.load(ordering: .relaxed)
        #expect(askedToStop, "the abandoned call was asked to stop")
    }

    /// Cancelled, the caller goes at once even when the call ignores its cancellation.
    @Test func aCancelledCallerDoesNotWaitForACallThatNeverAnswers() async throws {
        let caller = Task {
            try await withDeadline(.seconds(3600)) { () async -> Int in
                await withUnsafeContinuation { (_: UnsafeContinuation<Int, Never>) in }
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }

    @Test func cancellingTheCallerCancelsTheCall() async throws {
        let caller = Task {
            try await withDeadline(.seconds(3600)) { () async throws -> Int in
                try await Task.sleep(for: .seconds(3600))
                return 0
            }
        }
        caller.cancel()
        await #expect(throws: CancellationError.self) { try await caller.value }
    }

    private struct ExampleError: Error {}

    /// A process starting while its database restarts: failures are tried again until one
    /// answers; an error the caller calls permanent is not; patience runs out.
    @Test func untilAnsweredTriesAgainUntilAnAnswer() async throws {
        let tries = Atomic<Int>(0)
        let logger = Logger(label: "test")
        let value = try await untilAnswered("test", logger: logger) { () async throws -> Int in
            guard tries.add(1, ordering: .relaxed).newValue >= 3 else { throw ExampleError() }
            return 7
        }
        let attempts = tries.load(ordering: .relaxed)
        #expect(value == 7 && attempts == 3)

        let permanent = Atomic<Int>(0)
        await #expect(throws: ExampleError.self) {
            try await untilAnswered("test", logger: logger, isPermanent: { $0 is ExampleError }) { () async throws -> Int in
                permanent.add(1, ordering: .relaxed)
                throw ExampleError()
            }
        }
        let permanentTries = permanent.load(ordering: .relaxed)
        #expect(permanentTries == 1)

        await #expect(throws: ExampleError.self) {
            try await untilAnswered("test", patience: .milliseconds(600), logger: logger) { () async throws -> Int in throw ExampleError() }
        }
    }
}
