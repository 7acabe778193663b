@testable import API
import Hummingbird
import HummingbirdTesting
import PropertyBased
import TestSupport
import Testing

@Suite struct PaginationTests {
    /// Any integers a query string can carry: a 400 or a page whose offset is in range.
    @Test func anyPageAndLimitIsABadRequestOrAnOffsetInRange() async {
        let numbers = Gen.oneOf(Gen.int(in: Int.min...Int.max), Gen.int(in: -5...200), Gen.element(of: [Int.max, Int.min, 0, 1_000_000, 1_000_001]).map { $0 ?? 0 })
        await propertyCheck(count: 2000, input: numbers, numbers) { page, limit in
            do {
                let pagination = try Pagination(page: page, limit: limit)
                #expect(pagination.offset >= 0 && pagination.offset < 100_000_000)
                #expect(pagination.pages(total: Int(Int32.max)) >= 1)
            } catch let error as APIError {
                #expect(error.status == .badRequest)
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func defaultsAndBounds() throws {
        #expect(try Pagination(page: nil, limit: nil) == Pagination(page: 1, limit: 20))
        #expect(try Pagination(page: 3, limit: 100).offset == 200)
        #expect(try Pagination(page: 1, limit: 20).pages(total: 0) == 1)
        #expect(try Pagination(page: 1, limit: 20).pages(total: 41) == 3)
        for (page, limit) in [(0, 20), (-1, 20), (1, 0), (1, 101), (1, -5), (2_000_000, 20)] {
            #expect(throws: APIError.self) { try Pagination(page: page, limit: limit) }
        }
        do {
            _ = try Pagination(page: 1, limit: 500)
        } catch let error as APIError {
            #expect(error.status == .badRequest)
            #expect(error.field == "limit")
        }
    }
}

@Suite struct CORSTests {
    @Test func originsAreParsedStrictly() throws {
        let policy = try CORSPolicy.parse("https://app.example.com, http://localhost:3000/")
        #expect(policy.allowedOrigins == ["https://app.example.com", "http://localhost:3000"])
        #expect(throws: ConfigurationError.self) { try CORSPolicy.parse("ftp://x.example.com") }
        #expect(throws: ConfigurationError.self) { try CORSPolicy.parse("https://x.example.com/path") }
        #expect(try CORSPolicy.parse("").allowedOrigins.isEmpty)
    }
}

@Suite struct CORSRequestTests {
    @Test func allowedOriginsGetHeadersAndPreflightsOthersDoNot() async throws {
        try await withDatabase { db in
            let cors = try CORSPolicy.parse("https://app.example.com")
            try await withAPI(db, cors: cors) { api in
                let preflight = try await api.client.execute(
                    uri: "/api/v1/users/profile", method: .options,
                    headers: [.origin: "https://app.example.com", .accessControlRequestMethod: "GET"]) { $0 }
                #expect(preflight.status == .noContent)
                #expect(preflight.headers[.accessControlAllowOrigin] == "https://app.example.com")
                #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
                let simple = try await api.client.execute(uri: "/api/v1/health", method: .get, headers: [.origin: "https://app.example.com"]) { $0 }
                #expect(simple.headers[.accessControlAllowOrigin] == "https://app.example.com")
                let foreign = try await api.client.execute(uri: "/api/v1/health", method: .get, headers: [.origin: "https://evil.example.com"]) { $0 }
                #expect(foreign.headers[.accessControlAllowOrigin] == nil)
            }
        }
    }
}
