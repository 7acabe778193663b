import Domain
import Foundation
import Providers
import Sandbox
import Testing

/// The YouTube sandbox against Google's own Python client (PyPI `google-api-python-client`,
/// with its bundled discovery document), and the sandbox's state kept across a restart.
@Suite struct YouTubeSandboxLibraryTests {
    @Test func googlesPythonClientUploadsAndTheSandboxRemembersItAfterARestart() async throws {
        let stateFile = FileManager.default.temporaryDirectory.appendingPathComponent("youtube-sandbox-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: stateFile) }
        var configuration = YouTubeSandbox.Configuration()
        configuration.stateFile = stateFile
        let data = Data((0..<(600 << 10)).map { _ in UInt8.random(in: 0...255) })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("youtube-upload-\(UUID().uuidString).mp4")
        defer { try? FileManager.default.removeItem(at: file) }
        try data.write(to: file)

        let first = YouTubeSandbox(configuration: configuration)
        let (tokens, output) = try await first.withRunning { base -> (OAuthTokens, String) in
            let tokens = try await SandboxSignIn.tokens(first, SandboxSignIn.client(base), email: "library@example.com")
            let output = try await ProcessRunner().run("python3", ["-c", """
                import sys
                import google.oauth2.credentials
                from googleapiclient.discovery import build
                from googleapiclient.http import MediaFileUpload
                base, token, path = sys.argv[1], sys.argv[2], sys.argv[3]
                youtube = build("youtube", "v3", credentials=google.oauth2.credentials.Credentials(token=token),
                                client_options={"api_endpoint": base}, static_discovery=True)
                channels = youtube.channels().list(part="snippet,statistics", mine=True).execute()
                channel = channels["items"][0]["id"]
                media = MediaFileUpload(path, mimetype="video/mp4", chunksize=256 * 1024, resumable=True)
                request = youtube.videos().insert(part="snippet,status", media_body=media,
                                                  body={"snippet": {"title": "From Python", "tags": ["sandbox"]},
                                                        "status": {"privacyStatus": "private"}})
                # The library builds upload addresses with https; the sandbox speaks http on loopback.
                request.uri = request.uri.replace("https://", "http://", 1)
                response, chunks = None, 0
                while response is None:
                    status, response = request.next_chunk()
                    chunks += 1
                listed = youtube.videos().list(part="statistics", id=response["id"]).execute()
                print(channel, response["id"], chunks, len(listed["items"]))
                """, base, tokens.accessToken, file.path])
            return (tokens, String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let fields = output.split(separator: " ").map(String.init)
        #expect(fields.count == 4, "\(output)")
        let videoID = fields.count == 4 ? fields[1] : ""
        #expect(fields.first == first.channelID(email: "library@example.com"))
        #expect(fields.count == 4 && fields[2] == "3" && fields[3] == "1", "600 KiB in 256 KiB chunks, listed once: \(output)")
        #expect(first.videos.map(\.id) == [videoID] && first.videos.first?.bytes == data)

        // A new sandbox on the same file: the account, its token, the upload and the quota spent are still there.
        let second = YouTubeSandbox(configuration: configuration)
        #expect(second.videos.map(\.id) == [videoID] && second.videos.first?.bytes == data)
        #expect(second.channelID(email: "library@example.com") == first.channelID(email: "library@example.com"))
        let channelID = try #require(second.channelID(email: "library@example.com"))
        #expect(second.quotaUsed(bucket: channelID) == first.quotaUsed(bucket: channelID) && second.quotaUsed(bucket: channelID) > 1600)
        try await second.withRunning { base in
            let channel = try await SandboxSignIn.client(base).myChannel(accessToken: tokens.accessToken)
            #expect(channel.id == channelID && channel.videoCount == 1)
        }
    }
}
