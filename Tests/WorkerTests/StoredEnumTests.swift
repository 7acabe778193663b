import Domain
import Models
import Queue
import TestSupport
import Testing

/// Every enum the code reads from a column holds exactly the values the column's CHECK allows:
/// a value added on one side only would be refused by the database or fail to decode.
@Suite struct StoredEnumTests {
    /// The quoted values of the CHECK on `table.column` (`column = ANY (ARRAY['a'::text, …])`).
    func allowed(_ db: TestDatabase, _ table: String, _ column: String) async throws -> Set<String> {
        let rows = try await db.client.query("""
            SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid
             WHERE t.relname = \(table) AND c.contype = 'c' AND pg_get_constraintdef(c.oid) LIKE '%(' || \(column) || ' = ANY%'
            """, logger: db.logger)
        var definitions: [String] = []
        for try await definition in rows.decode(String.self) { definitions.append(definition) }
        #expect(definitions.count == 1, "one CHECK on \(table).\(column), found \(definitions)")
        let definition = definitions.first ?? ""
        return Set(definition.split(separator: "'", omittingEmptySubsequences: false).enumerated().filter { $0.offset % 2 == 1 }.map { String($0.element) })
    }

    func values<E: CaseIterable & RawRepresentable>(_ type: E.Type, except: Set<String> = []) -> Set<String> where E.RawValue == String {
        Set(type.allCases.map(\.rawValue)).subtracting(except)
    }

    @Test func everyStoredEnumMatchesItsColumnsCheck() async throws {
        try await withDatabase { (db: TestDatabase) async throws in
            #expect(try await allowed(db, "jobs", "state") == values(JobState.self))
            #expect(try await allowed(db, "channels", "status") == values(ChannelStatus.self))
            #expect(try await allowed(db, "videos", "status") == values(VideoStatus.self))
            #expect(try await allowed(db, "videos", "kind") == values(VideoKind.self))
            #expect(try await allowed(db, "video_stages", "status") == values(StageStatus.self))
            #expect(try await allowed(db, "artifacts", "kind") == values(ArtifactKind.self))
            // cooling_down is derived from cooldown_until, never stored.
            #expect(try await allowed(db, "youtube_accounts", "status") == values(YouTubeAccountStatus.self, except: ["cooling_down"]))
            #expect(try await allowed(db, "publications", "status") == values(PublicationState.self))
            #expect(try await allowed(db, "webhook_endpoints", "status") == values(WebhookEndpointStatus.self))
            #expect(try await allowed(db, "analytics_backfills", "status") == values(AnalyticsBackfill.Status.self))
            #expect(try await allowed(db, "competitors", "status") == values(Competitor.Status.self))
            #expect(try await allowed(db, "reports", "status") == values(ReportStatus.self))
            #expect(try await allowed(db, "ml_models", "status") == values(ModelVersion.Status.self))
        }
    }
}
