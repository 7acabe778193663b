import Dispatcher
import Domain
import Foundation
@testable import Providers
import Queue
import TestSupport
import Testing

/// A minimal SMTP server in Python (standard library only) on a loopback port: it records
/// each message, and refuses recipients at `refuse.example.com` with 550.
private let fakeServer = #"""
import socketserver, sys
port_file, out_file = sys.argv[1], sys.argv[2]
class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write((text + "\r\n").encode())
    def handle(self):
        self.reply("220 fake ESMTP")
        data, lines = False, []
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode().rstrip("\r\n")
            if data:
                if line == ".":
                    with open(out_file, "a") as f:
                        f.write("\n".join(lines) + "\n=====\n")
                    data, lines = False, []
                    self.reply("250 queued")
                else:
                    lines.append(line)
                continue
            verb = line.split(" ")[0].upper()
            if verb == "EHLO":
                self.reply("250-fake"); self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                self.reply("235 ok")
            elif verb == "MAIL":
                lines.append(line); self.reply("250 ok")
            elif verb == "RCPT":
                if "refuse.example.com" in line:
                    self.reply("550 no such user")
                else:
                    lines.append(line); self.reply("250 ok")
            elif verb == "DATA":
                data = True; self.reply("354 go ahead")
            elif verb == "QUIT":
                self.reply("221 bye"); return
            else:
                self.reply("500 what")
class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
with Server(("127.0.0.1", 0), Handler) as server:
    open(port_file, "w").write(str(server.server_address[1]))
    server.serve_forever()
"""#

@Suite struct SMTPEmailTransportTests {
    @Test func deliversTheOutboxAndKeepsWhatFails() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("smtp-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let portFile = folder.appendingPathComponent("port").path
        let outFile = folder.appendingPathComponent("messages").path
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-c", fakeServer, portFile, outFile]
        server.standardOutput = FileHandle.nullDevice
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { server.terminate() }
        var port: Int?
        for _ in 0..<200 where port == nil {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            try await Task.sleep(for: .milliseconds(20))
        }
        let smtpPort = try #require(port)

        try await withDatabase { db in
            let outbox = EmailOutbox(logger: db.logger)
            try await outbox.enqueue(to: "ada@example.com", subject: "Verify", body: "line one\n.starts with a dot\nend", on: db.client)
            try await outbox.enqueue(to: "bob@refuse.example.com", subject: "Refused", body: "never", on: db.client)
            try await outbox.enqueue(to: "cy@example.com", subject: "After", body: "later", on: db.client)
            let transport = SMTPEmailTransport(configuration: try .init(url: "smtp://user:secret@127.0.0.1:\(smtpPort)", from: "no-reply@ytempire.test"))
            let sender = EmailSender(client: db.client, transport: transport, logger: db.logger)

            // The first goes out; the refused one stops the round and stays, as does the one after it.
            #expect(try await sender.runOnce() == 1)
            let pending = try await outbox.pending(on: db.client)
            #expect(pending.map(\.recipient) == ["bob@refuse.example.com", "cy@example.com"])
            let recorded = try String(contentsOfFile: outFile, encoding: .utf8)
            #expect(recorded.contains("MAIL FROM:<no-reply@ytempire.test>"))
            #expect(recorded.contains("RCPT TO:<ada@example.com>"))
            #expect(recorded.contains("Subject: Verify"))
            #expect(recorded.contains("\n..starts with a dot\n"), "dot-stuffed on the wire")
        }
    }

    /// Without SMTP, a process logs that an email was held, never its body (which carries a
    /// token) unless told to (`ytempire up`, `YTEMPIRE_EMAIL_LOG_BODIES=1`); and no body
    /// stays in the outbox once sent.
    @Test func heldEmailsKeepTheirTokensOutOfLogsAndTheOutbox() async throws {
        try await withDatabase { db in
            let outbox = EmailOutbox(logger: db.logger)
            let token = "tok_" + String(repeating: "s3cr3t", count: 6)
            try await outbox.enqueue(to: "ada@example.com", subject: "Verify", body: "Your token:\n\(token)\n", on: db.client)
            let quiet = CapturedLog()
            let held = EmailSender(client: db.client, transport: LogEmailTransport(logger: quiet.logger(), includeBodies: false), logger: db.logger)
            #expect(try await held.runOnce() == 1)
            #expect(quiet.all.count == 1)
            #expect(!quiet.all.contains { $0.text.contains(token) }, "no token in the log")
            #expect(try await db.scalar("SELECT count(*) FROM email_outbox WHERE body LIKE '%' || \(token) || '%'") == 0,
                    "no token left in the outbox")

            try await outbox.enqueue(to: "bob@example.com", subject: "Verify", body: "Your token:\n\(token)\n", on: db.client)
            let developer = CapturedLog()
            let shown = EmailSender(client: db.client, transport: LogEmailTransport(logger: developer.logger(), includeBodies: true), logger: db.logger)
            #expect(try await shown.runOnce() == 1)
            #expect(developer.all.contains { $0.text.contains(token) }, "the embedded default shows the developer their token")
        }
    }

    @Test func configurationIsValidated() throws {
        let parsed = try SMTPEmailTransport.Configuration(url: "smtp://u%40x:p@mail.internal", from: "a@b.c")
        #expect(parsed.host == "mail.internal")
        #expect(parsed.port == 25)
        #expect(parsed.username == "u@x")
        #expect(throws: SMTPError.self) { try SMTPEmailTransport.Configuration(url: "http://mail", from: "a@b.c") }
        #expect(throws: SMTPError.self) { try SMTPEmailTransport.Configuration(url: "smtp://mail", from: "nobody") }
    }
}
