import Foundation
@testable import Queue
import QueueTestSupport
import Testing

@Suite struct ParsingTests {
    @Test func databaseURLs() throws {
        let tcp = try DatabaseURL("postgres://app:s%40cret@db.internal:6543/fleet?sslmode=require")
        #expect(tcp.user == "app")
        #expect(tcp.password == "s@cret")
        #expect(tcp.host == "db.internal")
        #expect(tcp.port == 6543)
        #expect(tcp.database == "fleet")
        #expect(tcp.sslMode == "require")
        #expect(!tcp.redacted.contains("cret"))
        let socket = try DatabaseURL("postgresql://postgres@/ytempire?host=/var/run/postgresql")
        #expect(socket.socketDirectory == "/var/run/postgresql")
        #expect(socket.port == 5432)
        #expect(throws: QueueError.self) { try DatabaseURL("mysql://x@y/z") }
        #expect(throws: QueueError.self) { try DatabaseURL("not a url") }
        #expect(throws: QueueError.self) { try DatabaseURL("postgres://x@y/z?sslmode=sometimes") }
    }

    @Test func queueSpecs() throws {
        #expect(try WorkerConfiguration.parseQueues("default=16,video=8") == ["default": 16, "video": 8])
        #expect(try WorkerConfiguration.parseQueues("default") == ["default": 10])
        #expect(throws: QueueError.self) { try WorkerConfiguration.parseQueues("") }
        #expect(throws: QueueError.self) { try WorkerConfiguration.parseQueues("video=0") }
        #expect(throws: QueueError.self) { try WorkerConfiguration.parseQueues("video=lots") }
        #expect(throws: QueueError.self) { try WorkerConfiguration.parseQueues("bad queue=1") }
    }

    @Test func sqlScriptsSplitOutsideQuotesCommentsAndBodies() {
        let script = """
            -- a comment; with a semicolon
            CREATE TABLE a (x text DEFAULT 'semi;colon');
            /* block; comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$;
            CREATE FUNCTION g() RETURNS int LANGUAGE sql AS $body$ SELECT 2; $body$;
            SELECT "odd;name" FROM a
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements[0] == "CREATE TABLE a (x text DEFAULT 'semi;colon')")
        #expect(statements[1].hasSuffix("END $$"))
        #expect(statements[2].hasSuffix("$body$"))
        #expect(statements[3] == "SELECT \"odd;name\" FROM a")
    }
}
