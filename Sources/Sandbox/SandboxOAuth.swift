import Foundation
import Hummingbird
import NIOCore

/// Google OAuth 2.0 for web server apps: the consent page, the token endpoint
/// (`authorization_code` and `refresh_token` grants), revocation and userinfo.
extension YouTubeSandbox {
    func addOAuthRoutes(to router: Router<SandboxContext>) {
        router.get("/o/oauth2/v2/auth") { request, _ in self.authorize(request) }
        router.post("/token") { request, _ in try await self.token(request) }
        router.post("/revoke") { request, _ in try await self.revokeToken(request) }
        router.get("/oauth2/v3/userinfo") { request, _ in self.userinfo(request) }
        // Not Google's: lets a demo revoke access the way a user would in their Google account.
        router.post("/sandbox/revoke") { request, _ -> Response in
            guard let email = request.uri.queryParameters["email"].map(String.init) else {
                return GoogleError.oauth("invalid_request", "email is required")
            }
            self.revoke(email: email)
            return json(["revoked": email])
        }
    }

    /// The consent page: with `login_hint` it approves at once and redirects back with a
    /// code; without, it shows a form asking which account to sign in with.
    func authorize(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let value = { (name: String) in query[name[...]].map(String.init) }
        guard let clientID = value("client_id"), !clientID.isEmpty else {
            return page("Error 400: invalid_request", "Required parameter is missing: client_id", status: .badRequest)
        }
        guard let redirect = value("redirect_uri"), let target = URLComponents(string: redirect), target.scheme != nil else {
            return page("Error 400: redirect_uri_mismatch", "The redirect URI in the request is missing or invalid.", status: .badRequest)
        }
        guard value("response_type") == "code" else {
            return page("Error 400: invalid_request", "response_type must be code", status: .badRequest)
        }
        guard let email = value("login_hint"), email.contains("@") else {
            let hidden = query.map { "<input type=\"hidden\" name=\"\(escape(String($0.key)))\" value=\"\(escape(String($0.value)))\">" }
                .filter { !$0.contains("name=\"login_hint\"") }.joined()
            return page("Sign in", """
                <p>YouTube sandbox: choose the Google account to connect.</p>
                <form method="get" action="/o/oauth2/v2/auth">\(hidden)
                <input name="login_hint" type="email" placeholder="channel@example.com" required>
                <button type="submit">Allow</button></form>
                """, status: .ok)
        }
        return Response(status: .found, headers: [.location: approve(query: query.reduce(into: [:]) { $0[String($1.key)] = String($1.value) },
                                                                     email: email, redirect: target)])
    }

    /// Signs `email` in and approves the request the way the consent page does, without a
    /// browser (tests and demos).
    /// - Returns: the redirect URI with `code` and `state`, or nil for a malformed request URL.
    public func consent(to authorizationURL: String, as email: String) -> String? {
        guard let components = URLComponents(string: authorizationURL),
              let redirect = components.queryItems?.first(where: { $0.name == "redirect_uri" })?.value,
              let target = URLComponents(string: redirect), target.scheme != nil else { return nil }
        let query = (components.queryItems ?? []).reduce(into: [String: String]()) { $0[$1.name] = $1.value ?? "" }
        guard query["client_id"]?.isEmpty == false else { return nil }
        return approve(query: query, email: email, redirect: target)
    }

    private func approve(query: [String: String], email: String, redirect target: URLComponents) -> String {
        var target = target
        let code = "4/" + SandboxID.make(40)
        let now = configuration.now()
        state.withLock { state in
            _ = state.account(email: email, now: now)
            state.grants[code] = .init(email: email, clientID: query["client_id"] ?? "", redirectURI: query["redirect_uri"] ?? "",
                                       scope: query["scope"] ?? "")
        }
        var items = target.queryItems ?? []
        items.append(URLQueryItem(name: "code", value: code))
        if let state = query["state"] { items.append(URLQueryItem(name: "state", value: state)) }
        items.append(URLQueryItem(name: "scope", value: query["scope"] ?? ""))
        target.queryItems = items
        return target.string ?? ""
    }

    func token(_ request: Request) async throws -> Response {
        let fields = formFields(try await request.body.collect(upTo: 64 << 10))
        guard let clientID = fields["client_id"], !clientID.isEmpty, fields["client_secret"] != nil else {
            return GoogleError.oauth("invalid_client", "The OAuth client was not found.", status: .unauthorized)
        }
        let now = configuration.now()
        let lifetime = configuration.accessTokenLifetime
        switch fields["grant_type"] {
        case "authorization_code":
            guard let code = fields["code"] else { return GoogleError.oauth("invalid_request", "Missing required parameter: code") }
            let issued = state.withLock { state -> (access: String, refresh: String, scope: String)? in
                guard let grant = state.grants.removeValue(forKey: code), grant.clientID == clientID,
                      grant.redirectURI == fields["redirect_uri"] else { return nil }
                let access = "ya29." + SandboxID.make(60), refresh = "1//" + SandboxID.make(60)
                state.tokens[access] = .init(email: grant.email, clientID: clientID, expiresAt: now.addingTimeInterval(lifetime), scope: grant.scope)
                state.refreshTokens[refresh] = .init(email: grant.email, clientID: clientID, scope: grant.scope)
                return (access, refresh, grant.scope)
            }
            guard let issued else { return GoogleError.oauth("invalid_grant", "Malformed auth code.") }
            return json(["access_token": issued.access, "refresh_token": issued.refresh, "expires_in": Int(lifetime),
                         "scope": issued.scope, "token_type": "Bearer"])
        case "refresh_token":
            guard let refresh = fields["refresh_token"] else {
                return GoogleError.oauth("invalid_request", "Missing required parameter: refresh_token")
            }
            let issued = state.withLock { state -> (access: String, scope: String)? in
                guard let grant = state.refreshTokens[refresh], !grant.revoked, grant.clientID == clientID else { return nil }
                let access = "ya29." + SandboxID.make(60)
                state.tokens[access] = .init(email: grant.email, clientID: clientID, expiresAt: now.addingTimeInterval(lifetime), scope: grant.scope)
                return (access, grant.scope)
            }
            guard let issued else { return GoogleError.oauth("invalid_grant", "Token has been expired or revoked.") }
            return json(["access_token": issued.access, "expires_in": Int(lifetime), "scope": issued.scope, "token_type": "Bearer"])
        default:
            return GoogleError.oauth("unsupported_grant_type", "Invalid grant_type: \(fields["grant_type"] ?? "")")
        }
    }

    func revokeToken(_ request: Request) async throws -> Response {
        let fields = formFields(try await request.body.collect(upTo: 64 << 10))
        guard let token = fields["token"] ?? request.uri.queryParameters["token"].map(String.init) else {
            return GoogleError.oauth("invalid_request", "Missing required parameter: token")
        }
        let known = state.withLock { state -> Bool in
            if let grant = state.refreshTokens[token] {
                state.refreshTokens[token]?.revoked = true
                state.tokens = state.tokens.filter { $0.value.email != grant.email || $0.value.clientID != grant.clientID }
                return true
            }
            return state.tokens.removeValue(forKey: token) != nil
        }
        return known ? json([:]) : GoogleError.oauth("invalid_token", "Token expired or revoked")
    }

    func userinfo(_ request: Request) -> Response {
        guard let (account, _) = caller(request) else { return GoogleError.unauthenticated() }
        return json(["sub": account.channelID, "email": account.email, "email_verified": true])
    }

    private func page(_ title: String, _ body: String, status: HTTPResponse.Status) -> Response {
        let html = "<!doctype html><html><head><meta charset=\"utf-8\"><title>\(escape(title))</title></head><body><h1>\(escape(title))</h1>\(body)</body></html>"
        return Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    private func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
