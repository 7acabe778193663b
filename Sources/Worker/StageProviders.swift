import Domain
import Foundation
import Providers

/// The provider implementations a worker can call, by provider name (`offline`, `openai`,
/// `elevenlabs`), plus the local media tools and the artifact storage.
public struct StageProviderSet: Sendable {
    public var scriptWriters: [String: any ScriptWriter]
    public var voices: [String: any VoiceSynthesizer]
    public var thumbnails: [String: any ThumbnailRenderer]
    public var assembler: any VideoAssembler
    public var probe: any MediaProbe
    public var storage: any ArtifactStorage

    public init(scriptWriters: [String: any ScriptWriter], voices: [String: any VoiceSynthesizer],
                thumbnails: [String: any ThumbnailRenderer], assembler: any VideoAssembler, probe: any MediaProbe,
                storage: any ArtifactStorage) {
        self.scriptWriters = scriptWriters
        self.voices = voices
        self.thumbnails = thumbnails
        self.assembler = assembler
        self.probe = probe
        self.storage = storage
    }

    /// The offline providers (template writer, espeak-ng, ffmpeg) over the given storage.
    public static func offline(storage: any ArtifactStorage) -> StageProviderSet {
        let media = FFmpegMedia()
        return StageProviderSet(scriptWriters: ["offline": TemplateScriptWriter()], voices: ["offline": EspeakVoice()],
                                thumbnails: ["offline": media], assembler: media, probe: media, storage: storage)
    }

    /// The offline providers plus the paid ones whose endpoints are given: `openai` (chat
    /// scripts, speech, image thumbnails) and `elevenlabs` (speech).
    public static func configured(storage: any ArtifactStorage, openAI: ProviderEndpoint?, elevenLabs: ProviderEndpoint?,
                                  timeout: Duration = .seconds(120)) -> StageProviderSet {
        var set = offline(storage: storage)
        if let openAI {
            let http = ProviderHTTP(provider: "openai", timeout: timeout)
            set.scriptWriters["openai"] = OpenAIChatScriptWriter(endpoint: openAI, http: http)
            set.voices["openai"] = OpenAISpeechVoice(endpoint: openAI, http: http)
            set.thumbnails["openai"] = OpenAIImageThumbnail(endpoint: openAI, http: http)
        }
        if let elevenLabs {
            set.voices["elevenlabs"] = ElevenLabsVoice(endpoint: elevenLabs, http: ProviderHTTP(provider: "elevenlabs", timeout: timeout))
        }
        return set
    }

    /// Checks that every provider the plan names has an implementation here.
    public func validate(_ plan: PipelinePlan) throws {
        for choice in plan.script where scriptWriters[choice.provider] == nil {
            throw DomainError(.invalid, "no script writer named '\(choice.provider)' is configured")
        }
        for choice in plan.voice where voices[choice.provider] == nil {
            throw DomainError(.invalid, "no voice provider named '\(choice.provider)' is configured")
        }
        for choice in plan.thumbnail where thumbnails[choice.provider] == nil {
            throw DomainError(.invalid, "no thumbnail provider named '\(choice.provider)' is configured")
        }
    }
}
