import Domain
import Foundation
import Providers
import Sandbox
import Testing

/// The real client against a sandbox, and a sign-in through its consent page.
enum SandboxSignIn {
    static func client(_ base: String) -> YouTubeClient {
        YouTubeClient(endpoints: .sandbox(base, redirectURL: "http://127.0.0.1:1/callback"), timeout: .seconds(10))
    }

    /// Signs `email` in, optionally granting only some of the client's scopes.
    static func tokens(_ sandbox: YouTubeSandbox, _ client: YouTubeClient, email: String, scopes: [String]? = nil) async throws -> OAuthTokens {
        var url = try #require(URLComponents(string: client.authorizationURL(state: "s", loginHint: nil)))
        if let scopes {
            url.queryItems = url.queryItems?.map { $0.name == "scope" ? URLQueryItem(name: "scope", value: scopes.joined(separator: " ")) : $0 }
        }
        let authorization = try #require(url.string)
        let redirect = try #require(sandbox.consent(to: authorization, as: email))
        let code = try #require(URLComponents(string: redirect)?.queryItems?.first { $0.name == "code" }?.value)
        return try await client.exchange(code: code)
    }
}
