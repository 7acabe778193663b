import ArgumentParser
import Domain
import Foundation
import Queue

/// `ytempire users grant-operator|revoke-operator EMAIL`: the operator role is granted only
/// here, by someone who can reach the database, and each change is in the audit log.
struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "Grant and revoke the operator role (the admin API, /api/v1/admin/...).",
        subcommands: [GrantOperator.self, RevokeOperator.self])

    struct GrantOperator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "grant-operator", abstract: "Make a user an operator.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The user's email.") var email: String

        func run() async throws {
            try await UsersCommand.set(email: email, granted: true, global: global)
            print("\(email) is an operator (the admin API lets them in from their next request)")
        }
    }

    struct RevokeOperator: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "revoke-operator", abstract: "Take the operator role away from a user.")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "The user's email.") var email: String

        func run() async throws {
            try await UsersCommand.set(email: email, granted: false, global: global)
            print("\(email) is no longer an operator (the admin API refuses them at once)")
        }
    }

    static func set(email: String, granted: Bool, global: GlobalOptions) async throws {
        let logger = try global.makeLogger()
        try await global.database().withClient { client in
            do {
                try await Operators(client: client, logger: logger).set(email: email, granted: granted,
                                                                        by: OperatorActions.commandLine(client, logger).actor)
            } catch let error as DomainError where error.code == .notFound {
                throw CommandFailure(error.message)
            }
        }
    }
}
