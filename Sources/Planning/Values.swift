public import Foundation

// MARK: - Day

/// A calendar day in the proleptic Gregorian calendar, UTC.
///
/// Windows, milestones and as-of dates are days, not instants: a planner says
/// "13 Jul 2025", never "2025-07-13T00:00:00Z".
public struct Day: Sendable, Hashable, Comparable, CustomStringConvertible, Codable,
    ExpressibleByStringLiteral
{
    public let year: Int
    public let month: Int
    public let day: Int

    /// Creates a day, or `nil` when the date does not exist (2025-02-30) or the year is outside 1...9999.
    public init?(year: Int, month: Int, day: Int) {
        guard (1...9999).contains(year), (1...12).contains(month),
            day >= 1, day <= Day.daysIn(month: month, year: year)
        else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses exactly `YYYY-MM-DD`.
    public init?(iso: String) {
        let bytes = Array(iso.utf8)
        guard bytes.count == 10, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-") else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                let byte = bytes[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            return value
        }
        guard let y = number(0..<4), let m = number(5..<7), let d = number(8..<10) else { return nil }
        self.init(year: y, month: m, day: d)
    }

    /// The UTC day that contains `date` (clamped to 0001-01-01...9999-12-31).
    public init(_ date: Date) {
        let seconds = date.timeIntervalSince1970
        let days: Int
        if seconds.isNaN {
            days = 0
        } else {
            let raw = (seconds / 86_400).rounded(.down)
            days = Int(max(Double(Day.minOrdinal), min(Double(Day.maxOrdinal), raw)))
        }
        self.init(ordinal: days)
    }

    /// Creates the day `ordinal` days after 1970-01-01, clamped to the supported range.
    public init(ordinal: Int) {
        let z0 = max(Day.minOrdinal, min(Day.maxOrdinal, ordinal)) + 719_468
        let era = (z0 >= 0 ? z0 : z0 - 146_096) / 146_097
        let doe = z0 - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.year = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.month = m
        self.day = d
    }

    public init(stringLiteral value: String) {
        guard let day = Day(iso: value) else { preconditionFailure("invalid Day literal \(value)") }
        self = day
    }

    /// Days since 1970-01-01.
    public var ordinal: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// The day `days` later (or earlier), or `nil` outside the supported range.
    public func adding(days: Int) -> Day? {
        let (sum, overflow) = ordinal.addingReportingOverflow(days)
        guard !overflow, sum >= Day.minOrdinal, sum <= Day.maxOrdinal else { return nil }
        return Day(ordinal: sum)
    }

    /// Whole days from `other` to `self` (positive when `self` is later).
    public func days(since other: Day) -> Int { ordinal - other.ordinal }

    public var description: String {
        func pad(_ n: Int, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))"
    }

    public static func < (a: Day, b: Day) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let day = Day(iso: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(quoted(raw)) is not a date (expected YYYY-MM-DD)")
        }
        self = day
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }

    static let minOrdinal = -719_162  // 0001-01-01
    static let maxOrdinal = 2_932_896  // 9999-12-31

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }
}

// MARK: - Window

/// An inclusive range of days: `start...end`.
public struct Window: Sendable, Hashable, CustomStringConvertible, Codable {
    public let start: Day
    public let end: Day

    /// Creates a window, or `nil` when `end` is before `start`.
    public init?(start: Day, end: Day) {
        guard end >= start else { return nil }
        self.start = start
        self.end = end
    }

    public func overlaps(_ other: Window) -> Bool { start <= other.end && other.start <= end }
    public func contains(_ other: Window) -> Bool { start <= other.start && other.end <= end }
    public func contains(_ day: Day) -> Bool { start <= day && day <= end }

    /// The window moved by `days`, or `nil` outside the supported range.
    public func shifted(by days: Int) -> Window? {
        guard let s = start.adding(days: days), let e = end.adding(days: days) else { return nil }
        return Window(start: s, end: e)
    }

    public var description: String { "from \(start) to \(end)" }

    enum CodingKeys: String, CodingKey { case start, end }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let start = try container.decode(Day.self, forKey: .start)
        let end = try container.decode(Day.self, forKey: .end)
        guard end >= start else {
            throw DecodingError.dataCorruptedError(
                forKey: .end, in: container, debugDescription: "\(end) is before start \(start)")
        }
        self.start = start
        self.end = end
    }
}

func window(_ start: Day, _ end: Day) -> Window {
    guard let w = Window(start: start, end: end) else { preconditionFailure("invalid window literal") }
    return w
}

// MARK: - Validated strings

/// A string value checked on creation and on decoding.
public protocol ValidatedString: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    var value: String { get }
    init?(_ value: String)
    /// What a valid value looks like, for error messages.
    static var expectation: String { get }
}

extension ValidatedString {
    public var description: String { value }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    /// Literals are programmer data, checked once when written; user input goes through `init?(_:)`.
    public init(stringLiteral literal: String) {
        guard let v = Self(literal) else { preconditionFailure("invalid \(Self.self) literal \(literal)") }
        self = v
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let v = Self(raw) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "\(quoted(raw)) is not valid (expected \(Self.expectation))")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// An entity id: `[a-z0-9][a-z0-9-]{0,62}`.
public struct Slug: ValidatedString {
    public let value: String
    public init?(_ value: String) {
        let bytes = Array(value.utf8)
        guard (1...63).contains(bytes.count) else { return nil }
        for (index, byte) in bytes.enumerated() {
            let alnum = (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            guard alnum || (index > 0 && byte == UInt8(ascii: "-")) else { return nil }
        }
        self.value = value
    }
    public static let expectation = "a lowercase slug: a-z, 0-9 and '-', 1 to 63 characters, not starting with '-'"
}

/// A NATO trigraph (STANAG 1059): exactly three uppercase ASCII letters.
public struct Trigraph: ValidatedString {
    public let value: String
    public init?(_ value: String) {
        let bytes = Array(value.utf8)
        guard bytes.count == 3, bytes.allSatisfy({ $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) else {
            return nil
        }
        self.value = value
    }
    public static let expectation = "a NATO trigraph: exactly 3 uppercase letters A-Z"
    /// The id of the nation's stream: the trigraph in lower case.
    public var slug: String { value.lowercased() }
}

/// A single line of text, 1 to 200 characters, no control characters.
public struct Line: ValidatedString {
    public let value: String
    public init?(_ value: String) {
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty, value.count <= 200,
            !value.unicodeScalars.contains(where: { isControl($0) })
        else { return nil }
        self.value = value
    }
    public static let expectation = "a single line of 1 to 200 characters without control characters"
}

/// Free text, 1 to 10,000 characters; line breaks and tabs allowed, other control characters not.
public struct Text: ValidatedString {
    public let value: String
    public init?(_ value: String) {
        guard !value.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, value.count <= 10_000,
            !value.unicodeScalars.contains(where: { isControl($0) && $0 != "\n" && $0 != "\t" && $0 != "\r" })
        else { return nil }
        self.value = value
    }
    public static let expectation = "text of 1 to 10000 characters without control characters other than line breaks and tabs"
}

/// A scenario time relative to H-hour or D-day: `H+36`, `D-2`.
public struct ScenarioTime: ValidatedString {
    public let value: String
    public init?(_ value: String) {
        let bytes = Array(value.utf8)
        guard (3...7).contains(bytes.count),
            bytes[0] == UInt8(ascii: "H") || bytes[0] == UInt8(ascii: "D"),
            bytes[1] == UInt8(ascii: "+") || bytes[1] == UInt8(ascii: "-"),
            bytes[2...].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { return nil }
        self.value = value
    }
    public static let expectation = "a scenario time such as H+36 or D-2 (H or D, + or -, 1 to 5 digits)"
}

func isControl(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.generalCategory == .control || scalar == "\u{2028}" || scalar == "\u{2029}"
}

/// Quotes user input for an error message: control characters escaped, long values shortened.
func quoted(_ raw: String) -> String {
    var out = ""
    for scalar in raw.unicodeScalars.prefix(60) {
        out += isControl(scalar) ? scalar.escaped(asASCII: true) : String(scalar)
    }
    if raw.unicodeScalars.count > 60 { out += "…" }
    return "'\(out)'"
}

// MARK: - Bounded integers

/// An integer checked against a closed range on creation and on decoding.
public protocol BoundedInteger: Sendable, Hashable, Comparable, Codable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    var value: Int { get }
    init?(_ value: Int)
    static var bounds: ClosedRange<Int> { get }
    static var meaning: String { get }
}

extension BoundedInteger {
    public var description: String { String(value) }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    public init(integerLiteral literal: Int) {
        guard let v = Self(literal) else { preconditionFailure("invalid \(Self.self) literal \(literal)") }
        self = v
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(Int.self)
        guard let v = Self(raw) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\(raw) is out of range (expected \(Self.meaning) from \(Self.bounds.lowerBound) to \(Self.bounds.upperBound))")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(value)
    }
}

/// A SORTS/DRRS area rating: 1 (best) to 4.
public struct Rating: BoundedInteger {
    public let value: Int
    public init?(_ value: Int) {
        guard Self.bounds.contains(value) else { return nil }
        self.value = value
    }
    public static let bounds = 1...4
    public static let meaning = "a rating"
}

/// An overall C-level: C-1 (best) to C-5 (not reporting / reconstituting).
public struct CLevel: BoundedInteger {
    public let value: Int
    public init?(_ value: Int) {
        guard Self.bounds.contains(value) else { return nil }
        self.value = value
    }
    public static let bounds = 1...5
    public static let meaning = "a C-level"
    public var description: String { "C-\(value)" }
}

/// An objective priority: 1 (highest) to 5.
public struct Priority: BoundedInteger {
    public let value: Int
    public init?(_ value: Int) {
        guard Self.bounds.contains(value) else { return nil }
        self.value = value
    }
    public static let bounds = 1...5
    public static let meaning = "a priority"
}

/// A MSEL serial number.
public struct InjectNumber: BoundedInteger {
    public let value: Int
    public init?(_ value: Int) {
        guard Self.bounds.contains(value) else { return nil }
        self.value = value
    }
    public static let bounds = 1...99_999
    public static let meaning = "an inject number"
}

/// An interoperability level: 0 not interoperable, 1 deconflicted, 2 compatible, 3 integrated.
public struct InteropLevel: BoundedInteger {
    public let value: Int
    public init?(_ value: Int) {
        guard Self.bounds.contains(value) else { return nil }
        self.value = value
    }
    public static let bounds = 0...3
    public static let meaning = "an interoperability level"
}

// MARK: - Listed enumerations

/// A closed set of string values; decoding errors list the accepted values.
public protocol ListedEnum: RawRepresentable<String>, CaseIterable, Codable, Sendable, Hashable,
    CustomStringConvertible
{}

extension ListedEnum {
    public var description: String { rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let v = Self(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(
                in: container,
                debugDescription: "\(quoted(raw)) is not one of \(Self.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}

public enum AllianceKind: String, ListedEnum {
    case treatyAlliance = "treaty-alliance"
    case defencePact = "defence-pact"
    case strategicPartnership = "strategic-partnership"
    case multinationalCollaboration = "multinational-collaboration"
    case standardizationProgramme = "standardization-programme"
}

public enum AllianceRole: String, ListedEnum {
    case member, partner, observer
}

public enum Service: String, ListedEnum {
    case land, maritime, air, space, cyber, sof
}

public enum Echelon: String, ListedEnum {
    case team, squad, section, platoon, company, battalion, regiment, brigade, division, corps
    case ship, taskUnit = "task-unit", taskGroup = "task-group", flight, squadron, wing
}

public enum CapabilityKind: String, ListedEnum {
    case stanag, fmn, dataLink = "data-link", language
}

public enum AreaKind: String, ListedEnum {
    case landRange = "land-range", airspace, seaArea = "sea-area", port
}

public enum ExerciseType: String, ListedEnum {
    case cpx, cax, livex, ftx, ttx, wargame, seminar, workshop, drill, functional
    case fullScale = "full-scale"
}

public enum StrategicObjective: String, ListedEnum {
    case deterrence
    case powerProjection = "power-projection"
    case regionalStability = "regional-stability"
    case technologicalCollaboration = "technological-collaboration"
    case intelligenceCollaboration = "intelligence-collaboration"
    case interoperability
}

/// Classification levels, ordered from least to most restrictive.
public enum Classification: String, ListedEnum, Comparable {
    case unclassified = "UNCLASSIFIED"
    case restricted = "RESTRICTED"
    case confidential = "CONFIDENTIAL"
    case secret = "SECRET"

    var rank: Int {
        switch self {
        case .unclassified: 0
        case .restricted: 1
        case .confidential: 2
        case .secret: 3
        }
    }
    public static func < (a: Classification, b: Classification) -> Bool { a.rank < b.rank }
}

public enum ExerciseStatus: String, ListedEnum {
    case programmed, initiation, specification, planning, conduct, paused, assessment, closed, cancelled
}

/// Stages an `advanceExercise` command may move to; conduct and assessment begin with StartEx and EndEx.
public enum ExerciseStage: String, ListedEnum {
    case initiation, specification, planning, closed
}

public enum Milestone: String, ListedEnum, Comparable {
    case cdc, ipc, mpc, fpc, startEx = "startex", endEx = "endex"

    /// The order in which milestones must be held.
    public static let sequence: [Milestone] = [.cdc, .ipc, .mpc, .fpc, .startEx, .endEx]
    var rank: Int { Milestone.sequence.firstIndex(of: self) ?? 0 }
    public static func < (a: Milestone, b: Milestone) -> Bool { a.rank < b.rank }
    public var title: String {
        switch self {
        case .cdc: "CDC"
        case .ipc: "IPC"
        case .mpc: "MPC"
        case .fpc: "FPC"
        case .startEx: "StartEx"
        case .endEx: "EndEx"
        }
    }
}

public enum WorkshopKind: String, ListedEnum {
    case mel, mil, melMil = "mel-mil"
}

public enum ParticipationRole: String, ListedEnum {
    case participant, cpxOnly = "cpx-only", humanitarianOnly = "humanitarian-only", observer, lead, host
}

public enum ParticipationStatus: String, ListedEnum {
    case invited, accepted, declined, withdrawn
}

public enum DeliveryMethod: String, ListedEnum {
    case email, chat, phone, radio, message, document, verbal, rolePlayer = "role-player", simulation
}

public enum InjectKind: String, ListedEnum {
    case inject, information, expectedAction = "expected-action", contingency
}

public enum InjectStatus: String, ListedEnum {
    case scheduled, inProgress = "in-progress", executed, cancelled
}

public enum ObservationDimension: String, ListedEnum {
    case technical, procedural, human
}

public enum Severity: String, ListedEnum {
    case minor, major, critical
}

public enum LessonStage: String, ListedEnum, Comparable {
    case observation, lessonIdentified = "lesson-identified", remedialAction = "remedial-action"
    case lessonLearned = "lesson-learned"

    var rank: Int { LessonStage.allCases.firstIndex(of: self) ?? 0 }
    public static func < (a: LessonStage, b: LessonStage) -> Bool { a.rank < b.rank }
}

// MARK: - Composite values

/// An interoperability standard a unit implements or an exercise requires: `{"kind": "data-link", "name": "Link 16"}`.
public struct Capability: Sendable, Hashable, Codable, CustomStringConvertible {
    public var kind: CapabilityKind
    public var name: Line
    public init(kind: CapabilityKind, name: Line) {
        self.kind = kind
        self.name = name
    }
    public var description: String { name.value }
}

/// Classification and releasability of an inject or observation.
public struct Marking: Sendable, Hashable, Codable, CustomStringConvertible {
    public var classification: Classification
    /// NOFORN: never released beyond the originating nation.
    public var noforn: Bool
    /// REL TO: nations the item may be released to (besides the originator).
    public var releasableTo: [Trigraph]

    public init(classification: Classification, noforn: Bool = false, releasableTo: [Trigraph] = []) {
        self.classification = classification
        self.noforn = noforn
        self.releasableTo = releasableTo
    }

    enum CodingKeys: String, CodingKey { case classification, noforn, releasableTo }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        classification = try c.decode(Classification.self, forKey: .classification)
        noforn = try c.decodeIfPresent(Bool.self, forKey: .noforn) ?? false
        releasableTo = try c.decodeIfPresent([Trigraph].self, forKey: .releasableTo) ?? []
    }

    public var description: String {
        var text = classification.rawValue
        if noforn { text += "//NOFORN" }
        if !releasableTo.isEmpty { text += "//REL TO " + releasableTo.map(\.value).joined(separator: ", ") }
        return text
    }
}

/// A named sub-window of an exercise (Malabar 2023: harbour phase, sea phase).
public struct Phase: Sendable, Hashable, Codable {
    public var id: Slug
    public var name: Line
    public var window: Window
    public init(id: Slug, name: Line, window: Window) {
        self.id = id
        self.name = name
        self.window = window
    }
}

/// A training objective of an exercise.
public struct Objective: Sendable, Hashable, Codable {
    public var id: Slug
    public var text: Text
    public var priority: Priority
    public var strategicObjective: StrategicObjective
    /// Mission-essential task references, e.g. "ART 1.2".
    public var tasks: [Line]
    public init(id: Slug, text: Text, priority: Priority, strategicObjective: StrategicObjective, tasks: [Line]) {
        self.id = id
        self.text = text
        self.priority = priority
        self.strategicObjective = strategicObjective
        self.tasks = tasks
    }
}

/// A MSEL entry.
public struct Inject: Sendable, Hashable, Codable {
    public var number: InjectNumber
    public var scenarioTime: ScenarioTime
    /// The originating nation.
    public var from: Trigraph
    /// Recipient nations.
    public var to: [Trigraph]
    public var method: DeliveryMethod
    public var kind: InjectKind
    public var expectedAction: Text
    public var objectives: [Slug]
    public var controller: Line
    public var marking: Marking
    public init(
        number: InjectNumber, scenarioTime: ScenarioTime, from: Trigraph, to: [Trigraph], method: DeliveryMethod,
        kind: InjectKind, expectedAction: Text, objectives: [Slug], controller: Line, marking: Marking
    ) {
        self.number = number
        self.scenarioTime = scenarioTime
        self.from = from
        self.to = to
        self.method = method
        self.kind = kind
        self.expectedAction = expectedAction
        self.objectives = objectives
        self.controller = controller
        self.marking = marking
    }
}

/// An after-action observation.
public struct Observation: Sendable, Hashable, Codable {
    public var id: Slug
    public var dimension: ObservationDimension
    /// The nation that recorded it (originator for releasability).
    public var reportedBy: Trigraph
    /// Nations involved; they receive the observation.
    public var nations: [Trigraph]
    public var standard: Capability?
    public var severity: Severity
    /// The interoperability level actually observed between the nations for `standard`, if assessed.
    public var observedLevel: InteropLevel?
    public var text: Text
    public var marking: Marking
    public init(
        id: Slug, dimension: ObservationDimension, reportedBy: Trigraph, nations: [Trigraph], standard: Capability?,
        severity: Severity, observedLevel: InteropLevel?, text: Text, marking: Marking
    ) {
        self.id = id
        self.dimension = dimension
        self.reportedBy = reportedBy
        self.nations = nations
        self.standard = standard
        self.severity = severity
        self.observedLevel = observedLevel
        self.text = text
        self.marking = marking
    }
}

/// P/S/R/T area ratings of a readiness report.
public struct ReadinessRatings: Sendable, Hashable, Codable {
    public var personnel: Rating
    public var supplies: Rating
    public var equipment: Rating
    public var training: Rating
    public init(personnel: Rating, supplies: Rating, equipment: Rating, training: Rating) {
        self.personnel = personnel
        self.supplies = supplies
        self.equipment = equipment
        self.training = training
    }
    /// Overall C-level: the worst area.
    public var overall: CLevel {
        CLevel(max(personnel.value, supplies.value, equipment.value, training.value)) ?? 4
    }
}

// MARK: - Stream names

/// The name of one aggregate's stream: `exercise-ts25`.
public struct StreamName: Hashable, Sendable, Comparable, CustomStringConvertible, Codable {
    public let category: String
    public let id: String
    public var rawValue: String { "\(category)-\(id)" }

    public init(category: String, id: String) {
        self.category = category
        self.id = id
    }

    public init?(rawValue: String) {
        guard let dash = rawValue.firstIndex(of: "-") else { return nil }
        let category = String(rawValue[..<dash])
        let id = String(rawValue[rawValue.index(after: dash)...])
        guard !category.isEmpty, !id.isEmpty else { return nil }
        self.init(category: category, id: id)
    }

    public var description: String { rawValue }
    public static func < (a: StreamName, b: StreamName) -> Bool { a.rawValue < b.rawValue }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(String.self)
        guard let name = StreamName(rawValue: raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(quoted(raw)) is not a stream name")
        }
        self = name
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    public static func alliance(_ id: Slug) -> StreamName { StreamName(category: "alliance", id: id.value) }
    public static func nation(_ code: Trigraph) -> StreamName { StreamName(category: "nation", id: code.slug) }
    public static func unit(_ id: Slug) -> StreamName { StreamName(category: "unit", id: id.value) }
    public static func area(_ id: Slug) -> StreamName { StreamName(category: "area", id: id.value) }
    public static func exercise(_ id: Slug) -> StreamName { StreamName(category: "exercise", id: id.value) }
}
