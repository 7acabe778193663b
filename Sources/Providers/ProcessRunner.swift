import Foundation
import Synchronization

/// Runs a command-line tool (espeak-ng, ffmpeg, ffprobe) without blocking a thread:
/// waits for its exit asynchronously, stops it when the calling task is cancelled, and
/// reports its standard error on failure.
public struct ProcessRunner: Sendable {
    public var timeout: Duration

    public init(timeout: Duration = .seconds(600)) { self.timeout = timeout }

    /// A tool failed or could not start.
    public struct Failure: Error, CustomStringConvertible {
        public var tool: String
        public var status: Int32
        public var message: String
        public var description: String { "\(tool) exited with \(status): \(message)" }
    }

    /// Runs `tool` (looked up on PATH) and returns its standard output.
    /// - Parameter directory: the working directory, if not this process's.
    @discardableResult
    public func run(_ tool: String, _ arguments: [String], in directory: URL? = nil) async throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let scratch = FileManager.default.temporaryDirectory
        let outURL = scratch.appendingPathComponent("ytempire-\(UUID().uuidString).out")
        let errURL = scratch.appendingPathComponent("ytempire-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: outURL.path, contents: nil)
        FileManager.default.createFile(atPath: errURL.path, contents: nil)
        defer {
            try? FileManager.default.removeItem(at: outURL)
            try? FileManager.default.removeItem(at: errURL)
        }
        // Files, not pipes: a tool that writes much cannot stall on a full pipe buffer.
        let out = try FileHandle(forWritingTo: outURL)
        let err = try FileHandle(forWritingTo: errURL)
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        // The wait ends on the first of: the tool's exit, the caller's cancellation (the tool is
        // terminated, and the caller does not wait for an exit that may never be reported), or
        // the runner's timeout (the tool is terminated and the run fails).
        let wait = ProcessWait()
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                wait.install(continuation)
                process.terminationHandler = { finished in wait.finish(.success(finished.terminationStatus)) }
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    wait.finish(.failure(Failure(tool: tool, status: -1, message: "could not start: \(error)")))
                    return
                }
                // Cancelled while it started: nobody waits for it any more.
                if wait.hasEnded, process.isRunning { process.terminate() }
                let limit = timeout
                DispatchQueue.global().asyncAfter(deadline: .now() + Double(limit.components.seconds) + Double(limit.components.attoseconds) / 1e18) {
                    guard wait.finish(.failure(Failure(tool: tool, status: -1, message: "timed out after \(limit)"))) else { return }
                    if process.isRunning { process.terminate() }
                }
            }
        } onCancel: {
            wait.finish(.failure(CancellationError()))
            if process.isRunning { process.terminate() }
        }
        try? out.close()
        try? err.close()
        try Task.checkCancellation()
        guard status == 0 else {
            let message = (try? String(contentsOf: errURL, encoding: .utf8)) ?? ""
            let trimmed = message.trimmingCharacters(in: .whitespacesAndNewlines)
            throw Failure(tool: tool, status: status, message: String(trimmed.suffix(500)))
        }
        return (try? Data(contentsOf: outURL)) ?? Data()
    }
}

/// One process's wait: ended once, by whichever comes first, whether the continuation is
/// installed before or after the end.
private final class ProcessWait: Sendable {
    private struct State {
        var continuation: CheckedContinuation<Int32, any Error>?
        var result: Result<Int32, any Error>?
    }

    private let state = Mutex(State())

    func install(_ continuation: CheckedContinuation<Int32, any Error>) {
        let ended = state.withLock { state -> Result<Int32, any Error>? in
            if let result = state.result { return result }
            state.continuation = continuation
            return nil
        }
        if let ended { continuation.resume(with: ended) }
    }

    var hasEnded: Bool { state.withLock { $0.result != nil } }

    /// Ends the wait with `result` unless it already ended.
    /// - Returns: whether this call ended it.
    @discardableResult
    func finish(_ result: Result<Int32, any Error>) -> Bool {
        let (ended, continuation) = state.withLock { state -> (Bool, CheckedContinuation<Int32, any Error>?) in
            guard state.result == nil else { return (false, nil) }
            state.result = result
            defer { state.continuation = nil }
            return (true, state.continuation)
        }
        continuation?.resume(with: result)
        return ended
    }
}
