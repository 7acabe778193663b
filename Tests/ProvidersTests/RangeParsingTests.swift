import Foundation
import NIOHTTP1
import PropertyBased
@testable import Providers
@testable import Sandbox
import Testing

/// The byte ranges of resumable uploads, as the client reads Google's `Range` and the
/// sandbox reads a client's `Content-Range`: any text is a bounded range or a refusal,
/// never a trap.
@Suite struct RangeParsingTests {
    static let texts = Gen.oneOf(
        Gen.element(of: ["bytes=0-9223372036854775807", "bytes=0-9223372036854775806", "bytes=0--1", "bytes=-5", "bytes=0-",
                         "bytes 0-9223372036854775806/9223372036854775807", "bytes */9223372036854775807", "bytes 5-3/10",
                         "bytes -5-3/10", "bytes 0-0/1", "bytes */0", "bytes 0-262143/1048576", "", "bytes", "bytes=0-262143"]).map { $0 ?? "" },
        Gen.int(in: Int.min...Int.max).map { "bytes=0-\($0)" },
        Gen.int(in: Int.min...Int.max).map { "bytes 0-\($0)/\($0)" },
        Gen.ascii.string(of: 0...40))

    @Test func theClientReadsAnyRangeAsAnOffsetOrAnError() async {
        await propertyCheck(count: 2000, input: Self.texts) { text in
            var headers = HTTPHeaders()
            headers.add(name: "Range", value: text)
            do {
                if case .received(let bytes) = try YouTubeClient.progress(.init(status: 308, headers: headers, body: Data())) {
                    #expect(bytes >= 0, "\(text)")
                }
            } catch {
                // A refusal is fine; a trap is not.
            }
        }
    }

    @Test func theSandboxReadsAnyContentRangeAsABoundedRangeOrNothing() async {
        await propertyCheck(count: 2000, input: Self.texts) { text in
            guard let range = ContentRange(text) else { return }
            #expect(range.total > 0 && range.total <= 256 << 30, "\(text)")
            if let start = range.start, let end = range.end {
                #expect(start >= 0 && start <= end && end < range.total && range.length > 0, "\(text)")
            }
        }
    }
}
