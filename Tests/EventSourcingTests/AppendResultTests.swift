@testable import EventSourcing
import Foundation
import Testing

/// `AppendResult(serverText:)` against JSONDecoder, which it stands in for.
struct AppendResultTests {
    func decoded(_ text: String) -> AppendResult? {
        try? JSONDecoder().decode(AppendResult.self, from: Data(text.utf8))
    }

    @Test func readsWhatTheServerPrintsAsJSONDecoderDoes() {
        let texts = [
            #"{"streams": [{"stream": "unit-aus-3rar", "to_version": 5, "from_version": 5}], "duplicate": false, "last_position": 17, "first_position": 17}"#,
            #"{"streams": [{"stream": "exercise-ts25", "to_version": 3, "from_version": 1}, {"stream": "unit-usa-31meu", "to_version": 12, "from_version": 12}], "duplicate": true, "last_position": 9223372036854775807, "first_position": 1}"#,
            #"{"streams": [], "duplicate": false, "last_position": null, "first_position": null}"#,
            #"{"streams":[{"from_version":1,"stream":"a-b","to_version":2}],"first_position":-3,"duplicate":false,"last_position":4}"#,
            "{ \"streams\" : [ ] ,\n \"duplicate\" : true }",
        ]
        for text in texts {
            #expect(decoded(text) != nil, "\(text)")
            #expect(AppendResult(serverText: text) == decoded(text), "\(text)")
        }
    }

    @Test func leavesAnythingElseToJSONDecoder() {
        for text in [
            "",
            "{}",
            #"{"streams": [], "duplicate": false, "extra": 1}"#,
            #"{"streams": [{"stream": "unit-\u0061", "to_version": 1, "from_version": 1}], "duplicate": false}"#,
            #"{"streams": [], "duplicate": false, "first_position": 1.5}"#,
            #"{"streams": [], "duplicate": false, "first_position": 1e3}"#,
            #"{"streams": [], "duplicate": false, "first_position": 9223372036854775808}"#,
            #"{"streams": [], "duplicate": fals}"#,
            #"{"streams": [], "duplicate": false} trailing"#,
            #"{"streams": [{"stream": "x", "to_version": 1}], "duplicate": false}"#,
            #"{"streams": [], "duplicate": false"#,
            #"{"streams": [{"stream": "x", "to_version": 1, "from_version": 1}, ], "duplicate": false}"#,
        ] {
            #expect(AppendResult(serverText: text) == nil, "\(text)")
        }
    }
}

@Suite struct RandomUUIDTests {
    @Test func randomUUIDsAreVersion4RFC4122AndDistinct() {
        let ids = (0..<10_000).map { _ in UUID.random() }
        #expect(Set(ids).count == ids.count)
        for id in ids.prefix(1_000) {
            let text = id.uuidString
            let bytes = Array(text.utf8)
            #expect(bytes[14] == UInt8(ascii: "4"), "\(text)")
            #expect([UInt8(ascii: "8"), UInt8(ascii: "9"), UInt8(ascii: "A"), UInt8(ascii: "B")].contains(bytes[19]), "\(text)")
        }
        // The bytes vary: no two of the first thousand share their first eight hex digits.
        #expect(Set(ids.prefix(1_000).map { $0.uuidString.prefix(8) }).count > 990)
    }
}
