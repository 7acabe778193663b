import Foundation
import Logging

/// The claim loop of one queue and the run of one job.
extension Worker {
    /// Claims jobs of `queue` whenever woken (NOTIFY, poll, a freed slot) until shutdown, then
    /// waits for its running jobs. What to do at each step is `ClaimPlanner`'s decision.
    func produce(queue: String) async {
        guard let kicks = kickStreams[queue], let slots = configuration.queues[queue] else { return }
        var planner = ClaimPlanner(slots: slots)
        await withDiscardingTaskGroup { jobs in
            kick(queue)
            for await _ in kicks {
                rounds: while true {
                    switch planner.next(running: running.count(in: queue), stopping: isStopping) {
                    case .wait:
                        break rounds
                    case .coolDown:
                        // With a backlog, a slot freed by a quick job is followed by many more: wait
                        // a moment so one claim fills them all instead of one claim per slot.
                        try? await Task.sleep(for: configuration.fetchCooldown)
                    case .backOff:
                        try? await Task.sleep(for: .milliseconds(250))
                        break rounds
                    case .claim(let limit):
                        let claimed: [Job]
                        let sentAt = ContinuousClock.now
                        do {
                            // A claim that takes longer than a lease is given up: its jobs, if it took any, are rescued.
                            claimed = try await withDeadline(configuration.lease) { [store, configuration, logger] in
                                let jobs = try await store.claim(queue: queue, workerID: configuration.id, limit: limit, lease: configuration.lease)
                                if Task.isCancelled, !jobs.isEmpty {
                                    // Given up already: these jobs wait for the rescuer.
                                    logger.warning("claim answered after it was given up; left to the rescuer", metadata: [
                                        "queue": "\(queue)", "jobs": "\(jobs.map { "\($0.id)@\($0.attempt)" }.joined(separator: ","))",
                                    ])
                                }
                                return jobs
                            }
                        } catch {
                            logger.warning("claim failed", metadata: ["queue": "\(queue)", "error": "\(String(reflecting: error))"])
                            planner.claimFailed()
                            backlog.withLock { _ = $0.remove(queue) }
                            continue rounds
                        }
                        // Answered so late that the lease is about to run out: start nothing, leave
                        // the jobs to the rescuer (another worker may take them any moment).
                        if !claimed.isEmpty, ContinuousClock.now >= sentAt + configuration.lease - configuration.fenceMargin {
                            logger.warning("claim answered too late to run its jobs; left to the rescuer", metadata: [
                                "queue": "\(queue)", "jobs": "\(claimed.map { "\($0.id)@\($0.attempt)" }.joined(separator: ","))",
                            ])
                            planner.claimFailed()
                            continue rounds
                        }
                        metrics.claimed.increment(by: claimed.count)
                        let again = planner.claimed(claimed.count, limit: limit)
                        backlog.withLock { queues in
                            if again { queues.insert(queue) } else { queues.remove(queue) }
                        }
                        for job in claimed {
                            let stop = running.add(job.lease(workerID: configuration.id), queue: queue,
                                                   heldUntil: sentAt + configuration.lease)
                            jobs.addTask {
                                await self.execute(job, stop: stop)
                                if self.backlog.withLock({ $0.contains(queue) }) { self.kick(queue) }
                            }
                        }
                        onClaimRound(queue, claimed.count)
                        if !again { break rounds }
                    }
                }
                if isStopping { break }
            }
            await releaseAfterGrace(queue: queue)
        }
    }

    /// At shutdown: gives the queue's running jobs `shutdownGrace` to finish, then stops the
    /// rest so they go back to the queue unspent.
    private func releaseAfterGrace(queue: String) async {
        let grace = configuration.shutdownGrace
        let drained = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                await self.running.drained(queue)
                return true
            }
            group.addTask {
                try? await Task.sleep(for: grace)
                return false
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        let left = running.count(in: queue)
        if !drained, left > 0 {
            logger.warning("shutdown grace over; releasing running jobs", metadata: ["queue": "\(queue)", "count": "\(left)"])
            running.stopAll(in: queue, reason: .released)
        }
    }

    private enum Race: Sendable {
        case finished(Result<JobResult, any Error>)
        /// The watcher ended: with a reason to stop the handler, or nil once the handler finished.
        case stopped(StopReason?)
    }

    /// Runs one claimed job's handler, racing it against stop requests and its timeout, and
    /// records the outcome.
    func execute(_ job: Job, stop: AsyncStream<StopReason>) async {
        let lease = job.lease(workerID: configuration.id)
        guard let entry = registry.entry(for: job.kind) else {
            running.remove(lease)
            await record(job, .transition(.failed("no handler is registered for job kind '\(job.kind)' on worker \(configuration.id)")))
            return
        }
        let context = JobContext(job: job, workerID: configuration.id, store: store, workerLogger: logger)
        let result: Result<JobResult, any Error> = await withTaskGroup(of: Race.self) { group in
            group.addTask {
                do { return .finished(.success(try await entry.handler(context))) } catch { return .finished(.failure(error)) }
            }
            group.addTask {
                guard let timeout = entry.timeout else {
                    for await reason in stop { return .stopped(reason) }
                    return .stopped(nil)
                }
                return await withTaskGroup(of: StopReason?.self) { watch in
                    watch.addTask {
                        for await reason in stop { return reason }
                        return nil
                    }
                    watch.addTask {
                        try? await Task.sleep(for: timeout)
                        return Task.isCancelled ? nil : .timedOut(timeout)
                    }
                    while let next = await watch.next() {
                        if let reason = next {
                            watch.cancelAll()
                            return .stopped(reason)
                        }
                    }
                    return .stopped(nil)
                }
            }
            var outcome: Result<JobResult, any Error> = .failure(CancellationError())
            while let next = await group.next() {
                switch next {
                case .finished(let result):
                    outcome = result
                    group.cancelAll()
                case .stopped(let reason?):
                    if case .timedOut = reason { running.stop(lease, reason: reason) }
                    group.cancelAll()
                case .stopped(nil):
                    break
                }
            }
            return outcome
        }
        let stopReason = running.remove(lease)
        if let stopReason, stopReason == .leaseLost || stopReason == .leaseExpiring {
            // The stop itself was logged when it was decided (`stopUnheld`).
            JobContext.logger(for: job, base: logger).debug("stopped job's handler returned", metadata: [
                "job.attempt": "\(job.attempt)", "succeeded": "\((try? result.get()) != nil)",
            ])
        }
        await record(job, ending(of: result, stoppedFor: stopReason))
    }

    /// What the attempt amounts to, from the handler's result and why it was stopped.
    private func ending(of result: Result<JobResult, any Error>, stoppedFor reason: StopReason?) -> Outcome {
        switch (result, reason) {
        case (.success(let value), _):
            switch value {
            case .completed: return .complete
            case .completedByHandler: return .nothing
            case .snooze(let delay): return .transition(.snoozed(until: Date().addingTimeInterval(delay.seconds)))
            case .cancel(let why): return .transition(.cancelled(why))
            }
        case (.failure, .cancelRequested?): return .transition(.cancelled("cancel requested"))
        case (.failure, .released?): return .transition(.released)
        case (.failure, .leaseLost?): return .nothing
        // Left to the rescuer, like a worker that died: it counts toward the poison-pill rule.
        case (.failure, .leaseExpiring?): return .nothing
        case (.failure, .timedOut(let limit)?): return .transition(.failed("timed out after \(limit)"))
        case (.failure(let error), nil): return .transition(.failed(String(describing: error)))
        }
    }

    enum Outcome {
        case complete
        case transition(JobTransition.Ending)
        case nothing
    }

    private func record(_ job: Job, _ outcome: Outcome) async {
        switch outcome {
        case .complete:
            completer.complete(job.lease(workerID: configuration.id))
        case .nothing:
            return
        case .transition(let ending):
            let logger = JobContext.logger(for: job, base: logger)
            if case .failed(let message) = ending {
                metrics.failed.increment()
                logger.warning("job attempt failed", metadata: ["job.attempt": "\(job.attempt)", "error": "\(message)"])
            }
            let transition = JobTransition.after(ending, attempt: job.attempt, maxAttempts: job.maxAttempts,
                                                 now: Date(), retryPolicy: configuration.retryPolicy)
            for attempt in 1...5 {
                do {
                    let lease = job.lease(workerID: configuration.id)
                    if try await !withDeadline(configuration.lease, { [store] in try await store.finish(lease, transition: transition) }) {
                        logger.warning("job outcome refused: the job was taken from this worker", metadata: ["job.attempt": "\(job.attempt)"])
                    }
                    return
                } catch {
                    logger.error("recording a job outcome failed", metadata: ["error": "\(String(reflecting: error))"])
                    try? await Task.sleep(for: .milliseconds(100 * attempt * attempt))
                }
            }
        }
    }
}
