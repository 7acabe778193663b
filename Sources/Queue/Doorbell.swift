import Synchronization

/// Wakes a periodic loop early. `ring` ends the current `wait`, or the next one when nobody is
/// waiting (rings in between count as one). One waiter at a time.
public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    public func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at a ring (at once if one came since the last wait), after `timeout`, or when
    /// the task is cancelled.
    public func wait(timeout: Duration) async {
        let timer = Task { [self] in
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            ring()
        }
        defer { timer.cancel() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let early = state.withLock { state -> Bool in
                    guard !state.rung else {
                        state.rung = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if early { continuation.resume() }
            }
        } onCancel: {
            ring()
        }
    }
}
