import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOPosix
import NIOHTTP1

/// HTTP for paid providers over async-http-client, with the retry rules a budgeted call needs:
/// - 429 and 5xx were not billed: retried within the same reservation, with exponential
///   backoff honouring `Retry-After` (a wait longer than `maximumWait` snoozes the job instead);
/// - quota and credit errors (`insufficient_quota`), bad keys and bad requests are permanent:
///   never retried, the stage fails at once;
/// - a request that could not connect (refused, timed out connecting) was never sent:
///   `Unavailable`, not billed;
/// - a request that went out and lost its answer (read timeout, dropped connection) may have
///   been billed: `UncertainProviderError`, never retried on the same reservation.
public struct ProviderHTTP: Sendable {
    public var provider: String
    public var timeout: Duration
    public var maximumAttempts: Int
    public var baseDelay: Duration
    /// The longest `Retry-After` waited for in place.
    public var maximumWait: Duration
    let client: HTTPClient

    public init(provider: String, timeout: Duration = .seconds(120), maximumAttempts: Int = 4, baseDelay: Duration = .milliseconds(500),
                maximumWait: Duration = .seconds(20), client: HTTPClient = .shared) {
        self.provider = provider
        self.timeout = timeout
        self.maximumAttempts = maximumAttempts
        self.baseDelay = baseDelay
        self.maximumWait = maximumWait
        self.client = client
    }

    /// A provider answered with an error status after every retry.
    public struct Unavailable: Error, CustomStringConvertible {
        public var provider: String
        public var status: Int
        public var message: String
        public var description: String { "\(provider) answered \(status): \(message)" }
    }

    /// POSTs a JSON body and returns the response body.
    public func postJSON(_ url: String, headers: [(String, String)], json: [String: Any], maximumResponse: Int = 64 << 20) async throws -> Data {
        let body = try JSONSerialization.data(withJSONObject: json)
        return try await post(url, headers: headers + [("Content-Type", "application/json")], body: body, maximumResponse: maximumResponse)
    }

    /// POSTs `body`, retrying what may be retried.
    public func post(_ url: String, headers: [(String, String)], body: Data, maximumResponse: Int = 64 << 20) async throws -> Data {
        var attempt = 0
        while true {
            attempt += 1
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response: HTTPClientResponse
            do {
                response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
            } catch let error as HTTPClientError where error == .connectTimeout {
                // Nothing was sent: safe to try again on the same reservation.
                if attempt < maximumAttempts { try await pause(attempt: attempt, retryAfter: nil); continue }
                throw Unavailable(provider: provider, status: 0, message: "connection timed out")
            } catch let error as NIOConnectionError {
                if attempt < maximumAttempts { try await pause(attempt: attempt, retryAfter: nil); continue }
                throw Unavailable(provider: provider, status: 0, message: "cannot connect: \(error)")
            } catch let error as IOError where error.errnoCode == ECONNREFUSED {
                // Refused (the client's pool already tried again while the request's time
                // lasted): the request never left, so nothing was billed.
                throw Unavailable(provider: provider, status: 0, message: "cannot connect: \(error)")
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw UncertainProviderError(provider: provider, message: "no answer: \(error)")
            }
            // The request went out: whatever breaks now may have been billed.
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: maximumResponse)
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                throw UncertainProviderError(provider: provider, message: "no answer: \(error)")
            }
            let status = Int(response.status.code)
            let data = Data(buffer: bytes)
            if (200..<300).contains(status) { return data }
            let message = Self.errorMessage(data)
            if status == 429 && Self.isQuotaError(data) || [400, 401, 402, 403, 404, 422].contains(status) {
                throw PermanentProviderError(provider: provider, message: "\(status): \(message)")
            }
            guard status == 429 || status == 408 || status >= 500 else {
                throw PermanentProviderError(provider: provider, message: "\(status): \(message)")
            }
            let retryAfter = response.headers.first(name: "retry-after").flatMap(RetryAfter.parse)
            if let retryAfter, retryAfter > maximumWait { throw ProviderBusyError(provider: provider, retryAfter: retryAfter) }
            guard attempt < maximumAttempts else { throw Unavailable(provider: provider, status: status, message: message) }
            try await pause(attempt: attempt, retryAfter: retryAfter)
        }
    }

    private func pause(attempt: Int, retryAfter: Duration?) async throws {
        let backoff = baseDelay * (1 << min(attempt - 1, 6))
        try await Task.sleep(for: retryAfter ?? backoff)
    }

    /// OpenAI-style quota errors: `{"error": {"code": "insufficient_quota"}}` (or `type`);
    /// ElevenLabs: `{"detail": {"status": "quota_exceeded"}}`.
    static func isQuotaError(_ body: Data) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] else { return false }
        let error = object["error"] as? [String: Any] ?? [:]
        let detail = object["detail"] as? [String: Any] ?? [:]
        let codes = [error["code"], error["type"], detail["status"]].compactMap { $0 as? String }
        return codes.contains { ["insufficient_quota", "quota_exceeded", "billing_hard_limit_reached"].contains($0) }
    }

    /// A short message from an error body (never the whole body).
    static func errorMessage(_ body: Data) -> String {
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any] {
            if let error = object["error"] as? [String: Any], let message = error["message"] as? String { return String(message.prefix(300)) }
            if let detail = object["detail"] as? [String: Any], let message = detail["message"] as? String { return String(message.prefix(300)) }
        }
        return String(String(decoding: body.prefix(300), as: UTF8.self))
    }
}

/// Where a provider lives and how to authenticate to it.
public struct ProviderEndpoint: Sendable {
    /// e.g. `https://api.openai.com/v1` (no trailing slash).
    public var baseURL: String
    public var apiKey: String

    public init(baseURL: String, apiKey: String) {
        self.baseURL = baseURL.hasSuffix("/") ? String(baseURL.dropLast()) : baseURL
        self.apiKey = apiKey
    }
}
