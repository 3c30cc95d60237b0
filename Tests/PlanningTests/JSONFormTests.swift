import Foundation
@testable import Planning
import Testing

/// `jsonObject()` before it wrote `"command"` into the payload's own object: the payload encoded, read back
/// with `JSONSerialization`, the key added and serialised again. Command ids derived from these bytes
/// (`muster import`, `muster demo`) must not change.
private func referenceJSON(_ command: PlanningCommand) throws -> Data {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    var object = try #require(try JSONSerialization.jsonObject(with: encoder.encode(command.parts.payload)) as? [String: Any])
    object["command"] = command.name
    return try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
}

@Suite struct JSONFormTests {
    @Test func theJSONFormKeepsItsBytesForEveryCommandAndAwkwardText() throws {
        let awkward = ["quote \" and backslash \\", "slash / and </script>", "tab\tnewline\ncarriage\rbell\u{7}",
                       "del\u{7F} and \u{2028}\u{2029}", "Zoë, Māori, 日本語, 🇳🇿", "é composed, e\u{301} decomposed", " "]
        var commands = Fixture.world + Fixture.toConduct + [Fixture.observation()] + DemoScenario.steps.map(\.command)
        var accepted = 0
        for text in awkward {
            for template in [["command": "registerNation", "nation": "NZL", "name": text],
                             ["command": "pauseExercise", "exercise": "ts25", "reason": text]] {
                let input = try JSONSerialization.data(withJSONObject: template)
                if let command = try? PlanningCommand.parse(json: input) {
                    commands.append(command)
                    accepted += 1
                }
            }
        }
        #expect(accepted >= awkward.count, "most awkward texts are valid names or reasons")
        for command in commands {
            let reference = try referenceJSON(command)
            #expect(command.jsonObject() == reference,
                    "\(String(decoding: command.jsonObject(), as: UTF8.self)) differs from \(String(decoding: reference, as: UTF8.self))")
        }
        #expect(Set(commands.map(\.name)).count >= 20)
    }
}
