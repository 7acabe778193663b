import Foundation

/// A secret generated once into a file and read by every process after: the embedded
/// default for keys that production passes in configuration.
public enum KeyFile {
    /// Reads `path`, or creates it (mode 0600) with `make()`'s bytes if absent. Of processes
    /// racing here every one ends up with the bytes that landed first, never a half-written
    /// file: each writes beside it and links into place (link(2) never replaces a file).
    public static func readOrCreate(_ path: String, make: () throws -> Data) throws -> Data {
        if let existing = FileManager.default.contents(atPath: path) { return existing }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let partial = path + ".\(UUID().uuidString).partial"
        guard FileManager.default.createFile(atPath: partial, contents: try make(), attributes: [.posixPermissions: 0o600]) else {
            throw KeyFileError(description: "cannot write a generated key to \(directory)")
        }
        defer { unlink(partial) }
        if link(partial, path) != 0 && errno != EEXIST {
            throw KeyFileError(description: "cannot write a generated key to \(path)")
        }
        guard let landed = FileManager.default.contents(atPath: path) else {
            throw KeyFileError(description: "cannot read the key at \(path)")
        }
        return landed
    }
}

/// A key file could not be written or read.
public struct KeyFileError: Error, CustomStringConvertible {
    public var description: String
}
