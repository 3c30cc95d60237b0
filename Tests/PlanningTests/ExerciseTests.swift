import Foundation
import Planning
import Testing

@Suite struct ExercisePlanningTests {
    @Test func planExercise() {
        let s = Scenario(Fixture.nations + Fixture.anzus)
        #expect(s.accept(.planExercise(Fixture.plan())) == [.exercise(.planned(Fixture.plan()))])
        s.reject(.planExercise(Fixture.plan()), field: "exercise", "exercise ts25 already exists")
        #expect(s.exercise("ts25").status == .programmed)
    }

    @Test func planRules() {
        let s = Scenario(Fixture.nations + Fixture.anzus)
        var p = Fixture.plan("x1")
        p.types = []
        s.reject(.planExercise(p), field: "types", "at least one exercise type")
        p = Fixture.plan("x1"); p.leadNations = []
        s.reject(.planExercise(p), field: "leadNations", "at least one lead nation")
        p = Fixture.plan("x1"); p.strategicObjectives = []
        s.reject(.planExercise(p), field: "strategicObjectives", "at least one strategic objective")
        p = Fixture.plan("x1"); p.hostNations = ["ZZZ"]
        s.reject(.planExercise(p), field: "leadNations", "ZZZ, which is not a registered nation")
        s.reject(.planExercise(Fixture.plan("x1", alliance: "nato")), field: "alliance", "alliance nato, which does not exist")
        s.reject(.planExercise(Fixture.plan("x1", phases: [Phase(id: "late", name: "Late", window: window("2025-08-01", "2025-08-10"))])),
                 field: "phases[0].window", "phase late from 2025-08-01 to 2025-08-10 is not inside the exercise window")
        let dup = Phase(id: "a", name: "A", window: window("2025-07-13", "2025-07-14"))
        s.reject(.planExercise(Fixture.plan("x1", phases: [dup, dup])), field: "phases[1].id", "two phases named a")
        s.given([.dissolveAlliance(AllianceDissolution(alliance: "anzus", dissolved: "2025-07-20", reason: "demo"))])
        s.reject(.planExercise(Fixture.plan("x1")), field: "alliance", "dissolved on 2025-07-20")
        s.accept(.planExercise(Fixture.plan("x1", window: window("2025-07-13", "2025-07-19"))))
    }

    @Test func lifeCycleInOrder() {
        let s = Scenario(Fixture.world)
        s.reject(Fixture.advance(to: .planning), field: "to", "is programmed and cannot move to planning; the next stage is initiation")
        s.accept(Fixture.advance(to: .initiation))
        s.accept(Fixture.advance(to: .specification))
        s.accept(Fixture.advance(to: .planning))
        s.reject(Fixture.advance(to: .closed), field: "to", "conduct begins when StartEx is held")
        #expect(s.exercise("ts25").status == .planning)
    }

    @Test func pauseResumeOnlyInConduct() {
        let s = Scenario(Fixture.world + Fixture.toFPC)
        let pause = PlanningCommand.pauseExercise(ExerciseReason(exercise: "ts25", reason: "Tropical cyclone"))
        let resume = PlanningCommand.resumeExercise(ExerciseRef(exercise: "ts25"))
        s.reject(pause, field: "exercise", "is planning; pausing needs status conduct")
        s.given([Fixture.milestone(.startEx, "2025-07-13")])
        s.reject(resume, "resuming needs status paused")
        s.accept(pause)
        #expect(s.exercise("ts25").status == .paused)
        s.reject(Fixture.milestone(.endEx, "2025-08-04"), "EndEx needs status conduct")
        s.accept(resume)
        s.accept(Fixture.milestone(.endEx, "2025-08-04"))
        #expect(s.exercise("ts25").status == .assessment)
        s.accept(Fixture.advance(to: .closed))
        s.reject(pause, "is closed; no changes are allowed")
        s.reject(.cancelExercise(ExerciseReason(exercise: "ts25", reason: "x")), "is closed")
    }

    @Test func cancelReleasesUnitsAndAreas() {
        let s = Scenario(Fixture.world + [Fixture.commit("aus-3rar"), .bookTrainingArea(AreaAssignment(exercise: "ts25", area: "shoalwater-bay"))])
        let decision = try? Planner.decide(.cancelExercise(ExerciseReason(exercise: "ts25", reason: "Budget")), now: noon("2025-06-01"), load: s.store.load)
        #expect(decision?.writes.map(\.stream.rawValue) == ["area-shoalwater-bay", "exercise-ts25", "unit-aus-3rar"])
        #expect(decision?.writes.map(\.expectedVersion) == [2, 3, 3])
        s.accept(.cancelExercise(ExerciseReason(exercise: "ts25", reason: "Budget")))
        #expect(s.exercise("ts25").status == .cancelled)
        #expect(s.exercise("ts25").commitments.isEmpty)
        #expect(s.unit("aus-3rar").commitments.isEmpty)
        #expect(s.area("shoalwater-bay").bookings.isEmpty)
        s.reject(.cancelExercise(ExerciseReason(exercise: "ts25", reason: "again")), field: "exercise", "is cancelled")
        s.reject(.cancelExercise(ExerciseReason(exercise: "nope", reason: "x")), field: "exercise", "does not exist")
    }
}

@Suite struct MilestoneTests {
    @Test func milestonesHeldInOrderWithIncreasingDates() {
        let s = Scenario(Fixture.world)
        s.reject(Fixture.milestone(.cdc, "2024-08-15"), field: "exercise", "is programmed; holding the CDC needs status initiation")
        s.given([Fixture.advance(to: .initiation)])
        s.reject(Fixture.milestone(.ipc, "2024-08-15"), field: "milestone", "cannot hold the IPC before the CDC")
        s.reject(Fixture.milestone(.cdc, "2025-07-13"), field: "on", "must come before it")
        s.accept(Fixture.milestone(.cdc, "2024-08-15"))
        s.reject(Fixture.milestone(.cdc, "2024-08-16"), field: "milestone", "already held the CDC on 2024-08-15")
        s.reject(Fixture.milestone(.ipc, "2024-08-15"), field: "on", "held the CDC on 2024-08-15; the IPC on 2024-08-15 must come after it")
        s.accept(Fixture.milestone(.ipc, "2024-11-12"))
        #expect(s.exercise("ts25").nextMilestone == .mpc)
    }

    @Test func fpcNeedsWorkshopAndCoverage() {
        let s = Scenario(Fixture.world + Fixture.toMPC)
        let fpc = Fixture.milestone(.fpc, "2025-05-20")
        s.reject(fpc, field: "milestone", "no scenario scripting workshop (MEL/MIL) before the FPC")
        s.given([Fixture.workshop, Fixture.objective("c2")])
        s.reject(fpc, field: "milestone", "objective amphib is not served by any inject")
        s.given([Fixture.inject(1, objectives: ["amphib"])])
        s.reject(fpc, field: "milestone", "objective c2 is not served by any inject")
        s.given([Fixture.inject(2, objectives: ["c2"])])
        s.accept(fpc)
        s.reject(Fixture.workshop, field: "on", "scenario scripting workshops come before the FPC")
    }

    @Test func fpcNeedsObjectives() {
        let s = Scenario(Fixture.world + [Fixture.advance(to: .initiation), Fixture.milestone(.cdc, "2024-08-15"),
            Fixture.milestone(.ipc, "2024-09-15"), Fixture.milestone(.mpc, "2024-10-15"), Fixture.workshop])
        s.reject(Fixture.milestone(.fpc, "2025-05-20"), "has no objectives")
    }

    @Test func cancelledInjectDoesNotCoverObjective() {
        let s = Scenario(Fixture.world + Fixture.toMPC + [Fixture.workshop, Fixture.inject(1)])
        s.given([.cancelInject(InjectCancellation(exercise: "ts25", number: 1, reason: "Rewritten"))])
        s.reject(Fixture.milestone(.fpc, "2025-05-20"), "objective amphib is not served by any inject")
    }

    @Test func startExAndEndEx() {
        let s = Scenario(Fixture.world + Fixture.toFPC)
        s.reject(Fixture.milestone(.endEx, "2025-08-04"), field: "milestone", "cannot hold the EndEx before the StartEx")
        s.reject(Fixture.milestone(.startEx, "2025-07-12"), field: "on", "StartEx on 2025-07-12 is outside the window")
        s.accept(Fixture.milestone(.startEx, "2025-07-13"))
        #expect(s.exercise("ts25").status == .conduct)
        s.reject(Fixture.milestone(.endEx, "2025-07-13"), field: "on", "must come after it")
        s.reject(Fixture.milestone(.endEx, "2025-08-05"), field: "on", "outside the window")
        s.accept(Fixture.milestone(.endEx, "2025-08-04"))
        #expect(s.exercise("ts25").status == .assessment)
    }
}

@Suite struct ParticipationTests {
    let invite = PlanningCommand.inviteNation(Invitation(exercise: "ts25", nation: "JPN", role: .participant))

    @Test func inviteAcceptDeclineWithdraw() {
        let s = Scenario(Fixture.world)
        s.reject(.inviteNation(Invitation(exercise: "ts25", nation: "ZZZ", role: .participant)), field: "nation", "cannot invite ZZZ")
        s.reject(.acceptInvitation(NationRef(exercise: "ts25", nation: "JPN")), field: "nation", "has not invited JPN")
        s.accept(invite)
        s.reject(invite, field: "nation", "has already invited JPN as participant (invited)")
        s.accept(.acceptInvitation(NationRef(exercise: "ts25", nation: "JPN")))
        s.reject(.declineInvitation(NationReason(exercise: "ts25", nation: "JPN", reason: "x")), field: "nation", "invitation to JPN that is accepted")
        s.accept(.withdrawNation(NationReason(exercise: "ts25", nation: "JPN", reason: "Operational commitments")))
        #expect(s.exercise("ts25").participation(of: "JPN")?.status == .withdrawn)
        s.accept(invite)  // re-invited after withdrawal
        s.accept(.declineInvitation(NationReason(exercise: "ts25", nation: "JPN", reason: "No")))
        #expect(s.exercise("ts25").participation(of: "JPN")?.status == .declined)
    }

    @Test func withdrawNeedsUnitsReleased() {
        let s = Scenario(Fixture.world + [invite, .acceptInvitation(NationRef(exercise: "ts25", nation: "JPN")), Fixture.commit("jpn-ardb")])
        let withdraw = PlanningCommand.withdrawNation(NationReason(exercise: "ts25", nation: "JPN", reason: "x"))
        s.reject(withdraw, field: "nation", "still has unit jpn-ardb of JPN committed")
        s.given([.releaseUnit(UnitRelease(exercise: "ts25", unit: "jpn-ardb", reason: "Withdrawing"))])
        s.accept(withdraw)
    }

    @Test func objectivesUnique() {
        let s = Scenario(Fixture.world)
        s.accept(Fixture.objective("amphib"))
        s.reject(Fixture.objective("amphib"), field: "objective.id", "already has objective amphib")
    }
}
