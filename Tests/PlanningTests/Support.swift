import Foundation
import Planning
import Testing

/// An in-memory event store with optimistic concurrency; every event goes through its stored record form.
final class InMemoryStore {
    private(set) var streams: [StreamName: [EventRecord]] = [:]

    struct VersionConflict: Error { let stream: StreamName }

    func load(_ name: StreamName) throws -> StreamSnapshot {
        let records = streams[name] ?? []
        return StreamSnapshot(version: Int64(records.count), events: try records.map(PlanningEvent.decode))
    }

    func events(_ name: StreamName) -> [PlanningEvent] { (try? load(name).events) ?? [] }

    func append(_ decision: Decision) throws {
        for write in decision.writes where Int64(streams[write.stream]?.count ?? 0) != write.expectedVersion {
            throw VersionConflict(stream: write.stream)
        }
        for write in decision.writes { streams[write.stream, default: []] += write.events.map(\.record) }
    }

    /// Decides and appends; returns the decision.
    @discardableResult
    func execute(_ command: PlanningCommand, at day: Day) throws -> Decision {
        let decision = try Planner.decide(command, now: noon(day), load: load)
        try append(decision)
        return decision
    }
}

func noon(_ day: Day) -> Date { Date(timeIntervalSince1970: Double(day.ordinal) * 86_400 + 43_200) }

func window(_ start: Day, _ end: Day) -> Window {
    Window(start: start, end: end)!
}

/// Given / when / then around one store.
struct Scenario {
    let store = InMemoryStore()

    init(_ given: [PlanningCommand] = [], at day: Day = "2025-06-01", sourceLocation: SourceLocation = #_sourceLocation) {
        self.given(given, at: day, sourceLocation: sourceLocation)
    }

    func given(_ commands: [PlanningCommand], at day: Day = "2025-06-01", sourceLocation: SourceLocation = #_sourceLocation) {
        for command in commands {
            do { try store.execute(command, at: day) } catch {
                Issue.record("given \(command.name) failed: \(error)", sourceLocation: sourceLocation)
            }
        }
    }

    /// Expects acceptance; returns the events decided (and appends them).
    @discardableResult
    func accept(_ command: PlanningCommand, at day: Day = "2025-06-01", sourceLocation: SourceLocation = #_sourceLocation) -> [PlanningEvent] {
        do {
            return try store.execute(command, at: day).events
        } catch {
            Issue.record("\(command.name) was rejected: \(error)", sourceLocation: sourceLocation)
            return []
        }
    }

    /// Expects a rejection naming `field` whose message contains `text`.
    func reject(
        _ command: PlanningCommand, at day: Day = "2025-06-01", field: String? = nil, _ text: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        do {
            let decision = try Planner.decide(command, now: noon(day), load: store.load)
            Issue.record("\(command.name) was accepted: \(decision.events)", sourceLocation: sourceLocation)
        } catch let rejection as PlanningRejection {
            #expect(rejection.message.contains(text), "\(rejection.message)", sourceLocation: sourceLocation)
            if let field { #expect(rejection.field == field, "\(rejection.field): \(rejection.message)", sourceLocation: sourceLocation) }
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    func exercise(_ id: Slug) -> ExerciseState { ExerciseState.fold(store.events(.exercise(id))) }
    func unit(_ id: Slug) -> UnitState { UnitState.fold(store.events(.unit(id))) }
    func area(_ id: Slug) -> AreaState { AreaState.fold(store.events(.area(id))) }
    func alliance(_ id: Slug) -> AllianceState { AllianceState.fold(store.events(.alliance(id))) }
}

// MARK: - Fixtures

enum Fixture {
    static let nations: [PlanningCommand] = (["AUS", "USA", "JPN", "NZL", "MYS", "GBR", "FRA"] as [Trigraph]).map {
        .registerNation(NationProfile(nation: $0, name: Line($0.value)!, fictional: false))
    }

    static let anzus: [PlanningCommand] = [
        .formAlliance(AllianceProfile(alliance: "anzus", name: "ANZUS Treaty", kind: .defencePact, founded: "1952-04-29")),
        .admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "AUS", role: .member, joined: "1952-04-29")),
        .admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "USA", role: .member, joined: "1952-04-29")),
        .admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "NZL", role: .member, joined: "1952-04-29")),
        .admitAllianceMember(AllianceAdmission(alliance: "anzus", nation: "GBR", role: .observer, joined: "2000-01-01")),
    ]

    static func unit(_ id: Slug, _ nation: Trigraph) -> PlanningCommand {
        .registerUnit(UnitProfile(unit: id, nation: nation, service: .land, echelon: .battalion, name: Line("Unit \(id)")!))
    }

    static func ratings(_ p: Rating, _ s: Rating = 1, _ r: Rating = 1, _ t: Rating = 1) -> ReadinessRatings {
        ReadinessRatings(personnel: p, supplies: s, equipment: r, training: t)
    }

    static func report(_ id: Slug, _ asOf: Day, _ level: Rating = 1) -> PlanningCommand {
        .reportReadiness(ReadinessSubmission(unit: id, asOf: asOf, ratings: ratings(level)))
    }

    static let units: [PlanningCommand] = [
        unit("aus-3rar", "AUS"), unit("usa-31meu", "USA"), unit("jpn-ardb", "JPN"), unit("nzl-1rnzir", "NZL"),
        unit("mys-unit", "MYS"), unit("gbr-unit", "GBR"), unit("fra-unit", "FRA"),
        report("aus-3rar", "2025-05-25"), report("usa-31meu", "2025-05-25"), report("jpn-ardb", "2025-05-25"),
        report("nzl-1rnzir", "2025-05-25"), report("mys-unit", "2025-05-25"), report("gbr-unit", "2025-05-25"),
        report("fra-unit", "2025-05-25"),
    ]

    static func plan(
        _ id: Slug = "ts25", name: Line = "TALISMAN SABRE 25", window w: Window = window("2025-07-13", "2025-08-04"),
        phases: [Phase] = [], alliance: Slug? = "anzus", minimum: CLevel = 2
    ) -> ExercisePlan {
        ExercisePlan(
            exercise: id, name: name, series: "Talisman Sabre", types: [.livex, .cpx], joint: true, combined: true,
            alliance: alliance, leadNations: ["AUS", "USA"], hostNations: ["AUS"],
            strategicObjectives: [.deterrence, .interoperability], ceiling: .confidential,
            releasableTo: ["AUS", "USA", "JPN", "NZL"], window: w, phases: phases,
            requiredStandards: [Capability(kind: .dataLink, name: "Link 16")], minimumReadiness: minimum)
    }

    static let malabarPhases = [
        Phase(id: "harbour", name: "Harbour phase", window: window("2025-08-11", "2025-08-15")),
        Phase(id: "sea", name: "Sea phase", window: window("2025-08-16", "2025-08-21")),
    ]

    /// Nations, ANZUS, units with fresh C-1 reports, TS25 planned, Shoalwater Bay registered.
    static var world: [PlanningCommand] {
        nations + anzus + units + [
            .planExercise(plan()),
            .registerTrainingArea(AreaProfile(area: "shoalwater-bay", hostNation: "AUS", kind: .landRange, name: "Shoalwater Bay")),
        ]
    }

    static func commit(_ unit: Slug, to exercise: Slug = "ts25", phase: Slug? = nil, window: Window? = nil) -> PlanningCommand {
        .commitUnit(UnitAssignment(exercise: exercise, unit: unit, role: "Manoeuvre", phase: phase, window: window))
    }

    static func advance(_ exercise: Slug = "ts25", to stage: ExerciseStage) -> PlanningCommand {
        .advanceExercise(AdvanceExercise(exercise: exercise, to: stage))
    }

    static func milestone(_ m: Milestone, _ on: Day, _ exercise: Slug = "ts25") -> PlanningCommand {
        .holdMilestone(MilestoneRecord(exercise: exercise, milestone: m, on: on))
    }

    static func objective(_ id: Slug, _ exercise: Slug = "ts25") -> PlanningCommand {
        .addObjective(ObjectiveRecord(exercise: exercise, objective: Objective(
            id: id, text: Text("Objective \(id)")!, priority: 1, strategicObjective: .interoperability, tasks: ["ART 1.2"])))
    }

    static func inject(
        _ number: InjectNumber, objectives: [Slug] = ["amphib"], from: Trigraph = "AUS", to: [Trigraph] = ["USA"],
        marking: Marking = Marking(classification: .unclassified)
    ) -> PlanningCommand {
        .scriptInject(InjectRecord(exercise: "ts25", inject: Inject(
            number: number, scenarioTime: "H+36", from: from, to: to, method: .message, kind: .inject,
            expectedAction: "Issue orders", objectives: objectives, controller: "EXCON", marking: marking)))
    }

    static let workshop: PlanningCommand = .holdScenarioWorkshop(WorkshopRecord(exercise: "ts25", workshop: .melMil, on: "2025-04-08"))

    /// TS25 through MPC in planning status, with objective `amphib`.
    static let toMPC: [PlanningCommand] = [
        advance(to: .initiation), milestone(.cdc, "2024-08-15"), advance(to: .specification), milestone(.ipc, "2024-11-12"),
        advance(to: .planning), objective("amphib"), milestone(.mpc, "2025-02-18"),
    ]

    /// TS25 through FPC.
    static let toFPC: [PlanningCommand] = toMPC + [workshop, inject(1), milestone(.fpc, "2025-05-20")]

    /// TS25 in conduct.
    static let toConduct: [PlanningCommand] = toFPC + [milestone(.startEx, "2025-07-13")]

    static func observation(
        _ id: Slug = "link16", nations: [Trigraph] = ["AUS", "JPN"], marking: Marking = Marking(classification: .unclassified)
    ) -> PlanningCommand {
        .recordObservation(ObservationRecord(exercise: "ts25", observation: Observation(
            id: id, dimension: .technical, reportedBy: "AUS", nations: nations,
            standard: Capability(kind: .dataLink, name: "Link 16"), severity: .major, observedLevel: 1,
            text: "No Link 16 exchange", marking: marking)))
    }
}
