import Foundation
import Queue

extension Migration {
    /// The domain's migrations (versions 100 and up), shipped as resources of this module.
    public static func domain() throws -> [Migration] {
        guard let url = Bundle.module.url(forResource: "Migrations", withExtension: nil) else {
            throw QueueError(.invalidConfiguration, "the domain's migrations are missing from the installation")
        }
        return try load(from: url)
    }

    /// Every migration this build knows: the queue's, then the domain's.
    public static func all() throws -> [Migration] {
        try queue() + domain()
    }
}
