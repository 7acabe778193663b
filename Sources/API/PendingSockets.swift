import Synchronization

/// Sockets upgraded without a token wait for their `auth` message: how many may wait at
/// once on this instance, per address (the rate-limit key of the client) and in all.
final class PendingSockets: Sendable {
    let limitPerAddress: Int
    let limit: Int
    private let counts = Mutex<(byAddress: [String: Int], total: Int)>(([:], 0))

    init(limitPerAddress: Int, limit: Int) {
        self.limitPerAddress = limitPerAddress
        self.limit = limit
    }

    /// One socket's place; giving it back more than once gives it back once.
    final class Place: Sendable {
        private let owner: PendingSockets
        private let address: String
        private let held = Mutex(true)

        fileprivate init(owner: PendingSockets, address: String) {
            self.owner = owner
            self.address = address
        }

        func release() {
            guard held.withLock({ held in defer { held = false }; return held }) else { return }
            owner.counts.withLock { counts in
                counts.byAddress[address, default: 1] -= 1
                if counts.byAddress[address, default: 0] <= 0 { counts.byAddress[address] = nil }
                counts.total -= 1
            }
        }
    }

    /// Takes a place for `address`; nil when it, or the instance, has as many waiting as allowed.
    func reserve(_ address: String?) -> Place? {
        let key = address ?? ""
        let taken = counts.withLock { counts -> Bool in
            guard counts.total < limit, counts.byAddress[key, default: 0] < limitPerAddress else { return false }
            counts.byAddress[key, default: 0] += 1
            counts.total += 1
            return true
        }
        return taken ? Place(owner: self, address: key) : nil
    }
}
