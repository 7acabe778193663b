import Domain
import Foundation

/// Thumbnails, assembly and probing with Debian's ffmpeg/ffprobe: the offline media stack.
public struct FFmpegMedia: ThumbnailRenderer, VideoAssembler, MediaProbe {
    /// A TrueType font for thumbnail titles (fonts-dejavu-core).
    public var fontFile: String
    public var runner: ProcessRunner

    public init(fontFile: String = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf", runner: ProcessRunner = ProcessRunner()) {
        self.fontFile = fontFile
        self.runner = runner
    }

    static let backgrounds = ["modern": "0x1e3a8a", "minimal": "0xf5f5f4", "bold": "0xdc2626", "classic": "0x14532d"]

    /// A 1280×720 PNG: the title, wrapped, centred on the style's colour.
    public func renderThumbnail(title: String, style: String, model: String, to file: URL) async throws -> Usage {
        let background = Self.backgrounds[style] ?? "0x1e3a8a"
        try await drawTitle(title, style: style, input: ["-f", "lavfi", "-i", "color=c=\(background):s=1280x720"], scale: nil, to: file)
        return UsageModel.thumbnail
    }

    /// The title over an image (scaled and cropped to 1280×720): thumbnails from image models.
    public func composeThumbnail(background: URL, title: String, style: String, to file: URL) async throws {
        try await drawTitle(title, style: style, input: ["-i", background.path],
                            scale: "scale=1280:720:force_original_aspect_ratio=increase,crop=1280:720,", to: file)
    }

    private func drawTitle(_ title: String, style: String, input: [String], scale: String?, to file: URL) async throws {
        let textFile = file.deletingLastPathComponent().appendingPathComponent("\(UUID().uuidString).title.txt")
        try Self.wrap(title, width: 24).write(to: textFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: textFile) }
        let color = style == "minimal" ? "black" : "white"
        let draw = (scale ?? "") + "drawtext=fontfile=\(fontFile):textfile=\(textFile.path):fontcolor=\(color):fontsize=72:line_spacing=12:"
            + "x=(w-text_w)/2:y=(h-text_h)/2:box=1:boxcolor=black@0.25:boxborderw=24"
        try await runner.run("ffmpeg", ["-v", "error", "-y"] + input + ["-vf", draw, "-frames:v", "1", file.path])
    }

    /// H.264 + AAC, the still image for the whole narration, cut to its exact length.
    public func assemble(image: URL, audio: URL, durationSeconds: Double, to file: URL) async throws {
        try await runner.run("ffmpeg", ["-v", "error", "-y", "-loop", "1", "-framerate", "5", "-i", image.path, "-i", audio.path,
                                        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "stillimage", "-pix_fmt", "yuv420p",
                                        "-c:a", "aac", "-b:a", "96k", "-t", String(format: "%.3f", durationSeconds),
                                        "-movflags", "+faststart", file.path])
    }

    public func durationSeconds(of file: URL) async throws -> Double {
        let output = try await runner.run("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", file.path])
        guard let seconds = Double(String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ProcessRunner.Failure(tool: "ffprobe", status: 0, message: "no duration for \(file.lastPathComponent)")
        }
        return seconds
    }

    public func dimensions(of file: URL) async throws -> (width: Int, height: Int) {
        let output = try await runner.run("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height",
                                                      "-of", "csv=p=0:s=x", file.path])
        let parts = String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "x")
        guard parts.count == 2, let width = Int(parts[0]), let height = Int(parts[1]) else {
            throw ProcessRunner.Failure(tool: "ffprobe", status: 0, message: "no dimensions for \(file.lastPathComponent)")
        }
        return (width, height)
    }

    /// Breaks text into lines of at most `width` characters at spaces.
    static func wrap(_ text: String, width: Int) -> String {
        var lines: [String] = []
        var line = ""
        for word in text.split(separator: " ") {
            if !line.isEmpty, line.count + 1 + word.count > width {
                lines.append(line)
                line = ""
            }
            line += line.isEmpty ? String(word) : " \(word)"
        }
        if !line.isEmpty { lines.append(line) }
        return lines.joined(separator: "\n")
    }
}
