import Foundation
import Planning
import Testing

struct SyntheticProgrammeTests {
    @Test func everyEventDecodesAndEveryEventTypeOccurs() throws {
        // Given a small synthetic programme
        var types: [String: Int] = [:]
        var failures: [String] = []
        var versions: Set<String> = []

        // When it is generated
        let total = SyntheticProgramme.generate(targetEvents: 12_000) { command in
            for (_, events) in command.writes {
                for record in events {
                    types[record.type, default: 0] += 1
                    versions.insert("\(record.type) v\(record.schemaVersion)")
                    do { _ = try PlanningEvent.decode(record) } catch { if failures.count < 5 { failures.append("\(error)") } }
                }
            }
        }

        // Then every event decodes as the domain reads it, old schema versions included
        #expect(failures.isEmpty, "\(failures)")
        #expect(Set(types.keys) == Set(PlanningEvent.typeNames), "missing: \(Set(PlanningEvent.typeNames).subtracting(types.keys).sorted())")
        #expect(versions.isSuperset(of: ["ReadinessReported v1", "ReadinessReported v2", "ExercisePlanned v1", "ExercisePlanned v2"]))
        // and the size is near the target, with readiness reports and the MSEL the bulk of it
        #expect((10_000...14_000).contains(total), "\(total)")
        #expect(types.values.reduce(0, +) == total)
        #expect(Double(types["ReadinessReported", default: 0] + types["InjectScripted", default: 0] + types["InjectStatusChanged", default: 0]) > 0.7 * Double(total))
    }

    @Test func theProgrammeIsDeterministic() throws {
        func digest() -> [String] {
            var out: [String] = []
            SyntheticProgramme.generate(targetEvents: 3_000) { command in
                out.append(command.name + command.writes.map { $0.stream + $0.events.map { String(decoding: $0.payload, as: UTF8.self) }.joined() }.joined())
            }
            return out
        }
        #expect(digest() == digest())
    }
}
