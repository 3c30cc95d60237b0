import Foundation
import Planning
import Testing

@Suite struct CommandParseTests {
    func parse(_ json: String) -> Result<PlanningCommand, CommandParseError> {
        Result { () throws(CommandParseError) in try PlanningCommand.parse(json: Data(json.utf8)) }
    }

    func expectError(_ json: String, field: String?, _ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        switch parse(json) {
        case .success(let c): Issue.record("parsed \(c)", sourceLocation: sourceLocation)
        case .failure(let e):
            #expect(e.field == field, "\(e.message)", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "\(e.message)", sourceLocation: sourceLocation)
        }
    }

    @Test func parsesAGoodCommand() throws {
        let json = #"{"command":"commitUnit","exercise":"ts25","unit":"aus-3rar","role":"Amphibious assault","window":{"start":"2025-07-13","end":"2025-07-20"}}"#
        let command = try PlanningCommand.parse(json: Data(json.utf8))
        #expect(command == .commitUnit(UnitAssignment(exercise: "ts25", unit: "aus-3rar", role: "Amphibious assault", window: window("2025-07-13", "2025-07-20"))))
        #expect(command.name == "commitUnit")
    }

    @Test func everyFixtureAndDemoCommandRoundTrips() throws {
        let commands = Fixture.world + Fixture.toConduct + [Fixture.observation()] + DemoScenario.steps.map(\.command)
        for command in commands {
            let parsed = try PlanningCommand.parse(json: command.jsonObject())
            #expect(parsed == command)
        }
        #expect(Set(commands.map(\.name)).count >= 20)
    }

    @Test func badDate() {
        expectError(#"{"command":"commitUnit","exercise":"ts25","unit":"u","role":"r","window":{"start":"2025-07-13","end":"2025-13-40"}}"#,
                    field: "window.end", "field 'window.end': '2025-13-40' is not a date (expected YYYY-MM-DD)")
        expectError(#"{"command":"holdMilestone","exercise":"ts25","milestone":"cdc","on":"2025-02-29"}"#, field: "on", "is not a date")
    }

    @Test func windowEndBeforeStart() {
        expectError(#"{"command":"postponeExercise","exercise":"ts25","reason":"x","window":{"start":"2025-07-13","end":"2025-07-01"}}"#,
                    field: "window.end", "2025-07-01 is before start 2025-07-13")
    }

    @Test func badSlugTrigraphAndText() {
        expectError(#"{"command":"registerNation","nation":"usa","name":"United States"}"#, field: "nation", "exactly 3 uppercase letters")
        expectError(#"{"command":"registerNation","nation":"USAA","name":"United States"}"#, field: "nation", "'USAA' is not valid")
        expectError(#"{"command":"resumeExercise","exercise":"TS25"}"#, field: "exercise", "lowercase slug")
        expectError(#"{"command":"resumeExercise","exercise":"-ts25"}"#, field: "exercise", "lowercase slug")
        expectError(#"{"command":"resumeExercise","exercise":"\#(String(repeating: "a", count: 64))"}"#, field: "exercise", "1 to 63")
        expectError(#"{"command":"registerNation","nation":"USA","name":"United\nStates"}"#, field: "name", "single line")
        expectError(#"{"command":"registerNation","nation":"USA","name":"\#(String(repeating: "x", count: 201))"}"#, field: "name", "1 to 200")
        expectError(#"{"command":"pauseExercise","exercise":"ts25","reason":"\#(String(repeating: "x", count: 10_001))"}"#, field: "reason", "10000")
        expectError(#"{"command":"pauseExercise","exercise":"ts25","reason":"   "}"#, field: "reason", "not valid")
    }

    @Test func enumValuesListed() {
        expectError(#"{"command":"registerUnit","unit":"u","nation":"AUS","service":"navy","echelon":"ship","name":"n"}"#,
                    field: "service", "'navy' is not one of land, maritime, air, space, cyber, sof")
        expectError(#"{"command":"launch"}"#, field: "command", "'launch' is not one of")
    }

    @Test func numbersInRange() {
        expectError(#"{"command":"reportReadiness","unit":"u","asOf":"2025-05-01","ratings":{"personnel":5,"supplies":1,"equipment":1,"training":1}}"#,
                    field: "ratings.personnel", "5 is out of range (expected a rating from 1 to 4)")
        expectError(#"{"command":"startInject","exercise":"ts25","number":99999999999999999999999}"#, field: "number", "is not an integer")
        expectError(#"{"command":"startInject","exercise":"ts25","number":1.5}"#, field: "number", "1.5 is not an integer")
    }

    @Test func unknownFieldsRefused() {
        expectError(#"{"command":"resumeExercise","exercise":"ts25","force":true}"#, field: "force", "field 'force' is not a field of resumeExercise")
        expectError(#"{"command":"commitUnit","exercise":"ts25","unit":"u","role":"r","window":{"start":"2025-07-13","end":"2025-07-20","tz":"Z"}}"#,
                    field: "window.tz", "is not a field of commitUnit")
        expectError(#"{"command":"addObjective","exercise":"ts25","objective":{"id":"a","text":"t","priority":1,"strategicObjective":"deterrence","tasks":[],"owner":"x"}}"#,
                    field: "objective.owner", "is not a field")
    }

    @Test func wrongTypesAndMissingFields() {
        expectError(#"{"command":"registerNation","nation":"USA","name":"United States","fictional":"no"}"#, field: "fictional", "expected true or false")
        expectError(#"{"command":"registerNation","nation":"USA","name":42}"#, field: "name", "expected a string")
        expectError(#"{"command":"registerNation","nation":"USA"}"#, field: "name", "field 'name' is missing")
        expectError(#"{"command":"planExercise","exercise":"x","name":"X","types":"cpx"}"#, field: "types", "expected an array")
        expectError(#"{"command":"registerNation","nation":"USA","name":null}"#, field: "name", "null is not allowed")
        expectError(#"{"command":7}"#, field: "command", "expected a string")
        expectError(#"{"nation":"USA"}"#, field: "command", "is missing")
        expectError(#"[1,2]"#, field: nil, "not a JSON object")
        expectError(#"{"command":"#, field: nil, "not valid JSON")
    }

    @Test func optionalFieldsMayBeOmitted() throws {
        let json = #"{"command":"planExercise","exercise":"x","name":"X","types":["cpx"],"joint":false,"combined":false,"leadNations":["AUS"],"strategicObjectives":["deterrence"],"ceiling":"UNCLASSIFIED","window":{"start":"2025-01-01","end":"2025-01-02"},"minimumReadiness":2}"#
        guard case .planExercise(let plan) = try PlanningCommand.parse(json: Data(json.utf8)) else { Issue.record("wrong command"); return }
        #expect(plan.phases.isEmpty && plan.hostNations.isEmpty && plan.alliance == nil)
    }
}

@Suite struct EventCodecTests {
    @Test func everyEventRoundTripsThroughItsRecord() throws {
        let store = InMemoryStore()
        for step in DemoScenario.steps { _ = try? store.execute(step.command, at: Day(step.at)) }
        var types = Set<String>()
        for (_, records) in store.streams {
            for record in records {
                let event = try PlanningEvent.decode(record)
                #expect(event.record == record)
                types.insert(record.type)
            }
        }
        #expect(types.count >= 20)
    }

    @Test func upcastsReadinessReportedV1() throws {
        let v1 = EventRecord(type: "ReadinessReported", schemaVersion: 1, payload: Data(#"{"unit":"aus-3rar","asOf":"2019-03-01","level":3}"#.utf8))
        let event = try PlanningEvent.decode(v1)
        #expect(event == .unit(.readinessReported(ReadinessReported(unit: "aus-3rar", asOf: "2019-03-01", ratings: nil, cLevel: 3))))
        #expect(event.record.schemaVersion == 2)
        #expect(UnitState.fold([event]).latestReport?.cLevel == 3)
    }

    @Test func upcastsExercisePlannedV1() throws {
        let v1 = #"{"exercise":"ts19","name":"TALISMAN SABRE 19","types":["livex"],"joint":true,"combined":true,"leadNations":["AUS","USA"],"hostNations":["AUS"],"strategicObjectives":["interoperability"],"ceiling":"RESTRICTED","releasableTo":["AUS","USA"],"start":"2019-07-11","end":"2019-07-24","minimumReadiness":2}"#
        let event = try PlanningEvent.decode(EventRecord(type: "ExercisePlanned", schemaVersion: 1, payload: Data(v1.utf8)))
        guard case .exercise(.planned(let plan)) = event else { Issue.record("wrong event"); return }
        #expect(plan.window == window("2019-07-11", "2019-07-24"))
        #expect(plan.phases.isEmpty)
    }

    @Test func refusesUnknownAndFutureVersions() {
        #expect(throws: EventDecodingError.self) { try PlanningEvent.decode(EventRecord(type: "Nope", schemaVersion: 1, payload: Data("{}".utf8))) }
        #expect(throws: EventDecodingError.self) { try PlanningEvent.decode(EventRecord(type: "ReadinessReported", schemaVersion: 3, payload: Data("{}".utf8))) }
        #expect(throws: EventDecodingError.self) { try PlanningEvent.decode(EventRecord(type: "NationRegistered", schemaVersion: 1, payload: Data("[]".utf8))) }
        #expect(throws: EventDecodingError.self) { try PlanningEvent.decode(EventRecord(type: "NationRegistered", schemaVersion: 1, payload: Data(#"{"nation":"us","name":"x"}"#.utf8))) }
    }
}

@Suite struct ValueTests {
    @Test func days() {
        #expect(Day(iso: "2024-02-29") != nil)
        #expect(Day(iso: "2025-02-29") == nil)
        #expect(Day(iso: "1900-02-29") == nil)
        #expect(Day(iso: "2000-02-29") != nil)
        #expect(Day(iso: "2025-7-13") == nil)
        #expect(Day(iso: "0000-01-01") == nil)
        #expect(Day(iso: "2025-07-13")?.ordinal == 20_282)
        #expect(Day(ordinal: 20_282).description == "2025-07-13")
        #expect(Day(Date(timeIntervalSince1970: 0)).description == "1970-01-01")
        #expect(Day(Date(timeIntervalSince1970: -1)).description == "1969-12-31")
        #expect(Day(Date.distantFuture).description == "4001-01-01")
        #expect(Day(Date(timeIntervalSince1970: .infinity)).description == "9999-12-31")
        #expect(Day(Date(timeIntervalSince1970: .nan)).description == "1970-01-01")
        let last: Day = "9999-12-31"
        #expect(last.adding(days: 1) == nil)
        #expect(last.adding(days: Int.max) == nil)
        for ordinal in stride(from: -719_162, through: 2_932_896, by: 997) {
            #expect(Day(ordinal: ordinal).ordinal == ordinal)
        }
    }

    @Test func windows() {
        let a = window("2025-07-13", "2025-08-04")
        #expect(a.overlaps(window("2025-08-04", "2025-08-10")))
        #expect(!a.overlaps(window("2025-08-05", "2025-08-10")))
        #expect(Window(start: "2025-08-05", end: "2025-08-04") == nil)
        #expect(a.shifted(by: 7) == window("2025-07-20", "2025-08-11"))
    }

    @Test func streamNames() {
        #expect(StreamName(rawValue: "unit-aus-3rar") == StreamName(category: "unit", id: "aus-3rar"))
        #expect(StreamName(rawValue: "unit") == nil)
        #expect(StreamName(rawValue: "-x") == nil)
        #expect(StreamName.nation("USA").rawValue == "nation-usa")
    }

    @Test func cLevelIsWorstArea() {
        #expect(Fixture.ratings(1, 2, 4, 1).overall == 4)
        #expect(Fixture.ratings(1).overall == 1)
    }
}
