import Domain
import Foundation

/// Artifacts in a directory: the embedded default, or a shared mount (NFS, EFS) that every
/// server of the fleet sees at the same path.
public struct FileArtifactStorage: ArtifactStorage {
    public let root: URL

    public init(root: URL) throws {
        self.root = root
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }

    /// The file of a key; keys are relative paths of safe characters (checked).
    func url(for key: String) throws -> URL {
        guard !key.isEmpty, !key.hasPrefix("/"), !key.split(separator: "/").contains(where: { $0 == ".." || $0 == "." || $0.isEmpty }),
              key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_./".contains($0)) })
        else { throw DomainError(.invalid, "invalid artifact key '\(key)'") }
        return root.appendingPathComponent(key)
    }

    public func put(key: String, file: URL, contentType: String) async throws -> Int64 {
        let target = try url(for: key)
        let manager = FileManager.default
        try manager.createDirectory(at: target.deletingLastPathComponent(), withIntermediateDirectories: true)
        // Copy beside the target, then rename: readers never see a half-written object.
        let partial = target.deletingLastPathComponent().appendingPathComponent(".\(UUID().uuidString).partial")
        try manager.copyItem(at: file, to: partial)
        if manager.fileExists(atPath: target.path) { try manager.removeItem(at: target) }
        try manager.moveItem(at: partial, to: target)
        let size = try manager.attributesOfItem(atPath: target.path)[.size] as? NSNumber
        return size?.int64Value ?? 0
    }

    public func fetch(key: String, to file: URL) async throws {
        let source = try url(for: key)
        guard FileManager.default.fileExists(atPath: source.path) else {
            throw DomainError(.notFound, "artifact \(key) is missing from storage")
        }
        if FileManager.default.fileExists(atPath: file.path) { try FileManager.default.removeItem(at: file) }
        try FileManager.default.copyItem(at: source, to: file)
    }

    public func delete(keys: [String]) async throws {
        for key in keys {
            let target = try url(for: key)
            try? FileManager.default.removeItem(at: target)
        }
    }
}
