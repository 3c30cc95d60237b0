public import Foundation

/// Every command a planner can issue. The JSON form is the payload plus `"command": name`.
public enum PlanningCommand: Sendable, Equatable {
    // Alliances and nations
    case formAlliance(AllianceProfile)
    case admitAllianceMember(AllianceAdmission)
    case removeAllianceMember(AllianceDeparture)
    case dissolveAlliance(AllianceDissolution)
    case registerNation(NationProfile)
    // Units
    case registerUnit(UnitProfile)
    case addCapability(CapabilityAddition)
    case withdrawCapability(CapabilityWithdrawal)
    case reportReadiness(ReadinessSubmission)
    case overrideReadiness(ReadinessOverride)
    case correctReadiness(ReadinessCorrection)
    // Training areas
    case registerTrainingArea(AreaProfile)
    // Exercises
    case planExercise(ExercisePlan)
    case advanceExercise(AdvanceExercise)
    case pauseExercise(ExerciseReason)
    case resumeExercise(ExerciseRef)
    case cancelExercise(ExerciseReason)
    case postponeExercise(Postponement)
    case holdMilestone(MilestoneRecord)
    case holdScenarioWorkshop(WorkshopRecord)
    case inviteNation(Invitation)
    case acceptInvitation(NationRef)
    case declineInvitation(NationReason)
    case withdrawNation(NationReason)
    case addObjective(ObjectiveRecord)
    case commitUnit(UnitAssignment)
    case releaseUnit(UnitRelease)
    case bookTrainingArea(AreaAssignment)
    case releaseTrainingArea(AreaRelease)
    case scriptInject(InjectRecord)
    case startInject(InjectRef)
    case executeInject(InjectRef)
    case cancelInject(InjectCancellation)
    case recordObservation(ObservationRecord)
    case advanceLesson(LessonStep)
}

/// Why a command's JSON was refused; names the field and the problem.
public struct CommandParseError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The offending field's path (`window.end`, `objectives[1]`), or `nil` for the whole input.
    public let field: String?
    /// A full sentence: `field 'window.end': '2025-13-40' is not a date (expected YYYY-MM-DD)`.
    public let message: String
    public var description: String { message }

    init(field: String?, _ problem: String) {
        // A path can hold any key the input gave: keep it printable and short.
        let field = field.map { path in
            path.unicodeScalars.contains(where: isControl) || path.unicodeScalars.count > 120 ? String(quoted(path).dropFirst().dropLast()) : path
        }
        self.field = field
        self.message = field.map { problem.hasPrefix("is ") ? "field '\($0)' \(problem)" : "field '\($0)': \(problem)" } ?? problem
    }

    init(field: String?, message: String) {
        self.field = field
        self.message = message
    }
}

extension PlanningCommand {
    /// All command names, sorted.
    public static var names: [String] { parsers.keys.sorted() }

    /// The command's name as used in JSON: `planExercise`.
    public var name: String { parts.name }

    /// Parses one command from its JSON object form: `{"command": "planExercise", "exercise": "ts25", ...}`.
    ///
    /// Every field is validated; unknown fields, `null`s and wrong types are refused.
    /// - Throws: `CommandParseError` naming the field and the problem.
    public static func parse(json: Data) throws(CommandParseError) -> PlanningCommand {
        if let problem = encodingProblem(json) { throw problem }
        let parsed: Any
        do {
            parsed = try JSONSerialization.jsonObject(with: json)
        } catch {
            // Foundation's detail says where (and may quote a number literal of any length: keep it short).
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String
            let short = detail.map { $0.count > 120 ? String($0.prefix(120)) + "…" : $0 }
            throw CommandParseError(field: nil, message: "the input is not valid JSON" + (short.map { " (\($0))" } ?? ""))
        }
        guard let object = parsed as? [String: Any] else {
            throw CommandParseError(field: nil, message: "the input is not a JSON object")
        }
        if let problem = duplicateKeyProblem(json) { throw problem }
        guard let rawName = object["command"] else { throw CommandParseError(field: "command", "is missing") }
        guard let name = rawName as? String else { throw CommandParseError(field: "command", "expected a string") }
        guard let parser = parsers[name] else {
            throw CommandParseError(field: "command", "\(quoted(name)) is not one of \(names.joined(separator: ", "))")
        }
        if let (path, number) = firstNonInteger(in: object, path: "") {
            throw CommandParseError(field: path, "\(number) is not an integer in range")
        }
        if let path = firstNull(in: object, path: "") { throw CommandParseError(field: path, "null is not allowed; omit the field instead") }
        let command: PlanningCommand
        do {
            command = try parser(json)
        } catch {
            let (field, problem) = fieldAndProblem(error)
            throw CommandParseError(field: field, problem)
        }
        // Every input key must survive a round trip; a key that does not is unknown.
        var input = object
        input.removeValue(forKey: "command")
        if let output = (try? JSONSerialization.jsonObject(with: command.jsonObject())) as? [String: Any],
            let unknown = firstUnknownKey(input: input, known: output, path: "")
        {
            throw CommandParseError(field: unknown, "is not a field of \(name)")
        }
        return command
    }

    /// The JSON object form, with sorted keys; `parse(json:)` reads it back to an equal command.
    ///
    /// The bytes are part of the contract: `muster import` and `muster demo` derive command ids from them.
    /// One encoding, with `"command"` written into the payload's own object, gives the bytes that encoding
    /// the payload, adding the key and serialising again with `JSONSerialization` gave (the Planning tests
    /// compare the two over every demo, fixture and synthetic command).
    public func jsonObject() -> Data {
        let (name, payload) = parts
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? encoder.encode(Tagged(name: name, payload: payload))) ?? Data("{\"command\":\"\(name)\"}".utf8)
    }

    /// A payload with its command's name as one more key of the same object.
    private struct Tagged: Encodable {
        let name: String
        let payload: any Encodable & Sendable

        enum Key: String, CodingKey { case command }

        func encode(to encoder: any Encoder) throws {
            try payload.encode(to: encoder)
            var container = encoder.container(keyedBy: Key.self)
            try container.encode(name, forKey: .command)
        }
    }

    var parts: (name: String, payload: any Encodable & Sendable) {
        switch self {
        case .formAlliance(let p): ("formAlliance", p)
        case .admitAllianceMember(let p): ("admitAllianceMember", p)
        case .removeAllianceMember(let p): ("removeAllianceMember", p)
        case .dissolveAlliance(let p): ("dissolveAlliance", p)
        case .registerNation(let p): ("registerNation", p)
        case .registerUnit(let p): ("registerUnit", p)
        case .addCapability(let p): ("addCapability", p)
        case .withdrawCapability(let p): ("withdrawCapability", p)
        case .reportReadiness(let p): ("reportReadiness", p)
        case .overrideReadiness(let p): ("overrideReadiness", p)
        case .correctReadiness(let p): ("correctReadiness", p)
        case .registerTrainingArea(let p): ("registerTrainingArea", p)
        case .planExercise(let p): ("planExercise", p)
        case .advanceExercise(let p): ("advanceExercise", p)
        case .pauseExercise(let p): ("pauseExercise", p)
        case .resumeExercise(let p): ("resumeExercise", p)
        case .cancelExercise(let p): ("cancelExercise", p)
        case .postponeExercise(let p): ("postponeExercise", p)
        case .holdMilestone(let p): ("holdMilestone", p)
        case .holdScenarioWorkshop(let p): ("holdScenarioWorkshop", p)
        case .inviteNation(let p): ("inviteNation", p)
        case .acceptInvitation(let p): ("acceptInvitation", p)
        case .declineInvitation(let p): ("declineInvitation", p)
        case .withdrawNation(let p): ("withdrawNation", p)
        case .addObjective(let p): ("addObjective", p)
        case .commitUnit(let p): ("commitUnit", p)
        case .releaseUnit(let p): ("releaseUnit", p)
        case .bookTrainingArea(let p): ("bookTrainingArea", p)
        case .releaseTrainingArea(let p): ("releaseTrainingArea", p)
        case .scriptInject(let p): ("scriptInject", p)
        case .startInject(let p): ("startInject", p)
        case .executeInject(let p): ("executeInject", p)
        case .cancelInject(let p): ("cancelInject", p)
        case .recordObservation(let p): ("recordObservation", p)
        case .advanceLesson(let p): ("advanceLesson", p)
        }
    }

    typealias Parse = @Sendable (Data) throws -> PlanningCommand

    static func parser<P: Decodable & Sendable>(_ name: String, _ make: @escaping @Sendable (P) -> PlanningCommand) -> (String, Parse) {
        (name, { data in make(try JSONDecoder().decode(P.self, from: data)) })
    }

    static let parsers: [String: Parse] = Dictionary(uniqueKeysWithValues: [
        parser("formAlliance") { .formAlliance($0) },
        parser("admitAllianceMember") { .admitAllianceMember($0) },
        parser("removeAllianceMember") { .removeAllianceMember($0) },
        parser("dissolveAlliance") { .dissolveAlliance($0) },
        parser("registerNation") { .registerNation($0) },
        parser("registerUnit") { .registerUnit($0) },
        parser("addCapability") { .addCapability($0) },
        parser("withdrawCapability") { .withdrawCapability($0) },
        parser("reportReadiness") { .reportReadiness($0) },
        parser("overrideReadiness") { .overrideReadiness($0) },
        parser("correctReadiness") { .correctReadiness($0) },
        parser("registerTrainingArea") { .registerTrainingArea($0) },
        parser("planExercise") { .planExercise($0) },
        parser("advanceExercise") { .advanceExercise($0) },
        parser("pauseExercise") { .pauseExercise($0) },
        parser("resumeExercise") { .resumeExercise($0) },
        parser("cancelExercise") { .cancelExercise($0) },
        parser("postponeExercise") { .postponeExercise($0) },
        parser("holdMilestone") { .holdMilestone($0) },
        parser("holdScenarioWorkshop") { .holdScenarioWorkshop($0) },
        parser("inviteNation") { .inviteNation($0) },
        parser("acceptInvitation") { .acceptInvitation($0) },
        parser("declineInvitation") { .declineInvitation($0) },
        parser("withdrawNation") { .withdrawNation($0) },
        parser("addObjective") { .addObjective($0) },
        parser("commitUnit") { .commitUnit($0) },
        parser("releaseUnit") { .releaseUnit($0) },
        parser("bookTrainingArea") { .bookTrainingArea($0) },
        parser("releaseTrainingArea") { .releaseTrainingArea($0) },
        parser("scriptInject") { .scriptInject($0) },
        parser("startInject") { .startInject($0) },
        parser("executeInject") { .executeInject($0) },
        parser("cancelInject") { .cancelInject($0) },
        parser("recordObservation") { .recordObservation($0) },
        parser("advanceLesson") { .advanceLesson($0) },
    ])
}

extension PlanningCommand {
    /// The field holding bytes that are not UTF-8, or the whole input when no field can be told;
    /// nil when the input is valid UTF-8.
    ///
    /// Invalid bytes are never repaired to U+FFFD: that would record a value the user did not write.
    public static func encodingProblem(_ json: Data) -> CommandParseError? {
        guard String(data: json, encoding: .utf8) == nil else { return nil }
        let replacement = "\u{FFFD}"
        // Decode with repair: when the input held no U+FFFD of its own, every one marks an invalid byte.
        let repaired = String(decoding: json, as: UTF8.self)
        if json.range(of: Data(replacement.utf8)) == nil,
            let object = try? JSONSerialization.jsonObject(with: Data(repaired.utf8)),
            let path = firstString(in: object, path: "", containing: replacement)
        {
            return CommandParseError(field: path, "is not valid UTF-8")
        }
        return CommandParseError(field: nil, message: "the input is not valid UTF-8")
    }

    /// The first key given twice in one object of a valid JSON input, which would otherwise be
    /// resolved silently to one of its values; nil when there is none.
    public static func duplicateKeyProblem(_ json: Data) -> CommandParseError? {
        JSONKeyScanner.firstDuplicateKey(in: json).map { CommandParseError(field: $0, "is given more than once") }
    }

    private static func firstString(in value: Any, path: String, containing needle: String) -> String? {
        if let text = value as? String { return text.contains(needle) ? path : nil }
        if let object = value as? [String: Any] {
            for key in object.keys.sorted() {
                if key.contains(needle) { return join(path, key) }
                if let value = object[key], let found = firstString(in: value, path: join(path, key), containing: needle) { return found }
            }
        } else if let array = value as? [Any] {
            for (index, element) in array.enumerated() {
                if let found = firstString(in: element, path: "\(path)[\(index)]", containing: needle) { return found }
            }
        }
        return nil
    }
}

/// Finds keys given twice in one JSON object, which `JSONSerialization` silently resolves to one value.
///
/// Runs only on input `JSONSerialization` accepted, so the structure is known to be valid
/// and nested at most 512 levels deep.
enum JSONKeyScanner {
    /// The path of the first key that appears twice in its object (`ratings.training`), or nil.
    static func firstDuplicateKey(in json: Data) -> String? {
        let bytes = [UInt8](json)
        var index = 0
        return value(bytes, &index, path: "")
    }

    private static func skipSpace(_ bytes: [UInt8], _ index: inout Int) {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    /// Reads a string starting at its opening quote; returns it unescaped when `decode` is true.
    @discardableResult
    private static func string(_ bytes: [UInt8], _ index: inout Int, decode: Bool = true) -> String {
        let start = index
        index += 1
        var escaped = false, anyEscape = false
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            if escaped {
                escaped = false
            } else if byte == UInt8(ascii: "\\") {
                escaped = true
                anyEscape = true
            } else if byte == UInt8(ascii: "\"") {
                break
            }
        }
        guard decode else { return "" }
        guard anyEscape else { return String(decoding: bytes[(start + 1)..<max(start + 1, index - 1)], as: UTF8.self) }
        let raw = Data(bytes[start..<index])
        return (try? JSONSerialization.jsonObject(with: raw, options: .fragmentsAllowed)) as? String
            ?? String(decoding: raw, as: UTF8.self)
    }

    private static func value(_ bytes: [UInt8], _ index: inout Int, path: String) -> String? {
        skipSpace(bytes, &index)
        guard index < bytes.count else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var keys = Set<String>()
            while index < bytes.count {
                skipSpace(bytes, &index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { index += 1; return nil }
                let key = string(bytes, &index)
                let keyPath = join(path, key)
                guard keys.insert(key).inserted else { return keyPath }
                skipSpace(bytes, &index)
                index += 1  // ':'
                if let found = value(bytes, &index, path: keyPath) { return found }
                skipSpace(bytes, &index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { index += 1; return nil }
                index += 1
            }
            return nil
        case UInt8(ascii: "["):
            index += 1
            var element = 0
            skipSpace(bytes, &index)
            if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return nil }
            while index < bytes.count {
                if let found = value(bytes, &index, path: "\(path)[\(element)]") { return found }
                element += 1
                skipSpace(bytes, &index)
                guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { index += 1; return nil }
                index += 1
            }
            return nil
        case UInt8(ascii: "\""):
            string(bytes, &index, decode: false)
            return nil
        default:
            while index < bytes.count, ![UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), 0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) {
                index += 1
            }
            return nil
        }
    }
}

private func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

private func firstNull(in value: Any, path: String) -> String? {
    if value is NSNull { return path }
    if let object = value as? [String: Any] {
        for key in object.keys.sorted() {
            if let value = object[key], let found = firstNull(in: value, path: join(path, key)) { return found }
        }
    } else if let array = value as? [Any] {
        for (index, element) in array.enumerated() {
            if let found = firstNull(in: element, path: "\(path)[\(index)]") { return found }
        }
    }
    return nil
}

/// Every number in a command is an integer; JSONDecoder reports others without a field, so find them first.
private func firstNonInteger(in value: Any, path: String) -> (String, String)? {
    if let object = value as? [String: Any] {
        for key in object.keys.sorted() {
            if let value = object[key], let found = firstNonInteger(in: value, path: join(path, key)) { return found }
        }
    } else if let array = value as? [Any] {
        for (index, element) in array.enumerated() {
            if let found = firstNonInteger(in: element, path: "\(path)[\(index)]") { return found }
        }
    } else if !(value is String), let number = value as? NSNumber {
        let double = number.doubleValue
        if !double.isFinite || double.rounded() != double || abs(double) > 9.0e15 { return (path, number.stringValue) }
    }
    return nil
}

private func firstUnknownKey(input: Any, known: Any, path: String) -> String? {
    if let input = input as? [String: Any], let known = known as? [String: Any] {
        for key in input.keys.sorted() {
            guard let knownValue = known[key] else { return join(path, key) }
            if let value = input[key], let found = firstUnknownKey(input: value, known: knownValue, path: join(path, key)) {
                return found
            }
        }
    } else if let input = input as? [Any], let known = known as? [Any] {
        for (index, (element, knownElement)) in zip(input, known).enumerated() {
            if let found = firstUnknownKey(input: element, known: knownElement, path: "\(path)[\(index)]") { return found }
        }
    }
    return nil
}

/// Splits a `DecodingError` into the field path and the problem.
func fieldAndProblem(_ error: any Error) -> (String?, String) {
    let message = describe(decodingError: error)
    // `describe` renders "field 'path': problem", "field 'path' is missing" or "the object: problem".
    if message.hasPrefix("field '"), let close = message.dropFirst(7).firstIndex(of: "'") {
        let field = String(message[message.index(message.startIndex, offsetBy: 7)..<close])
        var rest = String(message[message.index(after: close)...])
        if rest.hasPrefix(": ") { rest.removeFirst(2) } else if rest.hasPrefix(" ") { rest.removeFirst() }
        return (field, rest)
    }
    if message.hasPrefix("the object: ") { return (nil, String(message.dropFirst(12))) }
    return (nil, message)
}
