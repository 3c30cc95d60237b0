import EventSourcing
import Foundation
import Planning
import Postgres
import Projections
import TestSupport

/// The demo scenario plus steps that give every view something to show: a near-conflict, a cancelled and a
/// postponed exercise, a correction that drops a unit below threshold, a unit that falls below it after
/// StartEx, an observation that lowers a matrix level, a lesson learned that no longer does, a fresh report.
enum Scenario {
    static func noon(_ day: Day) -> Date { Date(timeIntervalSince1970: Double(day.ordinal) * 86_400 + 43_200) }

    static func window(_ start: Day, _ end: Day) -> Window {
        guard let w = Window(start: start, end: end) else { preconditionFailure("bad window") }
        return w
    }

    static func step(_ day: Day, _ actor: String, _ command: PlanningCommand, reason: String? = nil) -> DemoStep {
        DemoStep(at: noon(day), actor: actor, reason: reason, command: command)
    }

    static let today = Day(Date())

    static var extraSteps: [DemoStep] {
        let unclassified = Marking(classification: .unclassified)
        return [
            // A second AUS exercise soon after Pitch Black 24: near-conflicts for aus-2sqn and darwin-airspace.
            step("2024-05-01", "raaf-planner", .planExercise(ExercisePlan(
                exercise: "kakadu24", name: "KAKADU 2024", series: "Kakadu", types: [.livex], joint: false, combined: true,
                leadNations: ["AUS"], hostNations: ["AUS"], strategicObjectives: [.interoperability], ceiling: .unclassified,
                releasableTo: ["AUS", "USA"], window: window("2024-08-10", "2024-08-20"),
                requiredStandards: [Capability(kind: .dataLink, name: "Link 16")], minimumReadiness: 2))),
            step("2024-05-02", "raaf-planner", .inviteNation(Invitation(exercise: "kakadu24", nation: "USA", role: .participant))),
            step("2024-05-03", "usn-liaison", .acceptInvitation(NationRef(exercise: "kakadu24", nation: "USA"))),
            step("2024-06-01", "readiness-officer", .reportReadiness(ReadinessSubmission(
                unit: "usa-rafael-peralta", asOf: "2024-06-01", ratings: ReadinessRatings(personnel: 1, supplies: 1, equipment: 1, training: 1))),
                reason: "SYNTHETIC demo figure"),
            step("2024-06-05", "raaf-planner", .commitUnit(UnitAssignment(exercise: "kakadu24", unit: "aus-2sqn", role: "AEW&C"))),
            step("2024-06-05", "raaf-planner", .commitUnit(UnitAssignment(exercise: "kakadu24", unit: "usa-rafael-peralta", role: "Air defence"))),
            step("2024-06-05", "range-control", .bookTrainingArea(AreaAssignment(exercise: "kakadu24", area: "darwin-airspace"))),
            // Planned, booked, committed, postponed, then cancelled: nothing of it remains committed or booked.
            step("2024-08-20", "adf-j7", .planExercise(ExercisePlan(
                exercise: "wallaby24", name: "WALLABY 2024", types: [.ftx], joint: false, combined: false,
                leadNations: ["AUS"], hostNations: ["AUS"], strategicObjectives: [.deterrence], ceiling: .unclassified,
                releasableTo: ["AUS"], window: window("2024-10-01", "2024-10-10"),
                phases: [Phase(id: "live", name: "Live fire", window: window("2024-10-03", "2024-10-08"))], minimumReadiness: 2))),
            step("2024-08-21", "range-control", .bookTrainingArea(AreaAssignment(exercise: "wallaby24", area: "shoalwater-bay", phase: "live"))),
            step("2024-09-01", "readiness-officer", .reportReadiness(ReadinessSubmission(
                unit: "aus-20str", asOf: "2024-09-01", ratings: ReadinessRatings(personnel: 1, supplies: 2, equipment: 1, training: 1)))),
            step("2024-09-02", "adf-j7", .commitUnit(UnitAssignment(exercise: "wallaby24", unit: "aus-20str", role: "Fires", phase: "live"))),
            step("2024-09-05", "adf-j7", .postponeExercise(Postponement(
                exercise: "wallaby24", window: window("2024-10-15", "2024-10-24"), reason: "Range maintenance"))),
            step("2024-09-10", "adf-j7", .cancelExercise(ExerciseReason(exercise: "wallaby24", reason: "Forces needed elsewhere"))),
            // Talisman Sabre 25: a correction below threshold, a report that falls below it after StartEx.
            step("2025-06-10", "readiness-officer", .correctReadiness(ReadinessCorrection(
                unit: "jpn-ardb", asOf: "2025-05-29", ratings: ReadinessRatings(personnel: 3, supplies: 2, equipment: 1, training: 2),
                reason: "Corrected return: personnel shortfall (SYNTHETIC)"))),
            step("2025-07-20", "readiness-officer", .reportReadiness(ReadinessSubmission(
                unit: "usa-31meu", asOf: "2025-07-20", ratings: ReadinessRatings(personnel: 1, supplies: 3, equipment: 2, training: 1)))),
            step("2025-08-05", "usa-analyst", .recordObservation(ObservationRecord(exercise: "ts25", observation: Observation(
                id: "fmn-aus-usa", dimension: .technical, reportedBy: "USA", nations: ["AUS", "USA"],
                standard: Capability(kind: .fmn, name: "FMN Spiral 4"), severity: .minor, observedLevel: nil,
                text: "FMN Spiral 4 chat services needed manual federation between the AUS and USA headquarters.", marking: unclassified)))),
            step("2025-08-05", "usa-analyst", .recordObservation(ObservationRecord(exercise: "ts25", observation: Observation(
                id: "voice-nzl-usa", dimension: .procedural, reportedBy: "NZL", nations: ["NZL", "USA"], standard: nil,
                severity: .critical, observedLevel: nil, text: "Voice procedures differed between NZL and USA fire controllers.",
                marking: unclassified)))),
            step("2025-09-01", "lessons-cell", .advanceLesson(LessonStep(exercise: "ts25", observation: "voice-nzl-usa", stage: .lessonIdentified, note: "Common voice procedure needed"))),
            step("2025-09-02", "lessons-cell", .advanceLesson(LessonStep(exercise: "ts25", observation: "voice-nzl-usa", stage: .remedialAction, note: "Joint procedure card issued"))),
            step("2025-09-03", "lessons-cell", .advanceLesson(LessonStep(exercise: "ts25", observation: "voice-nzl-usa", stage: .lessonLearned, note: "Procedure card validated"))),
            // A fresh report: not stale today.
            DemoStep(at: Date(), actor: "readiness-officer", reason: nil, command: .reportReadiness(ReadinessSubmission(
                unit: "usa-rafael-peralta", asOf: today, ratings: ReadinessRatings(personnel: 1, supplies: 1, equipment: 1, training: 1)))),
        ]
    }

    /// Every step, in the order applied.
    static var allSteps: [DemoStep] { DemoScenario.steps + extraSteps }

    /// Applies steps through the planning service, skipping those the demo expects to be refused.
    static func apply(_ steps: some Sequence<DemoStep>, _ db: PostgresConnection) throws {
        let service = PlanningService(EventStore(db))
        for step in steps {
            let context = PlanningService.Context(actor: step.actor, reason: step.reason, now: step.at)
            if step.expectRejection {
                _ = try? service.handle(step.command, context: context)
            } else {
                do {
                    _ = try service.handle(step.command, context: context)
                } catch {
                    throw ScenarioError(description: "\(step.command.name) by \(step.actor) at \(step.at): \(error)")
                }
            }
        }
    }

    struct ScenarioError: Error, CustomStringConvertible {
        let description: String
    }

    /// A legacy import that bypassed the planner's checks: aus-2sqn also committed to RIMPAC 2024, overlapping Pitch Black 24.
    static func appendLegacyImport(_ db: PostgresConnection) throws {
        let window = window("2024-06-27", "2024-08-01")
        let metadata = EventMetadata(actor: "legacy-import", reason: "Imported from the previous planning tool without checks")
        func new(_ e: PlanningEvent) -> NewEvent {
            let r = e.record
            return NewEvent(type: r.type, schemaVersion: r.schemaVersion, payload: r.payload, metadata: metadata)
        }
        try EventStore(db).append([
            StreamAppend(stream: "exercise-rimpac24", expected: .any, events: [new(.exercise(.forceCommitted(ForceCommitted(
                exercise: "rimpac24", unit: "aus-2sqn", nation: "AUS", role: "AEW&C", phase: nil, window: window))))]),
            StreamAppend(stream: "unit-aus-2sqn", expected: .any, events: [new(.unit(.committed(UnitCommitted(
                unit: "aus-2sqn", exercise: "rimpac24", exerciseName: "RIMPAC 2024", role: "AEW&C", phase: nil, window: window))))]),
        ])
    }

    /// A database with the whole scenario applied (read models not run yet).
    static func database() throws -> (TestDatabase, PostgresConnection) {
        let database = try TestDatabase()
        let db = try database.connect()
        try apply(allSteps, db)
        try appendLegacyImport(db)
        return (database, db)
    }
}

/// Rows of a query as text ("∅" for NULL), in column order.
func rows(_ db: PostgresConnection, _ sql: String) throws -> [[String]] {
    try db.query(PostgresQuery(sql: sql)).map { row in row.values.map { $0 ?? "∅" } }
}

func count(_ db: PostgresConnection, _ sql: String) throws -> Int {
    try db.query(PostgresQuery(sql: sql)).first?.decode("n") ?? -1
}
