import Domain
import Foundation
import Logging
import PostgresNIO
import Queue

/// Publishing to YouTube as queue jobs (`video.publish` on `video_publish`): quota is
/// reserved on one of the user's accounts, the MP4 goes up with the resumable protocol,
/// then the thumbnail, then the video is `published`. A video is uploaded at most once: the
/// session URI is stored before the first byte and the YouTube id as soon as the upload
/// completes, so a retried or rescued attempt asks the session where it stands and resumes
/// it, or finishes what is left; a session YouTube forgot (expired unfinished) is the only
/// case that starts a new one. With no account able to take the upload, the job sleeps
/// until the Pacific midnight reset instead of failing or retrying in a loop.
public struct PublishJobs: Sendable {
    public let gateway: any YouTubeGateway
    public let accounts: YouTubeAccountRepository
    public let allocator: QuotaAllocator
    public let publications: PublicationStore
    let tokens: AccountTokens
    public let storage: any ArtifactStorage
    /// The clock quota days are counted by (tests move it).
    public let now: @Sendable () -> Date
    public let logger: Logger

    public init(client: PostgresClient, gateway: any YouTubeGateway, cipher: TokenCipher, policy: QuotaPolicy, storage: any ArtifactStorage,
                now: @escaping @Sendable () -> Date = { Date() }, logger: Logger) {
        self.gateway = gateway
        self.accounts = YouTubeAccountRepository(client: client, cipher: cipher, policy: policy, logger: logger)
        self.allocator = QuotaAllocator(client: client, policy: policy, logger: logger)
        self.publications = PublicationStore(client: client, logger: logger)
        self.tokens = AccountTokens(gateway: gateway, accounts: accounts)
        self.storage = storage
        self.now = now
        self.logger = logger
    }

    var policy: QuotaPolicy { allocator.policy }

    public func register(into registry: inout JobRegistry) {
        registry.register(PublishJobArgs.kind, timeout: .seconds(3600)) { context in try await publish(context) }
    }

    /// No account can take the upload before `until`.
    struct WaitForQuota: Error {
        var until: Date
    }

    func publish(_ context: JobContext) async throws -> JobResult {
        let args = try context.args(PublishJobArgs.self)
        let job = context.job
        guard let work = try await publications.work(videoID: args.videoID) else { return .cancel("the video or its publication was deleted") }
        guard work.videoStatus == .publishing || work.videoStatus == .waitingQuota else {
            return .cancel("the video is \(work.videoStatus.rawValue)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-publish-\(job.id)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        do {
            var accountID = work.accountID
            let uploadedBefore = work.youtubeVideoID != nil
            if !uploadedBefore { accountID = try await upload(work, scratch: scratch) }
            if let accountID, !work.thumbnailDone {
                try await setThumbnail(work, accountID: accountID, chargeAgain: uploadedBefore, scratch: scratch)
            }
            try await publications.finish(videoID: args.videoID, lease: context.lease)
            return .completedByHandler
        } catch let wait as WaitForQuota {
            try await publications.wait(videoID: args.videoID, until: wait.until, now: now())
            // Spread the wake-ups of everything waiting for the same midnight.
            let delay = max(1, wait.until.timeIntervalSince(now())) + Double.random(in: 0..<30)
            context.logger.info("no YouTube quota left; waiting for the reset", metadata: ["until": "\(wait.until)"])
            return .snooze(.milliseconds(Int64(delay * 1000)))
        } catch let error as YouTubeError where error.kind == .rejected {
            try await publications.fail(videoID: args.videoID, message: error.description, completing: context.lease)
            return .completedByHandler
        } catch let error as StageLostError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if job.attempt >= job.maxAttempts {
                try await publications.fail(videoID: args.videoID, message: "Publishing failed \(job.attempt) times: \(String(describing: error).prefix(300))")
            }
            throw error
        }
    }

    /// Uploads the video, resuming the stored session when there is one.
    /// - Returns: the account it went up on.
    func upload(_ work: PublishWork, scratch: URL) async throws -> String? {
        guard let key = work.videoKey else { throw YouTubeError(.rejected, status: 0, message: "the video has no MP4 to publish") }
        let file = scratch.appendingPathComponent("video.mp4")
        try await storage.fetch(key: key, to: file)
        let size = Int64((try FileManager.default.attributesOfItem(atPath: file.path)[.size] as? NSNumber)?.int64Value ?? work.videoSize)
        if let session = work.sessionURI {
            switch try await gateway.uploadStatus(session: session, size: size) {
            case .complete(let youtubeID):
                try await publications.recordUpload(videoID: work.videoID, youtubeVideoID: youtubeID, size: size)
                return work.accountID
            case .received(let bytes):
                try await send(work, file: file, size: size, from: bytes, session: session)
                return work.accountID
            case .expired:
                // YouTube keeps a finished session's answer, so a forgotten one never completed.
                logger.notice("upload session expired unfinished; opening a new one", metadata: ["video_id": "\(work.videoID)"])
            }
        }
        while true {
            guard let reservation = try await allocator.reserve(userID: work.userID, units: policy.uploadUnits,
                                                                channelID: work.linkedChannelID, now: now()) else {
                throw WaitForQuota(until: QuotaDay.nextReset(after: now()))
            }
            try await publications.assign(videoID: work.videoID, reservation: reservation)
            let session: String
            do {
                let opened = try await tokens.withToken(reservation.accountID) { token in
                    try await gateway.openUpload(work.metadata, size: size, contentType: "video/mp4", accessToken: token)
                }
                guard let opened else { continue }
                session = opened
            } catch let error as YouTubeError where error.kind == .quotaExceeded || error.kind == .uploadLimitExceeded {
                // Spent elsewhere, or the channel's daily uploads are used up: rest it until the reset.
                try await allocator.exhaust(accountID: reservation.accountID, now: now())
                try await accounts.recordFailure(accountID: reservation.accountID, message: error.description)
                continue
            } catch let error as YouTubeError where error.kind == .transient || error.kind == .unauthorized {
                try await accounts.recordFailure(accountID: reservation.accountID, message: error.description)
                throw error
            }
            try await publications.recordSession(videoID: work.videoID, uri: session, size: size)
            try await accounts.recordSuccess(accountID: reservation.accountID)
            try await send(work, file: file, size: size, from: 0, session: session)
            return reservation.accountID
        }
    }

    private func send(_ work: PublishWork, file: URL, size: Int64, from offset: Int64, session: String) async throws {
        switch try await gateway.upload(file: file, size: size, from: offset, session: session) {
        case .complete(let youtubeID):
            try await publications.recordUpload(videoID: work.videoID, youtubeVideoID: youtubeID, size: size)
        case .expired, .received:
            throw YouTubeError(.transient, status: 404, message: "the upload session ended before the upload completed")
        }
    }

    /// Sets the custom thumbnail. Its units were reserved with the upload; a later attempt
    /// (the first may have reached YouTube) reserves them again.
    private func setThumbnail(_ work: PublishWork, accountID: String, chargeAgain: Bool, scratch: URL) async throws {
        guard let key = work.thumbnailKey, let youtubeID = try await publications.publication(videoID: work.videoID).youtubeVideoID else { return }
        if chargeAgain, try await allocator.charge(accountID: accountID, units: policy.cost("thumbnails.set"), now: now()) == nil {
            throw WaitForQuota(until: QuotaDay.nextReset(after: now()))
        }
        let file = scratch.appendingPathComponent("thumbnail")
        try await storage.fetch(key: key, to: file)
        let image = try Data(contentsOf: file)
        do {
            let set: Void? = try await tokens.withToken(accountID) { token in
                try await gateway.setThumbnail(videoID: youtubeID, image: image, contentType: work.thumbnailType, accessToken: token)
            }
            if set != nil { try await publications.recordThumbnail(videoID: work.videoID) }
        } catch let error as YouTubeError where error.kind == .rejected || error.kind == .quotaExceeded {
            // The video is up; a refused thumbnail leaves YouTube's own frame, not an unpublished video.
            logger.warning("thumbnail not set", metadata: ["video_id": "\(work.videoID)", "error": "\(error)"])
        }
    }
}
