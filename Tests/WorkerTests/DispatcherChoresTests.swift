import Foundation
import TestSupport
import Testing

/// The pipeline fleet of the tests runs exactly the chores a production dispatcher runs.
@Suite struct DispatcherChoresTests {
    @Test func thePipelineFleetRunsTheProductionChoreList() async throws {
        try await withDatabase { db in
            let child = try ChildProcess.ytempire(["dispatcher", "--list-chores", "--log-level", "error"], databaseURL: db.urlString,
                                                  environment: ["YTEMPIRE_TOKEN_KEY": Data(repeating: 1, count: 32).base64EncodedString()])
            #expect(await child.waitForExit() == 0, "\(child.output)")
            let production = child.output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            let tested = try PipelineFleet(db: db).chores().map(\.name)
            #expect(production == tested)
            #expect(production.contains("rescuer") && production.contains("webhook-fanout") && production.contains("reservation-settler"))
        }
    }
}
