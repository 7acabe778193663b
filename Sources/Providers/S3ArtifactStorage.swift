import AsyncHTTPClient
import Domain
import Foundation
import NIOCore
import NIOHTTP1

/// Artifacts in an S3-compatible object store (AWS S3, MinIO, Ceph, …), path-style requests
/// signed with SigV4 over async-http-client. Every server of the fleet reads what another wrote.
public struct S3ArtifactStorage: ArtifactStorage {
    /// e.g. `https://s3.eu-west-1.amazonaws.com` or `http://127.0.0.1:9000` (no trailing slash).
    public var endpoint: String
    public var bucket: String
    public var signer: SigV4
    public var timeout: Duration
    let client: HTTPClient

    public init(endpoint: String, bucket: String, region: String, accessKey: String, secretKey: String,
                timeout: Duration = .seconds(300), client: HTTPClient = .shared) {
        self.endpoint = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
        self.bucket = bucket
        self.signer = SigV4(accessKey: accessKey, secretKey: secretKey, region: region)
        self.timeout = timeout
        self.client = client
    }

    /// The store answered with an error.
    public struct Failure: Error, CustomStringConvertible {
        public var operation: String
        public var key: String
        public var status: Int
        public var description: String { "S3 \(operation) of '\(key)' failed with \(status)" }
    }

    var host: String {
        let rest = endpoint.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first.map(String.init) ?? endpoint
        return rest
    }

    func path(_ key: String?) -> String {
        "/" + SigV4.encode(bucket) + (key.map { "/" + $0.split(separator: "/", omittingEmptySubsequences: false).map { SigV4.encode(String($0)) }.joined(separator: "/") } ?? "")
    }

    func request(_ method: HTTPMethod, key: String?, payloadHash: String, extra: [String: String] = [:]) -> HTTPClientRequest {
        let path = path(key)
        var request = HTTPClientRequest(url: endpoint + path)
        request.method = method
        var signed = extra
        signed["host"] = host
        for (name, value) in signer.sign(method: method.rawValue, path: path, headers: signed, payloadHash: payloadHash) {
            request.headers.add(name: name, value: value)
        }
        for (name, value) in extra { request.headers.add(name: name, value: value) }
        return request
    }

    static let emptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Creates the bucket if it does not exist yet.
    public func createBucket() async throws {
        let response = try await client.execute(request(.PUT, key: nil, payloadHash: Self.emptyHash), timeout: .seconds(30))
        let status = Int(response.status.code)
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(status) || status == 409 else { throw Failure(operation: "create bucket", key: bucket, status: status) }
    }

    public func put(key: String, file: URL, contentType: String) async throws -> Int64 {
        let data = try Data(contentsOf: file)
        var request = request(.PUT, key: key, payloadHash: try SigV4.sha256(of: file), extra: ["content-type": contentType])
        request.body = .bytes(ByteBuffer(bytes: data))
        let response = try await client.execute(request, timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
        let status = Int(response.status.code)
        _ = try await response.body.collect(upTo: 1 << 20)
        guard (200..<300).contains(status) else { throw Failure(operation: "put", key: key, status: status) }
        return Int64(data.count)
    }

    public func fetch(key: String, to file: URL) async throws {
        let response = try await client.execute(request(.GET, key: key, payloadHash: Self.emptyHash),
                                                timeout: .nanoseconds(Int64(timeout.seconds * 1e9)))
        let status = Int(response.status.code)
        guard (200..<300).contains(status) else {
            _ = try await response.body.collect(upTo: 1 << 20)
            if status == 404 { throw DomainError(.notFound, "artifact \(key) is missing from storage") }
            throw Failure(operation: "get", key: key, status: status)
        }
        FileManager.default.createFile(atPath: file.path, contents: nil)
        let handle = try FileHandle(forWritingTo: file)
        defer { try? handle.close() }
        for try await chunk in response.body { try handle.write(contentsOf: Data(buffer: chunk)) }
    }

    public func delete(keys: [String]) async throws {
        for key in keys {
            let response = try await client.execute(request(.DELETE, key: key, payloadHash: Self.emptyHash), timeout: .seconds(30))
            let status = Int(response.status.code)
            _ = try await response.body.collect(upTo: 1 << 20)
            guard (200..<300).contains(status) || status == 404 else { throw Failure(operation: "delete", key: key, status: status) }
        }
    }
}
