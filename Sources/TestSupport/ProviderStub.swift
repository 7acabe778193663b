import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import Synchronization

/// A local stand-in for paid providers on loopback, speaking the OpenAI shapes (chat
/// completions with `usage`, `/audio/speech`, `/images/generations` with `b64_json`) and
/// ElevenLabs text-to-speech, with injectable failures. Tests point the real clients at it.
public final class ProviderStub: Sendable {
    /// What goes wrong, and how often.
    public struct Faults: Sendable {
        /// The first this-many requests answer 429 with `Retry-After`.
        public var rateLimitFirst = 0
        public var retryAfterSeconds = 0
        /// The `Retry-After` text sent instead of `retryAfterSeconds` (e.g. `inf`, `1e300`).
        public var retryAfterText: String?
        /// Every request answers 429 `insufficient_quota`.
        public var quotaExhausted = false
        /// Every n-th request answers 500 (0: never).
        public var serverErrorEvery = 0
        /// Chat answers report this many times the completion tokens they produced (and more
        /// than `max_tokens`): a provider whose bill is above the reserved worst case.
        public var usageMultiplier = 1
        /// Every n-th request answers only after `slowDelay` (a client timeout: 0: never).
        public var slowEvery = 0
        public var slowDelay: Duration = .seconds(5)

        public init() {}
    }

    /// One request as received.
    public struct Recorded: Sendable {
        public var path: String
        public var authorization: String?
        public var apiKey: String?
        public var json: [String: String]
        public var maxTokens: Int?
    }

    struct State {
        var count = 0
        var recorded: [Recorded] = []
    }

    public let faults: Faults
    private let state = Mutex(State())

    public init(faults: Faults = Faults()) { self.faults = faults }

    /// Requests received so far.
    public var requests: [Recorded] { state.withLock { $0.recorded } }

    /// Runs the stub on a free loopback port while `body` runs; `body` gets its base URL
    /// (`http://127.0.0.1:PORT`).
    public func run<T: Sendable>(_ body: @Sendable (String) async throws -> T) async throws -> T {
        let router = Router()
        router.post("/v1/chat/completions") { request, context in try await self.answer(request, context, kind: .chat) }
        router.post("/v1/audio/speech") { request, context in try await self.answer(request, context, kind: .speech) }
        router.post("/v1/images/generations") { request, context in try await self.answer(request, context, kind: .image) }
        router.post("/v1/text-to-speech/:voice") { request, context in try await self.answer(request, context, kind: .speech) }
        return try await withLoopbackServer(router, label: "provider-stub", body)
    }

    enum Kind { case chat, speech, image }

    private func answer(_ request: Request, _ context: some RequestContext, kind: Kind) async throws -> Response {
        let buffer = try await request.body.collect(upTo: 4 << 20)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: buffer))) as? [String: Any] ?? [:]
        let number = state.withLock { state -> Int in
            state.count += 1
            state.recorded.append(Recorded(path: request.uri.path, authorization: request.headers[.authorization],
                                           apiKey: request.headers[HTTPField.Name("xi-api-key")!],
                                           json: object.compactMapValues { $0 as? String }, maxTokens: object["max_tokens"] as? Int))
            return state.count
        }
        if faults.quotaExhausted {
            return Self.json(#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#, status: .tooManyRequests)
        }
        if number <= faults.rateLimitFirst {
            var response = Self.json(#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#, status: .tooManyRequests)
            response.headers[.retryAfter] = faults.retryAfterText ?? "\(faults.retryAfterSeconds)"
            return response
        }
        if faults.serverErrorEvery > 0, number % faults.serverErrorEvery == 0 {
            return Self.json(#"{"error":{"message":"The server had an error"}}"#, status: .internalServerError)
        }
        if faults.slowEvery > 0, number % faults.slowEvery == 0 { try await Task.sleep(for: faults.slowDelay) }
        switch kind {
        case .chat: return Self.chat(object, usageMultiplier: faults.usageMultiplier)
        case .speech:
            let text = (object["input"] as? String) ?? (object["text"] as? String) ?? ""
            return Response(status: .ok, headers: [.contentType: "audio/mpeg"],
                            body: .init(byteBuffer: ByteBuffer(bytes: Self.wav(seconds: Double(text.count) / 15))))
        case .image:
            return Self.json(#"{"created":1,"data":[{"b64_json":"\#(Self.onePixelPNG)"}]}"#, status: .ok)
        }
    }

    /// A narration of about the words the prompt asks for, naming its keywords, with usage.
    static func chat(_ object: [String: Any], usageMultiplier: Int) -> Response {
        let messages = object["messages"] as? [[String: Any]] ?? []
        let prompt = messages.compactMap { $0["content"] as? String }.joined(separator: "\n")
        let wanted = prompt.split(separator: "\n").first { $0.hasPrefix("Length: about ") }
            .flatMap { Int($0.dropFirst("Length: about ".count).prefix { $0.isNumber }) } ?? 50
        let keywords = prompt.split(separator: "\n").first { $0.hasPrefix("Mention: ") }
            .map { $0.dropFirst("Mention: ".count).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? []
        let filler = ["the", "fleet", "runs", "every", "stage", "as", "a", "job", "on", "postgres"]
        let words = (0..<wanted).map { index in index < keywords.count ? keywords[index] : filler[index % filler.count] }
        let text = words.joined(separator: " ") + "."
        let completion = min(object["max_tokens"] as? Int ?? Int.max, Int((Double(wanted) * 1.3).rounded(.up))) * usageMultiplier
        let body: [String: Any] = [
            "id": "chatcmpl-stub", "object": "chat.completion", "model": object["model"] ?? "",
            "choices": [["index": 0, "message": ["role": "assistant", "content": text], "finish_reason": "stop"]],
            "usage": ["prompt_tokens": prompt.utf8.count / 4, "completion_tokens": completion, "total_tokens": prompt.utf8.count / 4 + completion],
        ]
        let data = (try? JSONSerialization.data(withJSONObject: body)) ?? Data()
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func json(_ text: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Silence as an 8 kHz, 8-bit mono WAV of the given length.
    static func wav(seconds: Double) -> [UInt8] {
        let samples = max(800, Int(seconds * 8000))
        func le32(_ value: Int) -> [UInt8] { (0..<4).map { UInt8((value >> (8 * $0)) & 0xff) } }
        func le16(_ value: Int) -> [UInt8] { (0..<2).map { UInt8((value >> (8 * $0)) & 0xff) } }
        return Array("RIFF".utf8) + le32(36 + samples) + Array("WAVEfmt ".utf8) + le32(16) + le16(1) + le16(1) + le32(8000) + le32(8000)
            + le16(1) + le16(8) + Array("data".utf8) + le32(samples) + [UInt8](repeating: 128, count: samples)
    }

    static let onePixelPNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
}

extension ProviderStub {
    /// A loopback port nothing listens on (bound for a moment by the system's choice, then
    /// closed): connections to it are refused.
    public static func unusedPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
