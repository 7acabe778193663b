import Domain

// The domain's statuses and kinds as the contract's enums. Exhaustive switches: a case added
// on either side without the other is a build error, never a silent fallback.

extension Components.Schemas.Channel.StatusPayload {
    init(_ status: ChannelStatus) {
        switch status {
        case .active: self = .active
        case .suspended: self = .suspended
        }
    }
}

extension Components.Schemas.VideoStage.StagePayload {
    init(_ stage: PipelineStage) {
        switch stage {
        case .script: self = .script
        case .voice: self = .voice
        case .thumbnail: self = .thumbnail
        case .assemble: self = .assemble
        case .review: self = .review
        }
    }
}

extension Components.Schemas.VideoStage.StatusPayload {
    init(_ status: StageStatus) {
        switch status {
        case .pending: self = .pending
        case .running: self = .running
        case .completed: self = .completed
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        }
    }
}

extension Components.Schemas.ArtifactInfo.KindPayload {
    init(_ kind: ArtifactKind) {
        switch kind {
        case .script: self = .script
        case .audio: self = .audio
        case .thumbnail: self = .thumbnail
        case .video: self = .video
        }
    }
}

extension Components.Schemas.Publication.StatusPayload {
    init(_ state: PublicationState) {
        switch state {
        case .queued: self = .queued
        case .waitingQuota: self = .waitingQuota
        case .uploading: self = .uploading
        case .published: self = .published
        case .failed: self = .failed
        }
    }
}

extension Components.Schemas.YouTubeAccount.StatusPayload {
    init(_ status: YouTubeAccountStatus) {
        switch status {
        case .active: self = .active
        case .coolingDown: self = .coolingDown
        case .authExpired: self = .authExpired
        }
    }
}

extension Components.Schemas.AccountQuota.StatusPayload {
    init(_ status: YouTubeAccountStatus) {
        switch status {
        case .active: self = .active
        case .coolingDown: self = .coolingDown
        case .authExpired: self = .authExpired
        }
    }
}

extension Components.Schemas.Webhook.StatusPayload {
    init(_ status: WebhookEndpointStatus) {
        switch status {
        case .active: self = .active
        case .disabled: self = .disabled
        }
    }
}

extension Components.Schemas.YouTubeAccount.AnalyticsAccessPayload {
    init(_ access: AnalyticsAccess) {
        switch access {
        case .granted: self = .granted
        case .noRevenue: self = .noRevenue
        case .reconnectRequired: self = .reconnectRequired
        }
    }
}

extension Components.Schemas.AnalyticsBackfill.StatusPayload {
    init(_ status: AnalyticsBackfill.Status) {
        switch status {
        case .pending: self = .pending
        case .running: self = .running
        case .completed: self = .completed
        case .failed: self = .failed
        }
    }
}

extension Components.Schemas.Competitor.StatusPayload {
    init(_ status: Competitor.Status) {
        switch status {
        case .pending: self = .pending
        case .active: self = .active
        case .notFound: self = .notFound
        }
    }
}

extension Components.Schemas.ComparedChannel.StatusPayload {
    init(_ status: Competitor.Status) {
        switch status {
        case .pending: self = .pending
        case .active: self = .active
        case .notFound: self = .notFound
        }
    }
}

extension Components.Schemas.Video.KindPayload {
    init(_ kind: VideoKind) {
        switch kind {
        case .video: self = .video
        case .script: self = .script
        case .voice: self = .voice
        case .thumbnail: self = .thumbnail
        }
    }
}

extension Components.Schemas.ProcessingTask.KindPayload {
    /// Nil for a whole video, which is not a processing task.
    init?(_ kind: VideoKind) {
        switch kind {
        case .video: return nil
        case .script: self = .script
        case .voice: self = .voice
        case .thumbnail: self = .thumbnail
        }
    }
}

extension Components.Schemas.VideoStatus {
    init(_ status: Domain.VideoStatus) {
        switch status {
        case .processing: self = .processing
        case .completed: self = .completed
        case .failed: self = .failed
        case .cancelled: self = .cancelled
        case .publishing: self = .publishing
        case .waitingQuota: self = .waitingQuota
        case .published: self = .published
        }
    }
}
