import Foundation
import Postgres
import TestSupport
import Testing

/// Runs the built `muster` binary for the planner subcommand tests.
private enum PlannerCLI {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    /// `MUSTER_BIN`, else `<package root>/.build/debug/muster`.
    static var binary: String {
        if let path = ProcessInfo.processInfo.environment["MUSTER_BIN"], !path.isEmpty { return path }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/muster").path
    }

    /// The decision time every command uses, so readiness freshness does not depend on today's date.
    static let at = "2025-06-10"

    /// Runs `muster ARGUMENTS --at 2025-06-10 --database <test database>` (no database for `--help`).
    static func run(_ arguments: [String], on database: TestDatabase?) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments + (database.map { ["--at", at, "--database", $0.conninfo] } ?? [])
        process.environment = ProcessInfo.processInfo.environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // Drain both pipes before waiting, so a large output cannot block the child.
        let errBox = DataBox()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            errBox.data = err.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Runs a command that must be accepted.
    @discardableResult
    static func accept(_ arguments: [String], on database: TestDatabase, sourceLocation: SourceLocation = #_sourceLocation) throws -> Result {
        let result = try run(arguments, on: database)
        #expect(result.status == 0, "muster \(arguments.joined(separator: " ")) failed: \(result.stderr)", sourceLocation: sourceLocation)
        #expect(result.stdout.hasPrefix("accepted: "), "\(result.stdout)", sourceLocation: sourceLocation)
        return result
    }

    static func eventCount(_ database: TestDatabase) throws -> Int {
        try database.connect().query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? -1
    }

    static func eventTypes(_ database: TestDatabase) throws -> [String] {
        try database.connect().query("SELECT event_type FROM event_store.events ORDER BY position").map { try $0.decode("event_type") }
    }

    /// Nations, an alliance, a ready unit, a training area and TALISMAN SABRE 25 with the unit committed.
    static let programme: [[String]] = [
        ["nation", "register", "--nation", "AUS", "--name", "Australia"],
        ["nation", "register", "--nation", "USA", "--name", "United States"],
        ["nation", "register", "--nation", "FJI", "--name", "Fiji"],
        ["alliance", "form", "--alliance", "anzus", "--name", "ANZUS Treaty", "--kind", "treaty-alliance", "--founded", "1951-09-01"],
        ["alliance", "admit", "--alliance", "anzus", "--nation", "AUS", "--role", "member", "--joined", "1952-04-29"],
        ["alliance", "admit", "--alliance", "anzus", "--nation", "USA", "--role", "member", "--joined", "1952-04-29"],
        ["unit", "register", "--unit", "aus-3rar", "--nation", "AUS", "--service", "land", "--echelon", "battalion",
         "--name", "3rd Battalion, Royal Australian Regiment"],
        ["unit", "capability", "add", "--unit", "aus-3rar", "--kind", "data-link", "--name", "Link 16"],
        ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-01",
         "--personnel", "1", "--supplies", "2", "--equipment", "1", "--training", "2"],
        ["area", "register", "--area", "shoalwater-bay", "--host-nation", "AUS", "--kind", "land-range",
         "--name", "Shoalwater Bay Training Area"],
        ["exercise", "plan", "--exercise", "ts25", "--name", "TALISMAN SABRE 25", "--series", "TALISMAN SABRE",
         "--type", "livex", "--type", "cpx", "--joint", "--combined", "--alliance", "anzus", "--lead", "AUS", "--lead", "USA",
         "--host", "AUS", "--strategic-objective", "deterrence", "--strategic-objective", "interoperability",
         "--ceiling", "unclassified", "--rel-to", "AUS", "--rel-to", "USA", "--start", "2025-07-13", "--end", "2025-08-04",
         "--phase", "amphib:Amphibious phase: Shoalwater Bay:2025-07-20:2025-07-31", "--require", "data-link:Link 16",
         "--minimum-readiness", "C-2"],
        ["exercise", "invite", "--exercise", "ts25", "--nation", "FJI", "--role", "participant"],
        ["exercise", "accept", "--exercise", "ts25", "--nation", "FJI"],
        ["exercise", "commit", "--exercise", "ts25", "--unit", "aus-3rar", "--role", "Amphibious landing force",
         "--actor", "j3.plans", "--reason", "MPC force list"],
        ["exercise", "book-area", "--exercise", "ts25", "--area", "shoalwater-bay", "--phase", "amphib"],
        ["exercise", "objective", "add", "--exercise", "ts25", "--objective", "amphib-1", "--text", "Land a combined force and hold a beachhead",
         "--priority", "1", "--strategic-objective", "interoperability", "--task", "ART 1.2"],
        ["exercise", "inject", "script", "--exercise", "ts25", "--number", "12", "--scenario-time", "H+36", "--from", "AUS",
         "--to", "USA", "--method", "message", "--kind", "inject", "--expected-action", "Secure the landing beach",
         "--objective", "amphib-1", "--controller", "White Cell J3", "--classification", "unclassified", "--rel-to", "USA"],
    ]

    static func seed(_ database: TestDatabase) throws {
        for arguments in programme { try accept(arguments, on: database) }
    }
}

/// Holds data written by another thread before `DispatchGroup.wait()` returns.
private final class DataBox: @unchecked Sendable {
    // @unchecked: written once on one thread, read after `group.wait()` on another.
    var data = Data()
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct PlannerCommandTests {
    @Test func realisticProgrammeIsAcceptedAndRecorded() throws {
        // Given a fresh database
        let database = try TestDatabase()

        // When a planner registers nations and a unit, plans TALISMAN SABRE 25 and commits the unit
        try PlannerCLI.seed(database)

        // Then every command wrote its events, in order
        let types = try PlannerCLI.eventTypes(database)
        #expect(types == [
            "NationRegistered", "NationRegistered", "NationRegistered", "AllianceFormed",
            "AllianceMemberAdmitted", "AllianceMemberAdmitted", "UnitRegistered", "CapabilityAdded", "ReadinessReported",
            "TrainingAreaRegistered", "ExercisePlanned", "NationInvited", "InvitationAccepted",
            "ForceCommitted", "UnitCommitted", "TrainingAreaBooked", "AreaReserved", "ObjectiveAdded", "InjectScripted",
        ])
        // And the flags became the command's JSON fields
        let db = try database.connect()
        let plan = try #require(db.query("""
            SELECT payload->'window'->>'start' AS start, payload->'phases'->0->>'name' AS phase,
                   payload->'phases'->0->'window'->>'end' AS phase_end, payload->>'ceiling' AS ceiling,
                   payload->>'minimumReadiness' AS readiness, payload->'requiredStandards'->0->>'name' AS standard,
                   jsonb_array_length(payload->'leadNations') AS leads
              FROM event_store.events WHERE event_type = 'ExercisePlanned'
            """).first)
        #expect(try plan.text("start") == "2025-07-13")
        #expect(try plan.text("phase") == "Amphibious phase: Shoalwater Bay")
        #expect(try plan.text("phase_end") == "2025-07-31")
        #expect(try plan.text("ceiling") == "UNCLASSIFIED")
        #expect(try plan.text("readiness") == "2")
        #expect(try plan.text("standard") == "Link 16")
        #expect(try plan.text("leads") == "2")
        // And the metadata flags were recorded with the commitment
        let commit = try #require(db.query("""
            SELECT metadata->>'actor' AS actor, metadata->>'reason' AS reason, payload->>'role' AS role
              FROM event_store.events WHERE event_type = 'ForceCommitted'
            """).first)
        #expect(try commit.text("actor") == "j3.plans")
        #expect(try commit.text("reason") == "MPC force list")
        #expect(try commit.text("role") == "Amphibious landing force")
    }

    struct BadInput: CustomStringConvertible, Sendable {
        let description: String
        let arguments: [String]
        let status: Int32
        /// Every one must appear on stderr.
        let mentions: [String]
    }

    static let badInputs: [BadInput] = [
        BadInput(description: "bad trigraph", arguments: ["nation", "register", "--nation", "Aus", "--name", "Australia"],
                 status: 1, mentions: ["--nation", "'Aus'", "NATO trigraph"]),
        BadInput(description: "bad trigraph in a repeated flag",
                 arguments: ["exercise", "invite", "--exercise", "ts25", "--nation", "fiji", "--role", "participant"],
                 status: 1, mentions: ["--nation", "'fiji'", "NATO trigraph"]),
        BadInput(description: "impossible date",
                 arguments: ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-31",
                             "--personnel", "1", "--supplies", "1", "--equipment", "1", "--training", "1"],
                 status: 1, mentions: ["--as-of", "'2025-06-31'", "is not a date"]),
        BadInput(description: "rating out of range",
                 arguments: ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-05",
                             "--personnel", "7", "--supplies", "1", "--equipment", "1", "--training", "1"],
                 status: 1, mentions: ["--personnel", "7", "from 1 to 4"]),
        BadInput(description: "end before start",
                 arguments: ["exercise", "postpone", "--exercise", "ts25", "--start", "2025-07-20", "--end", "2025-07-04",
                             "--reason", "Range closure"],
                 status: 1, mentions: ["--end", "2025-07-04 is before --start 2025-07-20"]),
        BadInput(description: "bad date inside a phase",
                 arguments: ["exercise", "plan", "--exercise", "pb24", "--name", "PITCH BLACK 24", "--type", "livex",
                             "--lead", "AUS", "--strategic-objective", "interoperability", "--ceiling", "unclassified",
                             "--start", "2024-07-12", "--end", "2024-08-02", "--minimum-readiness", "2",
                             "--phase", "air:Air phase:2024-07-12:2024-07-40"],
                 status: 1, mentions: ["--phase (value 1, END)", "'2024-07-40'", "is not a date"]),
        BadInput(description: "unknown value of a listed field",
                 arguments: ["unit", "register", "--unit", "usa-3-7", "--nation", "USA", "--service", "army",
                             "--echelon", "battalion", "--name", "3rd Battalion, 7th Infantry"],
                 status: 1, mentions: ["--service", "'army'", "is not one of land, maritime"]),
        BadInput(description: "unknown unit",
                 arguments: ["exercise", "commit", "--exercise", "ts25", "--unit", "aus-9rar", "--role", "Reserve"],
                 status: 1, mentions: ["aus-9rar", "not registered"]),
        BadInput(description: "commitment outside the exercise window",
                 arguments: ["exercise", "commit", "--exercise", "ts25", "--unit", "aus-3rar", "--role", "Reserve",
                             "--start", "2025-08-01", "--end", "2025-08-10"],
                 status: 1, mentions: ["ts25", "outside"]),
        BadInput(description: "missing required flag",
                 arguments: ["exercise", "commit", "--exercise", "ts25", "--unit", "aus-3rar"],
                 status: 64, mentions: ["Missing expected argument '--role <text>'"]),
        BadInput(description: "missing reason",
                 arguments: ["exercise", "cancel", "--exercise", "ts25"],
                 status: 64, mentions: ["--reason"]),
        BadInput(description: "start without end",
                 arguments: ["exercise", "book-area", "--exercise", "ts25", "--area", "shoalwater-bay", "--start", "2025-07-13"],
                 status: 64, mentions: ["--start and --end go together"]),
        BadInput(description: "malformed phase",
                 arguments: ["exercise", "plan", "--exercise", "pb24", "--name", "PITCH BLACK 24", "--type", "livex",
                             "--lead", "AUS", "--strategic-objective", "interoperability", "--ceiling", "unclassified",
                             "--start", "2024-07-12", "--end", "2024-08-02", "--minimum-readiness", "2", "--phase", "air"],
                 status: 64, mentions: ["--phase", "ID:NAME:START:END"]),
        BadInput(description: "non-numeric rating",
                 arguments: ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-05",
                             "--personnel", "one", "--supplies", "1", "--equipment", "1", "--training", "1"],
                 status: 64, mentions: ["'one'", "--personnel"]),
    ]

    @Test func badInputIsRefusedByFlagWithNothingWritten() throws {
        // Given TALISMAN SABRE 25 with its programme
        let database = try TestDatabase()
        try PlannerCLI.seed(database)
        let before = try PlannerCLI.eventCount(database)

        for bad in Self.badInputs {
            // When the planner gives bad input
            let result = try PlannerCLI.run(bad.arguments, on: database)

            // Then it is refused with the right status and a message naming the flag and the rule
            #expect(result.status == bad.status, "\(bad): \(result.stderr)")
            for mention in bad.mentions {
                #expect(result.stderr.contains(mention), "\(bad): stderr \(result.stderr) does not mention \(mention)")
            }
            if bad.status == 1 {
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1, "\(bad): \(result.stderr)")
                #expect(result.stderr.hasPrefix("error: "), "\(bad): \(result.stderr)")
            }
            for trace in ["Fatal error", "Stack dump", "Current stack trace", "Backtrace", "0x0000"] {
                #expect(!result.stderr.contains(trace), "\(bad): \(result.stderr)")
            }
            #expect(result.stdout.isEmpty, "\(bad): \(result.stdout)")
        }
        // And nothing was written
        #expect(try PlannerCLI.eventCount(database) == before)
    }

    @Test func overlappingCommitmentIsRefused() throws {
        // Given aus-3rar committed to TALISMAN SABRE 25 (13 Jul–4 Aug 2025) and an overlapping exercise
        let database = try TestDatabase()
        try PlannerCLI.seed(database)
        try PlannerCLI.accept(["exercise", "plan", "--exercise", "pb25", "--name", "PITCH BLACK 25", "--type", "livex",
                               "--combined", "--lead", "AUS", "--strategic-objective", "interoperability",
                               "--ceiling", "unclassified", "--start", "2025-07-28", "--end", "2025-08-15",
                               "--minimum-readiness", "2"], on: database)
        let before = try PlannerCLI.eventCount(database)

        // When the planner commits the same unit to it
        let result = try PlannerCLI.run(["exercise", "commit", "--exercise", "pb25", "--unit", "aus-3rar", "--role", "Ground force"],
                                        on: database)

        // Then the rule is named on one line and nothing is written
        #expect(result.status == 1)
        #expect(result.stderr == "error: unit aus-3rar is already committed to TALISMAN SABRE 25 from 2025-07-13 to 2025-08-04\n",
                "\(result.stderr)")
        #expect(try PlannerCLI.eventCount(database) == before)

        // And a commitment after TALISMAN SABRE 25 ends is accepted
        try PlannerCLI.accept(["exercise", "commit", "--exercise", "pb25", "--unit", "aus-3rar", "--role", "Ground force",
                               "--start", "2025-08-05", "--end", "2025-08-15"], on: database)
    }

    @Test func retryWithTheSameCommandIDAppliesNothingNew() throws {
        // Given a command applied with an explicit command id
        let database = try TestDatabase()
        let id = "7f1c2a9e-4b1d-4f3a-9c55-0a2b3c4d5e6f"
        let register = ["nation", "register", "--nation", "NZL", "--name", "New Zealand", "--command-id", id]
        try PlannerCLI.accept(register, on: database)
        let before = try PlannerCLI.eventCount(database)
        #expect(before == 1)

        // When it is retried
        let retry = try PlannerCLI.run(register, on: database)

        // Then it reports the earlier application and writes nothing
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.hasPrefix("already applied: registerNation"), "\(retry.stdout)")
        #expect(retry.stdout.contains(id))
        #expect(try PlannerCLI.eventCount(database) == before)
    }

    static let leaves: [[String]] = [
        ["alliance", "form"], ["alliance", "admit"], ["alliance", "remove"], ["alliance", "dissolve"],
        ["nation", "register"],
        ["unit", "register"], ["unit", "capability", "add"], ["unit", "capability", "withdraw"],
        ["unit", "readiness", "report"], ["unit", "readiness", "override"], ["unit", "readiness", "correct"],
        ["area", "register"],
        ["exercise", "plan"], ["exercise", "advance"], ["exercise", "pause"], ["exercise", "resume"],
        ["exercise", "cancel"], ["exercise", "postpone"], ["exercise", "milestone"], ["exercise", "workshop"],
        ["exercise", "invite"], ["exercise", "accept"], ["exercise", "decline"], ["exercise", "withdraw-nation"],
        ["exercise", "commit"], ["exercise", "release"], ["exercise", "book-area"], ["exercise", "release-area"],
        ["exercise", "objective", "add"], ["exercise", "inject", "script"], ["exercise", "inject", "start"],
        ["exercise", "inject", "execute"], ["exercise", "inject", "cancel"], ["exercise", "observe"],
        ["exercise", "lesson", "advance"],
    ]

    @Test func everySubcommandsHelpShowsItsExample() throws {
        for path in Self.leaves {
            let result = try PlannerCLI.run(path + ["--help"], on: nil)
            let name = path.joined(separator: " ")
            #expect(result.status == 0, "\(name): \(result.stderr)")
            #expect(result.stdout.contains("Example"), "\(name)")
            #expect(result.stdout.contains("  muster \(name) --"), "\(name): \(result.stdout)")
            // Examples stay copyable: no line wraps inside them.
            #expect(!result.stdout.split(separator: "\n").contains { $0.count > 80 && !$0.hasPrefix("USAGE") }, "\(name)")
        }
    }

    @Test func examplesFromTheHelpAreAccepted() throws {
        // Given the nations and the unit the examples use
        let database = try TestDatabase()
        for arguments in PlannerCLI.programme.prefix(7) { try PlannerCLI.accept(arguments, on: database) }

        // When the planner copies examples from `--help` (continued lines joined) and runs them
        for path in [["area", "register"], ["unit", "capability", "add"], ["unit", "readiness", "report"]] {
            let help = try PlannerCLI.run(path + ["--help"], on: nil).stdout
            let example = try #require(PlannerCLI.example(in: help), "\(path)")
            #expect(Array(example.prefix(path.count + 1)) == ["muster"] + path)
            try PlannerCLI.accept(Array(example.dropFirst()), on: database)
        }

        // Then their events are recorded
        #expect(try PlannerCLI.eventTypes(database).suffix(3) == ["TrainingAreaRegistered", "CapabilityAdded", "ReadinessReported"])
    }
}

extension PlannerCLI {
    /// The words of the first `muster …` example in a help text, joining lines continued with a backslash.
    static func example(in help: String) -> [String]? {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard let start = lines.firstIndex(where: { $0.hasPrefix("muster ") }) else { return nil }
        var text = ""
        for line in lines[start...] {
            if line.hasSuffix("\\") {
                text += line.dropLast() + " "
            } else {
                text += line
                break
            }
        }
        // Split like a shell: spaces separate words except inside double quotes.
        var words: [String] = [], word = "", quoted = false, inWord = false
        for character in text {
            if character == "\"" {
                quoted.toggle()
                inWord = true
            } else if character == " " && !quoted {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(character)
                inWord = true
            }
        }
        if inWord { words.append(word) }
        return words
    }
}
