public import Foundation

/// One stream's events so far, as the caller read them. Version 0 and no events: the stream does not exist.
public struct StreamSnapshot: Sendable, Equatable {
    public var version: Int64
    public var events: [PlanningEvent]
    public init(version: Int64 = 0, events: [PlanningEvent] = []) {
        self.version = version
        self.events = events
    }
}

/// Events to append to one stream, provided it is still at `expectedVersion`.
public struct StreamWrite: Sendable, Equatable {
    public let stream: StreamName
    public let expectedVersion: Int64
    public let events: [PlanningEvent]
    public init(stream: StreamName, expectedVersion: Int64, events: [PlanningEvent]) {
        self.stream = stream
        self.expectedVersion = expectedVersion
        self.events = events
    }
}

/// The outcome of an accepted command: writes to append atomically, ordered by stream name.
public struct Decision: Sendable, Equatable {
    public let writes: [StreamWrite]
    public init(writes: [StreamWrite]) { self.writes = writes }
    /// Every event, in write order.
    public var events: [PlanningEvent] { writes.flatMap(\.events) }
}

/// A refused command, wrapping the aggregate's rejection.
public struct PlanningRejection: Error, Sendable, CustomStringConvertible, Equatable {
    /// `exercise ts25`, `unit aus-3rar`.
    public let entity: String
    /// The command field concerned.
    public let field: String
    /// A full sentence naming the entity, the field's value and the rule.
    public let message: String
    public var description: String { message }

    public init(entity: String, field: String, message: String) {
        self.entity = entity
        self.field = field
        self.message = message
    }

    public init(_ rejection: any DomainRejection) {
        self.init(entity: rejection.entity, field: rejection.field, message: rejection.message)
    }
}

public enum Planner {
    /// Validates `command` against current state and returns the events to append.
    ///
    /// - Parameters:
    ///   - command: the command to decide.
    ///   - now: the decision time; its UTC day is "today" for readiness freshness and report dates.
    ///   - load: returns a stream's events so far (the caller reads the store).
    /// - Returns: the writes, one per stream, each with the version the stream was read at.
    /// - Throws: the `load` closure's errors unchanged, or a `PlanningRejection`.
    public static func decide(
        _ command: PlanningCommand, now: Date, load: (StreamName) throws -> StreamSnapshot
    ) throws -> Decision {
        var versions: [StreamName: Int64] = [:]
        var writes: [StreamName: [PlanningEvent]] = [:]
        let today = Day(now)

        func snapshot(_ name: StreamName) throws -> [PlanningEvent] {
            let s = try load(name)
            versions[name] = s.version
            return s.events
        }
        func alliance(_ id: Slug) throws -> AllianceState { AllianceState.fold(try snapshot(.alliance(id))) }
        func nation(_ code: Trigraph) throws -> NationState { NationState.fold(try snapshot(.nation(code))) }
        func unit(_ id: Slug) throws -> UnitState { UnitState.fold(try snapshot(.unit(id))) }
        func area(_ id: Slug) throws -> AreaState { AreaState.fold(try snapshot(.area(id))) }
        func exercise(_ id: Slug) throws -> ExerciseState { ExerciseState.fold(try snapshot(.exercise(id))) }
        func emit(_ name: StreamName, _ events: [PlanningEvent]) {
            guard !events.isEmpty else { return }
            writes[name, default: []] += events
        }
        func emit(alliance id: Slug, _ events: [AllianceEvent]) { emit(.alliance(id), events.map { .alliance($0) }) }
        func emit(unit id: Slug, _ events: [UnitEvent]) { emit(.unit(id), events.map { .unit($0) }) }
        func emit(area id: Slug, _ events: [AreaEvent]) { emit(.area(id), events.map { .area($0) }) }
        func emit(exercise id: Slug, _ events: [ExerciseEvent]) { emit(.exercise(id), events.map { .exercise($0) }) }

        do {
            switch command {
            case .formAlliance(let c):
                emit(alliance: c.alliance, try AllianceDecider.form(c, alliance(c.alliance)))
            case .admitAllianceMember(let c):
                emit(alliance: c.alliance, try AllianceDecider.admit(c, alliance(c.alliance), nation: nation(c.nation)))
            case .removeAllianceMember(let c):
                emit(alliance: c.alliance, try AllianceDecider.remove(c, alliance(c.alliance)))
            case .dissolveAlliance(let c):
                emit(alliance: c.alliance, try AllianceDecider.dissolve(c, alliance(c.alliance)))
            case .registerNation(let c):
                emit(.nation(c.nation), try NationDecider.register(c, nation(c.nation)).map { .nation($0) })

            case .registerUnit(let c):
                emit(unit: c.unit, try UnitDecider.register(c, unit(c.unit), nation: nation(c.nation)))
            case .addCapability(let c):
                emit(unit: c.unit, try UnitDecider.addCapability(c, unit(c.unit)))
            case .withdrawCapability(let c):
                emit(unit: c.unit, try UnitDecider.withdrawCapability(c, unit(c.unit)))
            case .reportReadiness(let c):
                emit(unit: c.unit, try UnitDecider.report(c, unit(c.unit), today: today))
            case .overrideReadiness(let c):
                emit(unit: c.unit, try UnitDecider.override(c, unit(c.unit)))
            case .correctReadiness(let c):
                emit(unit: c.unit, try UnitDecider.correct(c, unit(c.unit)))

            case .registerTrainingArea(let c):
                emit(.area(c.area), try AreaDecider.register(c, area(c.area), host: nation(c.hostNation)).map { .area($0) })

            case .planExercise(let c):
                let state = try exercise(c.exercise)
                let framework = try c.alliance.map { try alliance($0) }
                var unregistered: [Trigraph] = []
                for code in c.leadNations + c.hostNations where !(try nation(code).exists) { unregistered.append(code) }
                emit(exercise: c.exercise, try ExerciseDecider.plan(c, state, alliance: framework, unregisteredNations: unregistered))
            case .advanceExercise(let c):
                emit(exercise: c.exercise, try ExerciseDecider.advance(c, exercise(c.exercise)))
            case .pauseExercise(let c):
                emit(exercise: c.exercise, try ExerciseDecider.pause(c, exercise(c.exercise)))
            case .resumeExercise(let c):
                emit(exercise: c.exercise, try ExerciseDecider.resume(c, exercise(c.exercise)))
            case .cancelExercise(let c):
                let state = try exercise(c.exercise)
                let events = try ExerciseDecider.cancel(c, state)
                for commitment in state.commitments {
                    let release = UnitRelease(exercise: c.exercise, unit: commitment.unit, phase: commitment.phase, reason: c.reason)
                    emit(unit: commitment.unit, try UnitDecider.release(release, unit(commitment.unit)))
                }
                for reservation in state.reservations {
                    let release = AreaRelease(exercise: c.exercise, area: reservation.area, phase: reservation.phase, reason: c.reason)
                    emit(area: reservation.area, try AreaDecider.release(release, area(reservation.area)))
                }
                emit(exercise: c.exercise, events)
            case .postponeExercise(let c):
                let state = try exercise(c.exercise)
                let postponed = try ExerciseDecider.postpone(c, state)
                for id in Set(state.commitments.map(\.unit)).sorted() {
                    emit(unit: id, try UnitDecider.move(unit: id, exercise: c.exercise, shiftDays: postponed.shiftDays, reason: c.reason, unit(id)))
                }
                for id in Set(state.reservations.map(\.area)).sorted() {
                    emit(area: id, try AreaDecider.move(area: id, exercise: c.exercise, shiftDays: postponed.shiftDays, reason: c.reason, area(id)))
                }
                emit(exercise: c.exercise, [.postponed(postponed)])
            case .holdMilestone(let c):
                emit(exercise: c.exercise, try ExerciseDecider.holdMilestone(c, exercise(c.exercise)))
            case .holdScenarioWorkshop(let c):
                emit(exercise: c.exercise, try ExerciseDecider.holdWorkshop(c, exercise(c.exercise)))
            case .inviteNation(let c):
                emit(exercise: c.exercise, try ExerciseDecider.invite(c, exercise(c.exercise), nation: nation(c.nation)))
            case .acceptInvitation(let c):
                emit(exercise: c.exercise, try ExerciseDecider.accept(c, exercise(c.exercise)))
            case .declineInvitation(let c):
                emit(exercise: c.exercise, try ExerciseDecider.decline(c, exercise(c.exercise)))
            case .withdrawNation(let c):
                emit(exercise: c.exercise, try ExerciseDecider.withdraw(c, exercise(c.exercise)))
            case .addObjective(let c):
                emit(exercise: c.exercise, try ExerciseDecider.addObjective(c, exercise(c.exercise)))

            case .commitUnit(let c):
                let state = try exercise(c.exercise)
                let unitState = try unit(c.unit)
                let framework = try state.plan?.alliance.map { try alliance($0) }
                let committed = try ExerciseDecider.commit(c, state, unit: unitState, alliance: framework, today: today)
                let onUnit = UnitCommitted(
                    unit: c.unit, exercise: c.exercise, exerciseName: state.plan?.name ?? "exercise", role: c.role,
                    phase: c.phase, window: committed.window)
                emit(unit: c.unit, try UnitDecider.commit(onUnit, unitState))
                emit(exercise: c.exercise, [.forceCommitted(committed)])
            case .releaseUnit(let c):
                let events = try ExerciseDecider.releaseForce(c, exercise(c.exercise))
                emit(unit: c.unit, try UnitDecider.release(c, unit(c.unit)))
                emit(exercise: c.exercise, events)
            case .bookTrainingArea(let c):
                let state = try exercise(c.exercise)
                let areaState = try area(c.area)
                let reserved = try ExerciseDecider.reserve(c, state, area: areaState)
                let booked = AreaBooked(
                    area: c.area, exercise: c.exercise, exerciseName: state.plan?.name ?? "exercise", phase: c.phase,
                    window: reserved.window)
                emit(area: c.area, try AreaDecider.book(booked, areaState))
                emit(exercise: c.exercise, [.areaReserved(reserved)])
            case .releaseTrainingArea(let c):
                let events = try ExerciseDecider.releaseArea(c, exercise(c.exercise))
                emit(area: c.area, try AreaDecider.release(c, area(c.area)))
                emit(exercise: c.exercise, events)

            case .scriptInject(let c):
                emit(exercise: c.exercise, try ExerciseDecider.scriptInject(c, exercise(c.exercise)))
            case .startInject(let c):
                emit(exercise: c.exercise, try ExerciseDecider.startInject(c, exercise(c.exercise)))
            case .executeInject(let c):
                emit(exercise: c.exercise, try ExerciseDecider.executeInject(c, exercise(c.exercise)))
            case .cancelInject(let c):
                emit(exercise: c.exercise, try ExerciseDecider.cancelInject(c, exercise(c.exercise)))
            case .recordObservation(let c):
                emit(exercise: c.exercise, try ExerciseDecider.recordObservation(c, exercise(c.exercise)))
            case .advanceLesson(let c):
                emit(exercise: c.exercise, try ExerciseDecider.advanceLesson(c, exercise(c.exercise)))
            }
        } catch let rejection as any DomainRejection {
            throw PlanningRejection(rejection)
        }

        return Decision(writes: writes.keys.sorted().compactMap { name in
            guard let events = writes[name] else { return nil }
            return StreamWrite(stream: name, expectedVersion: versions[name] ?? 0, events: events)
        })
    }
}
