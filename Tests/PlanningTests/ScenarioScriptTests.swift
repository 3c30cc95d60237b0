import Foundation
import Planning
import Testing

@Suite struct InjectTests {
    @Test func scriptInjectRules() {
        let s = Scenario(Fixture.world + [Fixture.objective("amphib")])
        s.reject(Fixture.inject(1, objectives: []), field: "inject.objectives", "inject 1 must serve at least one objective")
        s.reject(Fixture.inject(1, objectives: ["amphib", "ghost"]), field: "inject.objectives[1]", "has no objective ghost for inject 1")
        s.reject(Fixture.inject(1, to: []), field: "inject.to", "needs at least one recipient")
        s.accept(Fixture.inject(1))
        s.reject(Fixture.inject(1), field: "inject.number", "already has inject 1")
        #expect(s.exercise("ts25").injects.first?.status == .scheduled)
    }

    @Test func classificationWithinCeiling() {
        let s = Scenario(Fixture.world + [Fixture.objective("amphib")])
        s.reject(Fixture.inject(1, marking: Marking(classification: .secret, releasableTo: ["USA"])), field: "inject 1.marking.classification",
                 "has ceiling CONFIDENTIAL; inject 1 marked SECRET exceeds it")
        s.accept(Fixture.inject(1, marking: Marking(classification: .confidential, releasableTo: ["USA"])))
    }

    @Test func recipientsInRelToSet() {
        let s = Scenario(Fixture.world + [Fixture.objective("amphib")])
        s.reject(Fixture.inject(1, to: ["USA", "JPN"], marking: Marking(classification: .restricted, releasableTo: ["USA"])),
                 field: "inject 1.to", "cannot go to JPN: it is not in the REL TO set")
        s.reject(Fixture.inject(1, to: ["GBR"], marking: Marking(classification: .restricted, releasableTo: ["GBR"])),
                 field: "inject 1.marking.releasableTo", "inject 1 cannot be REL TO GBR")
        s.accept(Fixture.inject(1, to: ["USA", "JPN"], marking: Marking(classification: .restricted, releasableTo: ["USA", "JPN"])))
        // Unclassified material is not restricted by REL TO.
        s.accept(Fixture.inject(2, to: ["GBR"]))
    }

    @Test func nofornStaysWithOriginator() {
        let s = Scenario(Fixture.world + [Fixture.objective("amphib")])
        s.reject(Fixture.inject(1, from: "USA", to: ["JPN"], marking: Marking(classification: .confidential, noforn: true)),
                 field: "inject 1.to", "inject 1 is NOFORN from USA and cannot go to JPN")
        s.reject(Fixture.inject(1, from: "USA", to: ["USA"], marking: Marking(classification: .confidential, noforn: true, releasableTo: ["AUS"])),
                 field: "inject 1.marking.releasableTo", "cannot also be REL TO")
        s.accept(Fixture.inject(1, from: "USA", to: ["USA"], marking: Marking(classification: .confidential, noforn: true)))
    }

    @Test func injectStatusFlow() {
        let s = Scenario(Fixture.world + Fixture.toFPC + [Fixture.inject(2)])
        let start = PlanningCommand.startInject(InjectRef(exercise: "ts25", number: 1))
        let execute = PlanningCommand.executeInject(InjectRef(exercise: "ts25", number: 1))
        s.reject(start, field: "exercise", "injects run only during conduct")
        s.given([Fixture.milestone(.startEx, "2025-07-13")])
        s.reject(execute, field: "number", "inject 1 is scheduled and cannot become executed")
        s.reject(.startInject(InjectRef(exercise: "ts25", number: 99)), field: "number", "has no inject 99")
        s.accept(start)
        s.accept(execute)
        s.reject(.cancelInject(InjectCancellation(exercise: "ts25", number: 1, reason: "x")), "inject 1 is executed and cannot become cancelled")
        s.accept(.cancelInject(InjectCancellation(exercise: "ts25", number: 2, reason: "Overtaken by events")))
        let injects = s.exercise("ts25").injects
        #expect(injects.map(\.status) == [.executed, .cancelled])
        #expect(injects.last?.cancellationReason == "Overtaken by events")
    }
}

@Suite struct ObservationTests {
    @Test func observationsDuringConductOrAssessment() {
        let s = Scenario(Fixture.world)
        s.reject(Fixture.observation(), field: "exercise", "recording an observation needs status conduct, paused, assessment")
        s.given(Fixture.toConduct)
        s.accept(Fixture.observation())
        s.reject(Fixture.observation(), field: "observation.id", "already has observation link16")
        s.reject(Fixture.observation("x", nations: []), field: "observation.nations", "must name the nations involved")
        #expect(s.exercise("ts25").observations.first?.observation.observedLevel == 1)
    }

    @Test func observationReleasability() {
        let s = Scenario(Fixture.world + Fixture.toConduct)
        s.reject(Fixture.observation("o1", marking: Marking(classification: .secret)), field: "observation o1.marking.classification", "exceeds it")
        s.reject(Fixture.observation("o2", marking: Marking(classification: .confidential, noforn: true)), field: "observation o2.nations", "is NOFORN from AUS and cannot go to JPN")
        s.reject(Fixture.observation("o3", marking: Marking(classification: .restricted, releasableTo: ["USA"])), field: "observation o3.nations", "cannot go to JPN")
        s.accept(Fixture.observation("o4", marking: Marking(classification: .restricted, releasableTo: ["JPN"])))
    }

    @Test func lessonWorkflowInOrder() {
        let s = Scenario(Fixture.world + Fixture.toConduct + [Fixture.observation()])
        func step(_ stage: LessonStage, _ id: Slug = "link16") -> PlanningCommand {
            .advanceLesson(LessonStep(exercise: "ts25", observation: id, stage: stage, note: "Note"))
        }
        s.reject(step(.lessonIdentified, "ghost"), field: "observation", "has no observation ghost")
        s.reject(step(.remedialAction), field: "stage", "is at observation; the next stage is lesson-identified, not remedial-action")
        s.accept(step(.lessonIdentified))
        s.accept(step(.remedialAction))
        s.accept(step(.lessonLearned))
        s.reject(step(.lessonLearned), field: "stage", "it is complete")
        #expect(s.exercise("ts25").observations.first?.stage == .lessonLearned)
        #expect(s.exercise("ts25").observations.first?.steps.count == 3)
    }
}
