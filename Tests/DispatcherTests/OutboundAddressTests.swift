import Dispatcher
import Domain
import Foundation
import Synchronization
import TestSupport
import Testing

/// Webhook delivery never reaches inside the network: addresses are checked where the
/// connection is made (through the resolver seam), the connection goes to the address that
/// was checked, and redirects are never followed. (The classification itself is
/// table-tested in `DomainTests/NetworkAddressTests`.)
@Suite struct OutboundAddressTests {
    /// A resolver with fixed answers per name; each call takes the next answer of its list
    /// (the last one repeats), so a test can make a name's answer change between attempts.
    final class ScriptedResolver: HostResolver {
        private let answers: Mutex<[String: [[NetworkAddress]]]>
        init(_ answers: [String: [[NetworkAddress]]]) { self.answers = Mutex(answers) }

        func addresses(of host: String) async throws -> [NetworkAddress] {
            try answers.withLock { answers in
                guard var list = answers[host], let first = list.first else { throw SystemHostResolver.Failure() }
                if list.count > 1 { list.removeFirst(); answers[host] = list }
                return first
            }
        }
    }

    static func address(_ text: String) throws -> NetworkAddress { try #require(NetworkAddress(numericHost: text)) }

    static func attempt(_ url: String) -> WebhookAttempt {
        WebhookAttempt(deliveryID: "msg_test", endpointID: "wh_test", url: url, secret: StandardWebhooks.makeSecret(),
                       body: #"{"type":"webhook.test"}"#, number: 1)
    }

    @Test func aNameResolvingToAPrivateAddressIsRefusedWhereTheConnectionIsMade() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { base in
            let port = try #require(URL(string: base)?.port)
            let resolver = ScriptedResolver(["hooks.example.com": [[try Self.address("127.0.0.1")]],
                                             "mixed.example.com": [[try Self.address("8.8.8.8"), try Self.address("10.0.0.5")]]])
            let sender = WebhookSender(timeout: .seconds(10), responseLimit: 1024, addresses: .publicOnly(resolver: resolver))
            // The URL passes the check at save time: it names a public-looking host.
            _ = try WebhookPolicy().validate(url: "https://hooks.example.com/ok")
            for host in ["hooks.example.com", "mixed.example.com", "127.0.0.1", "[::ffff:127.0.0.1]", "127.1"] {
                let result = await sender.send(Self.attempt("http://\(host):\(port)/ok"))
                #expect(result.statusCode == nil && result.error == WebhookSender.refused, "\(host): \(result)")
            }
            let unknown = await sender.send(Self.attempt("http://nowhere.example.com:\(port)/ok"))
            #expect(unknown.error == WebhookSender.refused, "an unknown name reads like a refused one")
            #expect(receiver.received.isEmpty)
        }
    }

    @Test func theConnectionGoesToTheCheckedAddressAndAChangedAnswerIsCheckedAgain() async throws {
        // 127.0.0.2 stands in for a public address: the test's guard allows only it.
        let allowed = try Self.address("127.0.0.2")
        let outside = WebhookReceiver(), inside = WebhookReceiver()
        try await outside.run(host: "127.0.0.2") { outsideBase in
            try await inside.run(host: "127.0.0.1") { insideBase in
                let port = try #require(URL(string: outsideBase)?.port)
                // First answer allowed, then the name rebinds to the inside address.
                let resolver = ScriptedResolver(["rebind.test": [[allowed], [try Self.address("127.0.0.1")]]])
                let guardian = OutboundAddressGuard(resolver: resolver) { $0 == allowed }
                let sender = WebhookSender(timeout: .seconds(10), responseLimit: 1024, addresses: guardian)
                // "rebind.test" does not resolve on this machine: only the checked address can be reached.
                let first = await sender.send(Self.attempt("http://rebind.test:\(port)/ok"))
                #expect(first.statusCode == 204, "\(first)")
                #expect(outside.received.count == 1)
                let second = await sender.send(Self.attempt("http://rebind.test:\(port)/ok"))
                #expect(second.error == WebhookSender.refused, "\(second)")
                let direct = await sender.send(Self.attempt("\(insideBase)/ok"))
                #expect(direct.error == WebhookSender.refused)
                #expect(inside.received.isEmpty && outside.received.count == 1)
            }
        }
    }

    @Test func aRedirectIsAFailedAttemptAndIsNeverFollowed() async throws {
        let first = WebhookReceiver(), second = WebhookReceiver()
        try await first.run { firstBase in
            try await second.run { secondBase in
                // Loopback allowed here: what is tested is that the client does not follow.
                let sender = WebhookSender(timeout: .seconds(10), responseLimit: 1024, addresses: .anyAddress())
                let target = "\(secondBase)/ok".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
                let result = await sender.send(Self.attempt("\(firstBase)/redirect?to=\(target)"))
                #expect(result.statusCode == 302 && !result.succeeded, "\(result)")
                #expect(result.responseBody == "moved")
                #expect(first.received.count == 1 && second.received.isEmpty)
            }
        }
    }

    @Test func aRetryAfterOfInfinityOrHugeNumbersIsClampedNotATrap() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { base in
            let sender = WebhookSender(timeout: .seconds(10), responseLimit: 1024, addresses: .anyAddress())
            let infinite = await sender.send(Self.attempt("\(base)/retry-inf"))
            #expect(infinite.statusCode == 200 && infinite.retryAfter == nil)
            let huge = await sender.send(Self.attempt("\(base)/busy-forever"))
            #expect(huge.statusCode == 429 && huge.retryAfter == RetryAfter.maximum)
        }
    }
}
