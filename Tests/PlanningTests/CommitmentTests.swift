import Foundation
import Planning
import Testing

@Suite struct CommitmentTests {
    @Test func commitWritesBothStreams() throws {
        let s = Scenario(Fixture.world)
        let decision = try Planner.decide(Fixture.commit("aus-3rar"), now: noon("2025-06-01"), load: s.store.load)
        let w = window("2025-07-13", "2025-08-04")
        #expect(decision.writes == [
            StreamWrite(stream: .exercise("ts25"), expectedVersion: 1, events: [
                .exercise(.forceCommitted(ForceCommitted(exercise: "ts25", unit: "aus-3rar", nation: "AUS", role: "Manoeuvre", phase: nil, window: w))),
            ]),
            StreamWrite(stream: .unit("aus-3rar"), expectedVersion: 2, events: [
                .unit(.committed(UnitCommitted(unit: "aus-3rar", exercise: "ts25", exerciseName: "TALISMAN SABRE 25", role: "Manoeuvre", phase: nil, window: w))),
            ]),
        ])
    }

    @Test func unitRefusesOverlappingCommitment() {
        let s = Scenario(Fixture.world + [
            .planExercise(Fixture.plan("pb", name: "PITCH BLACK", window: window("2025-08-01", "2025-08-20"), alliance: nil)),
            Fixture.commit("aus-3rar"),
        ])
        s.reject(Fixture.commit("aus-3rar", to: "pb"), field: "window",
                 "unit aus-3rar is already committed to TALISMAN SABRE 25 from 2025-07-13 to 2025-08-04")
        s.reject(Fixture.commit("aus-3rar"), field: "unit", "already has unit aus-3rar committed")
        s.accept(Fixture.commit("aus-3rar", to: "pb", window: window("2025-08-05", "2025-08-20")))
        #expect(s.unit("aus-3rar").commitments.count == 2)
    }

    @Test func phaseWindowsUsedForOverlap() {
        let s = Scenario(Fixture.world + [
            .planExercise(Fixture.plan("mal", name: "MALABAR", window: window("2025-08-11", "2025-08-21"), phases: Fixture.malabarPhases, alliance: nil)),
            .planExercise(Fixture.plan("other", name: "OTHER", window: window("2025-08-14", "2025-08-30"), alliance: nil)),
        ])
        s.reject(Fixture.commit("aus-3rar", to: "mal", phase: "air"), field: "phase", "has no phase air (phases: harbour, sea)")
        s.reject(Fixture.commit("aus-3rar", to: "mal", phase: "sea", window: window("2025-08-11", "2025-08-12")), field: "window", "give the phase or a window")
        s.reject(Fixture.commit("aus-3rar", to: "mal", window: window("2025-08-01", "2025-08-12")), field: "window", "is outside it")
        s.accept(Fixture.commit("aus-3rar", to: "mal", phase: "harbour"))
        s.accept(Fixture.commit("aus-3rar", to: "mal", phase: "sea"))  // phases do not overlap each other
        s.accept(Fixture.commit("usa-31meu", to: "mal", phase: "harbour"))
        s.reject(Fixture.commit("usa-31meu", to: "other"), field: "window", "already committed to MALABAR (phase harbour) from 2025-08-11 to 2025-08-15")
        s.accept(Fixture.commit("usa-31meu", to: "other", window: window("2025-08-16", "2025-08-30")))
    }

    @Test func readinessMustMeetMinimum() {
        let s = Scenario(Fixture.world + [Fixture.report("nzl-1rnzir", "2025-05-30", 3)])
        s.reject(Fixture.commit("nzl-1rnzir"), field: "unit", "exercise ts25 requires C-2 or better; unit nzl-1rnzir reports C-3 as of 2025-05-30")
        s.given([.overrideReadiness(ReadinessOverride(unit: "nzl-1rnzir", asOf: "2025-05-30", cLevel: 2, remark: "Commander's assessment"))])
        s.accept(Fixture.commit("nzl-1rnzir"))
    }

    @Test func readinessMustBeFresh() {
        let s = Scenario(Fixture.world)
        s.reject(Fixture.commit("aus-3rar"), at: "2025-06-25", field: "unit", "its latest report, as of 2025-05-25, is 31 days old on 2025-06-25 (limit 30)")
        s.accept(Fixture.commit("aus-3rar"), at: "2025-06-24")
    }

    @Test func readinessMustExist() {
        let s = Scenario(Fixture.world + [Fixture.unit("aus-new", "AUS")])
        s.reject(Fixture.commit("aus-new"), field: "unit", "none has been filed")
        s.reject(Fixture.commit("ghost"), field: "unit", "unit ghost: it is not registered")
    }

    @Test func nationRules() {
        let s = Scenario(Fixture.world)
        // Lead nations and ANZUS members commit without invitation.
        s.accept(Fixture.commit("usa-31meu"))
        s.accept(Fixture.commit("nzl-1rnzir"))
        // GBR is only an ANZUS observer; JPN and FRA are outside the framework.
        s.reject(Fixture.commit("gbr-unit"), field: "unit", "cannot take forces from GBR: the nation is not a member or partner of anzus")
        s.reject(Fixture.commit("jpn-ardb"), "was not invited")
        s.given([.inviteNation(Invitation(exercise: "ts25", nation: "JPN", role: .participant))])
        s.reject(Fixture.commit("jpn-ardb"), "its invitation is invited")
        s.given([.acceptInvitation(NationRef(exercise: "ts25", nation: "JPN"))])
        s.accept(Fixture.commit("jpn-ardb"))
        s.given([.inviteNation(Invitation(exercise: "ts25", nation: "MYS", role: .observer)), .acceptInvitation(NationRef(exercise: "ts25", nation: "MYS"))])
        s.reject(Fixture.commit("mys-unit"), "observers commit no forces")
        s.given([.inviteNation(Invitation(exercise: "ts25", nation: "FRA", role: .participant)),
                 .declineInvitation(NationReason(exercise: "ts25", nation: "FRA", reason: "No"))])
        s.reject(Fixture.commit("fra-unit"), "its invitation is declined")
        s.given([.inviteNation(Invitation(exercise: "ts25", nation: "GBR", role: .humanitarianOnly)), .acceptInvitation(NationRef(exercise: "ts25", nation: "GBR"))])
        s.accept(Fixture.commit("gbr-unit"))
    }

    @Test func exerciseWithoutFrameworkNeedsInvitation() {
        let s = Scenario(Fixture.world + [.planExercise(Fixture.plan("solo", name: "SOLO", window: window("2025-09-01", "2025-09-10"), alliance: nil))])
        s.reject(Fixture.commit("nzl-1rnzir", to: "solo"), "cannot take forces from NZL: the nation was not invited")
    }

    @Test func releaseUnit() {
        let s = Scenario(Fixture.world)
        let release = PlanningCommand.releaseUnit(UnitRelease(exercise: "ts25", unit: "aus-3rar", reason: "Reassigned"))
        s.reject(release, field: "unit", "has no commitment of unit aus-3rar")
        s.given([Fixture.commit("aus-3rar")])
        s.accept(release)
        #expect(s.unit("aus-3rar").commitments.isEmpty)
        #expect(s.exercise("ts25").commitments.isEmpty)
    }

    @Test func noCommitmentsAfterConduct() {
        let s = Scenario(Fixture.world + Fixture.toConduct + [Fixture.milestone(.endEx, "2025-08-04")])
        s.reject(Fixture.commit("aus-3rar"), field: "exercise", "is assessment; committing forces needs status")
    }
}

@Suite struct PostponementTests {
    static let pitchBlack = PlanningCommand.planExercise(
        Fixture.plan("pb", name: "PITCH BLACK", window: window("2025-08-20", "2025-09-10"), alliance: nil))

    @Test func postponeMovesWindowPhasesCommitmentsAndBookings() throws {
        let s = Scenario(Fixture.world + [
            .planExercise(Fixture.plan("mal", name: "MALABAR", window: window("2025-08-11", "2025-08-21"), phases: Fixture.malabarPhases, alliance: nil)),
            Fixture.commit("aus-3rar", to: "mal", phase: "sea"),
            .bookTrainingArea(AreaAssignment(exercise: "mal", area: "shoalwater-bay", phase: "harbour")),
        ])
        let decision = try Planner.decide(.postponeExercise(Postponement(exercise: "mal", window: window("2025-09-11", "2025-09-21"), reason: "Ship availability")),
                                          now: noon("2025-06-01"), load: s.store.load)
        #expect(decision.writes.map(\.stream.rawValue) == ["area-shoalwater-bay", "exercise-mal", "unit-aus-3rar"])
        try s.store.append(decision)
        let mal = s.exercise("mal")
        #expect(mal.window == window("2025-09-11", "2025-09-21"))
        #expect(mal.phase("sea")?.window == window("2025-09-16", "2025-09-21"))
        #expect(mal.commitments.first?.window == window("2025-09-16", "2025-09-21"))
        #expect(s.unit("aus-3rar").commitments.first?.window == window("2025-09-16", "2025-09-21"))
        #expect(s.area("shoalwater-bay").bookings.first?.window == window("2025-09-11", "2025-09-15"))
    }

    @Test func postponeRechecksUnitOverlaps() {
        let s = Scenario(Fixture.world + [Self.pitchBlack, Fixture.commit("aus-3rar"), Fixture.commit("aus-3rar", to: "pb")])
        s.reject(.postponeExercise(Postponement(exercise: "ts25", window: window("2025-08-25", "2025-09-16"), reason: "Weather")),
                 field: "window", "unit aus-3rar is already committed to PITCH BLACK from 2025-08-20 to 2025-09-10")
        s.accept(.postponeExercise(Postponement(exercise: "ts25", window: window("2025-07-20", "2025-08-11"), reason: "Weather")))
    }

    @Test func postponeRechecksAreaOverlaps() {
        let s = Scenario(Fixture.world + [Self.pitchBlack,
            .bookTrainingArea(AreaAssignment(exercise: "ts25", area: "shoalwater-bay")),
            .bookTrainingArea(AreaAssignment(exercise: "pb", area: "shoalwater-bay"))])
        s.reject(.postponeExercise(Postponement(exercise: "ts25", window: window("2025-08-10", "2025-09-01"), reason: "Weather")),
                 field: "window", "training area shoalwater-bay is already booked by PITCH BLACK")
    }

    @Test func postponeRules() {
        let s = Scenario(Fixture.world + [
            .planExercise(Fixture.plan("mal", name: "MALABAR", window: window("2025-08-11", "2025-08-21"), phases: Fixture.malabarPhases, alliance: nil)),
        ])
        s.reject(.postponeExercise(Postponement(exercise: "mal", window: window("2025-08-11", "2025-08-21"), reason: "x")), field: "window", "is already")
        s.reject(.postponeExercise(Postponement(exercise: "mal", window: window("2025-09-01", "2025-09-05"), reason: "x")), field: "window", "phase sea moved by 21 days would not fit")
        s.given(Fixture.toConduct)
        s.reject(.postponeExercise(Postponement(exercise: "ts25", window: window("2025-09-01", "2025-09-25"), reason: "x")), field: "exercise", "postponing needs status")
    }

    @Test func postponeKeepsMilestonesBeforeStart() {
        let s = Scenario(Fixture.world + Fixture.toMPC)
        s.reject(.postponeExercise(Postponement(exercise: "ts25", window: window("2025-02-01", "2025-02-20"), reason: "x")),
                 field: "window.start", "held the MPC on 2025-02-18; StartEx on 2025-02-01 must come after it")
    }
}
