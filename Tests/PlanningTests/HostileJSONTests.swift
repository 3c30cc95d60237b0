import Foundation
import Planning
import Testing

/// Hostile JSON straight into `PlanningCommand.parse`: mutated commands never trap, every refusal
/// is a sentence naming its field (or the whole input), and whatever is accepted round-trips.
@Suite struct HostileJSONTests {
    static let fragments: [[UInt8]] = [
        [0x00], [0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0x01], [0x7F], Array("\"".utf8), Array("\\".utf8), Array("{".utf8),
        Array("}".utf8), Array("[".utf8), Array("]".utf8), Array(",".utf8), Array(":".utf8), Array("null".utf8), Array("1e999".utf8),
        Array("-9223372036854775809".utf8), Array("99999999999999999999999999".utf8), Array("0.5".utf8), Array("true".utf8),
        Array("\\u0000".utf8), Array("\\ud800".utf8), Array("'; DROP TABLE event_store.events; --".utf8), Array("\"x\":1,\"x\":2".utf8),
    ]

    @Test func mutatedCommandsNeverTrapAndRefusalsNameTheirField() throws {
        var generator = SplitMix64(seed: 20_250_713)  // deterministic, so a failure reproduces
        let seeds = Fixture.world + Fixture.toFPC + [Fixture.commit("aus-3rar"), Fixture.inject(7)]
        var refused = 0, accepted = 0
        for round in 0..<4000 {
            let seed = seeds[round % seeds.count]
            var bytes = [UInt8](seed.jsonObject())
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: bytes.remove(at: at)
                case 1: bytes.insert(contentsOf: Self.fragments.randomElement(using: &generator) ?? [], at: at)
                case 2: bytes[at] = Self.fragments.randomElement(using: &generator)?.first ?? 0
                default:
                    let chunk = Array(bytes[at..<min(bytes.count, at + 12)])
                    bytes.insert(contentsOf: chunk, at: at)
                }
                if bytes.isEmpty { bytes = [0x7B] }
            }
            switch parsed(Data(bytes)) {
            case .success(let command):
                accepted += 1
                // Whatever is accepted is a well-formed command: it survives its own round trip.
                #expect(try parsed(command.jsonObject()).get() == command, "round \(round)")
            case .failure(let error):
                refused += 1
                #expect(!error.message.isEmpty, "round \(round)")
                if let field = error.field {
                    #expect(error.message.contains("'\(field)'"), "round \(round): \(error.message)")
                    #expect(!field.unicodeScalars.contains { $0.value < 0x20 }, "round \(round): the field path is printable")
                }
                #expect(error.message.utf8.count < 1000, "round \(round): \(error.message.prefix(200))")
            }
        }
        #expect(refused > 3000)
        print("hostile JSON: \(refused) mutated command(s) refused, \(accepted) accepted, none trapped")
    }

    func parsed(_ bytes: Data) -> Result<PlanningCommand, CommandParseError> {
        Result { () throws(CommandParseError) in try PlanningCommand.parse(json: bytes) }
    }

    func failure(_ bytes: Data) -> CommandParseError? {
        if case .failure(let error) = parsed(bytes) { return error }
        return nil
    }

    @Test func keysGivenTwiceAreRefusedWhereverTheyAre() {
        let cases: [(String, String)] = [
            (#"{"command":"registerNation","nation":"NZL","name":"a","name":"b"}"#, "name"),
            (#"{"command":"registerNation","command":"registerUnit","nation":"NZL","name":"a"}"#, "command"),
            (#"{"command":"registerNation","nation":"NZL","name":"a","n\u0061me":"b"}"#, "name"),
            (#"{"command":"reportReadiness","unit":"u","asOf":"2025-06-01","ratings":{"personnel":1,"supplies":1,"equipment":1,"training":1,"training":4}}"#,
             "ratings.training"),
            (#"{"command":"planExercise","phases":[{"id":"a"},{"id":"b","id":"c"}],"exercise":"x"}"#, "phases[1].id"),
        ]
        for (json, field) in cases {
            let error = failure(Data(json.utf8))
            #expect(error?.field == field, "\(json): \(error?.message ?? "accepted")")
            #expect(error?.message.contains("more than once") == true)
        }
        // The same key in different objects, and key-like text inside strings, are fine.
        #expect(failure(Data(#"{"command":"commitUnit","exercise":"ts25","unit":"u","role":"\"unit\":1","window":{"start":"2025-07-13","end":"2025-07-14"}}"#.utf8)) == nil)
    }

    @Test func invalidUTF8IsRefusedNamingTheField() {
        let prefix = Data(#"{"command":"registerNation","nation":"NZL","name":"a"#.utf8), suffix = Data(#"b"}"#.utf8)
        for bad in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0xE2, 0x82]] as [[UInt8]] {
            let error = failure(prefix + Data(bad) + suffix)
            #expect(error?.field == "name", "\(bad): \(error?.message ?? "accepted")")
            #expect(error?.message == "field 'name' is not valid UTF-8")
        }
        // With a genuine U+FFFD present the field cannot be told apart: the whole input is named.
        let ambiguous = failure(Data(#"{"command":"registerNation","nation":"NZL","name":"\#u{FFFD}"#.utf8) + Data([0xFF]) + suffix)
        #expect(ambiguous?.message == "the input is not valid UTF-8")
        // A genuine U+FFFD alone is valid text.
        #expect(failure(Data(#"{"command":"registerNation","nation":"NZL","name":"a\#u{FFFD}b"}"#.utf8)) == nil)
    }

    @Test func aHugeNumberLiteralIsNotEchoedInFull() {
        let error = failure(Data((#"{"command":"registerNation","nation":"NZL","name":"a","n":1"# + String(repeating: "0", count: 100_000) + "e999}").utf8))
        #expect(error?.message.hasPrefix("the input is not valid JSON") == true, "\(error?.message.prefix(200) ?? "accepted")")
        #expect(error?.message.utf8.count ?? 0 < 300)
    }

    @Test func hostileKeysArePrintedShortAndEscaped() {
        let long = String(repeating: "k", count: 100_000)
        let error = failure(Data(#"{"command":"registerNation","nation":"NZL","name":"a","\#(long)":1}"#.utf8))
        #expect(error?.message.utf8.count ?? 0 < 200, "\(error?.message.prefix(300) ?? "")")
        let control = failure(Data(#"{"command":"registerNation","nation":"NZL","name":"a","x\u001b[2Jy":1}"#.utf8))
        #expect(control?.message.contains("\\u{1B}") == true, "\(control?.message ?? "")")
        #expect(control?.message.unicodeScalars.contains { $0.value == 0x1B } == false)
    }
}
