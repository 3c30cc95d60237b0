// Payloads shared by commands and events. A command's JSON object is its payload plus
// `"command": name`; an event's stored payload is its payload struct encoded as JSON.

// MARK: Alliance

public struct AllianceProfile: Sendable, Hashable, Codable {
    public var alliance: Slug
    public var name: Line
    public var kind: AllianceKind
    public var founded: Day
    public init(alliance: Slug, name: Line, kind: AllianceKind, founded: Day) {
        self.alliance = alliance
        self.name = name
        self.kind = kind
        self.founded = founded
    }
}

public struct AllianceAdmission: Sendable, Hashable, Codable {
    public var alliance: Slug
    public var nation: Trigraph
    public var role: AllianceRole
    public var joined: Day
    public init(alliance: Slug, nation: Trigraph, role: AllianceRole, joined: Day) {
        self.alliance = alliance
        self.nation = nation
        self.role = role
        self.joined = joined
    }
}

public struct AllianceDeparture: Sendable, Hashable, Codable {
    public var alliance: Slug
    public var nation: Trigraph
    public var left: Day
    public init(alliance: Slug, nation: Trigraph, left: Day) {
        self.alliance = alliance
        self.nation = nation
        self.left = left
    }
}

public struct AllianceDissolution: Sendable, Hashable, Codable {
    public var alliance: Slug
    public var dissolved: Day
    public var reason: Text
    public init(alliance: Slug, dissolved: Day, reason: Text) {
        self.alliance = alliance
        self.dissolved = dissolved
        self.reason = reason
    }
}

// MARK: Nation

public struct NationProfile: Sendable, Hashable, Codable {
    public var nation: Trigraph
    public var name: Line
    /// A STANAG 1059 exercise country that does not exist.
    public var fictional: Bool
    public init(nation: Trigraph, name: Line, fictional: Bool = false) {
        self.nation = nation
        self.name = name
        self.fictional = fictional
    }

    enum CodingKeys: String, CodingKey { case nation, name, fictional }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        nation = try c.decode(Trigraph.self, forKey: .nation)
        name = try c.decode(Line.self, forKey: .name)
        fictional = try c.decodeIfPresent(Bool.self, forKey: .fictional) ?? false
    }
}

// MARK: Unit

public struct UnitProfile: Sendable, Hashable, Codable {
    public var unit: Slug
    public var nation: Trigraph
    public var service: Service
    public var echelon: Echelon
    public var name: Line
    public init(unit: Slug, nation: Trigraph, service: Service, echelon: Echelon, name: Line) {
        self.unit = unit
        self.nation = nation
        self.service = service
        self.echelon = echelon
        self.name = name
    }
}

public struct CapabilityAddition: Sendable, Hashable, Codable {
    public var unit: Slug
    public var capability: Capability
    public init(unit: Slug, capability: Capability) {
        self.unit = unit
        self.capability = capability
    }
}

public struct CapabilityWithdrawal: Sendable, Hashable, Codable {
    public var unit: Slug
    public var capability: Capability
    public var reason: Text
    public init(unit: Slug, capability: Capability, reason: Text) {
        self.unit = unit
        self.capability = capability
        self.reason = reason
    }
}

/// Command payload of `reportReadiness`.
public struct ReadinessSubmission: Sendable, Hashable, Codable {
    public var unit: Slug
    public var asOf: Day
    public var ratings: ReadinessRatings
    public init(unit: Slug, asOf: Day, ratings: ReadinessRatings) {
        self.unit = unit
        self.asOf = asOf
        self.ratings = ratings
    }
}

/// Event payload of `ReadinessReported` (schema 2). Schema 1 had only `level`; upcast reports have no ratings.
public struct ReadinessReported: Sendable, Hashable, Codable {
    public var unit: Slug
    public var asOf: Day
    public var ratings: ReadinessRatings?
    public var cLevel: CLevel
    public init(unit: Slug, asOf: Day, ratings: ReadinessRatings?, cLevel: CLevel) {
        self.unit = unit
        self.asOf = asOf
        self.ratings = ratings
        self.cLevel = cLevel
    }
}

/// A commander's override of the computed C-level of the report as of `asOf`.
public struct ReadinessOverride: Sendable, Hashable, Codable {
    public var unit: Slug
    public var asOf: Day
    public var cLevel: CLevel
    public var remark: Text
    public init(unit: Slug, asOf: Day, cLevel: CLevel, remark: Text) {
        self.unit = unit
        self.asOf = asOf
        self.cLevel = cLevel
        self.remark = remark
    }
}

/// Command payload of `correctReadiness`.
public struct ReadinessCorrection: Sendable, Hashable, Codable {
    public var unit: Slug
    public var asOf: Day
    public var ratings: ReadinessRatings
    public var reason: Text
    public init(unit: Slug, asOf: Day, ratings: ReadinessRatings, reason: Text) {
        self.unit = unit
        self.asOf = asOf
        self.ratings = ratings
        self.reason = reason
    }
}

/// Event payload of `ReadinessCorrected`: replaces the ratings of the report as of `asOf`.
public struct ReadinessCorrected: Sendable, Hashable, Codable {
    public var unit: Slug
    public var asOf: Day
    public var ratings: ReadinessRatings
    public var cLevel: CLevel
    public var reason: Text
    public init(unit: Slug, asOf: Day, ratings: ReadinessRatings, cLevel: CLevel, reason: Text) {
        self.unit = unit
        self.asOf = asOf
        self.ratings = ratings
        self.cLevel = cLevel
        self.reason = reason
    }
}

/// Command payload of `commitUnit`: `phase` or `window` (inside the exercise window) or neither (whole window).
public struct UnitAssignment: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var unit: Slug
    public var role: Line
    public var phase: Slug?
    public var window: Window?
    public init(exercise: Slug, unit: Slug, role: Line, phase: Slug? = nil, window: Window? = nil) {
        self.exercise = exercise
        self.unit = unit
        self.role = role
        self.phase = phase
        self.window = window
    }
}

/// `UnitCommitted`, on the unit's stream.
public struct UnitCommitted: Sendable, Hashable, Codable {
    public var unit: Slug
    public var exercise: Slug
    public var exerciseName: Line
    public var role: Line
    public var phase: Slug?
    public var window: Window
    public init(unit: Slug, exercise: Slug, exerciseName: Line, role: Line, phase: Slug?, window: Window) {
        self.unit = unit
        self.exercise = exercise
        self.exerciseName = exerciseName
        self.role = role
        self.phase = phase
        self.window = window
    }
}

/// `ForceCommitted`, on the exercise's stream.
public struct ForceCommitted: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var unit: Slug
    public var nation: Trigraph
    public var role: Line
    public var phase: Slug?
    public var window: Window
    public init(exercise: Slug, unit: Slug, nation: Trigraph, role: Line, phase: Slug?, window: Window) {
        self.exercise = exercise
        self.unit = unit
        self.nation = nation
        self.role = role
        self.phase = phase
        self.window = window
    }
}

/// `releaseUnit` command, `UnitReleased` (unit stream) and `ForceReleased` (exercise stream).
public struct UnitRelease: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var unit: Slug
    public var phase: Slug?
    public var reason: Text
    public init(exercise: Slug, unit: Slug, phase: Slug? = nil, reason: Text) {
        self.exercise = exercise
        self.unit = unit
        self.phase = phase
        self.reason = reason
    }
}

/// `UnitCommitmentMoved`, on the unit's stream, when an exercise is postponed.
public struct CommitmentMoved: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var unit: Slug
    public var phase: Slug?
    public var window: Window
    public var reason: Text
    public init(exercise: Slug, unit: Slug, phase: Slug?, window: Window, reason: Text) {
        self.exercise = exercise
        self.unit = unit
        self.phase = phase
        self.window = window
        self.reason = reason
    }
}

// MARK: Training area

public struct AreaProfile: Sendable, Hashable, Codable {
    public var area: Slug
    public var hostNation: Trigraph
    public var kind: AreaKind
    public var name: Line
    public init(area: Slug, hostNation: Trigraph, kind: AreaKind, name: Line) {
        self.area = area
        self.hostNation = hostNation
        self.kind = kind
        self.name = name
    }
}

/// Command payload of `bookTrainingArea`.
public struct AreaAssignment: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var area: Slug
    public var phase: Slug?
    public var window: Window?
    public init(exercise: Slug, area: Slug, phase: Slug? = nil, window: Window? = nil) {
        self.exercise = exercise
        self.area = area
        self.phase = phase
        self.window = window
    }
}

/// `TrainingAreaBooked`, on the area's stream.
public struct AreaBooked: Sendable, Hashable, Codable {
    public var area: Slug
    public var exercise: Slug
    public var exerciseName: Line
    public var phase: Slug?
    public var window: Window
    public init(area: Slug, exercise: Slug, exerciseName: Line, phase: Slug?, window: Window) {
        self.area = area
        self.exercise = exercise
        self.exerciseName = exerciseName
        self.phase = phase
        self.window = window
    }
}

/// `AreaReserved`, on the exercise's stream.
public struct AreaReserved: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var area: Slug
    public var phase: Slug?
    public var window: Window
    public init(exercise: Slug, area: Slug, phase: Slug?, window: Window) {
        self.exercise = exercise
        self.area = area
        self.phase = phase
        self.window = window
    }
}

/// `releaseTrainingArea` command, `TrainingAreaBookingReleased` (area) and `AreaReservationReleased` (exercise).
public struct AreaRelease: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var area: Slug
    public var phase: Slug?
    public var reason: Text
    public init(exercise: Slug, area: Slug, phase: Slug? = nil, reason: Text) {
        self.exercise = exercise
        self.area = area
        self.phase = phase
        self.reason = reason
    }
}

/// `TrainingAreaBookingMoved`, on the area's stream, when an exercise is postponed.
public struct AreaBookingMoved: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var area: Slug
    public var phase: Slug?
    public var window: Window
    public var reason: Text
    public init(exercise: Slug, area: Slug, phase: Slug?, window: Window, reason: Text) {
        self.exercise = exercise
        self.area = area
        self.phase = phase
        self.window = window
        self.reason = reason
    }
}

// MARK: Exercise

/// `planExercise` command and `ExercisePlanned` event (schema 2; schema 1 had `start`/`end` instead of `window`).
public struct ExercisePlan: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var name: Line
    public var series: Line?
    public var types: [ExerciseType]
    /// Several services take part.
    public var joint: Bool
    /// Several nations take part.
    public var combined: Bool
    /// The alliance framework, if any.
    public var alliance: Slug?
    public var leadNations: [Trigraph]
    public var hostNations: [Trigraph]
    public var strategicObjectives: [StrategicObjective]
    public var ceiling: Classification
    public var releasableTo: [Trigraph]
    public var window: Window
    public var phases: [Phase]
    public var requiredStandards: [Capability]
    /// Committed units must report this C-level or better.
    public var minimumReadiness: CLevel

    public init(
        exercise: Slug, name: Line, series: Line? = nil, types: [ExerciseType], joint: Bool, combined: Bool,
        alliance: Slug? = nil, leadNations: [Trigraph], hostNations: [Trigraph],
        strategicObjectives: [StrategicObjective], ceiling: Classification, releasableTo: [Trigraph], window: Window,
        phases: [Phase] = [], requiredStandards: [Capability] = [], minimumReadiness: CLevel
    ) {
        self.exercise = exercise
        self.name = name
        self.series = series
        self.types = types
        self.joint = joint
        self.combined = combined
        self.alliance = alliance
        self.leadNations = leadNations
        self.hostNations = hostNations
        self.strategicObjectives = strategicObjectives
        self.ceiling = ceiling
        self.releasableTo = releasableTo
        self.window = window
        self.phases = phases
        self.requiredStandards = requiredStandards
        self.minimumReadiness = minimumReadiness
    }

    enum CodingKeys: String, CodingKey {
        case exercise, name, series, types, joint, combined, alliance, leadNations, hostNations
        case strategicObjectives, ceiling, releasableTo, window, phases, requiredStandards, minimumReadiness
    }

    /// `series`, `alliance`, `hostNations`, `releasableTo`, `phases` and `requiredStandards` may be omitted.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        exercise = try c.decode(Slug.self, forKey: .exercise)
        name = try c.decode(Line.self, forKey: .name)
        series = try c.decodeIfPresent(Line.self, forKey: .series)
        types = try c.decode([ExerciseType].self, forKey: .types)
        joint = try c.decode(Bool.self, forKey: .joint)
        combined = try c.decode(Bool.self, forKey: .combined)
        alliance = try c.decodeIfPresent(Slug.self, forKey: .alliance)
        leadNations = try c.decode([Trigraph].self, forKey: .leadNations)
        hostNations = try c.decodeIfPresent([Trigraph].self, forKey: .hostNations) ?? []
        strategicObjectives = try c.decode([StrategicObjective].self, forKey: .strategicObjectives)
        ceiling = try c.decode(Classification.self, forKey: .ceiling)
        releasableTo = try c.decodeIfPresent([Trigraph].self, forKey: .releasableTo) ?? []
        window = try c.decode(Window.self, forKey: .window)
        phases = try c.decodeIfPresent([Phase].self, forKey: .phases) ?? []
        requiredStandards = try c.decodeIfPresent([Capability].self, forKey: .requiredStandards) ?? []
        minimumReadiness = try c.decode(CLevel.self, forKey: .minimumReadiness)
    }
}

public struct ExerciseRef: Sendable, Hashable, Codable {
    public var exercise: Slug
    public init(exercise: Slug) { self.exercise = exercise }
}

/// `pauseExercise`/`cancelExercise` commands and `ExercisePaused`/`ExerciseCancelled` events.
public struct ExerciseReason: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var reason: Text
    public init(exercise: Slug, reason: Text) {
        self.exercise = exercise
        self.reason = reason
    }
}

public struct AdvanceExercise: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var to: ExerciseStage
    public init(exercise: Slug, to: ExerciseStage) {
        self.exercise = exercise
        self.to = to
    }
}

public struct ExerciseAdvanced: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var from: ExerciseStatus
    public var to: ExerciseStatus
    public init(exercise: Slug, from: ExerciseStatus, to: ExerciseStatus) {
        self.exercise = exercise
        self.from = from
        self.to = to
    }
}

/// Command payload of `postponeExercise`: the new window; phases move by the same number of days.
public struct Postponement: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var window: Window
    public var reason: Text
    public init(exercise: Slug, window: Window, reason: Text) {
        self.exercise = exercise
        self.window = window
        self.reason = reason
    }
}

public struct ExercisePostponed: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var previous: Window
    public var window: Window
    /// Days every phase, commitment and booking moved (new start − old start).
    public var shiftDays: Int
    public var reason: Text
    public init(exercise: Slug, previous: Window, window: Window, shiftDays: Int, reason: Text) {
        self.exercise = exercise
        self.previous = previous
        self.window = window
        self.shiftDays = shiftDays
        self.reason = reason
    }
}

public struct MilestoneRecord: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var milestone: Milestone
    public var on: Day
    public init(exercise: Slug, milestone: Milestone, on: Day) {
        self.exercise = exercise
        self.milestone = milestone
        self.on = on
    }
}

public struct WorkshopRecord: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var workshop: WorkshopKind
    public var on: Day
    public init(exercise: Slug, workshop: WorkshopKind, on: Day) {
        self.exercise = exercise
        self.workshop = workshop
        self.on = on
    }
}

public struct Invitation: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var nation: Trigraph
    public var role: ParticipationRole
    public init(exercise: Slug, nation: Trigraph, role: ParticipationRole) {
        self.exercise = exercise
        self.nation = nation
        self.role = role
    }
}

public struct NationRef: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var nation: Trigraph
    public init(exercise: Slug, nation: Trigraph) {
        self.exercise = exercise
        self.nation = nation
    }
}

public struct NationReason: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var nation: Trigraph
    public var reason: Text
    public init(exercise: Slug, nation: Trigraph, reason: Text) {
        self.exercise = exercise
        self.nation = nation
        self.reason = reason
    }
}

public struct ObjectiveRecord: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var objective: Objective
    public init(exercise: Slug, objective: Objective) {
        self.exercise = exercise
        self.objective = objective
    }
}

public struct InjectRecord: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var inject: Inject
    public init(exercise: Slug, inject: Inject) {
        self.exercise = exercise
        self.inject = inject
    }
}

public struct InjectRef: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var number: InjectNumber
    public init(exercise: Slug, number: InjectNumber) {
        self.exercise = exercise
        self.number = number
    }
}

public struct InjectCancellation: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var number: InjectNumber
    public var reason: Text
    public init(exercise: Slug, number: InjectNumber, reason: Text) {
        self.exercise = exercise
        self.number = number
        self.reason = reason
    }
}

public struct InjectStatusChanged: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var number: InjectNumber
    public var status: InjectStatus
    public var reason: Text?
    public init(exercise: Slug, number: InjectNumber, status: InjectStatus, reason: Text?) {
        self.exercise = exercise
        self.number = number
        self.status = status
        self.reason = reason
    }
}

public struct ObservationRecord: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var observation: Observation
    public init(exercise: Slug, observation: Observation) {
        self.exercise = exercise
        self.observation = observation
    }
}

public struct LessonStep: Sendable, Hashable, Codable {
    public var exercise: Slug
    public var observation: Slug
    public var stage: LessonStage
    public var note: Text
    public init(exercise: Slug, observation: Slug, stage: LessonStage, note: Text) {
        self.exercise = exercise
        self.observation = observation
        self.stage = stage
        self.note = note
    }
}
