import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// A sandbox's state behind one lock, optionally kept in a JSON file so that a restart of the
/// process (`ytempire up`) picks up where it left off. Every `withLock` counts as a change;
/// `saveIfChanged` writes the newest state (copied under the lock, encoded outside it), and a
/// `StatePersister` calls it every second and once more at shutdown.
final class PersistedState<State: Codable & Sendable>: Sendable {
    let file: URL?
    let logger: Logger
    private let current: Mutex<(state: State, version: Int)>
    /// The version last written; held while writing, so two saves never interleave.
    private let saved = Mutex(0)

    /// - Parameter file: where the state is kept; when it holds a readable state, that is
    ///   the starting state instead of `initial`.
    init(_ initial: State, file: URL?, logger: Logger) {
        self.file = file
        self.logger = logger
        var start = initial
        if let file, let data = try? Data(contentsOf: file) {
            do { start = try JSONDecoder().decode(State.self, from: data) } catch {
                logger.warning("the sandbox's state file is unreadable; starting empty", metadata: ["file": "\(file.path)", "error": "\(error)"])
            }
        }
        current = Mutex((start, 0))
    }

    /// Runs `body` on the state under the lock.
    func withLock<T, E: Error>(_ body: (inout State) throws(E) -> sending T) throws(E) -> sending T {
        try current.withLock { (box: inout (state: State, version: Int)) throws(E) -> sending T in
            box.version &+= 1
            return try body(&box.state)
        }
    }

    /// Writes the state to the file if it changed since the last write.
    func saveIfChanged() {
        guard let file else { return }
        saved.withLock { savedVersion in
            let (state, version) = current.withLock { ($0.state, $0.version) }
            guard version != savedVersion else { return }
            do {
                try JSONEncoder().encode(state).write(to: file, options: .atomic)
                savedVersion = version
            } catch {
                logger.error("the sandbox could not save its state", metadata: ["file": "\(file.path)", "error": "\(error)"])
            }
        }
    }
}

/// Saves a `PersistedState` every `interval` while the process runs, and once more when it
/// shuts down gracefully.
struct StatePersister<State: Codable & Sendable>: Service {
    let state: PersistedState<State>
    var interval: Duration = .seconds(1)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                state.saveIfChanged()
            }
        }
        state.saveIfChanged()
    }
}
