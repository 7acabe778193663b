import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `videos.insert` with the resumable upload protocol: the POST that opens a session
/// (charged `videos.insert` units) answers 200 with its URI in `Location`; `PUT`s carry
/// chunks with `Content-Range: bytes a-b/total` and are answered `308` with
/// `Range: bytes=0-n` until the last, which answers `201` with the video; `bytes */total`
/// asks how much arrived. A finished session keeps answering with its video, so a client
/// that lost the final answer learns the upload completed instead of uploading again.
extension YouTubeSandbox {
    func addUploadRoutes(to router: Router<SandboxContext>) {
        router.post("/upload/youtube/v3/videos") { request, _ in try await self.openSession(request) }
        router.put("/upload/youtube/v3/videos") { request, context in try await self.receive(request, context: context) }
    }

    func openSession(_ request: Request) async throws -> Response {
        guard let (account, clientID) = caller(request) else { return GoogleError.unauthenticated() }
        guard request.uri.queryParameters["uploadType"] == "resumable" else {
            return GoogleError.api(.badRequest, reason: "badRequest", message: "The sandbox supports uploadType=resumable only")
        }
        if let failure = try await injectedFailure() { return failure }
        let metadataBuffer = try await request.body.collect(upTo: 1 << 20)
        let metadata = (try? JSONSerialization.jsonObject(with: Data(buffer: metadataBuffer))) as? [String: Any] ?? [:]
        let snippet = metadata["snippet"] as? [String: Any] ?? [:]
        guard let title = snippet["title"] as? String, !title.trimmingCharacters(in: .whitespaces).isEmpty, title.count <= 100,
              !title.contains("<"), !title.contains(">") else {
            return GoogleError.api(.badRequest, reason: "invalidTitle", domain: "youtube.video",
                                   message: "The request metadata specifies an invalid or empty video title.")
        }
        // YouTube takes files up to 256 GB.
        guard let total = request.headers[HTTPField.Name("X-Upload-Content-Length")!].flatMap(Int.init), total > 0, total <= 256 << 30 else {
            return GoogleError.api(.badRequest, reason: "badContent", domain: "youtube.video",
                                   message: "X-Upload-Content-Length must give the video's size in bytes.")
        }
        let contentType = request.headers[HTTPField.Name("X-Upload-Content-Type")!] ?? "video/*"
        guard contentType.hasPrefix("video/") || contentType == "application/octet-stream" else {
            return GoogleError.api(.badRequest, reason: "invalidContentType", domain: "youtube.video",
                                   message: "The uploaded file has an unsupported content type.")
        }
        let now = configuration.now()
        let day = PacificDay.of(now)
        let limit = configuration.uploadsPerChannelPerDay
        let atLimit = state.withLock { ($0.accounts[account.email]?.uploadsByDay[day] ?? 0) >= limit }
        if atLimit {
            return GoogleError.api(.badRequest, reason: "uploadLimitExceeded", domain: "youtube.video",
                                   message: "The user has exceeded the number of videos they may upload.")
        }
        if let refused = charge("videos.insert", channelID: account.channelID, clientID: clientID) { return refused }
        let uploadID = SandboxID.make(32)
        state.withLock { state in
            state.sessions[uploadID] = .init(channelID: account.channelID, total: total, contentType: contentType, title: title,
                                             description: snippet["description"] as? String ?? "", tags: snippet["tags"] as? [String] ?? [],
                                             privacyStatus: (metadata["status"] as? [String: Any])?["privacyStatus"] as? String ?? "private",
                                             createdAt: now)
        }
        let host = request.head.authority ?? "127.0.0.1"
        let part = request.uri.queryParameters["part"].map(String.init) ?? "snippet,status"
        let location = "http://\(host)/upload/youtube/v3/videos?uploadType=resumable&upload_id=\(uploadID)&part=\(part)"
        return Response(status: .ok, headers: [.location: location, HTTPField.Name("X-GUploader-UploadID")!: uploadID])
    }

    func receive(_ request: Request, context: SandboxContext) async throws -> Response {
        guard let uploadID = request.uri.queryParameters["upload_id"].map(String.init) else {
            return GoogleError.api(.badRequest, reason: "badRequest", message: "upload_id is required")
        }
        let now = configuration.now()
        let lifetime = configuration.sessionLifetime
        let session = state.withLock { state -> SandboxState.Session? in
            guard let session = state.sessions[uploadID] else { return nil }
            if session.videoID == nil, now.timeIntervalSince(session.createdAt) > lifetime {
                state.sessions[uploadID] = nil
                return nil
            }
            return session
        }
        guard let session else {
            return GoogleError.api(.notFound, reason: "notFound", message: "The upload session does not exist or has expired.")
        }
        if let videoID = session.videoID { return videoResponse(videoID, status: .ok) }
        guard let range = ContentRange(request.headers[.contentRange]), range.total == session.total else {
            return GoogleError.api(.badRequest, reason: "badContentRange", message: "Content-Range must be bytes a-b/\(session.total) or bytes */\(session.total)")
        }
        guard let start = range.start else { return progress(session.received.count) }
        if let failure = try await injectedFailure() { return failure }
        guard start <= session.received.count else { return progress(session.received.count) }
        let drop = configuration.faults.dropRate > 0 && Double.random(in: 0..<1) < configuration.faults.dropRate
        var chunk = Data()
        for try await buffer in request.body {
            chunk.append(contentsOf: buffer.readableBytesView)
            if drop, chunk.count >= (range.length + 1) / 2 {
                // The connection dies halfway: what arrived is kept, no answer is sent.
                _ = append(chunk, at: start, to: uploadID, now: now)
                state.withLock { $0.faultsInjected += 1 }
                try? await context.channel.close()
                throw CancellationError()
            }
        }
        guard chunk.count == range.length else {
            return GoogleError.api(.badRequest, reason: "badContent", message: "The chunk's length does not match its Content-Range.")
        }
        guard let (received, videoID) = append(chunk, at: start, to: uploadID, now: now) else {
            return GoogleError.api(.notFound, reason: "notFound", message: "The upload session does not exist or has expired.")
        }
        if let videoID { return videoResponse(videoID, status: .created) }
        return progress(received)
    }

    /// Adds the bytes past what the session already holds; the last byte creates the video.
    private func append(_ chunk: Data, at start: Int, to uploadID: String, now: Date) -> (received: Int, videoID: String?)? {
        state.withLock { state in
            guard var session = state.sessions[uploadID] else { return nil }
            let skip = session.received.count - start
            if skip >= 0, skip < chunk.count { session.received.append(chunk.dropFirst(skip)) }
            if session.received.count >= session.total, session.videoID == nil {
                let id = SandboxID.make(11)
                state.videos[id] = .init(id: id, channelID: session.channelID, title: session.title, description: session.description,
                                         tags: session.tags, privacyStatus: session.privacyStatus, contentType: session.contentType,
                                         bytes: session.received.prefix(session.total), publishedAt: now)
                state.videoOrder.append(id)
                if let email = state.account(channelID: session.channelID)?.email {
                    state.accounts[email]?.uploadsByDay[PacificDay.of(now), default: 0] += 1
                }
                session.videoID = id
            }
            state.sessions[uploadID] = session
            return (session.received.count, session.videoID)
        }
    }

    private func progress(_ received: Int) -> Response {
        var headers: HTTPFields = [:]
        if received > 0 { headers[.range] = "bytes=0-\(received - 1)" }
        // 308 is "Resume Incomplete" in Google's protocol.
        return Response(status: .init(code: 308, reasonPhrase: "Resume Incomplete"), headers: headers)
    }

    private func videoResponse(_ videoID: String, status: HTTPResponse.Status) -> Response {
        let video = state.withLock { $0.videos[videoID] }
        guard let video else { return GoogleError.api(.notFound, reason: "videoNotFound", message: "The video no longer exists.") }
        return json([
            "kind": "youtube#video", "id": video.id,
            "snippet": ["title": video.title, "description": video.description, "channelId": video.channelID, "tags": video.tags,
                        "publishedAt": Self.timestamp(video.publishedAt)],
            "status": ["uploadStatus": "uploaded", "privacyStatus": video.privacyStatus],
        ], status: status)
    }
}

/// `Content-Range: bytes a-b/total` (a chunk) or `bytes */total` (a status query).
struct ContentRange {
    var start: Int?
    var end: Int?
    var total: Int
    var length: Int {
        guard let start, let end else { return 0 }
        return end - start + 1
    }

    init?(_ header: String?) {
        guard let header, header.hasPrefix("bytes ") else { return nil }
        let parts = header.dropFirst("bytes ".count).split(separator: "/")
        guard parts.count == 2, let total = Int(parts[1]), total > 0, total <= 256 << 30 else { return nil }
        self.total = total
        if parts[0] == "*" { return }
        let bounds = parts[0].split(separator: "-")
        guard bounds.count == 2, let start = Int(bounds[0]), let end = Int(bounds[1]), start <= end, end < total else { return nil }
        self.start = start
        self.end = end
    }
}
