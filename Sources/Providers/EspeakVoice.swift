import Domain
import Foundation

/// Offline speech with espeak-ng (Debian package): WAV at about 150 words a minute.
public struct EspeakVoice: VoiceSynthesizer {
    public var runner: ProcessRunner
    public var contentType: String { "audio/wav" }

    public init(runner: ProcessRunner = ProcessRunner()) { self.runner = runner }

    /// espeak-ng voice variants for the product's voice ids (female ids get a female variant).
    static func variant(for voiceID: String) -> String {
        voiceID.contains("female") ? "en-us+f3" : "en-us+m3"
    }

    public func synthesize(text: String, voiceID: String, model: String, to file: URL) async throws -> Usage {
        let textFile = file.deletingLastPathComponent().appendingPathComponent("\(UUID().uuidString).speech.txt")
        try text.write(to: textFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: textFile) }
        try await runner.run("espeak-ng", ["-v", Self.variant(for: voiceID), "-s", "150", "-w", file.path, "-f", textFile.path])
        return UsageModel.voice(script: text)
    }
}
