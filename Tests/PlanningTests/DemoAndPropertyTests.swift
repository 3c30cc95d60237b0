import Foundation
import Planning
import Testing

@Suite struct DemoScenarioTests {
    @Test func demoRunsWithExactlyTheExpectedRejections() throws {
        let store = InMemoryStore()
        var rejected: [Int] = []
        for (index, step) in DemoScenario.steps.enumerated() {
            do {
                let decision = try Planner.decide(step.command, now: step.at, load: store.load)
                try store.append(decision)
            } catch let rejection as PlanningRejection {
                rejected.append(index)
                if !step.expectRejection { Issue.record("step \(index) \(step.command.name) rejected: \(rejection)") }
            }
        }
        let expected = DemoScenario.steps.indices.filter { DemoScenario.steps[$0].expectRejection }
        #expect(rejected == expected)
        #expect(expected.count == 3)
        let ts25 = ExerciseState.fold(store.events(.exercise("ts25")))
        #expect(ts25.status == .assessment)
        #expect(ts25.commitments.map(\.unit) == ["aus-3rar", "usa-31meu", "jpn-ardb", "aus-20str", "nzl-1rnzir"])
        #expect(ts25.observations.first?.stage == .remedialAction)
        #expect(UnitState.fold(store.events(.unit("aus-2sqn"))).commitments.map(\.exercise) == ["pb24"])
        let at = DemoScenario.steps.map(\.at)
        #expect(at.allSatisfy { Day($0) >= "2023-01-01" && Day($0) <= "2025-12-31" })
        #expect(zip(at, at.dropFirst()).allSatisfy { $0 <= $1 })
        for step in DemoScenario.steps {
            if case .reportReadiness = step.command { #expect(step.reason?.contains("SYNTHETIC demo figure") == true) }
        }
    }
}


@Suite struct ReplayPropertyTests {
    /// Commands drawn at random from a pool touching every aggregate; many are rejected, which is the point.
    static func pool() -> [PlanningCommand] {
        let units: [Slug] = ["aus-3rar", "usa-31meu", "jpn-ardb", "nzl-1rnzir", "mys-unit"]
        let exercises: [Slug] = ["ts25", "pb", "mal"]
        var pool: [PlanningCommand] = Fixture.world + Fixture.toConduct + [
            .planExercise(Fixture.plan("pb", name: "PITCH BLACK", window: window("2025-07-30", "2025-08-20"), alliance: nil)),
            .planExercise(Fixture.plan("mal", name: "MALABAR", window: window("2025-08-11", "2025-08-21"), phases: Fixture.malabarPhases, alliance: nil)),
            Fixture.observation(), Fixture.milestone(.endEx, "2025-08-04"),
            .advanceLesson(LessonStep(exercise: "ts25", observation: "link16", stage: .lessonIdentified, note: "n")),
            .pauseExercise(ExerciseReason(exercise: "ts25", reason: "Weather")), .resumeExercise(ExerciseRef(exercise: "ts25")),
            .cancelExercise(ExerciseReason(exercise: "pb", reason: "Budget")),
            .overrideReadiness(ReadinessOverride(unit: "nzl-1rnzir", asOf: "2025-05-25", cLevel: 3, remark: "Remark")),
            .correctReadiness(ReadinessCorrection(unit: "aus-3rar", asOf: "2025-05-25", ratings: Fixture.ratings(2), reason: "Typo")),
            .removeAllianceMember(AllianceDeparture(alliance: "anzus", nation: "NZL", left: "2025-01-01")),
        ]
        for e in exercises {
            pool.append(.postponeExercise(Postponement(exercise: e, window: window("2025-08-25", "2025-09-20"), reason: "Slip")))
            pool.append(.bookTrainingArea(AreaAssignment(exercise: e, area: "shoalwater-bay")))
            pool.append(.releaseTrainingArea(AreaRelease(exercise: e, area: "shoalwater-bay", reason: "Done")))
            pool.append(.inviteNation(Invitation(exercise: e, nation: "JPN", role: .participant)))
            pool.append(.acceptInvitation(NationRef(exercise: e, nation: "JPN")))
            for u in units {
                pool.append(Fixture.commit(u, to: e))
                pool.append(Fixture.commit(u, to: e, phase: "sea"))
                pool.append(.releaseUnit(UnitRelease(exercise: e, unit: u, reason: "Reassigned")))
            }
        }
        return pool
    }

    @Test(arguments: [1, 2, 3, 42, 2025] as [UInt64])
    func replayReproducesIncrementalState(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        let pool = Self.pool()
        let store = InMemoryStore()
        var exercises: [StreamName: ExerciseState] = [:]
        var units: [StreamName: UnitState] = [:]
        var areas: [StreamName: AreaState] = [:]
        var alliances: [StreamName: AllianceState] = [:]
        var accepted = 0
        // The base world first, then random draws.
        let commands = Fixture.world + (0..<300).map { _ in pool[Int(rng.next() % UInt64(pool.count))] }
        for command in commands {
            guard let decision = try? Planner.decide(command, now: noon("2025-06-01"), load: store.load) else { continue }
            try store.append(decision)
            accepted += 1
            for write in decision.writes {
                for event in write.events {
                    exercises[write.stream, default: ExerciseState()].evolve(event)
                    units[write.stream, default: UnitState()].evolve(event)
                    areas[write.stream, default: AreaState()].evolve(event)
                    alliances[write.stream, default: AllianceState()].evolve(event)
                }
            }
        }
        #expect(accepted > Fixture.world.count)
        for (name, state) in exercises where name.category == "exercise" {
            #expect(ExerciseState.fold(store.events(name)) == state)
        }
        for (name, state) in units where name.category == "unit" { #expect(UnitState.fold(store.events(name)) == state) }
        for (name, state) in areas where name.category == "area" { #expect(AreaState.fold(store.events(name)) == state) }
        for (name, state) in alliances where name.category == "alliance" { #expect(AllianceState.fold(store.events(name)) == state) }
        // Invariant: no unit holds two overlapping commitments, no area two overlapping bookings.
        for (name, state) in units where name.category == "unit" {
            let c = state.commitments
            for i in c.indices { for j in c.indices where i < j { #expect(!c[i].window.overlaps(c[j].window), "\(name)") } }
        }
        for (name, state) in areas where name.category == "area" {
            let b = state.bookings
            for i in b.indices { for j in b.indices where i < j { #expect(!b[i].window.overlaps(b[j].window), "\(name)") } }
        }
    }

    @Test func fuzzedJSONNeverTraps() {
        var rng = SplitMix64(seed: 7)
        let samples = DemoScenario.steps.prefix(200).map { $0.command.jsonObject() }
        for sample in samples {
            var bytes = [UInt8](sample)
            for _ in 0..<3 where !bytes.isEmpty {
                let index = Int(rng.next() % UInt64(bytes.count))
                bytes[index] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let command = try? PlanningCommand.parse(json: Data(bytes)) {
                #expect((try? PlanningCommand.parse(json: command.jsonObject())) == command)
            }
        }
    }
}
