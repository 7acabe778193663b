import Foundation

/// What a script writer is asked for.
public struct ScriptRequest: Sendable {
    /// The system message sent with every prompt to a chat model (it is billed too).
    public static let systemMessage = "You write narration scripts for YouTube videos."

    public var video: VideoRequest
    /// The instructions sent to a language model; its UTF-8 size bounds the input tokens.
    public var prompt: String
    /// The most output tokens allowed (the worst case reserved before the call).
    public var maxTokens: Int

    public init(video: VideoRequest) {
        self.video = video
        self.maxTokens = UsageModel.maxScriptTokens(durationSeconds: video.durationTarget)
        let words = UsageModel.targetWords(durationSeconds: video.durationTarget)
        var prompt = """
            Write the narration of a YouTube video in a \(video.scriptStyle) style.
            Title: \(video.title)
            Length: about \(words) words (\(video.durationTarget) seconds spoken).
            """
        if !video.description.isEmpty { prompt += "\nAbout: \(video.description)" }
        if !video.keywords.isEmpty { prompt += "\nMention: \(video.keywords.joined(separator: ", "))" }
        prompt += "\nReturn only the narration text, without headings or stage directions."
        self.prompt = prompt
    }
}

/// A script and what producing it consumed.
public struct GeneratedScript: Sendable {
    public var text: String
    public var usage: Usage

    public init(text: String, usage: Usage) {
        self.text = text
        self.usage = usage
    }
}

/// Writes narration scripts (an OpenAI-compatible chat model, or the offline template writer).
public protocol ScriptWriter: Sendable {
    func writeScript(_ request: ScriptRequest, model: String) async throws -> GeneratedScript
}

/// Turns text into speech, written to a local file.
public protocol VoiceSynthesizer: Sendable {
    /// The file type produced, e.g. `audio/wav` or `audio/mpeg`.
    var contentType: String { get }
    /// - Returns: what the call consumed (characters).
    func synthesize(text: String, voiceID: String, model: String, to file: URL) async throws -> Usage
}

/// Renders a thumbnail image (PNG) to a local file.
public protocol ThumbnailRenderer: Sendable {
    func renderThumbnail(title: String, style: String, model: String, to file: URL) async throws -> Usage
}

/// Combines a still image and narration into an MP4 of the narration's length.
public protocol VideoAssembler: Sendable {
    func assemble(image: URL, audio: URL, durationSeconds: Double, to file: URL) async throws
}

/// Measures media files.
public protocol MediaProbe: Sendable {
    /// The playing time in seconds.
    func durationSeconds(of file: URL) async throws -> Double
    /// Width and height of an image or video.
    func dimensions(of file: URL) async throws -> (width: Int, height: Int)
}

/// Where artifacts live so that any server of the fleet can read what another wrote: a
/// local or shared directory, or an S3-compatible bucket.
public protocol ArtifactStorage: Sendable {
    /// Stores a local file under `key`, replacing any earlier object.
    /// - Returns: the stored size in bytes.
    func put(key: String, file: URL, contentType: String) async throws -> Int64
    /// Copies the object to a local file.
    func fetch(key: String, to file: URL) async throws
    /// Removes objects; missing ones are ignored.
    func delete(keys: [String]) async throws
}

/// A provider refused a request in a way that retrying cannot fix (no credit, bad key, a
/// prompt it will not accept): the stage fails at once instead of burning attempts.
public struct PermanentProviderError: Error, CustomStringConvertible {
    public var provider: String
    public var message: String

    public init(provider: String, message: String) {
        self.provider = provider
        self.message = message
    }

    public var description: String { "\(provider): \(message)" }
}

/// A provider call failed in a way that leaves open whether it was billed (the request went
/// out and the answer was lost: a read timeout, a dropped connection). The reservation of
/// the attempt is settled as spent and the stage retried as a new attempt with a new one.
public struct UncertainProviderError: Error, CustomStringConvertible {
    public var provider: String
    public var message: String

    public init(provider: String, message: String) {
        self.provider = provider
        self.message = message
    }

    public var description: String { "\(provider): \(message) (the call may have been billed)" }
}

/// A provider asked us to come back later than a worker should wait (`Retry-After`): the
/// reservation is released and the job snoozed that long without spending an attempt.
public struct ProviderBusyError: Error, CustomStringConvertible {
    public var provider: String
    public var retryAfter: Duration

    public init(provider: String, retryAfter: Duration) {
        self.provider = provider
        self.retryAfter = retryAfter
    }

    public var description: String { "\(provider) is busy; retry after \(retryAfter)" }
}
