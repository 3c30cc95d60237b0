public import Foundation

/// One step of the demo: a command issued by `actor` at decision time `at`.
public struct DemoStep: Sendable {
    public let at: Date
    public let actor: String
    public let reason: String?
    public let command: PlanningCommand
    /// The step demonstrates a rule: the planner must refuse it.
    public let expectRejection: Bool

    public init(at: Date, actor: String, reason: String?, command: PlanningCommand, expectRejection: Bool = false) {
        self.at = at
        self.actor = actor
        self.reason = reason
        self.command = command
        self.expectRejection = expectRejection
    }
}

/// A public, unclassified scenario built from published exercise dates (see domain.md).
///
/// Readiness figures are SYNTHETIC: real C-levels are classified.
public enum DemoScenario {
    public static var steps: [DemoStep] {
        var b = Builder()
        b.setup()
        b.malabar23()
        b.pitchBlackAndRimpac24()
        b.talismanSabre25()
        // Chronological by decision time; steps on the same day keep their written order.
        return b.steps.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }.map(\.element)
    }

    /// Noon UTC on `day`, so the decision day is the same in every time zone near UTC.
    static func noon(_ day: Day) -> Date { Date(timeIntervalSince1970: Double(day.ordinal) * 86_400 + 43_200) }

    struct Builder {
        var steps: [DemoStep] = []
        static let synthetic: Text = "SYNTHETIC demo figure: real readiness is classified"

        mutating func add(
            _ day: Day, _ actor: String, _ command: PlanningCommand, reason: String? = nil, rejected: Bool = false
        ) {
            steps.append(DemoStep(at: noon(day), actor: actor, reason: reason, command: command, expectRejection: rejected))
        }

        mutating func ratings(_ unit: Slug, _ asOf: Day, _ p: Rating, _ s: Rating, _ r: Rating, _ t: Rating) {
            add(asOf, "readiness-officer",
                .reportReadiness(ReadinessSubmission(unit: unit, asOf: asOf,
                    ratings: ReadinessRatings(personnel: p, supplies: s, equipment: r, training: t))),
                reason: Builder.synthetic.value)
        }

        mutating func setup() {
            let day: Day = "2023-01-09"
            let nations: [(Trigraph, Line, Bool)] = [
                ("AUS", "Australia", false), ("USA", "United States", false), ("JPN", "Japan", false),
                ("IND", "India", false), ("NZL", "New Zealand", false), ("GBR", "United Kingdom", false),
                ("CAN", "Canada", false), ("FRA", "France", false), ("MYS", "Malaysia", false),
                ("SGP", "Singapore", false), ("OLV", "Olvana (fictional exercise country)", true),
            ]
            for (code, name, fictional) in nations {
                add(day, "registrar", .registerNation(NationProfile(nation: code, name: name, fictional: fictional)))
            }
            let alliances: [(Slug, Line, AllianceKind, Day, [(Trigraph, AllianceRole, Day)])] = [
                ("nato", "North Atlantic Treaty Organization", .treatyAlliance, "1949-04-04",
                 [("USA", .member, "1949-04-04"), ("GBR", .member, "1949-04-04"), ("CAN", .member, "1949-04-04"),
                  ("FRA", .member, "1949-04-04"), ("AUS", .partner, "2012-06-07"), ("JPN", .partner, "2014-05-06")]),
                ("anzus", "ANZUS Treaty", .defencePact, "1952-04-29",
                 [("AUS", .member, "1952-04-29"), ("NZL", .member, "1952-04-29"), ("USA", .member, "1952-04-29")]),
                ("quad", "Quadrilateral Security Dialogue", .strategicPartnership, "2017-11-12",
                 [("USA", .member, "2017-11-12"), ("JPN", .member, "2017-11-12"), ("IND", .member, "2017-11-12"),
                  ("AUS", .member, "2017-11-12")]),
                ("abcanz", "ABCANZ Armies' Program", .standardizationProgramme, "1947-01-01",
                 [("USA", .member, "1947-01-01"), ("GBR", .member, "1947-01-01"), ("CAN", .member, "1947-01-01"),
                  ("AUS", .member, "1963-01-01"), ("NZL", .member, "2006-01-01")]),
            ]
            for (id, name, kind, founded, members) in alliances {
                add(day, "registrar", .formAlliance(AllianceProfile(alliance: id, name: name, kind: kind, founded: founded)))
                for (nation, role, joined) in members {
                    add(day, "registrar", .admitAllianceMember(AllianceAdmission(alliance: id, nation: nation, role: role, joined: joined)))
                }
            }
            let units: [(Slug, Trigraph, Service, Echelon, Line, [Capability])] = [
                ("aus-3rar", "AUS", .land, .battalion, "3rd Battalion, Royal Australian Regiment",
                 [Capability(kind: .fmn, name: "FMN Spiral 4"), Capability(kind: .language, name: "English")]),
                ("aus-hmas-brisbane", "AUS", .maritime, .ship, "HMAS Brisbane (DDG 41)",
                 [Capability(kind: .dataLink, name: "Link 16"), Capability(kind: .language, name: "English")]),
                ("aus-2sqn", "AUS", .air, .squadron, "No. 2 Squadron RAAF (E-7A Wedgetail)",
                 [Capability(kind: .dataLink, name: "Link 16"), Capability(kind: .dataLink, name: "JREAP-C")]),
                ("aus-20str", "AUS", .land, .regiment, "20th Regiment, Royal Australian Artillery",
                 [Capability(kind: .stanag, name: "STANAG 4586"), Capability(kind: .fmn, name: "FMN Spiral 4")]),
                ("usa-31meu", "USA", .land, .regiment, "31st Marine Expeditionary Unit",
                 [Capability(kind: .dataLink, name: "Link 16"), Capability(kind: .dataLink, name: "VMF"),
                  Capability(kind: .fmn, name: "FMN Spiral 4")]),
                ("usa-rafael-peralta", "USA", .maritime, .ship, "USS Rafael Peralta (DDG 115)",
                 [Capability(kind: .dataLink, name: "Link 16")]),
                ("jpn-ardb", "JPN", .land, .brigade, "Amphibious Rapid Deployment Brigade",
                 [Capability(kind: .dataLink, name: "JREAP-C"), Capability(kind: .fmn, name: "FMN Spiral 4"),
                  Capability(kind: .language, name: "Japanese")]),
                ("ind-ins-kolkata", "IND", .maritime, .ship, "INS Kolkata (D63)",
                 [Capability(kind: .language, name: "English")]),
                ("nzl-1rnzir", "NZL", .land, .battalion, "1st Battalion, Royal New Zealand Infantry Regiment",
                 [Capability(kind: .fmn, name: "FMN Spiral 4")]),
            ]
            for (id, nation, service, echelon, name, capabilities) in units {
                add(day, "force-registrar", .registerUnit(UnitProfile(unit: id, nation: nation, service: service, echelon: echelon, name: name)))
                for capability in capabilities {
                    add(day, "force-registrar", .addCapability(CapabilityAddition(unit: id, capability: capability)))
                }
            }
            let areas: [(Slug, Trigraph, AreaKind, Line)] = [
                ("shoalwater-bay", "AUS", .landRange, "Shoalwater Bay Training Area"),
                ("coral-sea-east", "AUS", .seaArea, "Coral Sea exercise area east"),
                ("darwin-airspace", "AUS", .airspace, "Darwin restricted airspace"),
                ("sydney-fleet-base", "AUS", .port, "Fleet Base East, Sydney"),
            ]
            for (id, host, kind, name) in areas {
                add(day, "range-control", .registerTrainingArea(AreaProfile(area: id, hostNation: host, kind: kind, name: name)))
            }
        }

        mutating func malabar23() {
            let ex: Slug = "malabar23"
            add("2023-03-01", "quad-planner", .planExercise(ExercisePlan(
                exercise: ex, name: "MALABAR 2023", series: "Malabar", types: [.livex], joint: false, combined: true,
                alliance: "quad", leadNations: ["AUS"], hostNations: ["AUS"],
                strategicObjectives: [.interoperability, .regionalStability], ceiling: .restricted,
                releasableTo: ["AUS", "USA", "JPN", "IND"], window: window("2023-08-11", "2023-08-21"),
                phases: [
                    Phase(id: "harbour", name: "Harbour phase", window: window("2023-08-11", "2023-08-15")),
                    Phase(id: "sea", name: "Sea phase", window: window("2023-08-16", "2023-08-21")),
                ],
                requiredStandards: [Capability(kind: .dataLink, name: "Link 16")], minimumReadiness: 2)))
            add("2023-03-01", "range-control", .bookTrainingArea(AreaAssignment(exercise: ex, area: "sydney-fleet-base", phase: "harbour")))
            add("2023-03-01", "range-control", .bookTrainingArea(AreaAssignment(exercise: ex, area: "coral-sea-east", phase: "sea")))
            ratings("ind-ins-kolkata", "2023-07-20", 1, 2, 2, 1)
            ratings("aus-hmas-brisbane", "2023-07-21", 2, 1, 2, 2)
            add("2023-07-25", "quad-planner", .commitUnit(UnitAssignment(exercise: ex, unit: "ind-ins-kolkata", role: "Anti-submarine warfare", phase: "harbour")))
            add("2023-07-25", "quad-planner", .commitUnit(UnitAssignment(exercise: ex, unit: "ind-ins-kolkata", role: "Anti-submarine warfare", phase: "sea")))
            add("2023-07-25", "quad-planner", .commitUnit(UnitAssignment(exercise: ex, unit: "aus-hmas-brisbane", role: "Air warfare destroyer", phase: "sea")))
        }

        mutating func pitchBlackAndRimpac24() {
            add("2023-10-02", "raaf-planner", .planExercise(ExercisePlan(
                exercise: "pb24", name: "PITCH BLACK 24", series: "Pitch Black", types: [.livex], joint: false,
                combined: true, leadNations: ["AUS"], hostNations: ["AUS"],
                strategicObjectives: [.interoperability, .regionalStability], ceiling: .restricted,
                releasableTo: ["AUS", "USA", "JPN", "IND", "SGP", "FRA", "GBR", "CAN"],
                window: window("2024-07-12", "2024-08-02"), minimumReadiness: 2)))
            add("2023-10-02", "usn-planner", .planExercise(ExercisePlan(
                exercise: "rimpac24", name: "RIMPAC 2024", series: "RIMPAC", types: [.livex], joint: true,
                combined: true, leadNations: ["USA"], hostNations: ["USA"],
                strategicObjectives: [.interoperability, .powerProjection], ceiling: .restricted,
                releasableTo: ["USA", "AUS", "JPN", "IND", "CAN", "GBR", "FRA", "NZL", "SGP", "MYS"],
                window: window("2024-06-27", "2024-08-01"), minimumReadiness: 2)))
            add("2024-01-15", "usn-planner", .inviteNation(Invitation(exercise: "rimpac24", nation: "AUS", role: .participant)))
            add("2024-02-01", "adf-liaison", .acceptInvitation(NationRef(exercise: "rimpac24", nation: "AUS")))
            add("2024-02-01", "range-control", .bookTrainingArea(AreaAssignment(exercise: "pb24", area: "darwin-airspace")))
            ratings("aus-2sqn", "2024-05-28", 1, 1, 2, 1)
            add("2024-06-03", "raaf-planner", .commitUnit(UnitAssignment(exercise: "pb24", unit: "aus-2sqn", role: "Airborne early warning and control")))
            add("2024-06-04", "usn-planner",
                .commitUnit(UnitAssignment(exercise: "rimpac24", unit: "aus-2sqn", role: "Airborne early warning and control")),
                reason: "Deconfliction case: the squadron is already committed to Pitch Black 24", rejected: true)
        }

        mutating func talismanSabre25() {
            let ex: Slug = "ts25"
            add("2024-06-03", "adf-j7", .planExercise(ExercisePlan(
                exercise: ex, name: "TALISMAN SABRE 25", series: "Talisman Sabre", types: [.livex, .ftx, .cpx],
                joint: true, combined: true, alliance: "anzus", leadNations: ["AUS", "USA"], hostNations: ["AUS"],
                strategicObjectives: [.deterrence, .interoperability, .regionalStability], ceiling: .confidential,
                releasableTo: ["AUS", "USA", "JPN", "NZL", "GBR", "CAN", "FRA", "IND"],
                window: window("2025-07-13", "2025-08-04"),
                requiredStandards: [Capability(kind: .dataLink, name: "Link 16"), Capability(kind: .fmn, name: "FMN Spiral 4")],
                minimumReadiness: 2)))
            add("2024-07-01", "adf-j7", .advanceExercise(AdvanceExercise(exercise: ex, to: .initiation)))
            add("2024-08-15", "adf-j7", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .cdc, on: "2024-08-15")))
            add("2024-09-02", "adf-j7", .advanceExercise(AdvanceExercise(exercise: ex, to: .specification)))
            let invited: [(Trigraph, ParticipationRole)] = [
                ("JPN", .participant), ("NZL", .participant), ("GBR", .participant), ("CAN", .participant),
                ("FRA", .participant), ("IND", .participant), ("MYS", .observer),
            ]
            for (nation, role) in invited {
                add("2024-09-10", "adf-j7", .inviteNation(Invitation(exercise: ex, nation: nation, role: role)))
            }
            for (nation, _) in invited {
                add("2024-10-01", "\(nation.value.lowercased())-liaison", .acceptInvitation(NationRef(exercise: ex, nation: nation)))
            }
            add("2024-11-12", "adf-j7", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .ipc, on: "2024-11-12")))
            add("2024-12-02", "adf-j7", .advanceExercise(AdvanceExercise(exercise: ex, to: .planning)))
            add("2024-12-05", "adf-j7", .addObjective(ObjectiveRecord(exercise: ex, objective: Objective(
                id: "amphib", text: "Conduct a combined amphibious landing with integrated joint fires", priority: 1,
                strategicObjective: .interoperability, tasks: ["ART 1.2 Conduct tactical manoeuvre", "MCT 1.3.3 Conduct amphibious assault"]))))
            add("2024-12-05", "adf-j7", .addObjective(ObjectiveRecord(exercise: ex, objective: Objective(
                id: "c2", text: "Share a common operational picture across the coalition over Link 16 and FMN Spiral 4 services",
                priority: 2, strategicObjective: .interoperability, tasks: ["ART 5.1 Conduct the operations process"]))))
            add("2025-02-18", "adf-j7", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .mpc, on: "2025-02-18")))
            add("2025-04-08", "exercise-control", .holdScenarioWorkshop(WorkshopRecord(exercise: ex, workshop: .melMil, on: "2025-04-08")))
            let unclassified = Marking(classification: .unclassified)
            add("2025-04-09", "exercise-control", .scriptInject(InjectRecord(exercise: ex, inject: Inject(
                number: 1, scenarioTime: "H+36", from: "AUS", to: ["USA", "JPN"], method: .message, kind: .inject,
                expectedAction: "Combined task force issues the amphibious landing order", objectives: ["amphib"],
                controller: "EXCON land cell", marking: unclassified))))
            add("2025-04-09", "exercise-control", .scriptInject(InjectRecord(exercise: ex, inject: Inject(
                number: 2, scenarioTime: "H+40", from: "USA", to: ["AUS", "JPN", "NZL"], method: .simulation,
                kind: .expectedAction, expectedAction: "Maritime and land headquarters share the air picture",
                objectives: ["c2", "amphib"], controller: "EXCON joint fires cell", marking: unclassified))))
            add("2025-04-09", "exercise-control", .scriptInject(InjectRecord(exercise: ex, inject: Inject(
                number: 3, scenarioTime: "H+48", from: "USA", to: ["JPN"], method: .chat, kind: .information,
                expectedAction: "National intelligence update", objectives: ["c2"], controller: "EXCON intelligence cell",
                marking: Marking(classification: .confidential, noforn: true)))),
                reason: "Releasability case: NOFORN material never leaves the originating nation", rejected: true)
            add("2025-05-20", "adf-j7", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .fpc, on: "2025-05-20")))
            add("2025-05-21", "range-control", .bookTrainingArea(AreaAssignment(exercise: ex, area: "shoalwater-bay")))
            ratings("aus-3rar", "2025-05-30", 1, 2, 1, 1)
            ratings("usa-31meu", "2025-05-31", 1, 1, 2, 1)
            ratings("jpn-ardb", "2025-05-29", 2, 2, 1, 2)
            ratings("aus-20str", "2025-05-30", 2, 2, 2, 1)
            ratings("nzl-1rnzir", "2025-05-28", 2, 3, 2, 2)
            add("2025-06-02", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "aus-3rar", role: "Amphibious assault")))
            add("2025-06-02", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "usa-31meu", role: "Amphibious assault")))
            add("2025-06-02", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "jpn-ardb", role: "Amphibious assault")))
            add("2025-06-02", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "aus-20str", role: "Joint fires and ISR")))
            add("2025-06-02", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "nzl-1rnzir", role: "Security force")),
                reason: "Readiness case: SYNTHETIC demo figure C-3 is below the exercise minimum C-2", rejected: true)
            add("2025-06-03", "nzdf-commander", .overrideReadiness(ReadinessOverride(
                unit: "nzl-1rnzir", asOf: "2025-05-28", cLevel: 2,
                remark: "Commander's assessment: spares delivered 2025-06-01; SYNTHETIC demo figure")))
            add("2025-06-03", "adf-j7", .commitUnit(UnitAssignment(exercise: ex, unit: "nzl-1rnzir", role: "Security force")))
            add("2025-07-13", "exercise-director", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .startEx, on: "2025-07-13")))
            add("2025-07-15", "exercise-control", .startInject(InjectRef(exercise: ex, number: 1)))
            add("2025-07-15", "exercise-control", .executeInject(InjectRef(exercise: ex, number: 1)))
            add("2025-07-16", "exercise-control", .startInject(InjectRef(exercise: ex, number: 2)))
            add("2025-07-16", "exercise-control", .executeInject(InjectRef(exercise: ex, number: 2)))
            add("2025-07-17", "aus-analyst", .recordObservation(ObservationRecord(exercise: ex, observation: Observation(
                id: "link16-aus-jpn", dimension: .technical, reportedBy: "AUS", nations: ["AUS", "JPN"],
                standard: Capability(kind: .dataLink, name: "Link 16"), severity: .major, observedLevel: 1,
                text: "No Link 16 track exchange between the AUS land force and the JPN brigade; the picture was relayed by voice and JREAP-C. Deconflicted only.",
                marking: unclassified))))
            add("2025-08-04", "exercise-director", .holdMilestone(MilestoneRecord(exercise: ex, milestone: .endEx, on: "2025-08-04")))
            add("2025-09-01", "lessons-cell", .advanceLesson(LessonStep(exercise: ex, observation: "link16-aus-jpn", stage: .lessonIdentified,
                note: "Land forces without Link 16 terminals need a gateway to the coalition track picture")))
            add("2025-10-01", "lessons-cell", .advanceLesson(LessonStep(exercise: ex, observation: "link16-aus-jpn", stage: .remedialAction,
                note: "Plan a JREAP-C to Link 16 gateway for the next bilateral serial")))
        }
    }
}
