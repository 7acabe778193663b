package import Foundation
import Synchronization

/// Streams a local file in chunks and removes it once read or abandoned: a download goes to
/// the client with bounded memory whatever the artifact's size.
final class TemporaryFileStream: Sendable {
    let url: URL
    let size: Int64
    private let handle: Mutex<FileHandle?>

    /// Bytes still to send.
    private let remaining: Mutex<Int64>

    /// - Parameter range: the bytes to send (a `Range` request); nil for the whole file.
    init(url: URL, range: ClosedRange<Int64>? = nil) throws {
        self.url = url
        let fileSize = ((try FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.int64Value ?? 0
        let file = try FileHandle(forReadingFrom: url)
        if let range {
            try file.seek(toOffset: UInt64(max(0, range.lowerBound)))
            self.size = max(0, min(range.upperBound, fileSize - 1) - range.lowerBound + 1)
        } else {
            self.size = fileSize
        }
        self.handle = Mutex(file)
        self.remaining = Mutex(self.size)
    }

    /// The next chunk (64 KiB at most), or nil at the end.
    func next() throws -> ArraySlice<UInt8>? {
        try handle.withLock { handle in
            guard let open = handle else { return nil }
            let left = remaining.withLock { $0 }
            if left > 0, let data = try open.read(upToCount: Int(min(left, 1 << 16))), !data.isEmpty {
                remaining.withLock { $0 -= Int64(data.count) }
                return ArraySlice(data)
            }
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
