// State of each aggregate, rebuilt by folding its events. `evolve` ignores events of other aggregates.

// MARK: - Alliance

public struct AllianceMembership: Sendable, Hashable {
    public var nation: Trigraph
    public var role: AllianceRole
    public var joined: Day
    public var left: Day?

    /// Whether the membership spans the whole `window`.
    public func covers(_ window: Window) -> Bool {
        joined <= window.start && (left.map { $0 >= window.end } ?? true)
    }
}

public struct AllianceState: Sendable, Equatable {
    public var profile: AllianceProfile?
    /// Every membership ever held, in admission order; a nation that left and rejoined has several.
    public var memberships: [AllianceMembership] = []
    public var dissolution: AllianceDissolution?

    public init() {}

    public var exists: Bool { profile != nil }
    public var name: String { profile?.name.value ?? "" }

    /// The open membership of `nation`, if it is in the alliance now.
    public func currentMembership(of nation: Trigraph) -> AllianceMembership? {
        memberships.last { $0.nation == nation && $0.left == nil }
    }

    /// The role `nation` holds for the whole of `window`, or `nil`.
    public func role(of nation: Trigraph, throughout window: Window) -> AllianceRole? {
        if let dissolution, dissolution.dissolved < window.end { return nil }
        return memberships.last { $0.nation == nation && $0.covers(window) }?.role
    }

    public static func fold(_ events: [PlanningEvent]) -> AllianceState {
        var state = AllianceState()
        for event in events { state.evolve(event) }
        return state
    }

    public mutating func evolve(_ event: PlanningEvent) {
        guard case .alliance(let event) = event else { return }
        switch event {
        case .formed(let p):
            profile = p
        case .memberAdmitted(let p):
            memberships.append(AllianceMembership(nation: p.nation, role: p.role, joined: p.joined, left: nil))
        case .memberLeft(let p):
            if let index = memberships.lastIndex(where: { $0.nation == p.nation && $0.left == nil }) {
                memberships[index].left = p.left
            }
        case .dissolved(let p):
            dissolution = p
        }
    }
}

// MARK: - Nation

public struct NationState: Sendable, Equatable {
    public var profile: NationProfile?
    public init() {}
    public var exists: Bool { profile != nil }

    public static func fold(_ events: [PlanningEvent]) -> NationState {
        var state = NationState()
        for event in events { state.evolve(event) }
        return state
    }

    public mutating func evolve(_ event: PlanningEvent) {
        guard case .nation(.registered(let p)) = event else { return }
        profile = p
    }
}

// MARK: - Unit

public struct ReadinessReport: Sendable, Hashable {
    public var asOf: Day
    /// `nil` for reports upcast from schema 1, which had only an overall level.
    public var ratings: ReadinessRatings?
    /// The C-level computed from the ratings (worst area).
    public var computedLevel: CLevel
    public var override: ReadinessOverride?
    /// Corrections applied, oldest first.
    public var corrections: [ReadinessCorrected] = []

    public init(asOf: Day, ratings: ReadinessRatings?, computedLevel: CLevel, override: ReadinessOverride? = nil) {
        self.asOf = asOf
        self.ratings = ratings
        self.computedLevel = computedLevel
        self.override = override
    }

    /// The C-level that counts: the commander's override, or the computed level.
    public var cLevel: CLevel { override?.cLevel ?? computedLevel }
    public var isOverridden: Bool { override != nil }

    /// Days between `asOf` and `today`.
    public func age(at today: Day) -> Int { today.days(since: asOf) }
    /// Older than 30 days.
    public func isStale(at today: Day) -> Bool { age(at: today) > UnitState.freshnessDays }
}

public struct UnitCommitment: Sendable, Hashable {
    public var exercise: Slug
    public var exerciseName: Line
    public var role: Line
    public var phase: Slug?
    public var window: Window
}

public struct UnitState: Sendable, Equatable {
    /// A readiness report older than this many days is stale.
    public static let freshnessDays = 30

    public var profile: UnitProfile?
    public var capabilities: [Capability] = []
    /// Reports ordered by as-of date.
    public var reports: [ReadinessReport] = []
    /// Commitments not released.
    public var commitments: [UnitCommitment] = []

    public init() {}

    public var exists: Bool { profile != nil }
    public var latestReport: ReadinessReport? { reports.last }

    public func commitment(exercise: Slug, phase: Slug?) -> UnitCommitment? {
        commitments.first { $0.exercise == exercise && $0.phase == phase }
    }

    public static func fold(_ events: [PlanningEvent]) -> UnitState {
        var state = UnitState()
        for event in events { state.evolve(event) }
        return state
    }

    public mutating func evolve(_ event: PlanningEvent) {
        guard case .unit(let event) = event else { return }
        switch event {
        case .registered(let p):
            profile = p
        case .capabilityAdded(let p):
            if !capabilities.contains(p.capability) { capabilities.append(p.capability) }
        case .capabilityWithdrawn(let p):
            capabilities.removeAll { $0 == p.capability }
        case .readinessReported(let p):
            let report = ReadinessReport(asOf: p.asOf, ratings: p.ratings, computedLevel: p.cLevel, override: nil)
            let index = reports.firstIndex { $0.asOf > p.asOf } ?? reports.endIndex
            reports.insert(report, at: index)
        case .readinessOverridden(let p):
            if let index = reports.lastIndex(where: { $0.asOf == p.asOf }) { reports[index].override = p }
        case .readinessCorrected(let p):
            if let index = reports.lastIndex(where: { $0.asOf == p.asOf }) {
                reports[index].ratings = p.ratings
                reports[index].computedLevel = p.cLevel
                reports[index].corrections.append(p)
            }
        case .committed(let p):
            commitments.append(
                UnitCommitment(exercise: p.exercise, exerciseName: p.exerciseName, role: p.role, phase: p.phase, window: p.window))
        case .commitmentMoved(let p):
            if let index = commitments.firstIndex(where: { $0.exercise == p.exercise && $0.phase == p.phase }) {
                commitments[index].window = p.window
            }
        case .released(let p):
            commitments.removeAll { $0.exercise == p.exercise && $0.phase == p.phase }
        }
    }
}

// MARK: - Training area

public struct AreaBooking: Sendable, Hashable {
    public var exercise: Slug
    public var exerciseName: Line
    public var phase: Slug?
    public var window: Window
}

public struct AreaState: Sendable, Equatable {
    public var profile: AreaProfile?
    /// Bookings not released.
    public var bookings: [AreaBooking] = []
    public init() {}
    public var exists: Bool { profile != nil }

    public static func fold(_ events: [PlanningEvent]) -> AreaState {
        var state = AreaState()
        for event in events { state.evolve(event) }
        return state
    }

    public mutating func evolve(_ event: PlanningEvent) {
        guard case .area(let event) = event else { return }
        switch event {
        case .registered(let p):
            profile = p
        case .booked(let p):
            bookings.append(AreaBooking(exercise: p.exercise, exerciseName: p.exerciseName, phase: p.phase, window: p.window))
        case .bookingMoved(let p):
            if let index = bookings.firstIndex(where: { $0.exercise == p.exercise && $0.phase == p.phase }) {
                bookings[index].window = p.window
            }
        case .bookingReleased(let p):
            bookings.removeAll { $0.exercise == p.exercise && $0.phase == p.phase }
        }
    }
}

// MARK: - Exercise

public struct Participation: Sendable, Hashable {
    public var nation: Trigraph
    public var role: ParticipationRole
    public var status: ParticipationStatus
}

public struct ScriptedInject: Sendable, Hashable {
    public var inject: Inject
    public var status: InjectStatus
    public var cancellationReason: Text?
}

public struct RecordedObservation: Sendable, Hashable {
    public var observation: Observation
    public var stage: LessonStage
    /// Lesson workflow steps taken, in order.
    public var steps: [LessonStep] = []
}

public struct ExerciseState: Sendable, Equatable {
    /// The plan as first recorded (window and phases there are the original ones).
    public var plan: ExercisePlan?
    public var status: ExerciseStatus = .programmed
    /// The current window (moved by postponements).
    public var window: Window?
    /// The current phases (moved by postponements).
    public var phases: [Phase] = []
    public var milestones: [Milestone: Day] = [:]
    public var workshops: [WorkshopRecord] = []
    /// Invited nations, in invitation order (lead and host nations take part without an invitation).
    public var participations: [Participation] = []
    public var objectives: [Objective] = []
    /// Force commitments not released.
    public var commitments: [ForceCommitted] = []
    /// Training area reservations not released.
    public var reservations: [AreaReserved] = []
    public var injects: [ScriptedInject] = []
    public var observations: [RecordedObservation] = []
    public var postponements: [ExercisePostponed] = []
    public var pauseReason: Text?
    public var cancellationReason: Text?

    public init() {}

    public var exists: Bool { plan != nil }
    public var name: String { plan?.name.value ?? "" }

    /// Still open to planning changes: neither closed nor cancelled.
    public var isOpen: Bool { exists && status != .closed && status != .cancelled }

    public func participation(of nation: Trigraph) -> Participation? {
        participations.last { $0.nation == nation }
    }

    public func phase(_ id: Slug) -> Phase? { phases.first { $0.id == id } }

    /// The next milestone to hold, or `nil` when EndEx is held.
    public var nextMilestone: Milestone? { Milestone.sequence.first { milestones[$0] == nil } }

    /// Bilateral when exactly two nations take part (lead, host and accepted non-observers).
    public var participatingNations: [Trigraph] {
        var nations = (plan?.leadNations ?? []) + (plan?.hostNations ?? [])
        for p in participations where p.status == .accepted && p.role != .observer { nations.append(p.nation) }
        var seen = Set<Trigraph>()
        return nations.filter { seen.insert($0).inserted }
    }

    public static func fold(_ events: [PlanningEvent]) -> ExerciseState {
        var state = ExerciseState()
        for event in events { state.evolve(event) }
        return state
    }

    public mutating func evolve(_ event: PlanningEvent) {
        guard case .exercise(let event) = event else { return }
        switch event {
        case .planned(let p):
            plan = p
            status = .programmed
            window = p.window
            phases = p.phases
        case .advanced(let p):
            status = p.to
        case .paused(let p):
            status = .paused
            pauseReason = p.reason
        case .resumed:
            status = .conduct
            pauseReason = nil
        case .cancelled(let p):
            status = .cancelled
            cancellationReason = p.reason
        case .postponed(let p):
            postponements.append(p)
            window = p.window
            phases = phases.map { phase in
                var moved = phase
                if let w = phase.window.shifted(by: p.shiftDays) { moved.window = w }
                return moved
            }
            for index in commitments.indices {
                if let w = commitments[index].window.shifted(by: p.shiftDays) { commitments[index].window = w }
            }
            for index in reservations.indices {
                if let w = reservations[index].window.shifted(by: p.shiftDays) { reservations[index].window = w }
            }
        case .milestoneHeld(let p):
            milestones[p.milestone] = p.on
            if p.milestone == .startEx { status = .conduct }
            if p.milestone == .endEx { status = .assessment }
        case .workshopHeld(let p):
            workshops.append(p)
        case .nationInvited(let p):
            participations.append(Participation(nation: p.nation, role: p.role, status: .invited))
        case .invitationAccepted(let p):
            setParticipation(p.nation, .accepted)
        case .invitationDeclined(let p):
            setParticipation(p.nation, .declined)
        case .nationWithdrew(let p):
            setParticipation(p.nation, .withdrawn)
        case .objectiveAdded(let p):
            objectives.append(p.objective)
        case .forceCommitted(let p):
            commitments.append(p)
        case .forceReleased(let p):
            commitments.removeAll { $0.unit == p.unit && $0.phase == p.phase }
        case .areaReserved(let p):
            reservations.append(p)
        case .areaReservationReleased(let p):
            reservations.removeAll { $0.area == p.area && $0.phase == p.phase }
        case .injectScripted(let p):
            injects.append(ScriptedInject(inject: p.inject, status: .scheduled))
        case .injectStatusChanged(let p):
            if let index = injects.firstIndex(where: { $0.inject.number == p.number }) {
                injects[index].status = p.status
                if p.status == .cancelled { injects[index].cancellationReason = p.reason }
            }
        case .observationRecorded(let p):
            observations.append(RecordedObservation(observation: p.observation, stage: .observation))
        case .lessonAdvanced(let p):
            if let index = observations.firstIndex(where: { $0.observation.id == p.observation }) {
                observations[index].stage = p.stage
                observations[index].steps.append(p)
            }
        }
    }

    private mutating func setParticipation(_ nation: Trigraph, _ status: ParticipationStatus) {
        if let index = participations.lastIndex(where: { $0.nation == nation }) { participations[index].status = status }
    }
}
