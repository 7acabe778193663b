import Crypto
import Foundation
import Mustache

/// The operator console's files, shipped with the build: the Mustache templates of its pages
/// (`head` and `foot` are the partials every page includes), its script and its style sheet.
/// The API serves them at `/admin`.
public struct ConsoleFiles: Sendable {
    /// The pages' templates, by name (`queues`, `jobs`, `job`, `fleet`, `audit`).
    public let templates: MustacheLibrary
    /// The script and the style sheet, by file name, with their types.
    public let assets: [String: (type: String, data: Data)]
    /// Changes with the assets' contents, so browsers fetch them again after a deploy.
    public let version: String

    /// The files served under `/admin/assets/`, and their types.
    public static let assetTypes = ["console.js": "application/javascript; charset=utf-8", "console.css": "text/css; charset=utf-8"]

    /// Reads the files from the module's resources.
    public static func load() async throws -> ConsoleFiles {
        guard let folder = Bundle.module.url(forResource: "Pages", withExtension: nil) else {
            throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: "Pages"])
        }
        var assets: [String: (type: String, data: Data)] = [:]
        var digest = SHA256()
        for (name, type) in assetTypes.sorted(by: { $0.key < $1.key }) {
            let data = try Data(contentsOf: folder.appendingPathComponent(name))
            digest.update(data: data)
            assets[name] = (type, data)
        }
        let version = digest.finalize().prefix(6).map { String(format: "%02x", $0) }.joined()
        return ConsoleFiles(templates: try await MustacheLibrary(directory: folder.path), assets: assets, version: version)
    }
}
