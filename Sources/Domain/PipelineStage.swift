/// The stages a video goes through, each a queue job on the queue of the same name:
/// `script` → (`voice` ‖ `thumbnail`) → `assemble` → `review`.
public enum PipelineStage: String, Sendable, CaseIterable, Codable {
    case script, voice, thumbnail, assemble, review

    /// The job kind of the stage, e.g. `video.script`.
    public var jobKind: String { "video.\(rawValue)" }

    /// The queue its jobs go to; operators can pause or limit one stage fleet-wide.
    public var queue: String { "video_\(rawValue)" }

    /// The stages that must all have completed before this one may start.
    public var prerequisites: [PipelineStage] {
        switch self {
        case .script: []
        case .voice, .thumbnail: [.script]
        case .assemble: [.voice, .thumbnail]
        case .review: [.assemble]
        }
    }

    /// The stages that may start once this one has completed (each still waits for all of
    /// its prerequisites).
    public var successors: [PipelineStage] {
        Self.allCases.filter { $0.prerequisites.contains(self) }
    }

    /// This stage and every stage downstream of it: what must run again when it is redone.
    public var downstream: [PipelineStage] {
        var result: [PipelineStage] = [self]
        for next in successors { for stage in next.downstream where !result.contains(stage) { result.append(stage) } }
        return result
    }

    /// The share of the work this stage represents, for progress (sums to 100).
    public var weight: Int {
        switch self {
        case .script: 20
        case .voice: 25
        case .thumbnail: 15
        case .assemble: 30
        case .review: 10
        }
    }

    /// The stage of a job kind, if it is one.
    public init?(jobKind: String) {
        guard jobKind.hasPrefix("video."), let stage = PipelineStage(rawValue: String(jobKind.dropFirst(6))) else { return nil }
        self = stage
    }
}
