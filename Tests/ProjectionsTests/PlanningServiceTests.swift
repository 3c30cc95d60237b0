import EventSourcing
import Foundation
import Planning
import Postgres
import Projections
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct PlanningServiceTests {
    static let sweden = #"{"command": "registerNation", "nation": "SWE", "name": "Sweden"}"#

    @Test func aCommandIDIsNewOnlyWhenNoneWasGivenOrSet() {
        #expect(PlanningService.Context(actor: "a").commandIDIsNew)
        #expect(!PlanningService.Context(actor: "a", commandID: UUID()).commandIDIsNew)
        var context = PlanningService.Context(actor: "a")
        context.commandID = UUID()
        #expect(!context.commandIDIsNew)
    }

    @Test func aGivenIDAppliedBeforeReturnsTheEarlierResultWhereANewIDIsDecidedAgain() throws {
        // Given: a nation registered under a given command id.
        let database = try TestDatabase()
        let db = try database.connect()
        let service = PlanningService(EventStore(db))
        let command = try PlanningCommand.parse(json: Data(Self.sweden.utf8))
        let id = UUID()
        let first = try service.handle(command, context: .init(actor: "planner", commandID: id))
        #expect(!first.duplicate)

        // When / Then: the same id again is the earlier result, although deciding again would refuse it.
        let retry = try service.handle(command, context: .init(actor: "planner", commandID: id))
        #expect(retry.duplicate)
        #expect(retry.result?.streams == first.result?.streams)
        #expect(retry.attempts == 0)

        // A new id is a new command, decided against the current state: the nation is registered already.
        let again = #expect(throws: PlanningService.Failure.self) {
            try service.handle(command, context: .init(actor: "planner"))
        }
        #expect(again?.description.contains("already registered") == true, "\(again?.description ?? "")")
        #expect(try db.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n", as: Int.self) == 1)
    }
}
