import Foundation

/// Debian's document tools as the reports use them: gnuplot draws charts (SVG) from a script
/// and the data files beside it, and WeasyPrint prints an HTML page, with the images it links
/// from its own folder, as PDF. Both run in the files' folder, so nothing names a path inside
/// a script or a page.
public struct DocumentTools: Sendable {
    public var runner: ProcessRunner

    public init(runner: ProcessRunner = ProcessRunner(timeout: .seconds(300))) { self.runner = runner }

    /// Runs a gnuplot script in its own folder (its `set output` files land there).
    public func plot(script: URL) async throws {
        try await runner.run("gnuplot", [script.lastPathComponent], in: script.deletingLastPathComponent())
    }

    /// Prints `page` as a PDF at `output`; relative links resolve in the page's folder.
    public func printPDF(page: URL, to output: URL) async throws {
        let folder = page.deletingLastPathComponent()
        try await runner.run("weasyprint", ["--base-url", folder.path + "/", page.path, output.path], in: folder)
    }
}
