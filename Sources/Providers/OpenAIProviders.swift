import Domain
import Foundation

/// Scripts from an OpenAI-compatible chat completions endpoint; the cost comes from the
/// answer's `usage` (prompt and completion tokens).
public struct OpenAIChatScriptWriter: ScriptWriter {
    public var endpoint: ProviderEndpoint
    public var http: ProviderHTTP

    public init(endpoint: ProviderEndpoint, http: ProviderHTTP = ProviderHTTP(provider: "openai")) {
        self.endpoint = endpoint
        self.http = http
    }

    public func writeScript(_ request: ScriptRequest, model: String) async throws -> GeneratedScript {
        let data = try await http.postJSON("\(endpoint.baseURL)/chat/completions", headers: [("Authorization", "Bearer \(endpoint.apiKey)")], json: [
            "model": model,
            "max_tokens": request.maxTokens,
            "messages": [
                ["role": "system", "content": ScriptRequest.systemMessage],
                ["role": "user", "content": request.prompt],
            ],
        ])
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choices = object["choices"] as? [[String: Any]],
              let message = choices.first?["message"] as? [String: Any],
              let text = message["content"] as? String, !text.isEmpty
        else { throw UncertainProviderError(provider: "openai", message: "the chat answer has no script") }
        let usage = object["usage"] as? [String: Any] ?? [:]
        // Without usage numbers the reserved worst case is what we must assume was billed.
        let worst = UsageModel.scriptWorstCase(prompt: request.prompt, request: request.video).units
        let input = (usage["prompt_tokens"] as? Int).map(Double.init) ?? worst["token_in"] ?? 0
        let output = (usage["completion_tokens"] as? Int).map(Double.init) ?? Double(request.maxTokens)
        return GeneratedScript(text: text, usage: Usage(["token_in": input, "token_out": output]))
    }
}

/// Speech from OpenAI's `/audio/speech` (MP3), billed per input character.
public struct OpenAISpeechVoice: VoiceSynthesizer {
    public var endpoint: ProviderEndpoint
    public var http: ProviderHTTP
    public var contentType: String { "audio/mpeg" }

    public init(endpoint: ProviderEndpoint, http: ProviderHTTP = ProviderHTTP(provider: "openai")) {
        self.endpoint = endpoint
        self.http = http
    }

    static let voices = ["alloy", "echo", "fable", "onyx", "nova", "shimmer"]

    /// The product's voice ids mapped onto OpenAI's voices (an OpenAI voice name passes through).
    static func voice(for voiceID: String) -> String {
        if voices.contains(voiceID) { return voiceID }
        return voiceID.contains("female") ? "nova" : "onyx"
    }

    public func synthesize(text: String, voiceID: String, model: String, to file: URL) async throws -> Usage {
        let audio = try await http.postJSON("\(endpoint.baseURL)/audio/speech", headers: [("Authorization", "Bearer \(endpoint.apiKey)")], json: [
            "model": model, "voice": Self.voice(for: voiceID), "input": text, "response_format": "mp3",
        ])
        guard !audio.isEmpty else { throw UncertainProviderError(provider: "openai", message: "the speech answer is empty") }
        try audio.write(to: file)
        return UsageModel.voice(script: text)
    }
}

/// Speech from ElevenLabs' text-to-speech (MP3), billed per character.
public struct ElevenLabsVoice: VoiceSynthesizer {
    public var endpoint: ProviderEndpoint
    public var http: ProviderHTTP
    public var contentType: String { "audio/mpeg" }

    public init(endpoint: ProviderEndpoint, http: ProviderHTTP = ProviderHTTP(provider: "elevenlabs")) {
        self.endpoint = endpoint
        self.http = http
    }

    /// A product voice id that is not an ElevenLabs voice id falls back to a stock voice.
    static func voice(for voiceID: String) -> String {
        voiceID.hasPrefix("voice_") ? (voiceID.contains("female") ? "EXAVITQu4vr4xnSDxMaL" : "pNInz6obpgDQGcFmaJgB") : voiceID
    }

    public func synthesize(text: String, voiceID: String, model: String, to file: URL) async throws -> Usage {
        let url = "\(endpoint.baseURL)/v1/text-to-speech/\(Self.voice(for: voiceID))?output_format=mp3_44100_128"
        let audio = try await http.postJSON(url, headers: [("xi-api-key", endpoint.apiKey), ("Accept", "audio/mpeg")],
                                            json: ["text": text, "model_id": model])
        guard !audio.isEmpty else { throw UncertainProviderError(provider: "elevenlabs", message: "the speech answer is empty") }
        try audio.write(to: file)
        return UsageModel.voice(script: text)
    }
}

/// Thumbnails from OpenAI's image generation (`b64_json`, 1024×1024), composed with the title
/// onto a 1280×720 card by ffmpeg.
public struct OpenAIImageThumbnail: ThumbnailRenderer {
    public var endpoint: ProviderEndpoint
    public var http: ProviderHTTP
    public var media: FFmpegMedia

    public init(endpoint: ProviderEndpoint, http: ProviderHTTP = ProviderHTTP(provider: "openai"), media: FFmpegMedia = FFmpegMedia()) {
        self.endpoint = endpoint
        self.http = http
        self.media = media
    }

    public func renderThumbnail(title: String, style: String, model: String, to file: URL) async throws -> Usage {
        let data = try await http.postJSON("\(endpoint.baseURL)/images/generations", headers: [("Authorization", "Bearer \(endpoint.apiKey)")], json: [
            "model": model, "n": 1, "size": "1024x1024", "response_format": "b64_json",
            "prompt": "A bold, \(style) YouTube thumbnail background for a video titled \"\(title)\". No text.",
        ])
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let images = object["data"] as? [[String: Any]], let encoded = images.first?["b64_json"] as? String,
              let png = Data(base64Encoded: encoded)
        else { throw UncertainProviderError(provider: "openai", message: "the image answer has no b64_json image") }
        let background = file.deletingLastPathComponent().appendingPathComponent("\(UUID().uuidString)-background.png")
        try png.write(to: background)
        defer { try? FileManager.default.removeItem(at: background) }
        try await media.composeThumbnail(background: background, title: title, style: style, to: file)
        return UsageModel.thumbnail
    }
}
