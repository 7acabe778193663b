import Foundation

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
        let status: Int32 = try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                process.terminationHandler = { finished in continuation.resume(returning: finished.terminationStatus) }
                do {
                    try process.run()
                } catch {
                    process.terminationHandler = nil
                    continuation.resume(throwing: Failure(tool: tool, status: -1, message: "could not start: \(error)"))
                }
            }
        } onCancel: {
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
