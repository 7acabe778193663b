package import Foundation
import Synchronization

/// Streams a local file in chunks and removes it once read or abandoned: a download goes to
/// the client with bounded memory whatever the artifact's size.
final class TemporaryFileStream: Sendable {
    let url: URL
    let size: Int64
    private let handle: Mutex<FileHandle?>

    init(url: URL) throws {
        self.url = url
        self.size = ((try FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.int64Value ?? 0
        self.handle = Mutex(try FileHandle(forReadingFrom: url))
    }

    /// The next chunk (64 KiB at most), or nil at the end.
    func next() throws -> ArraySlice<UInt8>? {
        try handle.withLock { handle in
            guard let open = handle else { return nil }
            if let data = try open.read(upToCount: 1 << 16), !data.isEmpty { return ArraySlice(data) }
            try? open.close()
            handle = nil
            return nil
        }
    }

    /// The file as an async sequence of chunks; the file is removed when the sequence is gone.
    var chunks: AsyncThrowingStream<ArraySlice<UInt8>, any Error> {
        AsyncThrowingStream { try self.next() }
    }

    deinit {
        handle.withLock { try? $0?.close() }
        try? FileManager.default.removeItem(at: url)
    }
}
