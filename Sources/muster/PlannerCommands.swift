import ArgumentParser
import EventSourcing
import Foundation
import Planning

/// Typed subcommands for every planner command, grouped by entity:
/// `muster alliance|nation|unit|area|exercise …`.
///
/// Each subcommand only gathers its flags into the command's JSON form; `PlanningCommand.parse`
/// validates every value (the one place that does), and `CommandExecution.submit` applies it.
enum PlannerCommands {
    static let groups: [any ParsableCommand.Type] = [
        Alliance.self, Nation.self, Unit.self, Area.self, Exercise.self,
    ]
}

// MARK: - The shared shape of a planner subcommand

/// A subcommand that submits one planner command built from its flags.
///
/// Conformers declare `@OptionGroup var metadata: MetadataOptions` and
/// `@OptionGroup var connection: ConnectionOptions`, and build their fields in `payload()`;
/// `run()` adds the command name (and `--reason` when the command records one) and submits it.
protocol PlannerSubcommand: ParsableCommand {
    /// The command's name in its JSON form, e.g. `commitUnit`.
    static var jsonName: String { get }
    /// True when the command's JSON form has a required `reason`: it is taken from `--reason`.
    static var recordsReason: Bool { get }
    var metadata: MetadataOptions { get }
    var connection: ConnectionOptions { get }
    /// The command's fields, without `command` (and without `reason` when `recordsReason`).
    func payload() throws -> [String: Any]
    /// Checks flags that only make sense together; throws `ValidationError` (usage, exit 64).
    func validateFlags() throws
}

extension PlannerSubcommand {
    static var recordsReason: Bool { false }
    func validateFlags() throws {}

    func validate() throws {
        if Self.recordsReason, metadata.reason == nil {
            throw ValidationError("Missing expected argument '--reason <text>': this command records why, in the event and the audit trail")
        }
        try validateFlags()
    }

    func run() throws {
        try guarded {
            var object = try payload()
            object["command"] = Self.jsonName
            if Self.recordsReason, let reason = metadata.reason { object["reason"] = reason }
            try PlannerSubmission.submit(object, metadata: metadata, connection: connection)
        }
    }
}

enum PlannerSubmission {
    /// Serialises the command, reports a refused value by its flag, and applies it.
    static func submit(_ object: [String: Any], metadata: MetadataOptions, connection: ConnectionOptions) throws {
        guard let json = FlagJSON.encode(object) else { throw Failure("the command could not be encoded as JSON") }
        let command: PlanningCommand
        do throws(CommandParseError) {
            command = try PlanningCommand.parse(json: json)
        } catch {
            throw Failure(PlannerFlags.message(for: error))
        }
        try CommandExecution.submit(command, metadata: metadata, connection: connection)
    }
}

/// JSON for the values flags gather (strings, integers, booleans, finite doubles, arrays and objects of
/// them), written directly: JSONSerialization's bridging of each value took about a tenth of a planner
/// command's instructions (callgrind). Object keys are sorted. Any other value makes it return nil.
enum FlagJSON {
    static func encode(_ object: [String: Any]) -> Data? {
        var out = ""
        guard append(object, to: &out) else { return nil }
        return Data(out.utf8)
    }

    static func append(_ value: Any, to out: inout String) -> Bool {
        switch value {
        case let string as String:
            AppendJSON.append(quoted: string, to: &out)
        case let bool as Bool:
            out += bool ? "true" : "false"
        case let int as Int:
            out += String(int)
        case let int as Int64:
            out += String(int)
        case let double as Double:
            guard double.isFinite else { return false }
            out += "\(double)"
        case let array as [Any]:
            out += "["
            for (i, element) in array.enumerated() {
                if i > 0 { out += "," }
                guard append(element, to: &out) else { return false }
            }
            out += "]"
        case let object as [String: Any]:
            out += "{"
            for (i, member) in object.sorted(by: { $0.key < $1.key }).enumerated() {
                if i > 0 { out += "," }
                AppendJSON.append(quoted: member.key, to: &out)
                out += ":"
                guard append(member.value, to: &out) else { return false }
            }
            out += "}"
        default:
            return false
        }
        return true
    }
}

// MARK: - From a JSON field path back to the flag

/// Maps the field paths `PlanningCommand.parse` names (`window.end`, `leadNations[1]`,
/// `phases[0].window.start`) to the flags that set them (`--end`, `--lead`, `--phase`).
enum PlannerFlags {
    /// Fields whose flag is not the kebab-case of the field's last name.
    static let renamed: [String: String] = [
        "window": "--start/--end",
        "types[]": "--type",
        "leadNations[]": "--lead",
        "hostNations[]": "--host",
        "strategicObjectives[]": "--strategic-objective",
        "releasableTo[]": "--rel-to",
        "objective.id": "--objective",
        "objective.tasks[]": "--task",
        "inject.objectives[]": "--objective",
        "inject.to[]": "--to",
        "inject.marking.releasableTo[]": "--rel-to",
        "observation.id": "--observation",
        "observation.nations[]": "--nation",
        "observation.marking.releasableTo[]": "--rel-to",
    ]

    /// Fields set by one compact flag value (`--phase ID:NAME:START:END`): the flag and the part names.
    static let compound: [(prefix: String, flag: String, parts: [String: String])] = [
        ("phases[]", "--phase", ["id": "ID", "name": "NAME", "window": "START:END", "window.start": "START", "window.end": "END"]),
        ("requiredStandards[]", "--require", ["kind": "KIND", "name": "NAME"]),
        ("observation.standard", "--standard", ["kind": "KIND", "name": "NAME"]),
    ]

    /// The flag (with the value's position for repeated flags) that sets `field`, e.g. `--phase (value 2, END)`.
    static func flag(for field: String) -> String {
        let (pattern, indices) = normalize(field)
        let position = indices.first.map { "value \($0 + 1)" }
        for entry in compound where pattern == entry.prefix || pattern.hasPrefix(entry.prefix + ".") {
            let rest = String(pattern.dropFirst(entry.prefix.count)).drop { $0 == "." }
            let part = entry.parts[String(rest)]
            let details = [position, part].compactMap { $0 }
            return details.isEmpty ? entry.flag : "\(entry.flag) (\(details.joined(separator: ", ")))"
        }
        let flag = renamed[pattern] ?? kebab(lastName(of: pattern))
        return position.map { "\(flag) (\($0))" } ?? flag
    }

    /// The parse error with its field replaced by the flag: `--end: 2025-07-01 is before start 2025-07-13`.
    static func message(for error: CommandParseError) -> String {
        guard let field = error.field else { return error.message }
        let prefix = "field '\(field)'"
        guard error.message.hasPrefix(prefix) else { return error.message }
        var rest = String(error.message.dropFirst(prefix.count))
        if field == "window.end" { rest = rest.replacingOccurrences(of: " is before start ", with: " is before --start ") }
        return flag(for: field) + rest
    }

    /// `phases[1].window.end` → (`phases[].window.end`, [1]).
    static func normalize(_ field: String) -> (String, [Int]) {
        var pattern = ""
        var indices: [Int] = []
        var digits: String?
        for character in field {
            if character == "[" {
                digits = ""
                pattern.append(character)
            } else if character == "]", let d = digits {
                indices.append(Int(d) ?? 0)
                digits = nil
                pattern.append(character)
            } else if digits != nil {
                digits?.append(character)
            } else {
                pattern.append(character)
            }
        }
        return (pattern, indices)
    }

    static func lastName(of pattern: String) -> String {
        let last = pattern.split(separator: ".").last.map(String.init) ?? pattern
        return last.hasSuffix("[]") ? String(last.dropLast(2)) : last
    }

    /// `asOf` → `--as-of`, `cLevel` → `--c-level`.
    static func kebab(_ name: String) -> String {
        var out = "--"
        for character in name {
            if character.isUppercase {
                out += "-" + character.lowercased()
            } else {
                out.append(character)
            }
        }
        return out
    }
}

// MARK: - Compact values and shared flag groups

/// Parses the compact forms of nested values given on the command line.
enum PlannerValue {
    /// `KIND:NAME` → `{"kind", "name"}`: `data-link:Link 16`.
    static func capability(_ text: String) throws -> [String: String] {
        guard let colon = text.firstIndex(of: ":") else {
            throw ValidationError("expected KIND:NAME, e.g. data-link:Link 16 (kinds: \(listed(CapabilityKind.self)))")
        }
        return ["kind": String(text[..<colon]), "name": String(text[text.index(after: colon)...])]
    }

    /// `ID:NAME:START:END` → a phase: `harbour:Harbour phase:2023-08-11:2023-08-15` (the name may contain ':').
    static func phase(_ text: String) throws -> PlannerPhase {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 4 else {
            throw ValidationError("expected ID:NAME:START:END, e.g. harbour:Harbour phase:2023-08-11:2023-08-15")
        }
        return PlannerPhase(id: parts[0], name: parts[1..<(parts.count - 2)].joined(separator: ":"),
                         start: parts[parts.count - 2], end: parts[parts.count - 1])
    }

    /// A C-level given as `2` or `C-2`.
    static func cLevel(_ text: String) throws -> Int {
        let digits = text.uppercased().hasPrefix("C-") ? String(text.dropFirst(2)) : text
        guard let value = Int(digits) else { throw ValidationError("expected a C-level such as 2 or C-2 (1 best … 5)") }
        return value
    }

    static func listed<E: ListedEnum>(_ type: E.Type) -> String {
        E.allCases.map(\.rawValue).joined(separator: ", ")
    }
}

struct PlannerPhase: Sendable {
    var id, name, start, end: String
    var json: [String: Any] { ["id": id, "name": name, "window": ["start": start, "end": end]] }
}

/// Classification and releasability of an inject or observation.
struct PlannerMarkingOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Classification: \(PlannerValue.listed(Classification.self)) (any case).", valueName: "level"))
    var classification: String

    @Flag(help: "NOFORN: never released beyond the originating nation.")
    var noforn = false

    @Option(name: .customLong("rel-to"), help: ArgumentHelp("REL TO: a nation it may be released to (trigraph); repeat for more.", valueName: "nation"))
    var releasableTo: [String] = []

    var json: [String: Any] {
        ["classification": classification.uppercased(), "noforn": noforn, "releasableTo": releasableTo]
    }
}

/// P/S/R/T area ratings of a readiness report.
struct PlannerRatingsOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Personnel rating (P), 1 best … 4.", valueName: "1-4")) var personnel: Int
    @Option(help: ArgumentHelp("Equipment and supplies on hand rating (S), 1 best … 4.", valueName: "1-4")) var supplies: Int
    @Option(help: ArgumentHelp("Equipment condition rating (R), 1 best … 4.", valueName: "1-4")) var equipment: Int
    @Option(help: ArgumentHelp("Training rating (T), 1 best … 4.", valueName: "1-4")) var training: Int

    var json: [String: Any] {
        ["personnel": personnel, "supplies": supplies, "equipment": equipment, "training": training]
    }
}

/// An optional sub-window given as `--start` and `--end` together.
struct PlannerOptionalWindowOptions: ParsableArguments {
    @Option(help: ArgumentHelp("First day (YYYY-MM-DD); with --end, instead of the whole exercise window or a phase.", valueName: "date"))
    var start: String?

    @Option(help: ArgumentHelp("Last day, inclusive (YYYY-MM-DD); with --start.", valueName: "date"))
    var end: String?

    func validate() throws {
        if (start == nil) != (end == nil) {
            throw ValidationError("--start and --end go together: give both, or neither")
        }
    }

    var json: [String: Any]? {
        guard let start, let end else { return nil }
        return ["start": start, "end": end]
    }
}

/// A required window given as `--start` and `--end`.
struct PlannerWindowOptions: ParsableArguments {
    @Option(help: ArgumentHelp("First day (YYYY-MM-DD).", valueName: "date")) var start: String
    @Option(help: ArgumentHelp("Last day, inclusive (YYYY-MM-DD).", valueName: "date")) var end: String

    var json: [String: Any] { ["start": start, "end": end] }
}
