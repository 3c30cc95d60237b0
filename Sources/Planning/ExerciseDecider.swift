// The exercise aggregate's decisions: life cycle, milestones, participation, commitments, MSEL, observations.

public enum ExerciseDecider {
    static func reject(_ id: Slug, _ field: String, _ rule: String) -> ExerciseRejection {
        ExerciseRejection(entity: "exercise \(id)", field: field, message: "exercise \(id) \(rule)")
    }

    static func requireOpen(_ id: Slug, _ s: ExerciseState) throws(ExerciseRejection) {
        guard s.exists else { throw reject(id, "exercise", "does not exist") }
        guard s.isOpen else { throw reject(id, "exercise", "is \(s.status); no changes are allowed") }
    }

    static func require(_ id: Slug, _ s: ExerciseState, in statuses: Set<ExerciseStatus>, _ action: String) throws(ExerciseRejection) {
        try requireOpen(id, s)
        guard statuses.contains(s.status) else {
            let allowed = ExerciseStatus.allCases.filter { statuses.contains($0) }.map(\.rawValue).joined(separator: ", ")
            throw reject(id, "exercise", "is \(s.status); \(action) needs status \(allowed)")
        }
    }

    static let beforeConduct: Set<ExerciseStatus> = [.programmed, .initiation, .specification, .planning]

    // MARK: Life cycle

    /// - Parameters:
    ///   - alliance: the alliance framework's state when the plan names one.
    ///   - unregisteredNations: lead or host nations that are not registered.
    public static func plan(
        _ c: ExercisePlan, _ s: ExerciseState, alliance: AllianceState?, unregisteredNations: [Trigraph]
    ) throws(ExerciseRejection) -> [ExerciseEvent] {
        let id = c.exercise
        guard !s.exists else { throw reject(id, "exercise", "already exists") }
        guard !c.types.isEmpty else { throw reject(id, "types", "needs at least one exercise type") }
        guard !c.leadNations.isEmpty else { throw reject(id, "leadNations", "needs at least one lead nation") }
        guard !c.strategicObjectives.isEmpty else {
            throw reject(id, "strategicObjectives", "needs at least one strategic objective")
        }
        if let nation = unregisteredNations.first {
            throw reject(id, "leadNations", "names \(nation), which is not a registered nation")
        }
        if let allianceID = c.alliance {
            guard let alliance, alliance.exists else {
                throw reject(id, "alliance", "names alliance \(allianceID), which does not exist")
            }
            if let d = alliance.dissolution, d.dissolved < c.window.end {
                throw reject(id, "alliance", "names alliance \(allianceID), dissolved on \(d.dissolved), before the window ends on \(c.window.end)")
            }
        }
        var seen = Set<Slug>()
        for (index, phase) in c.phases.enumerated() {
            guard seen.insert(phase.id).inserted else { throw reject(id, "phases[\(index)].id", "has two phases named \(phase.id)") }
            guard c.window.contains(phase.window) else {
                throw reject(id, "phases[\(index)].window",
                    "phase \(phase.id) \(phase.window) is not inside the exercise window \(c.window)")
            }
        }
        return [.planned(c)]
    }

    static let stageOrder: [ExerciseStatus: ExerciseStatus] = [
        .programmed: .initiation, .initiation: .specification, .specification: .planning, .assessment: .closed,
    ]

    public static func advance(_ c: AdvanceExercise, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireOpen(c.exercise, s)
        let target = ExerciseStatus(rawValue: c.to.rawValue) ?? .closed
        guard stageOrder[s.status] == target else {
            let next = stageOrder[s.status].map { "the next stage is \($0)" }
                ?? (s.status == .planning ? "conduct begins when StartEx is held" : "it advances with the EndEx milestone")
            throw reject(c.exercise, "to", "is \(s.status) and cannot move to \(target); \(next)")
        }
        return [.advanced(ExerciseAdvanced(exercise: c.exercise, from: s.status, to: target))]
    }

    public static func pause(_ c: ExerciseReason, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try require(c.exercise, s, in: [.conduct], "pausing")
        return [.paused(c)]
    }

    public static func resume(_ c: ExerciseRef, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try require(c.exercise, s, in: [.paused], "resuming")
        return [.resumed(c)]
    }

    /// Cancels the exercise, releasing every force commitment and area reservation first.
    public static func cancel(_ c: ExerciseReason, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireOpen(c.exercise, s)
        var events: [ExerciseEvent] = s.commitments.map {
            .forceReleased(UnitRelease(exercise: c.exercise, unit: $0.unit, phase: $0.phase, reason: c.reason))
        }
        events += s.reservations.map {
            .areaReservationReleased(AreaRelease(exercise: c.exercise, area: $0.area, phase: $0.phase, reason: c.reason))
        }
        return events + [.cancelled(c)]
    }

    /// Moves the window; phases, commitments and reservations move by the same number of days.
    public static func postpone(_ c: Postponement, _ s: ExerciseState) throws(ExerciseRejection) -> ExercisePostponed {
        let id = c.exercise
        try require(id, s, in: beforeConduct, "postponing")
        guard let old = s.window else { throw reject(id, "exercise", "has no window") }
        guard c.window != old else { throw reject(id, "window", "is already \(old)") }
        let shift = c.window.start.days(since: old.start)
        for phase in s.phases {
            guard let moved = phase.window.shifted(by: shift), c.window.contains(moved) else {
                throw reject(id, "window", "phase \(phase.id) moved by \(shift) days would not fit inside \(c.window)")
            }
        }
        for commitment in s.commitments {
            guard let moved = commitment.window.shifted(by: shift), c.window.contains(moved) else {
                throw reject(id, "window", "commitment of unit \(commitment.unit) moved by \(shift) days would not fit inside \(c.window)")
            }
        }
        for reservation in s.reservations {
            guard let moved = reservation.window.shifted(by: shift), c.window.contains(moved) else {
                throw reject(id, "window", "booking of training area \(reservation.area) moved by \(shift) days would not fit inside \(c.window)")
            }
        }
        for milestone in Milestone.sequence {
            if let held = s.milestones[milestone], held >= c.window.start {
                throw reject(id, "window.start", "held the \(milestone.title) on \(held); StartEx on \(c.window.start) must come after it")
            }
        }
        return ExercisePostponed(exercise: id, previous: old, window: c.window, shiftDays: shift, reason: c.reason)
    }

    // MARK: Milestones

    public static func holdMilestone(_ c: MilestoneRecord, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        let id = c.exercise
        try requireOpen(id, s)
        if let held = s.milestones[c.milestone] {
            throw reject(id, "milestone", "already held the \(c.milestone.title) on \(held)")
        }
        guard let next = s.nextMilestone, next == c.milestone else {
            throw reject(id, "milestone",
                "cannot hold the \(c.milestone.title) before the \(s.nextMilestone?.title ?? "previous milestone"); milestones are held in order CDC, IPC, MPC, FPC, StartEx, EndEx")
        }
        if let index = Milestone.sequence.firstIndex(of: c.milestone), index > 0 {
            let previous = Milestone.sequence[index - 1]
            if let previousDay = s.milestones[previous], c.on <= previousDay {
                throw reject(id, "on", "held the \(previous.title) on \(previousDay); the \(c.milestone.title) on \(c.on) must come after it")
            }
        }
        guard let window = s.window else { throw reject(id, "exercise", "has no window") }
        switch c.milestone {
        case .cdc, .ipc, .mpc, .fpc:
            try require(id, s, in: [.initiation, .specification, .planning], "holding the \(c.milestone.title)")
            guard c.on < window.start else {
                throw reject(id, "on", "starts on \(window.start); the \(c.milestone.title) on \(c.on) must come before it")
            }
            if c.milestone == .fpc { try checkReadyForFPC(id, s, on: c.on) }
        case .startEx:
            try require(id, s, in: [.planning], "StartEx")
            guard window.contains(c.on) else {
                throw reject(id, "on", "runs \(window); StartEx on \(c.on) is outside the window")
            }
        case .endEx:
            try require(id, s, in: [.conduct], "EndEx")
            guard window.contains(c.on) else {
                throw reject(id, "on", "runs \(window); EndEx on \(c.on) is outside the window")
            }
        }
        return [.milestoneHeld(c)]
    }

    /// The FPC needs a scenario workshop held earlier and a MSEL that covers every objective.
    static func checkReadyForFPC(_ id: Slug, _ s: ExerciseState, on day: Day) throws(ExerciseRejection) {
        guard s.workshops.contains(where: { $0.on < day }) else {
            throw reject(id, "milestone", "has held no scenario scripting workshop (MEL/MIL) before the FPC on \(day)")
        }
        guard !s.objectives.isEmpty else { throw reject(id, "milestone", "has no objectives; the FPC needs at least one") }
        let live = s.injects.filter { $0.status != .cancelled }
        for objective in s.objectives where !live.contains(where: { $0.inject.objectives.contains(objective.id) }) {
            throw reject(id, "milestone", "cannot hold the FPC: objective \(objective.id) is not served by any inject")
        }
        let known = Set(s.objectives.map(\.id))
        for inject in live where !inject.inject.objectives.contains(where: { known.contains($0) }) {
            throw reject(id, "milestone", "cannot hold the FPC: inject \(inject.inject.number) serves no objective")
        }
    }

    public static func holdWorkshop(_ c: WorkshopRecord, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try require(c.exercise, s, in: beforeConduct, "a scenario workshop")
        if let fpc = s.milestones[.fpc] {
            throw reject(c.exercise, "on", "held the FPC on \(fpc); scenario scripting workshops come before the FPC")
        }
        return [.workshopHeld(c)]
    }

    // MARK: Participation

    public static func invite(_ c: Invitation, _ s: ExerciseState, nation: NationState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try require(c.exercise, s, in: beforeConduct.union([.conduct, .paused]), "inviting a nation")
        guard nation.exists else { throw reject(c.exercise, "nation", "cannot invite \(c.nation): the nation is not registered") }
        if let p = s.participation(of: c.nation), p.status == .invited || p.status == .accepted {
            throw reject(c.exercise, "nation", "has already invited \(c.nation) as \(p.role) (\(p.status))")
        }
        return [.nationInvited(c)]
    }

    static func requireInvitation(_ id: Slug, _ nation: Trigraph, _ s: ExerciseState, in statuses: Set<ParticipationStatus>) throws(ExerciseRejection) {
        try requireOpen(id, s)
        guard let p = s.participation(of: nation) else { throw reject(id, "nation", "has not invited \(nation)") }
        guard statuses.contains(p.status) else { throw reject(id, "nation", "has an invitation to \(nation) that is \(p.status)") }
    }

    public static func accept(_ c: NationRef, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireInvitation(c.exercise, c.nation, s, in: [.invited])
        return [.invitationAccepted(c)]
    }

    public static func decline(_ c: NationReason, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireInvitation(c.exercise, c.nation, s, in: [.invited])
        return [.invitationDeclined(c)]
    }

    public static func withdraw(_ c: NationReason, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireInvitation(c.exercise, c.nation, s, in: [.invited, .accepted])
        if let commitment = s.commitments.first(where: { $0.nation == c.nation }) {
            throw reject(c.exercise, "nation", "still has unit \(commitment.unit) of \(c.nation) committed; release it first")
        }
        return [.nationWithdrew(c)]
    }

    public static func addObjective(_ c: ObjectiveRecord, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try require(c.exercise, s, in: beforeConduct, "adding an objective")
        guard !s.objectives.contains(where: { $0.id == c.objective.id }) else {
            throw reject(c.exercise, "objective.id", "already has objective \(c.objective.id)")
        }
        return [.objectiveAdded(c)]
    }

    // MARK: Forces and areas

    /// The window a commitment or booking covers: the phase's, the given one (inside the exercise window) or the whole window.
    static func resolveWindow(_ id: Slug, _ s: ExerciseState, phase: Slug?, window: Window?) throws(ExerciseRejection) -> Window {
        guard let exerciseWindow = s.window else { throw reject(id, "exercise", "has no window") }
        if let phase {
            guard let p = s.phase(phase) else {
                let known = s.phases.map(\.id.value).joined(separator: ", ")
                throw reject(id, "phase", "has no phase \(phase)\(known.isEmpty ? "" : " (phases: \(known))")")
            }
            if let window, window != p.window {
                throw reject(id, "window", "phase \(phase) runs \(p.window); give the phase or a window, not both")
            }
            return p.window
        }
        if let window {
            guard exerciseWindow.contains(window) else {
                throw reject(id, "window", "runs \(exerciseWindow); \(window) is outside it")
            }
            return window
        }
        return exerciseWindow
    }

    /// Checks the nation, readiness and duplicate rules for committing `unit`.
    ///
    /// - Parameters:
    ///   - alliance: the state of the exercise's alliance framework, if it has one.
    ///   - today: the decision date, for readiness freshness.
    public static func commit(
        _ c: UnitAssignment, _ s: ExerciseState, unit: UnitState, alliance: AllianceState?, today: Day
    ) throws(ExerciseRejection) -> ForceCommitted {
        let id = c.exercise
        try require(id, s, in: beforeConduct.union([.conduct, .paused]), "committing forces")
        guard let profile = unit.profile else { throw reject(id, "unit", "cannot commit unit \(c.unit): it is not registered") }
        let window = try resolveWindow(id, s, phase: c.phase, window: c.window)
        if s.commitments.contains(where: { $0.unit == c.unit && $0.phase == c.phase }) {
            throw reject(id, "unit", "already has unit \(c.unit) committed\(c.phase.map { " for phase \($0)" } ?? "")")
        }
        try checkNationMayCommit(id, profile.nation, s, alliance: alliance)
        guard let plan = s.plan else { throw reject(id, "exercise", "does not exist") }
        guard let report = unit.latestReport else {
            throw reject(id, "unit", "needs a readiness report for unit \(c.unit); none has been filed")
        }
        guard !report.isStale(at: today) else {
            throw reject(id, "unit",
                "needs fresh readiness for unit \(c.unit): its latest report, as of \(report.asOf), is \(report.age(at: today)) days old on \(today) (limit \(UnitState.freshnessDays))")
        }
        guard report.cLevel <= plan.minimumReadiness else {
            throw reject(id, "unit",
                "requires \(plan.minimumReadiness) or better; unit \(c.unit) reports \(report.cLevel) as of \(report.asOf)")
        }
        return ForceCommitted(exercise: id, unit: c.unit, nation: profile.nation, role: c.role, phase: c.phase, window: window)
    }

    /// Only nations taking part with forces commit them: lead and host nations, accepted non-observers,
    /// or members and partners of the alliance framework throughout the window that were not invited otherwise.
    static func checkNationMayCommit(_ id: Slug, _ nation: Trigraph, _ s: ExerciseState, alliance: AllianceState?) throws(ExerciseRejection) {
        guard let plan = s.plan, let window = s.window else { throw reject(id, "exercise", "does not exist") }
        if plan.leadNations.contains(nation) || plan.hostNations.contains(nation) { return }
        if let p = s.participation(of: nation) {
            guard p.status == .accepted else {
                throw reject(id, "unit", "cannot take forces from \(nation): its invitation is \(p.status)")
            }
            guard p.role != .observer else {
                throw reject(id, "unit", "cannot take forces from \(nation): observers commit no forces")
            }
            return
        }
        if let alliance, let role = alliance.role(of: nation, throughout: window), role != .observer { return }
        let framework = plan.alliance.map { " is not a member or partner of \($0) throughout \(window) and" } ?? ""
        throw reject(id, "unit", "cannot take forces from \(nation): the nation\(framework) was not invited")
    }

    public static func releaseForce(_ c: UnitRelease, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireOpen(c.exercise, s)
        guard s.commitments.contains(where: { $0.unit == c.unit && $0.phase == c.phase }) else {
            throw reject(c.exercise, "unit", "has no commitment of unit \(c.unit)\(c.phase.map { " for phase \($0)" } ?? "")")
        }
        return [.forceReleased(c)]
    }

    public static func reserve(_ c: AreaAssignment, _ s: ExerciseState, area: AreaState) throws(ExerciseRejection) -> AreaReserved {
        let id = c.exercise
        try require(id, s, in: beforeConduct.union([.conduct, .paused]), "booking a training area")
        guard area.exists else { throw reject(id, "area", "cannot book training area \(c.area): it is not registered") }
        let window = try resolveWindow(id, s, phase: c.phase, window: c.window)
        if s.reservations.contains(where: { $0.area == c.area && $0.phase == c.phase }) {
            throw reject(id, "area", "has already booked training area \(c.area)\(c.phase.map { " for phase \($0)" } ?? "")")
        }
        return AreaReserved(exercise: id, area: c.area, phase: c.phase, window: window)
    }

    public static func releaseArea(_ c: AreaRelease, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireOpen(c.exercise, s)
        guard s.reservations.contains(where: { $0.area == c.area && $0.phase == c.phase }) else {
            throw reject(c.exercise, "area", "has no booking of training area \(c.area)\(c.phase.map { " for phase \($0)" } ?? "")")
        }
        return [.areaReservationReleased(c)]
    }

    // MARK: Scenario (MSEL)

    /// Releasability: classification within the ceiling, recipients within REL TO, NOFORN stays with the originator.
    static func checkReleasability(
        _ id: Slug, item: String, _ m: Marking, from: Trigraph, to recipients: [Trigraph], toField: String, _ s: ExerciseState
    ) throws(ExerciseRejection) {
        guard let plan = s.plan else { throw reject(id, "exercise", "does not exist") }
        guard m.classification <= plan.ceiling else {
            throw reject(id, "\(item).marking.classification",
                "has ceiling \(plan.ceiling.rawValue); \(item) marked \(m.classification.rawValue) exceeds it")
        }
        if m.noforn {
            guard m.releasableTo.isEmpty else {
                throw reject(id, "\(item).marking.releasableTo", "\(item) is NOFORN and cannot also be REL TO other nations")
            }
            if let foreign = recipients.first(where: { $0 != from }) {
                throw reject(id, "\(item).\(toField)", "\(item) is NOFORN from \(from) and cannot go to \(foreign)")
            }
            return
        }
        guard m.classification > .unclassified else { return }
        let exerciseREL = Set(plan.releasableTo)
        if let outside = m.releasableTo.first(where: { !exerciseREL.contains($0) && $0 != from }) {
            throw reject(id, "\(item).marking.releasableTo",
                "is releasable to \(plan.releasableTo.map(\.value).joined(separator: ", ")); \(item) cannot be REL TO \(outside)")
        }
        let itemREL = Set(m.releasableTo)
        if let outside = recipients.first(where: { $0 != from && !itemREL.contains($0) }) {
            throw reject(id, "\(item).\(toField)", "\(item) (\(m)) cannot go to \(outside): it is not in the REL TO set")
        }
    }

    public static func scriptInject(_ c: InjectRecord, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        let id = c.exercise
        let inject = c.inject
        try require(id, s, in: beforeConduct.union([.conduct, .paused]), "scripting an inject")
        guard !s.injects.contains(where: { $0.inject.number == inject.number }) else {
            throw reject(id, "inject.number", "already has inject \(inject.number)")
        }
        guard !inject.to.isEmpty else { throw reject(id, "inject.to", "inject \(inject.number) needs at least one recipient") }
        guard !inject.objectives.isEmpty else {
            throw reject(id, "inject.objectives", "inject \(inject.number) must serve at least one objective")
        }
        for (index, objective) in inject.objectives.enumerated() where !s.objectives.contains(where: { $0.id == objective }) {
            throw reject(id, "inject.objectives[\(index)]", "has no objective \(objective) for inject \(inject.number)")
        }
        try checkReleasability(id, item: "inject \(inject.number)", inject.marking, from: inject.from, to: inject.to, toField: "to", s)
        return [.injectScripted(c)]
    }

    static func changeInject(
        _ id: Slug, _ number: InjectNumber, to status: InjectStatus, from allowed: Set<InjectStatus>, reason: Text?, _ s: ExerciseState
    ) throws(ExerciseRejection) -> [ExerciseEvent] {
        try requireOpen(id, s)
        guard let inject = s.injects.first(where: { $0.inject.number == number }) else {
            throw reject(id, "number", "has no inject \(number)")
        }
        guard allowed.contains(inject.status) else {
            throw reject(id, "number", "inject \(number) is \(inject.status) and cannot become \(status)")
        }
        if status != .cancelled, s.status != .conduct {
            throw reject(id, "exercise", "is \(s.status); injects run only during conduct")
        }
        return [.injectStatusChanged(InjectStatusChanged(exercise: id, number: number, status: status, reason: reason))]
    }

    public static func startInject(_ c: InjectRef, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try changeInject(c.exercise, c.number, to: .inProgress, from: [.scheduled], reason: nil, s)
    }

    public static func executeInject(_ c: InjectRef, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try changeInject(c.exercise, c.number, to: .executed, from: [.inProgress], reason: nil, s)
    }

    public static func cancelInject(_ c: InjectCancellation, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        try changeInject(c.exercise, c.number, to: .cancelled, from: [.scheduled, .inProgress], reason: c.reason, s)
    }

    // MARK: After action

    public static func recordObservation(_ c: ObservationRecord, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        let id = c.exercise
        let o = c.observation
        try require(id, s, in: [.conduct, .paused, .assessment], "recording an observation")
        guard !s.observations.contains(where: { $0.observation.id == o.id }) else {
            throw reject(id, "observation.id", "already has observation \(o.id)")
        }
        guard !o.nations.isEmpty else { throw reject(id, "observation.nations", "observation \(o.id) must name the nations involved") }
        try checkReleasability(id, item: "observation \(o.id)", o.marking, from: o.reportedBy, to: o.nations, toField: "nations", s)
        return [.observationRecorded(c)]
    }

    public static func advanceLesson(_ c: LessonStep, _ s: ExerciseState) throws(ExerciseRejection) -> [ExerciseEvent] {
        guard s.exists else { throw reject(c.exercise, "exercise", "does not exist") }
        guard s.status != .cancelled else { throw reject(c.exercise, "exercise", "is cancelled; no changes are allowed") }
        guard let recorded = s.observations.first(where: { $0.observation.id == c.observation }) else {
            throw reject(c.exercise, "observation", "has no observation \(c.observation)")
        }
        let stages = LessonStage.allCases
        let next = stages.firstIndex(of: recorded.stage).flatMap { $0 + 1 < stages.count ? stages[$0 + 1] : nil }
        guard next == c.stage else {
            throw reject(c.exercise, "stage",
                "observation \(c.observation) is at \(recorded.stage); \(next.map { "the next stage is \($0)" } ?? "it is complete"), not \(c.stage)")
        }
        return [.lessonAdvanced(c)]
    }
}
