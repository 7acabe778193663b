import Domain
import Foundation

/// What each stage does between its reservation and its recorded outcome.
extension PipelineJobs {
    /// Reserves the worst case of the first provider that fits the budget (the preferred one,
    /// else a cheaper fallback) and marks the stage started.
    /// - Throws: `BudgetExhausted` when none fits, `StageSuperseded` when this attempt no
    ///   longer owns the stage: no provider is called.
    func reserve(_ attempt: StageAttempt, usage: (ProviderChoice) -> Usage) async throws -> CostQuote {
        var cheapest: Money?
        var refusal = CostLedger.Reservation.costLimit
        for choice in plan.choices(for: attempt.stage) {
            guard let quote = plan.quote(usage(choice), with: choice) else { continue }
            cheapest = min(cheapest ?? quote.amount, quote.amount)
            let outcome = try await pipeline.ledger.reserve(jobID: attempt.jobID, attempt: attempt.attempt, videoID: attempt.video.id,
                                                            stage: attempt.stage, quote: quote)
            if outcome == .reserved {
                guard try await pipeline.markStarted(attempt.args, lease: attempt.lease, choice: choice) else {
                    try await pipeline.ledger.release(jobID: attempt.jobID, attempt: attempt.attempt)
                    throw StageSuperseded(stage: attempt.stage)
                }
                return quote
            }
            if outcome == .leaseLost { throw StageSuperseded(stage: attempt.stage) }
            refusal = outcome
            if outcome == .notProcessing { break }
        }
        throw BudgetExhausted(stage: attempt.stage, available: attempt.available, cheapest: cheapest, refusal: refusal)
    }

    /// The actual charge of a call: its usage at the chosen provider's prices.
    func charge(_ usage: Usage, reserved: CostQuote) -> CostQuote {
        plan.quote(usage, with: reserved.choice) ?? reserved
    }

    /// Stores a local file as an artifact of this attempt.
    func store(_ file: URL, as name: String, kind: ArtifactKind, contentType: String, attempt: StageAttempt,
               durationSeconds: Double? = nil) async throws -> Artifact {
        let key = attempt.storageKey(name)
        let size = try await providers.storage.put(key: key, file: file, contentType: contentType)
        return Artifact(kind: kind, storageKey: key, contentType: contentType, sizeBytes: size, durationSeconds: durationSeconds)
    }

    /// Copies an earlier stage's artifact into the scratch directory.
    func fetch(_ kind: ArtifactKind, _ attempt: StageAttempt) async throws -> (URL, Artifact) {
        guard let artifact = attempt.video.artifacts.first(where: { $0.kind == kind }) else {
            throw StageInputMissing(videoID: attempt.video.id, kind: kind.rawValue)
        }
        let file = attempt.scratch.appendingPathComponent("in-\(kind)-" + (artifact.storageKey.split(separator: "/").last.map(String.init) ?? kind.rawValue))
        try await providers.storage.fetch(key: artifact.storageKey, to: file)
        return (file, artifact)
    }

    func runScript(_ attempt: StageAttempt) async throws {
        let request = ScriptRequest(video: attempt.video.request)
        let quote = try await reserve(attempt) { _ in UsageModel.scriptWorstCase(prompt: request.prompt, request: request.video) }
        guard let writer = providers.scriptWriters[quote.choice.provider] else { throw MissingProvider(choice: quote.choice) }
        let script = try await writer.writeScript(request, model: quote.choice.model)
        let file = attempt.scratch.appendingPathComponent("script.txt")
        try script.text.write(to: file, atomically: true, encoding: .utf8)
        let artifact = try await store(file, as: "script.txt", kind: .script, contentType: "text/plain; charset=utf-8", attempt: attempt)
        try await pipeline.completeStage(attempt.outcome(charge: charge(script.usage, reserved: quote), artifacts: [artifact]))
    }

    func runVoice(_ attempt: StageAttempt) async throws {
        let text: String
        if let input = attempt.video.inputText {
            text = input  // a voice-over task speaks the text it was given
        } else {
            let (scriptFile, _) = try await fetch(.script, attempt)
            text = try String(contentsOf: scriptFile, encoding: .utf8)
        }
        let quote = try await reserve(attempt) { _ in UsageModel.voice(script: text) }
        guard let voice = providers.voices[quote.choice.provider] else { throw MissingProvider(choice: quote.choice) }
        let ext = voice.contentType == "audio/mpeg" ? "mp3" : "wav"
        let file = attempt.scratch.appendingPathComponent("audio.\(ext)")
        let usage = try await voice.synthesize(text: text, voiceID: attempt.video.request.voiceID, model: quote.choice.model, to: file)
        let seconds = try await providers.probe.durationSeconds(of: file)
        let artifact = try await store(file, as: "audio.\(ext)", kind: .audio, contentType: voice.contentType, attempt: attempt,
                                       durationSeconds: seconds)
        try await pipeline.completeStage(attempt.outcome(charge: charge(usage, reserved: quote), artifacts: [artifact]))
    }

    func runThumbnail(_ attempt: StageAttempt) async throws {
        let quote = try await reserve(attempt) { _ in UsageModel.thumbnail }
        guard let renderer = providers.thumbnails[quote.choice.provider] else { throw MissingProvider(choice: quote.choice) }
        let file = attempt.scratch.appendingPathComponent("thumbnail.png")
        let usage = try await renderer.renderThumbnail(title: attempt.video.request.title, style: attempt.video.request.thumbnailStyle,
                                                       model: quote.choice.model, to: file)
        let artifact = try await store(file, as: "thumbnail.png", kind: .thumbnail, contentType: "image/png", attempt: attempt)
        try await pipeline.completeStage(attempt.outcome(charge: charge(usage, reserved: quote), artifacts: [artifact]))
    }

    func runAssemble(_ attempt: StageAttempt) async throws {
        let (image, _) = try await fetch(.thumbnail, attempt)
        let (audio, audioArtifact) = try await fetch(.audio, attempt)
        let seconds: Double
        if let known = audioArtifact.durationSeconds { seconds = known } else { seconds = try await providers.probe.durationSeconds(of: audio) }
        // The output is cut at the audio's length (`-t`), give or take its last frames.
        let quote = try await reserve(attempt) { _ in Usage(["second": seconds + 1]) }
        let file = attempt.scratch.appendingPathComponent("video.mp4")
        try await providers.assembler.assemble(image: image, audio: audio, durationSeconds: seconds, to: file)
        let length = try await providers.probe.durationSeconds(of: file)
        let artifact = try await store(file, as: "video.mp4", kind: .video, contentType: "video/mp4", attempt: attempt, durationSeconds: length)
        try await pipeline.completeStage(attempt.outcome(charge: charge(Usage(["second": length]), reserved: quote), artifacts: [artifact]))
    }

    func runReview(_ attempt: StageAttempt) async throws {
        let (scriptFile, _) = try await fetch(.script, attempt)
        let script = try String(contentsOf: scriptFile, encoding: .utf8)
        let audioSeconds = attempt.video.artifacts.first { $0.kind == .audio }?.durationSeconds ?? 0
        var size: (width: Int, height: Int)?
        if attempt.video.artifacts.contains(where: { $0.kind == .thumbnail }) {
            let (image, _) = try await fetch(.thumbnail, attempt)
            size = try await providers.probe.dimensions(of: image)
        }
        let quote = try await reserve(attempt) { _ in Usage([:]) }
        let review = QualityReview(request: attempt.video.request, script: script, audioSeconds: audioSeconds, thumbnailSize: size)
        var canRegenerate = attempt.video.regeneratedStage == nil
        if canRegenerate, review.score < attempt.video.request.qualityThreshold {
            // Redo only when the weakest stage's expected cost still fits the budget.
            let stage = review.weakestStage
            let usage = UsageModel.expected(stage, request: attempt.video.request)
            canRegenerate = plan.affordable(stage, usage: { _ in usage }, available: attempt.available) != nil
        }
        let verdict = review.verdict(threshold: attempt.video.request.qualityThreshold, canRegenerate: canRegenerate)
        try await pipeline.finishReview(attempt.outcome(charge: quote, artifacts: []), score: review.score, partsJSON: review.json,
                                        verdict: verdict)
    }
}

/// A stage found no artifact of an earlier stage it needs.
struct StageInputMissing: Error, CustomStringConvertible {
    var videoID: String
    var kind: String
    var description: String { "video \(videoID) has no \(kind) artifact yet" }
}

/// The plan names a provider this worker has no implementation of.
struct MissingProvider: Error, CustomStringConvertible {
    var choice: ProviderChoice
    var description: String { "no implementation of provider \(choice) in this worker" }
}
