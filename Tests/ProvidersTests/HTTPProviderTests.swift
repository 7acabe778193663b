import Domain
import Foundation
import Providers
import TestSupport
import Testing

/// The production provider clients against a local stub speaking the providers' shapes.
@Suite struct HTTPProviderTests {
    let request = ScriptRequest(video: try! VideoRequest(
        channelID: "ch_x", title: "Postgres Queues", description: "Why SKIP LOCKED works", scriptStyle: nil, voiceID: nil,
        thumbnailStyle: nil, durationTarget: 30, keywords: ["postgres", "queue"], costLimit: 1, qualityThreshold: 70, defaultCostLimit: 1))

    func http(timeout: Duration = .seconds(10)) -> ProviderHTTP {
        ProviderHTTP(provider: "openai", timeout: timeout, maximumAttempts: 3, baseDelay: .milliseconds(20), maximumWait: .seconds(5))
    }

    /// Writes the test's script through `stub` with the OpenAI chat client.
    func writeScript(through stub: ProviderStub, http: ProviderHTTP? = nil) async throws -> GeneratedScript {
        let http = http ?? self.http()
        return try await stub.run { [request] base in
            try await OpenAIChatScriptWriter(endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "k"), http: http)
                .writeScript(request, model: "gpt-4o-mini")
        }
    }

    func scratch(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-provider-\(UUID().uuidString)-\(name)")
    }

    @Test func chatSendsTheRequestShapeAndCostComesFromUsage() async throws {
        let stub = ProviderStub()
        let script = try await stub.run { base in
            try await OpenAIChatScriptWriter(endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "sk-test"), http: http())
                .writeScript(request, model: "gpt-4o-mini")
        }
        let sent = try #require(stub.requests.first)
        #expect(sent.path == "/v1/chat/completions")
        #expect(sent.authorization == "Bearer sk-test")
        #expect(sent.json["model"] == "gpt-4o-mini")
        #expect(sent.maxTokens == request.maxTokens)
        #expect(script.text.contains("postgres"))
        let tokensIn = try #require(script.usage.units["token_in"])
        let tokensOut = try #require(script.usage.units["token_out"])
        #expect(tokensOut <= Double(request.maxTokens))
        let quote = try #require(PipelinePlan.offline.quote(script.usage, with: ProviderChoice(provider: "openai", model: "gpt-4o-mini")))
        #expect(quote.amount == Money.cost(units: tokensIn, usdPerUnit: 0.15e-6) + Money.cost(units: tokensOut, usdPerUnit: 0.6e-6))
        // The reserved worst case bounds the actual charge.
        let worst = try #require(PipelinePlan.offline.quote(UsageModel.scriptWorstCase(prompt: request.prompt, request: request.video),
                                                            with: ProviderChoice(provider: "openai", model: "gpt-4o-mini")))
        #expect(quote.amount <= worst.amount)
    }

    @Test func rateLimitsAreRetriedHonouringRetryAfter() async throws {
        var faults = ProviderStub.Faults()
        faults.rateLimitFirst = 2
        faults.retryAfterSeconds = 1
        let stub = ProviderStub(faults: faults)
        let script = try await writeScript(through: stub)
        #expect(stub.requests.count == 3)
        #expect(!script.text.isEmpty)
    }

    @Test func aLongRetryAfterSnoozesInsteadOfWaiting() async throws {
        var faults = ProviderStub.Faults()
        faults.rateLimitFirst = 1
        faults.retryAfterSeconds = 60
        let stub = ProviderStub(faults: faults)
        await #expect(throws: ProviderBusyError.self) {
            try await writeScript(through: stub)
        }
        #expect(stub.requests.count == 1)
    }

    /// A provider's `Retry-After` is outside input: `1e300` is a day (snooze, do not wait),
    /// `inf` is no usable answer (back off as usual); neither traps.
    @Test func aRetryAfterBeyondReasonIsClampedNotATrap() async throws {
        var faults = ProviderStub.Faults()
        faults.rateLimitFirst = 1
        faults.retryAfterText = "1e300"
        let busy = ProviderStub(faults: faults)
        await #expect {
            try await writeScript(through: busy)
        } throws: { error in
            (error as? ProviderBusyError)?.retryAfter == RetryAfter.maximum
        }
        faults.retryAfterText = "inf"
        let infinite = ProviderStub(faults: faults)
        let script = try await writeScript(through: infinite)
        #expect(!script.text.isEmpty && infinite.requests.count == 2)
    }

    @Test func quotaErrorsAreNeverRetried() async throws {
        var faults = ProviderStub.Faults()
        faults.quotaExhausted = true
        let stub = ProviderStub(faults: faults)
        await #expect(throws: PermanentProviderError.self) {
            try await writeScript(through: stub)
        }
        #expect(stub.requests.count == 1)
    }

    @Test func serverErrorsAreRetriedThenReported() async throws {
        var faults = ProviderStub.Faults()
        faults.serverErrorEvery = 1
        let stub = ProviderStub(faults: faults)
        await #expect(throws: ProviderHTTP.Unavailable.self) {
            try await writeScript(through: stub)
        }
        #expect(stub.requests.count == 3)
    }

    @Test func aProviderThatRefusesConnectionsBilledNothing() async throws {
        // A port nothing listens on: the request never left, so the stage's reservation is
        // released rather than settled as possibly billed.
        let port = try ProviderStub.unusedPort()
        await #expect(throws: ProviderHTTP.Unavailable.self) {
            try await OpenAIChatScriptWriter(endpoint: ProviderEndpoint(baseURL: "http://127.0.0.1:\(port)/v1", apiKey: "k"),
                                             http: http(timeout: .seconds(3)))
                .writeScript(request, model: "gpt-4o-mini")
        }
    }

    @Test func aLostAnswerIsUncertainAndNotRetried() async throws {
        var faults = ProviderStub.Faults()
        faults.slowEvery = 1
        faults.slowDelay = .seconds(8)
        let stub = ProviderStub(faults: faults)
        let seen = try await stub.run { base in
            // The timeout leaves a loaded machine time to deliver the request before the answer is lost.
            await #expect(throws: UncertainProviderError.self) {
                try await OpenAIChatScriptWriter(endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "k"), http: http(timeout: .seconds(3)))
                    .writeScript(request, model: "gpt-4o-mini")
            }
            // Give a (wrong) retry every chance to arrive before counting.
            _ = try await eventually(timeout: .seconds(2)) { stub.requests.count > 1 }
            return stub.requests.count
        }
        #expect(seen == 1)
    }

    @Test func speechFromOpenAIAndElevenLabsIsPlayableAudio() async throws {
        let stub = ProviderStub()
        let text = String(repeating: "Queues on Postgres are simple. ", count: 5)
        let (openAIFile, elevenFile) = (scratch("openai.mp3"), scratch("eleven.mp3"))
        defer { try? FileManager.default.removeItem(at: openAIFile); try? FileManager.default.removeItem(at: elevenFile) }
        let usages = try await stub.run { base in
            let openAI = try await OpenAISpeechVoice(endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "sk"), http: http())
                .synthesize(text: text, voiceID: "voice_professional_female", model: "tts-1", to: openAIFile)
            let eleven = try await ElevenLabsVoice(endpoint: ProviderEndpoint(baseURL: base, apiKey: "xi-key"),
                                                   http: ProviderHTTP(provider: "elevenlabs", maximumAttempts: 1))
                .synthesize(text: text, voiceID: "voice_professional_male", model: "eleven_multilingual_v2", to: elevenFile)
            return [openAI, eleven]
        }
        #expect(usages.allSatisfy { $0.units["character"] == Double(text.count) })
        #expect(stub.requests[0].json["voice"] == "nova")
        #expect(stub.requests[0].json["input"] == text)
        #expect(stub.requests[1].path.hasPrefix("/v1/text-to-speech/"))
        #expect(stub.requests[1].apiKey == "xi-key")
        #expect(stub.requests[1].json["model_id"] == "eleven_multilingual_v2")
        let media = FFmpegMedia()
        #expect(abs(try await media.durationSeconds(of: openAIFile) - Double(text.count) / 15) < 0.1)
        #expect(try await media.durationSeconds(of: elevenFile) > 1)
    }

    @Test func imageThumbnailsAreComposedTo1280x720() async throws {
        let stub = ProviderStub()
        let file = scratch("thumb.png")
        defer { try? FileManager.default.removeItem(at: file) }
        let usage = try await stub.run { base in
            try await OpenAIImageThumbnail(endpoint: ProviderEndpoint(baseURL: base + "/v1", apiKey: "sk"), http: http())
                .renderThumbnail(title: "Postgres Queues", style: "bold", model: "dall-e-3", to: file)
        }
        #expect(usage.units["image"] == 1)
        #expect(stub.requests.first?.json["response_format"] == "b64_json")
        let size = try await FFmpegMedia().dimensions(of: file)
        #expect(size.width == 1280 && size.height == 720)
    }
}
