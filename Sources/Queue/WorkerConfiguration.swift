import Foundation

/// How a `Worker` runs. Every default is the one production uses.
public struct WorkerConfiguration: Sendable {
    /// This worker's id in `jobs.worker_id` and the `workers` table. Default `host-pid-random`.
    public var id: String
    /// Queues to work and the most jobs of each to run at once in this process.
    public var queues: [String: Int]
    /// How long a claimed job is held without a heartbeat before the rescuer may take it back.
    /// Default 30 s.
    public var lease: Duration
    /// How often running jobs' leases are extended. Default lease / 3; at most lease / 2.
    public var heartbeatInterval: Duration
    /// How long before its lease runs out unextended a running job is stopped (a sixth of the
    /// lease): a heartbeat every third of the lease leaves it two missed extensions.
    public var fenceMargin: Duration { lease / 6 }
    /// How often an idle producer looks for work when no notification arrived. Default 1 s.
    public var pollInterval: Duration
    /// How long a shutdown waits for running jobs before giving them back. Default 30 s.
    public var shutdownGrace: Duration
    /// Most job ids per completion statement. Default 1,000.
    public var completionBatchSize: Int
    /// With a backlog and fewer than half the slots free, how long a claim waits for more
    /// slots to free up, so claims stay batched. Default 2 ms.
    public var fetchCooldown: Duration = .milliseconds(2)
    /// Delays between failed attempts.
    public var retryPolicy: RetryPolicy

    public init(id: String = WorkerConfiguration.defaultID(), queues: [String: Int], lease: Duration = .seconds(30),
                heartbeatInterval: Duration? = nil, pollInterval: Duration = .seconds(1), shutdownGrace: Duration = .seconds(30),
                completionBatchSize: Int = 1000, retryPolicy: RetryPolicy = RetryPolicy()) {
        self.id = id
        self.queues = queues
        self.lease = lease
        // At most half the lease: an extension must land well before the fence's margin.
        self.heartbeatInterval = min(heartbeatInterval ?? lease / 3, lease / 2)
        self.pollInterval = pollInterval
        self.shutdownGrace = shutdownGrace
        self.completionBatchSize = completionBatchSize
        self.retryPolicy = retryPolicy
    }

    /// `host-pid-xxxx`: unique across restarts and machines, readable in `ytempire workers`.
    public static func defaultID() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "host"
        let suffix = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        return "\(host)-\(ProcessInfo.processInfo.processIdentifier)-\(suffix)"
    }

    /// Parses `default=16,video_script=8` (a bare name gets 10 slots).
    public static func parseQueues(_ spec: String) throws -> [String: Int] {
        var queues: [String: Int] = [:]
        for part in spec.split(separator: ",") {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            let name = pieces.first ?? ""
            guard QueueName.isValid(name) else {
                throw QueueError(.invalidConfiguration, "--queues: '\(name)' is not a valid queue name (letters, digits, '_', '-', '.')")
            }
            var slots = 10
            if pieces.count == 2 {
                guard let n = Int(pieces[1]), (1...10_000).contains(n) else {
                    throw QueueError(.invalidConfiguration, "--queues: slots for '\(name)' must be a number from 1 to 10000 (got '\(pieces[1])')")
                }
                slots = n
            }
            queues[name] = slots
        }
        guard !queues.isEmpty else {
            throw QueueError(.invalidConfiguration, "--queues needs at least one queue, e.g. default=16,video_script=8")
        }
        return queues
    }
}
