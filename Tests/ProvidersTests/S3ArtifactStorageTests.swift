import Domain
import Foundation
import Providers
import TestSupport
import Testing
import Worker

/// SigV4 against AWS's published example, and the storage against a local S3-compatible
/// server (moto, started by ops/test as `YTEMPIRE_TEST_S3_URL`).
@Suite struct S3ArtifactStorageTests {
    /// AWS's "GET Object" example of Signature Version 4 (Amazon S3 API reference).
    @Test func signatureMatchesTheAWSExample() {
        let signer = SigV4(accessKey: "AKIAIOSFODNN7EXAMPLE", secretKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", region: "us-east-1")
        let headers = signer.sign(method: "GET", path: "/test.txt",
                                  headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"],
                                  payloadHash: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                                  date: Date(timeIntervalSince1970: 1_369_353_600))
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
                + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
                + "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    static func storage() async throws -> S3ArtifactStorage {
        guard let url = ProcessInfo.processInfo.environment["YTEMPIRE_TEST_S3_URL"] else {
            throw DomainError(.invalid, "YTEMPIRE_TEST_S3_URL is not set: run the tests with ops/test, which starts a local S3 server")
        }
        let storage = S3ArtifactStorage(endpoint: url, bucket: "ytempire-\(UInt32.random(in: 0...UInt32.max))", region: "us-east-1",
                                        accessKey: "testing", secretKey: "testing")
        try await storage.createBucket()
        return storage
    }

    @Test func objectsRoundTripByteForByte() async throws {
        let storage = try await Self.storage()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-s3-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let original = Data((0..<1_500_000).map { _ in UInt8.random(in: 0...255) })
        let source = directory.appendingPathComponent("in.bin")
        try original.write(to: source)
        let key = "videos/vid_x/g1/video with space.mp4"
        #expect(try await storage.put(key: key, file: source, contentType: "video/mp4") == 1_500_000)
        let copy = directory.appendingPathComponent("out.bin")
        try await storage.fetch(key: key, to: copy)
        #expect(try Data(contentsOf: copy) == original)
        try await storage.delete(keys: [key, "videos/never-there"])
        await #expect(throws: DomainError.self) { try await storage.fetch(key: key, to: copy) }
    }

    @Test func aVideoIsProducedWithEveryArtifactInTheObjectStore() async throws {
        let storage = try await Self.storage()
        try await withDatabase { db in
            let fleet = PipelineFleet(db: db)
            let user = try await db.createUser()
            let channel = try await db.createChannel(userID: user)
            let request = try VideoRequest(channelID: channel, title: "Stored in S3", description: nil, scriptStyle: nil, voiceID: nil,
                                           thumbnailStyle: nil, durationTarget: 15, keywords: ["s3"], costLimit: 1, qualityThreshold: 0,
                                           defaultCostLimit: 1)
            let id = try await VideoSubmission(client: db.client, plan: .offline, logger: db.logger).submit(userID: user, request).videos[0].videoID
            let finished = try await fleet.run(workers: 1, providers: StageProviderSet.offline(storage: storage)) {
                try await fleet.waitForVideos()
            }
            #expect(finished)
            let video = try #require(try await VideoRepository(client: db.client, logger: db.logger).video(id: id, userID: user))
            #expect(video.status == .completed)
            let mp4 = try #require(video.artifacts.first { $0.kind == .video })
            let local = FileManager.default.temporaryDirectory.appendingPathComponent("ytempire-s3-\(UUID().uuidString).mp4")
            defer { try? FileManager.default.removeItem(at: local) }
            try await storage.fetch(key: mp4.storageKey, to: local)
            #expect(try await FFmpegMedia().durationSeconds(of: local) > 5)
            #expect(!FileManager.default.fileExists(atPath: fleet.artifacts.appendingPathComponent(mp4.storageKey).path), "nothing on local disk")
        }
    }
}
