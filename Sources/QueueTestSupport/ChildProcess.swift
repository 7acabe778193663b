import Foundation
import Queue

/// A real `ytempire` process started by a test (workers and dispatchers that tests kill).
///
/// The binary is `YTEMPIRE_BIN`, which `ops/test` sets to the freshly built executable.
public final class ChildProcess: Sendable {
    public let process: Process
    public let outputPath: String

    /// Starts `ytempire ARGS` with `DATABASE_URL` set.
    public static func ytempire(_ arguments: [String], databaseURL: String, environment: [String: String] = [:]) throws -> ChildProcess {
        guard let binary = ProcessInfo.processInfo.environment["YTEMPIRE_BIN"], FileManager.default.isExecutableFile(atPath: binary) else {
            throw QueueError(.invalidConfiguration, "YTEMPIRE_BIN does not name the built ytempire executable: run the tests with ops/test")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = databaseURL
        for (key, value) in environment { env[key] = value }
        process.environment = env
        let outputPath = NSTemporaryDirectory() + "ytempire-child-\(UUID().uuidString).log"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        return ChildProcess(process: process, outputPath: outputPath)
    }

    private init(process: Process, outputPath: String) {
        self.process = process
        self.outputPath = outputPath
    }

    public var pid: Int32 { process.processIdentifier }

    /// Sends a signal (SIGKILL to simulate a crash, SIGTERM for a deploy).
    public func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    /// Waits up to `timeout` for the process to exit; returns its status, or nil if it still runs.
    public func waitForExit(timeout: Duration = .seconds(30)) async -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        return process.isRunning ? nil : process.terminationStatus
    }

    /// What the process printed so far.
    public var output: String {
        (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        try? FileManager.default.removeItem(atPath: outputPath)
    }
}
