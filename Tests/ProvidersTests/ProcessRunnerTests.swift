import Foundation
import Providers
import Testing

/// The tool runner: output, failures with their standard error, a timeout that is applied, and
/// a cancelled caller that gets its answer without waiting for the tool.
@Suite struct ProcessRunnerTests {
    @Test func outputAndFailuresAreReported() async throws {
        let runner = ProcessRunner()
        #expect(String(decoding: try await runner.run("echo", ["queued"]), as: UTF8.self) == "queued\n")
        await #expect {
            try await runner.run("sh", ["-c", "echo broken >&2; exit 3"])
        } throws: { error in
            (error as? ProcessRunner.Failure).map { $0.status == 3 && $0.message == "broken" } == true
        }
    }

    @Test func aToolRunningPastTheTimeoutIsStoppedAndTheRunFails() async throws {
        let runner = ProcessRunner(timeout: .milliseconds(300))
        await #expect {
            try await runner.run("sleep", ["30"])
        } throws: { error in
            (error as? ProcessRunner.Failure)?.message.hasPrefix("timed out") == true
        }
    }

    @Test func aCancelledRunEndsWithCancellation() async throws {
        let run = Task { try await ProcessRunner().run("sleep", ["30"]) }
        run.cancel()
        await #expect(throws: CancellationError.self) { try await run.value }
    }
}
