import Domain
import Foundation
import Logging
import NIOCore
import NIOPosix

/// Sends outbox emails to an SMTP relay (RFC 5321): EHLO, optional AUTH PLAIN, MAIL FROM,
/// RCPT TO, DATA with dot-stuffing, QUIT; one connection per email.
///
/// It speaks plain SMTP, for a relay on the same host or a trusted network (a local
/// Postfix, a cloud provider's private endpoint); STARTTLS is not offered.
public struct SMTPEmailTransport: EmailTransport {
    /// `smtp://[user:password@]host[:port]` and the sender address.
    public struct Configuration: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var username: String?
        public var password: String?
        public var from: String

        /// Parses `smtp://user:password@host:25`; port defaults to 25.
        public init(url: String, from: String) throws {
            guard let components = URLComponents(string: url), components.scheme == "smtp",
                  let host = components.host, !host.isEmpty
            else { throw SMTPError("YTEMPIRE_SMTP_URL must look like smtp://user:password@mail.internal:25") }
            guard from.contains("@"), !from.contains(where: { $0.isNewline || $0 == ">" || $0 == "<" }) else {
                throw SMTPError("YTEMPIRE_EMAIL_FROM must be an email address")
            }
            self.host = host
            self.port = components.port ?? 25
            self.username = components.user?.removingPercentEncoding
            self.password = components.password?.removingPercentEncoding
            self.from = from
        }
    }

    public let configuration: Configuration
    public let timeout: Duration

    public init(configuration: Configuration, timeout: Duration = .seconds(30)) {
        self.configuration = configuration
        self.timeout = timeout
    }

    public func send(_ email: OutgoingEmail) async throws {
        guard !email.recipient.contains(where: { $0.isNewline || $0 == ">" || $0 == "<" }) else {
            throw SMTPError("recipient address is not valid")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await deliver(email) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SMTPError("the SMTP server did not finish within \(timeout)")
            }
            defer { group.cancelAll() }
            try await group.next()
        }
    }

    private func deliver(_ email: OutgoingEmail) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        try await channel.executeThenClose { inbound, outbound in
            var replies = SMTPReplyReader(inbound.makeAsyncIterator())
            func command(_ line: String, expect codes: Set<Int>) async throws {
                if !line.isEmpty { try await outbound.write(ByteBuffer(string: line + "\r\n")) }
                let reply = try await replies.next()
                guard codes.contains(reply.code) else {
                    throw SMTPError("the SMTP server answered \(reply.code) \(reply.text) to \(line.split(separator: " ").first ?? "the greeting")")
                }
            }
            try await command("", expect: [220])
            try await command("EHLO ytempire", expect: [250])
            if let user = configuration.username, let password = configuration.password {
                let plain = Data("\u{0}\(user)\u{0}\(password)".utf8).base64EncodedString()
                try await command("AUTH PLAIN \(plain)", expect: [235])
            }
            try await command("MAIL FROM:<\(configuration.from)>", expect: [250])
            try await command("RCPT TO:<\(email.recipient)>", expect: [250, 251])
            try await command("DATA", expect: [354])
            try await command(Self.message(email, from: configuration.from) + "\r\n.", expect: [250])
            try await outbound.write(ByteBuffer(string: "QUIT\r\n"))
        }
    }

    /// Headers and body with CRLF line ends, and lines starting with "." doubled (RFC 5321 §4.5.2).
    static func message(_ email: OutgoingEmail, from: String) -> String {
        let subject = email.subject.replacingOccurrences(of: "\r", with: " ").replacingOccurrences(of: "\n", with: " ")
        let headers = [
            "From: <\(from)>", "To: <\(email.recipient)>", "Subject: \(subject)",
            "Message-ID: <outbox-\(email.id)@ytempire>", "MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
        ]
        let body = email.body.replacingOccurrences(of: "\r\n", with: "\n").split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(".") ? "." + $0 : String($0) }
        return (headers + [""] + body).joined(separator: "\r\n")
    }
}

/// Reads SMTP replies (`250-…` continuation lines, then `250 …`) from the byte stream.
struct SMTPReplyReader {
    var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    var pending = ""

    init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) {
        self.iterator = iterator
    }

    mutating func next() async throws -> (code: Int, text: String) {
        while true {
            while let range = pending.range(of: "\r\n") {
                let line = String(pending[..<range.lowerBound])
                pending.removeSubrange(..<range.upperBound)
                guard line.count >= 3, let code = Int(line.prefix(3)) else { throw SMTPError("malformed SMTP reply") }
                if line.count == 3 || line[line.index(line.startIndex, offsetBy: 3)] == " " {
                    return (code, String(line.dropFirst(4)))
                }
            }
            guard let buffer = try await iterator.next() else { throw SMTPError("the SMTP server closed the connection") }
            pending += String(buffer: buffer)
        }
    }
}

/// An SMTP delivery failed; the email stays in the outbox.
public struct SMTPError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
