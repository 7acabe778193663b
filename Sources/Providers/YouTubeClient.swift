import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1

/// Where Google's services live, and the OAuth client the product signs in with.
public struct YouTubeEndpoints: Sendable {
    /// The Data API host: `/youtube/v3/…`, `/upload/youtube/v3/…`, `/oauth2/v3/userinfo`.
    public var apiURL: String
    /// The YouTube Analytics API host: `/v2/reports`.
    public var analyticsURL: String
    public var authorizeURL: String
    public var tokenURL: String
    public var clientID: String
    public var clientSecret: String
    /// Where Google sends the user back (the API's OAuth callback route).
    public var redirectURL: String

    public init(apiURL: String = "https://www.googleapis.com", analyticsURL: String = "https://youtubeanalytics.googleapis.com",
                authorizeURL: String = "https://accounts.google.com/o/oauth2/v2/auth",
                tokenURL: String = "https://oauth2.googleapis.com/token", clientID: String, clientSecret: String, redirectURL: String) {
        self.apiURL = apiURL.hasSuffix("/") ? String(apiURL.dropLast()) : apiURL
        self.analyticsURL = analyticsURL.hasSuffix("/") ? String(analyticsURL.dropLast()) : analyticsURL
        self.authorizeURL = authorizeURL
        self.tokenURL = tokenURL
        self.clientID = clientID
        self.clientSecret = clientSecret
        self.redirectURL = redirectURL
    }

    /// Everything on one sandbox server (`ytempire sandbox youtube`).
    public static func sandbox(_ baseURL: String, redirectURL: String) -> YouTubeEndpoints {
        let base = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        return YouTubeEndpoints(apiURL: base, analyticsURL: base, authorizeURL: base + "/o/oauth2/v2/auth", tokenURL: base + "/token",
                                clientID: "ytempire-sandbox", clientSecret: "sandbox-secret", redirectURL: redirectURL)
    }
}

/// Google OAuth and the YouTube Data API v3 over async-http-client, with the resumable
/// upload protocol: chunks of `chunkSize` (a multiple of 256 KiB), and after a dropped or
/// failed chunk a status query (`bytes */size`) to resume where the server stands.
public struct YouTubeClient: YouTubeGateway {
    public var endpoints: YouTubeEndpoints
    public var chunkSize: Int
    public var timeout: Duration
    /// Failed chunks in a row before `upload` gives up (the job retries later, same session).
    public var chunkRetries: Int
    public var retryDelay: Duration
    let client: HTTPClient

    public static let scopes = [
        "https://www.googleapis.com/auth/youtube.upload", "https://www.googleapis.com/auth/youtube.readonly",
        OAuthTokens.analyticsScope, OAuthTokens.monetaryScope,
        "openid", "email",
    ]

    public init(endpoints: YouTubeEndpoints, chunkSize: Int = 8 << 20, timeout: Duration = .seconds(120), chunkRetries: Int = 8,
                retryDelay: Duration = .milliseconds(500), client: HTTPClient = .shared) {
        self.endpoints = endpoints
        self.chunkSize = max(256 << 10, chunkSize / (256 << 10) * (256 << 10))
        self.timeout = timeout
        self.chunkRetries = chunkRetries
        self.retryDelay = retryDelay
        self.client = client
    }

    // MARK: OAuth

    public func authorizationURL(state: String, loginHint: String?) -> String {
        var components = URLComponents(string: endpoints.authorizeURL) ?? URLComponents()
        var items = [
            URLQueryItem(name: "client_id", value: endpoints.clientID), URLQueryItem(name: "redirect_uri", value: endpoints.redirectURL),
            URLQueryItem(name: "response_type", value: "code"), URLQueryItem(name: "scope", value: Self.scopes.joined(separator: " ")),
            URLQueryItem(name: "access_type", value: "offline"), URLQueryItem(name: "prompt", value: "consent"),
            URLQueryItem(name: "include_granted_scopes", value: "true"), URLQueryItem(name: "state", value: state),
        ]
        if let loginHint { items.append(URLQueryItem(name: "login_hint", value: loginHint)) }
        components.queryItems = items
        return components.string ?? endpoints.authorizeURL
    }

    public func exchange(code: String) async throws -> OAuthTokens {
        try await tokenRequest(["grant_type": "authorization_code", "code": code, "redirect_uri": endpoints.redirectURL])
    }

    public func refresh(refreshToken: String) async throws -> OAuthTokens {
        try await tokenRequest(["grant_type": "refresh_token", "refresh_token": refreshToken])
    }

    private func tokenRequest(_ fields: [String: String]) async throws -> OAuthTokens {
        var all = fields
        all["client_id"] = endpoints.clientID
        all["client_secret"] = endpoints.clientSecret
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        let form = all.sorted { $0.key < $1.key }
            .map { "\($0.key)=\($0.value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "")" }.joined(separator: "&")
        let body = Data(form.utf8)
        let reply = try await send(.POST, endpoints.tokenURL, headers: [("Content-Type", "application/x-www-form-urlencoded")], body: body)
        guard reply.status == 200 else {
            let object = (try? JSONSerialization.jsonObject(with: reply.body)) as? [String: Any] ?? [:]
            let code = object["error"] as? String ?? ""
            let message = object["error_description"] as? String ?? code
            if code == "invalid_grant" { throw YouTubeError(.invalidGrant, status: reply.status, message: message) }
            throw Self.classify(reply)
        }
        let object = try Self.object(reply.body)
        guard let access = object["access_token"] as? String else {
            throw YouTubeError(.rejected, status: reply.status, message: "the token response has no access_token")
        }
        // Outside input: a lifetime that is not a number, negative or beyond a year is not believed.
        let stated = (object["expires_in"] as? NSNumber)?.doubleValue ?? 3600
        let lifetime = stated.isFinite ? min(max(stated, 0), 366 * 86_400) : 3600
        let scopes = (object["scope"] as? String).map { Set($0.prefix(4096).split(separator: " ").map(String.init)) }
        return OAuthTokens(accessToken: access, refreshToken: object["refresh_token"] as? String, expiresAt: Date().addingTimeInterval(lifetime),
                           grantedScopes: scopes)
    }

    public func email(accessToken: String) async throws -> String {
        let object = try await getJSON(endpoints.apiURL + "/oauth2/v3/userinfo", accessToken: accessToken)
        guard let email = object["email"] as? String else { throw YouTubeError(.rejected, status: 200, message: "userinfo has no email") }
        return email
    }

    // MARK: Data API

    public func myChannel(accessToken: String) async throws -> YouTubeChannelInfo {
        let object = try await getJSON(endpoints.apiURL + "/youtube/v3/channels?part=snippet,statistics&mine=true", accessToken: accessToken)
        guard let item = (object["items"] as? [[String: Any]])?.first, let id = item["id"] as? String else {
            throw YouTubeError(.rejected, status: 200, message: "the account has no YouTube channel")
        }
        let snippet = item["snippet"] as? [String: Any] ?? [:]
        let statistics = item["statistics"] as? [String: Any] ?? [:]
        return YouTubeChannelInfo(id: id, title: snippet["title"] as? String ?? "", subscribers: Self.count(statistics["subscriberCount"]),
                                  views: Self.count(statistics["viewCount"]), videoCount: Self.count(statistics["videoCount"]))
    }

    public func videoStatistics(ids: [String], accessToken: String) async throws -> [YouTubeVideoStats] {
        guard !ids.isEmpty else { return [] }
        let list = ids.prefix(50).joined(separator: ",").addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? ""
        let object = try await getJSON(endpoints.apiURL + "/youtube/v3/videos?part=statistics&id=\(list)", accessToken: accessToken)
        return (object["items"] as? [[String: Any]] ?? []).compactMap { item in
            guard let id = item["id"] as? String else { return nil }
            let statistics = item["statistics"] as? [String: Any] ?? [:]
            return YouTubeVideoStats(id: id, views: Self.count(statistics["viewCount"]), likes: Self.count(statistics["likeCount"]),
                                     comments: Self.count(statistics["commentCount"]))
        }
    }

    public func channels(ids: [String], accessToken: String) async throws -> [YouTubePublicChannel] {
        guard !ids.isEmpty else { return [] }
        let list = Self.queryValue(ids.prefix(50).joined(separator: ","))
        let object = try await getJSON(endpoints.apiURL + "/youtube/v3/channels?part=snippet,statistics,contentDetails&id=\(list)",
                                       accessToken: accessToken)
        return (object["items"] as? [[String: Any]] ?? []).compactMap { item in
            guard let id = item["id"] as? String else { return nil }
            let snippet = item["snippet"] as? [String: Any] ?? [:]
            let statistics = item["statistics"] as? [String: Any] ?? [:]
            let playlists = (item["contentDetails"] as? [String: Any])?["relatedPlaylists"] as? [String: Any]
            return YouTubePublicChannel(id: id, title: Self.text(snippet["title"]), subscribers: Self.count(statistics["subscriberCount"]),
                                        views: Self.count(statistics["viewCount"]), videoCount: Self.count(statistics["videoCount"]),
                                        uploadsPlaylist: (playlists?["uploads"] as? String).map { Self.text($0) })
        }
    }

    public func playlistVideos(playlistID: String, maxResults: Int, pageToken: String?, accessToken: String) async throws -> YouTubePlaylistPage {
        var url = endpoints.apiURL + "/youtube/v3/playlistItems?part=snippet,contentDetails&maxResults=\(min(max(maxResults, 1), 50))"
            + "&playlistId=\(Self.queryValue(playlistID))"
        if let pageToken { url += "&pageToken=\(Self.queryValue(pageToken))" }
        let object = try await getJSON(url, accessToken: accessToken)
        let next = (object["nextPageToken"] as? String).map { Self.text($0) }.flatMap { $0.isEmpty ? nil : $0 }
        let videos: [YouTubePlaylistVideo] = (object["items"] as? [[String: Any]] ?? []).prefix(50).compactMap { item in
            let details = item["contentDetails"] as? [String: Any] ?? [:]
            let snippet = item["snippet"] as? [String: Any] ?? [:]
            guard let videoID = details["videoId"] as? String ?? ((snippet["resourceId"] as? [String: Any])?["videoId"] as? String) else { return nil }
            return YouTubePlaylistVideo(videoID: Self.text(videoID), title: Self.text(snippet["title"]),
                                        publishedAt: Self.date(details["videoPublishedAt"] ?? snippet["publishedAt"]))
        }
        return YouTubePlaylistPage(videos: videos, nextPageToken: next)
    }

    public func mostPopular(regionCode: String, categoryID: String?, maxResults: Int, accessToken: String) async throws -> [YouTubeChartVideo] {
        var url = endpoints.apiURL + "/youtube/v3/videos?part=snippet,statistics&chart=mostPopular&maxResults=\(min(max(maxResults, 1), 50))"
            + "&regionCode=\(Self.queryValue(regionCode))"
        if let categoryID { url += "&videoCategoryId=\(Self.queryValue(categoryID))" }
        let object = try await getJSON(url, accessToken: accessToken)
        return (object["items"] as? [[String: Any]] ?? []).compactMap { item in
            guard let id = item["id"] as? String else { return nil }
            let snippet = item["snippet"] as? [String: Any] ?? [:]
            let statistics = item["statistics"] as? [String: Any] ?? [:]
            let tags = (snippet["tags"] as? [Any] ?? []).prefix(100).compactMap { $0 as? String }.map { Self.text($0) }
            return YouTubeChartVideo(id: Self.text(id), channelTitle: Self.text(snippet["channelTitle"]), title: Self.text(snippet["title"]),
                                     tags: tags, views: Self.count(statistics["viewCount"]), publishedAt: Self.date(snippet["publishedAt"]))
        }
    }

    public func setThumbnail(videoID: String, image: Data, contentType: String, accessToken: String) async throws {
        let id = videoID.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? videoID
        let reply = try await send(.POST, endpoints.apiURL + "/upload/youtube/v3/thumbnails/set?videoId=\(id)",
                                   headers: [("Authorization", "Bearer \(accessToken)"), ("Content-Type", contentType)], body: image)
        guard reply.status == 200 else { throw Self.classify(reply) }
    }

    // MARK: Analytics

    public func analyticsReport(_ query: AnalyticsQuery, accessToken: String) async throws -> AnalyticsTable {
        var components = URLComponents()
        var items = [URLQueryItem(name: "ids", value: "channel==MINE"), URLQueryItem(name: "startDate", value: query.startDate),
                     URLQueryItem(name: "endDate", value: query.endDate), URLQueryItem(name: "metrics", value: query.metrics.joined(separator: ","))]
        if query.dimension != .none { items.append(URLQueryItem(name: "dimensions", value: query.dimension.rawValue)) }
        if let sort = query.sort { items.append(URLQueryItem(name: "sort", value: sort)) }
        if let maxResults = query.maxResults { items.append(URLQueryItem(name: "maxResults", value: String(maxResults))) }
        if let videos = query.videoIDs, !videos.isEmpty { items.append(URLQueryItem(name: "filters", value: "video==" + videos.joined(separator: ","))) }
        components.queryItems = items
        let object = try await getJSON(endpoints.analyticsURL + "/v2/reports" + (components.string ?? ""), accessToken: accessToken)
        return try Self.table(object)
    }

    /// A `resultTable`, checked: every row as long as the headers, dimension cells text,
    /// metric cells finite numbers within `maximumCount`. No `rows` key means no data.
    static func table(_ object: [String: Any]) throws -> AnalyticsTable {
        guard let headers = object["columnHeaders"] as? [[String: Any]] else {
            throw YouTubeError(.rejected, status: 200, message: "the report has no columnHeaders")
        }
        let columns = headers.map { ($0["name"] as? String) ?? "" }
        let isDimension = headers.map { ($0["columnType"] as? String) == "DIMENSION" }
        var rows: [[AnalyticsCell]] = []
        for raw in (object["rows"] as? [[Any]]) ?? [] {
            guard raw.count == columns.count else { throw YouTubeError(.rejected, status: 200, message: "a report row does not match its headers") }
            rows.append(try zip(raw, isDimension).map { cell, dimension in
                if dimension {
                    guard let text = cell as? String, text.utf8.count <= 200 else {
                        throw YouTubeError(.rejected, status: 200, message: "a report dimension is not text")
                    }
                    return .text(text)
                }
                guard let number = (cell as? NSNumber)?.doubleValue, number.isFinite, abs(number) <= Double(maximumCount) else {
                    throw YouTubeError(.rejected, status: 200, message: "a report metric is not a number in range")
                }
                return .number(number)
            })
        }
        return AnalyticsTable(columns: columns, rows: rows)
    }

    // MARK: Resumable upload

    public func openUpload(_ metadata: UploadMetadata, size: Int64, contentType: String, accessToken: String) async throws -> String {
        let body = try JSONSerialization.data(withJSONObject: [
            "snippet": ["title": metadata.title, "description": metadata.description, "tags": metadata.tags, "categoryId": "22"],
            "status": ["privacyStatus": metadata.privacyStatus, "selfDeclaredMadeForKids": false],
        ] as [String: Any])
        let reply = try await send(.POST, endpoints.apiURL + "/upload/youtube/v3/videos?uploadType=resumable&part=snippet,status", headers: [
            ("Authorization", "Bearer \(accessToken)"), ("Content-Type", "application/json; charset=UTF-8"),
            ("X-Upload-Content-Length", String(size)), ("X-Upload-Content-Type", contentType),
        ], body: body)
        guard reply.status == 200 else { throw Self.classify(reply) }
        guard let location = reply.headers.first(name: "location"), !location.isEmpty else {
            throw YouTubeError(.transient, status: reply.status, message: "the upload session has no Location")
        }
        return location
    }

    public func uploadStatus(session: String, size: Int64) async throws -> UploadProgress {
        let reply = try await send(.PUT, session, headers: [("Content-Range", "bytes */\(size)")], body: Data())
        return try Self.progress(reply)
    }

    public func upload(file: URL, size: Int64, from offset: Int64, session: String) async throws -> UploadProgress {
        let handle = try FileHandle(forReadingFrom: file)
        defer { try? handle.close() }
        var position: Int64? = offset
        var failures = 0
        while true {
            do {
                // After a failure the server may hold more (or less) than was acknowledged: ask.
                guard let start = position else {
                    let progress = try await uploadStatus(session: session, size: size)
                    guard case .received(let bytes) = progress else { return progress }
                    position = bytes
                    continue
                }
                try handle.seek(toOffset: UInt64(start))
                let chunk = try handle.read(upToCount: Int(min(Int64(chunkSize), size - start))) ?? Data()
                guard !chunk.isEmpty else { throw YouTubeError(.rejected, status: 0, message: "the file is shorter than \(size) bytes") }
                let end = start + Int64(chunk.count) - 1
                let reply = try await send(.PUT, session, headers: [("Content-Range", "bytes \(start)-\(end)/\(size)")], body: chunk)
                let progress = try Self.progress(reply)
                guard case .received(let bytes) = progress else { return progress }
                position = bytes
                failures = 0
            } catch let error as YouTubeError where error.kind == .transient {
                failures += 1
                guard failures <= chunkRetries else { throw error }
                position = nil
                try await Task.sleep(for: retryDelay * (1 << min(failures - 1, 5)))
            }
        }
    }

    /// A chunk's or status query's answer: 308 with `Range`, 200/201 with the video, 404 gone.
    static func progress(_ reply: Reply) throws -> UploadProgress {
        switch reply.status {
        case 308:
            guard let range = reply.headers.first(name: "range"), let last = range.split(separator: "-").last.flatMap({ Int64($0) }) else {
                return .received(bytes: 0)
            }
            guard last >= 0, last < Int64.max else {
                throw YouTubeError(.transient, status: reply.status, message: "the upload's Range header is out of bounds")
            }
            return .received(bytes: last + 1)
        case 200, 201:
            guard let id = (try? object(reply.body))?["id"] as? String else {
                throw YouTubeError(.transient, status: reply.status, message: "the completed upload has no video id")
            }
            return .complete(videoID: id)
        case 404, 410:
            return .expired
        default:
            throw classify(reply)
        }
    }

    // MARK: HTTP

    struct Reply {
        var status: Int
        var headers: HTTPHeaders
        var body: Data
    }

    private func getJSON(_ url: String, accessToken: String) async throws -> [String: Any] {
        let reply = try await send(.GET, url, headers: [("Authorization", "Bearer \(accessToken)")], body: nil)
        guard reply.status == 200 else { throw Self.classify(reply) }
        return try Self.object(reply.body)
    }

    /// One request; a failure to connect or a lost answer is `transient`.
    private func send(_ method: HTTPMethod, _ url: String, headers: [(String, String)], body: Data?) async throws -> Reply {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            let bytes = try await response.body.collect(upTo: 16 << 20)
            return Reply(status: Int(response.status.code), headers: response.headers, body: Data(buffer: bytes))
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw YouTubeError(.transient, status: 0, message: "no answer: \(error)")
        }
    }

    /// Google's error body (`error.errors[0].reason`) in the product's terms.
    static func classify(_ reply: Reply) -> YouTubeError {
        let object = (try? object(reply.body)) ?? [:]
        let error = object["error"] as? [String: Any] ?? [:]
        let reason = ((error["errors"] as? [[String: Any]])?.first?["reason"] as? String) ?? ""
        let message = String((error["message"] as? String ?? String(decoding: reply.body.prefix(300), as: UTF8.self)).prefix(300))
        switch (reply.status, reason) {
        case (_, "quotaExceeded"), (_, "dailyLimitExceeded"): return YouTubeError(.quotaExceeded, status: reply.status, message: message)
        case (_, "uploadLimitExceeded"): return YouTubeError(.uploadLimitExceeded, status: reply.status, message: message)
        case (_, "rateLimitExceeded"), (_, "userRateLimitExceeded"), (408, _), (429, _), (500..., _):
            return YouTubeError(.transient, status: reply.status, message: message)
        case (401, _): return YouTubeError(.unauthorized, status: reply.status, message: message)
        default: return YouTubeError(.rejected, status: reply.status, message: message)
        }
    }

    static func object(_ data: Data) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw YouTubeError(.rejected, status: 200, message: "the answer is not a JSON object")
        }
        return object
    }

    /// The largest count believed: far above any real channel's, and small enough that sums
    /// and differences of counts can never overflow.
    static let maximumCount: Int64 = 1_000_000_000_000_000

    /// A string from Google, cut to a length nothing real exceeds and without NUL.
    static func text(_ value: Any?) -> String {
        String((value as? String ?? "").filter { $0 != "\u{0}" }.prefix(500))
    }

    /// An RFC 3339 time from Google, nil when absent or malformed.
    static func date(_ value: Any?) -> Date? {
        guard let text = value as? String, text.utf8.count <= 40 else { return nil }
        return (try? Date(text, strategy: .iso8601)) ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
    }

    /// A query parameter's value, percent-encoded strictly.
    static func queryValue(_ value: String) -> String {
        let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~,")
        return value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// Google sends counts as strings; anything negative, not a number or beyond
    /// `maximumCount` is cut into `0...maximumCount`.
    static func count(_ value: Any?) -> Int64 {
        let raw: Int64
        if let text = value as? String {
            raw = Int64(text) ?? 0
        } else if let number = value as? NSNumber {
            let double = number.doubleValue
            raw = double.isFinite ? Int64(min(max(double, 0), Double(maximumCount))) : 0
        } else {
            raw = 0
        }
        return min(max(raw, 0), maximumCount)
    }
}
