import Foundation
import Postgres
import TestSupport
import Testing

/// A corpus of hostile and malformed input, run through the built `muster` binary: typed subcommands,
/// `muster submit` (argument and standard input) and `muster import` (JSON Lines).
///
/// Every case must be refused with exit status 1 or 64, a message naming the field, no trap and
/// no event appended. One database with a base scenario serves all cases.
@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct HostileInputTests {
    @Test func typedCommandsAndSubmitRefuseEveryHostileCase() throws {
        // Given TALISMAN SABRE 25 and a SECRET exercise with their nations, units and areas
        let database = try HostileCLI.shared.get()
        let db = try database.connect()
        let total = try HostileCLI.eventCount(db)
        let cases = HostileCorpus.cliCases()

        for hostile in cases {
            // When the hostile input is given
            let before = try HostileCLI.eventCount(db)
            let result = try HostileCLI.run(hostile, on: database)

            // Then it is refused, names the field, does not trap and appends nothing
            HostileCLI.expectRefused(result, hostile.name, mentions: hostile.mentions)
            #expect(try HostileCLI.eventCount(db) == before, "\(hostile.name): an event was appended")
        }
        #expect(try HostileCLI.eventCount(db) == total)
        #expect(cases.count >= 150)
        print("hostile input corpus: \(cases.count) CLI case(s) refused")
    }

    @Test func theCommandServerRefusesEveryHostileCaseAsTheCommandLineDoes() throws {
        // Given the seeded database and a command server
        let database = try HostileCLI.shared.get()
        let db = try database.connect()
        let total = try HostileCLI.eventCount(db)
        let home = try CommandServerTests.Home()
        defer { home.tearDown() }
        #expect(try home.run(["server", "start"]).status == 0)

        for hostile in HostileCorpus.cliCases() {
            // When each case is given with the server running, and on its own
            let served = try HostileCLI.run(hostile, on: database, environment: home.environment)
            let alone = try HostileCLI.run(hostile, on: database, environment: home.environment.merging(["MUSTER_SERVER": "off"]) { $1 })

            // Then both refuse it alike, byte for byte
            HostileCLI.expectRefused(served, "\(hostile.name) (server)", mentions: hostile.mentions)
            #expect(served.status == alone.status, "\(hostile.name)")
            #expect(served.stdout == alone.stdout, "\(hostile.name)")
            #expect(served.stderr == alone.stderr, "\(hostile.name): \(served.stderr.prefix(300)) | \(alone.stderr.prefix(300))")
        }
        #expect(try HostileCLI.eventCount(db) == total)
        let served = try home.served() ?? 0
        #expect(served >= 150, "the server took \(served) of the cases")
        print("hostile input corpus: \(served) CLI case(s) refused by the command server as on their own")
    }

    @Test func importRefusesEveryHostileLineAndAppendsNothing() throws {
        // Given the base scenario and a file with one hostile command per line
        let database = try HostileCLI.shared.get()
        let db = try database.connect()
        let before = try HostileCLI.eventCount(db)
        let cases = HostileCorpus.importCases()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-hostile-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try Data(cases.map(\.line).joined(separator: Data("\n".utf8))).write(to: file)

        // When it is imported
        let result = try HostileCLI.run(HostileCase(name: "import", arguments: ["import", file.path]), on: database)

        // Then every line is reported by number with its field, and nothing is appended
        #expect(result.status == 1, "\(result.stderr.prefix(2000))")
        #expect(!result.signalled, "import trapped: \(result.stderr.suffix(2000))")
        #expect(result.stdout.contains("imported 0 command(s), 0 already applied, \(cases.count) rejected"), "\(result.stdout)")
        var reports: [Int: String] = [:]
        for line in result.stderr.split(separator: "\n") where line.hasPrefix("line ") {
            let number = line.dropFirst(5).prefix { $0.isNumber }
            if let n = Int(number) { reports[n] = String(line) }
        }
        for (index, hostile) in cases.enumerated() {
            guard let report = reports[index + 1] else {
                Issue.record("\(hostile.name) (line \(index + 1)): no error reported")
                continue
            }
            for mention in hostile.mentions {
                #expect(report.contains(mention), "\(hostile.name) (line \(index + 1)): \(report.prefix(400)) does not mention \(mention)")
            }
        }
        #expect(reports.count == cases.count)
        for trace in HostileCLI.traces { #expect(!result.stderr.contains(trace)) }
        #expect(try HostileCLI.eventCount(db) == before)
        print("hostile input corpus: \(cases.count) import line(s) refused")
    }

    @Test func aCommandIDReusedForDifferentContentIsRefusedEverywhere() throws {
        // Given a command applied with a known id
        let database = try HostileCLI.shared.get()
        let db = try database.connect()
        let before = try HostileCLI.eventCount(db)
        let id = HostileCLI.knownCommandID

        // When the same id comes with different content, through each entry point
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-reused-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"{"command": "registerNation", "nation": "TON", "name": "Tonga", "meta": {"commandId": "\#(id)"}}"#.write(to: file, atomically: true, encoding: .utf8)
        let attempts: [(String, [String])] = [
            ("typed", ["nation", "register", "--nation", "TON", "--name", "Tonga", "--command-id", id]),
            ("typed, same nation other name", ["nation", "register", "--nation", "NZL", "--name", "Aotearoa", "--command-id", id]),
            ("submit", ["submit", #"{"command": "registerNation", "nation": "TON", "name": "Tonga"}"#, "--command-id", id]),
            ("import", ["import", file.path]),
            ("import with the id given as a flag", ["import", file.path, "--command-id", id.uppercased()]),
        ]
        for (name, arguments) in attempts {
            let result = try HostileCLI.run(HostileCase(name: name, arguments: arguments), on: database)

            // Then it is refused, naming the command id, and nothing is appended
            HostileCLI.expectRefused(result, name, mentions: ["command id", id], oneLine: !arguments.contains("import"))
            #expect(try HostileCLI.eventCount(db) == before, "\(name)")
        }

        // And a retry with the very same content is still accepted as already applied
        let retry = try HostileCLI.run(HostileCase(name: "retry", arguments: HostileCLI.knownCommand), on: database)
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stdout.hasPrefix("already applied"), "\(retry.stdout)")
        #expect(try HostileCLI.eventCount(db) == before)
    }

    @Test func injectionInFreeTextIsStoredVerbatimAndHarmless() throws {
        // Given an empty store
        let database = try TestDatabase()
        let db = try database.connect()

        // When free-text fields carry SQL injection attempts (they are valid text)
        for (index, payload) in HostileCorpus.injections.enumerated() {
            let trigraph = ["ZZA", "ZZB", "ZZC", "ZZD", "ZZE", "ZZF"][index]
            let result = try HostileCLI.run(HostileCase(name: "injection \(index)", arguments: [
                "nation", "register", "--nation", trigraph, "--name", payload, "--fictional", "--reason", payload, "--actor", payload,
            ]), on: database)
            #expect(result.status == 0, "\(payload): \(result.stderr)")

            // Then the exact text is in the event, and the store is intact
            let row = try #require(try db.query("""
                SELECT payload->>'name' AS name, metadata->>'reason' AS reason, metadata->>'actor' AS actor
                  FROM event_store.events WHERE stream_name = \("nation-" + trigraph.lowercased())
                """).first)
            #expect(try row.text("name") == payload)
            #expect(try row.text("reason") == payload)
            #expect(try row.text("actor") == payload)
        }
        let tables = try db.query("SELECT count(*) AS n FROM pg_tables WHERE schemaname = 'event_store'").first?.decode("n", as: Int.self)
        #expect(tables == 3)
        #expect(try HostileCLI.run(HostileCase(name: "verify", arguments: ["audit", "verify"]), on: database).status == 0)
    }
}

// MARK: - The corpus

struct HostileCase: Sendable {
    let name: String
    var arguments: [String] = []
    /// Standard input, for `submit -`.
    var stdin: Data? = nil
    /// A shell command line, for arguments Swift strings cannot hold (invalid UTF-8): `$MUSTER` is the binary.
    var shell: String? = nil
    /// Every one must appear on stderr.
    var mentions: [String] = []

    init(name: String, arguments: [String] = [], stdin: Data? = nil, shell: String? = nil, mentions: [String] = []) {
        self.name = name
        self.arguments = arguments
        self.stdin = stdin
        self.shell = shell
        self.mentions = mentions
    }
}

/// One line of an import file and what its error must mention.
struct HostileLine: Sendable {
    let name: String
    let line: Data
    let mentions: [String]
}

enum HostileCorpus {
    static let injections = [
        "'; DROP TABLE event_store.events; --",
        #""); DELETE FROM event_store.events; --"#,
        "' OR '1'='1",
        "1; TRUNCATE event_store.events CASCADE",
        "$$; DROP SCHEMA event_store CASCADE; $$",
        "x'); UPDATE event_store.streams SET version = 0; --",
    ]

    static let badDates = ["2025-02-30", "2025-13-01", "2025-00-10", "25-07-13", "2025/07/13", "2025-07-13T00:00:00Z",
                           "9999999999-01-01", "-2025-07-13", "2025-07-1", " 2025-07-13", "0000-01-01", "２０２５-07-13"]
    static let badTrigraphs = ["Aus", "AU", "AUSS", "A1S", "ÄUS", "   ", "aus", "U\u{0}S"]
    static let oversized = String(repeating: "A", count: 100_000)

    /// Typed subcommands: one valid shape each, to spoil one flag at a time.
    static let templates: [String: [String]] = [
        "nation register": ["nation", "register", "--nation", "NZL", "--name", "New Zealand"],
        "alliance form": ["alliance", "form", "--alliance", "quad", "--name", "Quad", "--kind", "strategic-partnership", "--founded", "2007-05-25"],
        "alliance admit": ["alliance", "admit", "--alliance", "anzus", "--nation", "FJI", "--role", "partner", "--joined", "2020-01-01"],
        "alliance remove": ["alliance", "remove", "--alliance", "anzus", "--nation", "USA", "--left", "2030-01-01"],
        "unit register": ["unit", "register", "--unit", "usa-3-7", "--nation", "USA", "--service", "land", "--echelon", "battalion", "--name", "3-7 Infantry"],
        "unit capability add": ["unit", "capability", "add", "--unit", "aus-3rar", "--kind", "fmn", "--name", "FMN Spiral 5"],
        "unit readiness report": ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-05",
                                  "--personnel", "1", "--supplies", "1", "--equipment", "1", "--training", "1"],
        "unit readiness override": ["unit", "readiness", "override", "--unit", "aus-3rar", "--as-of", "2025-06-01", "--c-level", "1", "--remark", "Closed"],
        "area register": ["area", "register", "--area", "bowen", "--host-nation", "AUS", "--kind", "land-range", "--name", "Bowen"],
        "exercise plan": ["exercise", "plan", "--exercise", "pb25", "--name", "PITCH BLACK 25", "--type", "livex", "--lead", "AUS",
                          "--strategic-objective", "interoperability", "--ceiling", "unclassified", "--rel-to", "USA",
                          "--start", "2025-09-01", "--end", "2025-09-20", "--minimum-readiness", "2",
                          "--phase", "air:Air phase:2025-09-02:2025-09-10", "--require", "data-link:Link 16"],
        "exercise postpone": ["exercise", "postpone", "--exercise", "ts25", "--start", "2025-07-20", "--end", "2025-08-11", "--reason", "Range closure"],
        "exercise milestone": ["exercise", "milestone", "--exercise", "ts25", "--milestone", "cdc", "--on", "2025-01-10"],
        "exercise workshop": ["exercise", "workshop", "--exercise", "ts25", "--workshop", "mel-mil", "--on", "2025-03-01"],
        "exercise invite": ["exercise", "invite", "--exercise", "ts25", "--nation", "NZL", "--role", "participant"],
        "exercise commit": ["exercise", "commit", "--exercise", "ts25", "--unit", "aus-3rar", "--role", "Reserve",
                            "--start", "2025-07-14", "--end", "2025-07-20"],
        "exercise book-area": ["exercise", "book-area", "--exercise", "ts25", "--area", "shoalwater-bay", "--start", "2025-07-14", "--end", "2025-07-19"],
        "exercise objective add": ["exercise", "objective", "add", "--exercise", "ts25", "--objective", "sea-1", "--text", "Control the sea",
                                   "--priority", "2", "--strategic-objective", "deterrence", "--task", "ART 2.1"],
        "exercise inject script": ["exercise", "inject", "script", "--exercise", "ts25", "--number", "13", "--scenario-time", "H+40",
                                   "--from", "AUS", "--to", "USA", "--method", "message", "--kind", "inject", "--expected-action", "Report",
                                   "--objective", "amphib-1", "--controller", "White Cell", "--classification", "unclassified", "--rel-to", "USA"],
        "exercise advance": ["exercise", "advance", "--exercise", "ts25", "--to", "initiation"],
    ]

    static func spoil(_ template: String, _ flag: String, _ value: String) -> [String] {
        spoil(templates[template] ?? [], flag, value)
    }

    static func spoil(_ arguments: [String], _ flag: String, _ value: String) -> [String] {
        var arguments = arguments
        if let index = arguments.firstIndex(of: flag), index + 1 < arguments.count {
            arguments[index + 1] = value
        } else {
            arguments += [flag, value]
        }
        return arguments
    }

    static func without(_ template: String, _ flag: String) -> [String] {
        guard var arguments = templates[template], let index = arguments.firstIndex(of: flag) else { return [] }
        arguments.removeSubrange(index...(index + 1))
        return arguments
    }

    /// Typed-command and `submit` cases.
    static func cliCases() -> [HostileCase] {
        var cases: [HostileCase] = []
        func typed(_ name: String, _ arguments: [String], _ mentions: [String]) {
            cases.append(HostileCase(name: name, arguments: arguments, mentions: mentions))
        }

        // SQL injection in every identifier, code and listed-value flag (free text accepts it verbatim: see above).
        let structured: [(String, String)] = [
            ("nation register", "--nation"), ("alliance form", "--alliance"), ("alliance form", "--kind"), ("alliance form", "--founded"),
            ("alliance admit", "--role"), ("alliance remove", "--left"), ("unit register", "--unit"), ("unit register", "--nation"),
            ("unit register", "--service"), ("unit register", "--echelon"), ("unit capability add", "--kind"),
            ("unit readiness report", "--as-of"), ("area register", "--area"), ("area register", "--host-nation"), ("area register", "--kind"),
            ("exercise plan", "--exercise"), ("exercise plan", "--type"), ("exercise plan", "--lead"), ("exercise plan", "--ceiling"),
            ("exercise plan", "--rel-to"), ("exercise plan", "--strategic-objective"), ("exercise plan", "--alliance"),
            ("exercise milestone", "--milestone"), ("exercise workshop", "--workshop"), ("exercise invite", "--role"),
            ("exercise commit", "--unit"), ("exercise commit", "--phase"), ("exercise book-area", "--area"),
            ("exercise objective add", "--objective"), ("exercise inject script", "--scenario-time"), ("exercise inject script", "--from"),
            ("exercise inject script", "--to"), ("exercise inject script", "--method"), ("exercise inject script", "--classification"),
            ("exercise advance", "--to"),
        ]
        for (index, (template, flag)) in structured.enumerated() {
            let payload = injections[index % injections.count]
            typed("\(template) \(flag) injection", spoil(template, flag, payload), [flag])
        }
        // A second injection form in the most common id flags.
        for (template, flag) in [("exercise commit", "--exercise"), ("exercise book-area", "--exercise"), ("alliance admit", "--alliance"),
                                 ("exercise invite", "--nation"), ("unit capability add", "--unit")] {
            typed("\(template) \(flag) injection 2", spoil(template, flag, injections[1]), [flag])
        }

        // Malformed dates in every date flag.
        for (index, date) in badDates.enumerated() {
            let targets: [(String, String)] = [("alliance form", "--founded"), ("exercise plan", "--start"), ("unit readiness report", "--as-of"),
                                               ("exercise milestone", "--on"), ("exercise postpone", "--end"), ("alliance admit", "--joined")]
            let (template, flag) = targets[index % targets.count]
            typed("\(template) \(flag) date '\(date)'", spoil(template, flag, date), [flag])
        }
        typed("phase end not a date", spoil("exercise plan", "--phase", "air:Air phase:2025-09-02:2025-09-31"), ["--phase (value 1, END)"])
        typed("phase start not a date", spoil("exercise plan", "--phase", "air:Air phase:tomorrow:2025-09-10"), ["--phase (value 1, START)"])

        // Windows ending before they start.
        typed("plan window reversed", spoilBoth("exercise plan", "2025-09-20", "2025-09-01"), ["--end", "before --start"])
        typed("postpone window reversed", spoilBoth("exercise postpone", "2025-08-11", "2025-07-20"), ["--end", "before --start"])
        typed("commit window reversed", spoilBoth("exercise commit", "2025-07-20", "2025-07-14"), ["--end", "before --start"])
        typed("booking window reversed", spoilBoth("exercise book-area", "2025-07-19", "2025-07-14"), ["--end", "before --start"])
        typed("phase window reversed", spoil("exercise plan", "--phase", "air:Air phase:2025-09-10:2025-09-02"), ["--phase (value 1", "before"])
        typed("phase outside the exercise", spoil("exercise plan", "--phase", "air:Air phase:2025-08-25:2025-09-10"), ["phase air", "not inside"])
        typed("commitment outside the window", spoilBoth("exercise commit", "2025-08-01", "2025-08-10"), ["2025-08-10", "outside"])

        // The ends of the calendar.
        typed("postponed to year 1", spoilBoth("exercise postpone", "0001-01-01", "0001-01-05"), ["phase amphib", "would not fit"])
        typed("postponed past year 9999", spoilBoth("exercise postpone", "9999-12-30", "10000-01-05"), ["--end"])
        typed("committed with a decision time in year 9999", spoil("exercise commit", "--at", "9999-12-31T23:59:59Z"), ["fresh readiness"])

        // Unknown ids.
        typed("unknown exercise", spoil("exercise commit", "--exercise", "ts99"), ["ts99", "does not exist"])
        typed("unknown unit", spoil("exercise commit", "--unit", "aus-9rar"), ["unit aus-9rar", "not registered"])
        typed("unknown phase", spoil("exercise commit", "--phase", "sea").filter { $0 != "--start" && $0 != "--end" && $0 != "2025-07-14" && $0 != "2025-07-20" },
              ["phase sea"])
        typed("unknown area", spoil("exercise book-area", "--area", "bowen"), ["training area bowen", "not registered"])
        typed("unknown alliance", spoil("alliance admit", "--alliance", "seato"), ["alliance seato"])
        typed("unknown alliance framework", spoil("exercise plan", "--alliance", "seato"), ["alliance seato"])
        typed("unregistered nation invited", spoil("exercise invite", "--nation", "ZZZ"), ["ZZZ", "not registered"])
        typed("unregistered lead nation", spoil("exercise plan", "--lead", "ZZZ"), ["ZZZ", "not a registered nation"])
        typed("unit of an unregistered nation", spoil("unit register", "--nation", "ZZZ"), ["ZZZ"])
        typed("unknown objective", spoil("exercise inject script", "--objective", "land-9"), ["objective land-9"])
        typed("unknown inject", ["exercise", "inject", "start", "--exercise", "ts25", "--number", "999"], ["inject 999"])
        typed("unknown observation", ["exercise", "lesson", "advance", "--exercise", "ts25", "--observation", "obs-9",
                                      "--stage", "lesson-identified", "--note", "x"], ["observation obs-9"])
        typed("release an uncommitted unit", ["exercise", "release", "--exercise", "ts25", "--unit", "aus-2rar", "--reason", "x"], ["unit aus-2rar"])
        typed("readiness for an unknown unit", spoil("unit readiness report", "--unit", "nzl-1rnzir"), ["nzl-1rnzir"])

        // Wrong NATO trigraphs in every nation flag.
        let nationFlags: [(String, String)] = [("nation register", "--nation"), ("unit register", "--nation"), ("area register", "--host-nation"),
                                               ("exercise plan", "--lead"), ("exercise invite", "--nation"), ("exercise inject script", "--from"),
                                               ("exercise inject script", "--to"), ("alliance admit", "--nation")]
        for (index, code) in badTrigraphs.enumerated() {
            let (template, flag) = nationFlags[index % nationFlags.count]
            typed("\(template) \(flag) trigraph '\(code)'", spoil(template, flag, code), [flag])
        }
        typed("rel-to trigraph", spoil("exercise plan", "--rel-to", "usa"), ["--rel-to (value 1)"])

        // Control characters, empty, blank and oversized text.
        for (index, bad) in ["Bad\u{1}Name", "Line\nbreak", "Tab\u{7F}del", "Sep\u{2028}arator", "", "   ", "\u{1B}[31mred", oversized].enumerated() {
            let targets: [(String, String)] = [("nation register", "--name"), ("unit register", "--name"), ("area register", "--name"),
                                               ("exercise plan", "--name"), ("exercise commit", "--role"), ("exercise inject script", "--controller"),
                                               ("unit capability add", "--name"), ("exercise plan", "--series")]
            let (template, flag) = targets[index % targets.count]
            typed("\(template) \(flag) text #\(index)", spoil(template, flag, bad), [flag])
        }
        typed("objective text oversized", spoil("exercise objective add", "--text", String(repeating: "x", count: 10_001)), ["--text"])
        typed("remark control character", spoil("unit readiness override", "--remark", "ok\u{7}"), ["--remark"])
        typed("slug too long", spoil("unit register", "--unit", String(repeating: "a", count: 64)), ["--unit"])
        typed("slug with upper case", spoil("unit register", "--unit", "AUS-3RAR"), ["--unit"])
        typed("slug with a leading dash", spoil("area register", "--area", "-bowen"), ["--area"])
        typed("slug with a path", spoil("area register", "--area", "../../etc/passwd"), ["--area"])
        typed("slug with a space", spoil("exercise plan", "--exercise", "pb 25"), ["--exercise"])
        typed("scenario time too long", spoil("exercise inject script", "--scenario-time", "H+123456"), ["--scenario-time"])
        typed("scenario time letters", spoil("exercise inject script", "--scenario-time", "X+1"), ["--scenario-time"])
        typed("compact standard without a kind", spoil("exercise plan", "--require", "link16:Link 16"), ["--require (value 1, KIND)"])
        typed("compact standard malformed", spoil("exercise plan", "--require", "Link 16"), ["--require"])
        typed("compact phase malformed", spoil("exercise plan", "--phase", "air:2025-09-02:2025-09-10"), ["--phase"])

        // Numbers out of range, huge and not numbers.
        for (flag, values) in [("--personnel", ["0", "5", "-1", "99999999999999999999", "1.5", "0x1", "9223372036854775807"]),
                               ("--training", ["-9223372036854775808", "4e0"])] {
            for value in values { typed("rating \(flag) \(value)", spoil("unit readiness report", flag, value), [flag]) }
        }
        for value in ["0", "6", "C-9", "c-0", "C-", "99999999999999999999", "9223372036854775807", "-9223372036854775808", "２"] {
            typed("c-level \(value)", spoil("unit readiness override", "--c-level", value), ["--c-level"])
        }
        for value in ["0", "6", "C-6", "9223372036854775807"] {
            typed("minimum readiness \(value)", spoil("exercise plan", "--minimum-readiness", value), ["--minimum-readiness"])
        }
        for value in ["0", "-1", "100000", "9223372036854775807", "99999999999999999999", "twelve"] {
            typed("inject number \(value)", spoil("exercise inject script", "--number", value), ["--number"])
        }
        for value in ["0", "6", "-3", "9223372036854775807"] {
            typed("priority \(value)", spoil("exercise objective add", "--priority", value), ["--priority"])
        }
        typed("observed level 4", ["exercise", "observe", "--exercise", "ts25", "--observation", "obs-1", "--dimension", "technical",
                                   "--reported-by", "AUS", "--nation", "USA", "--severity", "minor", "--observed-level", "4",
                                   "--text", "x", "--classification", "unclassified"], ["--observed-level"])
        typed("observed level huge", ["exercise", "observe", "--exercise", "ts25", "--observation", "obs-1", "--dimension", "technical",
                                      "--reported-by", "AUS", "--nation", "USA", "--severity", "minor", "--observed-level", "9223372036854775807",
                                      "--text", "x", "--classification", "unclassified"], ["--observed-level"])

        // Metadata flags.
        let nz = templates["nation register"] ?? []
        typed("empty actor", nz + ["--actor", ""], ["--actor"])
        typed("actor with a line break", nz + ["--actor", "j3\nplans"], ["--actor"])
        typed("actor too long", nz + ["--actor", String(repeating: "a", count: 201)], ["--actor"])
        typed("actor oversized", nz + ["--actor", oversized], ["--actor"])
        typed("reason with an escape", nz + ["--reason", "ok\u{1B}[2J"], ["--reason"])
        typed("reason too long", nz + ["--reason", String(repeating: "r", count: 2001)], ["--reason"])
        for id in ["not-a-uuid", "", "7f1c2a9e-4b1d-4f3a-9c55-0a2b3c4d5e6", "'; DROP TABLE event_store.commands; --",
                   "7f1c2a9e-4b1d-4f3a-9c55-0a2b3c4d5e6fg"] {
            typed("command id '\(id)'", nz + ["--command-id", id], ["--command-id"])
        }
        for at in ["2025-02-30", "2025-06-10T25:00:00Z", "2025-06-10T12:00:00+02:00", "yesterday", "", "2025-06-10T12:00:60Z",
                   "2025-06-10 12:00:00Z", "99999-06-10"] {
            typed("decision time '\(at)'", nz + ["--at", at], ["--at"])
        }
        typed("missing required flag", without("exercise commit", "--role"), ["--role"])
        typed("missing reason", without("exercise postpone", "--reason"), ["--reason"])
        typed("start without end", without("exercise commit", "--end"), ["--start and --end"])
        typed("unknown flag", nz + ["--drop-table", "events"], ["--drop-table"])

        // Reports and audits.
        typed("replay as of year 0", ["audit", "replay", "readiness", "--as-of", "0000-01-01"], ["--as-of"])
        typed("replay as of an impossible day", ["audit", "replay", "readiness", "--as-of", "2025-02-29"], ["--as-of"])
        typed("replay position negative", ["audit", "replay", "readiness", "--position", "-1"], ["--position"])
        typed("replay position huge", ["audit", "replay", "readiness", "--position", "99999999999999999999"], ["--position"])
        typed("audit log since year 0", ["audit", "log", "--since", "0000-01-01"], ["--since"])
        typed("audit log limit huge", ["audit", "log", "--limit", "9223372036854775807"], ["--limit"])
        typed("audit log command id injection", ["audit", "log", "--command-id", "' OR 1=1 --"], ["--command-id"])
        typed("verify against garbage", ["audit", "verify", "--against", "muster-head:1:x:y:z"], ["--against"])
        typed("verify against huge numbers", ["audit", "verify", "--against", "muster-head:1:99999999999999999999999:1:" + String(repeating: "a", count: 64)],
              ["--against"])
        typed("report exercise injection", ["report", "readiness", "--exercise", "ts25'; DROP TABLE event_store.events; --"], ["--exercise"])
        typed("report format", ["report", "readiness", "--format", "pdf"], ["--format"])

        // Releasability through typed commands (the same rules hold for submit and import, below).
        typed("inject above the ceiling", spoil("exercise inject script", "--classification", "secret"), ["ceiling UNCLASSIFIED", "SECRET"])
        typed("NOFORN inject sent abroad", spoil("exercise inject script", "--rel-to", "USA") + ["--noforn"], ["NOFORN"])
        typed("SECRET inject REL TO outside the exercise", spoil(spoil("exercise inject script", "--exercise", "ss25"), "--rel-to", "FJI")
              .map { $0 == "unclassified" ? "secret" : $0 }.map { $0 == "amphib-1" ? "strike-1" : $0 }, ["REL TO FJI"])
        typed("SECRET inject to a nation outside its REL TO", spoil(spoil("exercise inject script", "--exercise", "ss25"), "--to", "FJI")
              .map { $0 == "unclassified" ? "secret" : $0 }.map { $0 == "amphib-1" ? "strike-1" : $0 }, ["cannot go to FJI", "REL TO"])

        // `submit` with JSON: every other JSON case through the argument (import runs them all), the binary and
        // oversized ones through standard input.
        for (index, json) in jsonCases().enumerated() {
            if json.viaStdin {
                cases.append(HostileCase(name: "submit - \(json.name)", arguments: ["submit", "-"], stdin: json.data, mentions: json.mentions))
            } else if index % 2 == 0, let text = String(data: json.data, encoding: .utf8), !text.contains("\u{0}"), text.utf8.count < 100_000 {
                cases.append(HostileCase(name: "submit \(json.name)", arguments: ["submit", text], mentions: json.mentions))
            }
        }

        // Arguments that are not UTF-8 (only a shell can pass them).
        let invalid = #"$(printf 'x\377\376y')"#
        cases += [
            HostileCase(name: "name not UTF-8", shell: #""$MUSTER" nation register --nation NZL --name "\#(invalid)""#, mentions: ["--name", "UTF-8"]),
            HostileCase(name: "name= not UTF-8", shell: #""$MUSTER" nation register --nation NZL "--name=\#(invalid)""#, mentions: ["--name", "UTF-8"]),
            HostileCase(name: "reason not UTF-8", shell: #""$MUSTER" exercise cancel --exercise ts25 --reason "\#(invalid)""#, mentions: ["--reason", "UTF-8"]),
            HostileCase(name: "actor not UTF-8", shell: #""$MUSTER" nation register --nation NZL --name N --actor "\#(invalid)""#, mentions: ["--actor", "UTF-8"]),
            HostileCase(name: "role not UTF-8", shell: #""$MUSTER" exercise commit --exercise ts25 --unit aus-3rar --role "\#(invalid)""#, mentions: ["--role", "UTF-8"]),
            HostileCase(name: "submit argument not UTF-8",
                        shell: #""$MUSTER" submit "$(printf '{"command": "registerNation", "nation": "NZL", "name": "x\377y"}')""#,
                        mentions: ["argument", "UTF-8"]),
            HostileCase(name: "import file name not UTF-8", shell: #""$MUSTER" import "$(printf '/tmp/no\377such.jsonl')""#,
                        mentions: ["UTF-8"]),
        ]
        return cases
    }

    static func spoilBoth(_ template: String, _ start: String, _ end: String) -> [String] {
        let arguments = spoil(template, "--start", start)
        guard let index = arguments.firstIndex(of: "--end") else { return arguments }
        var out = arguments
        out[index + 1] = end
        return out
    }

    struct JSONCase {
        let name: String
        let data: Data
        let mentions: [String]
        var viaStdin = false
    }

    static func json(_ object: [String: Any]) -> Data {
        (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }

    /// Valid command shapes to spoil one field at a time.
    static var nation: [String: Any] { ["command": "registerNation", "nation": "NZL", "name": "New Zealand"] }
    static var readiness: [String: Any] { ["command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05",
                                           "ratings": ["personnel": 1, "supplies": 1, "equipment": 1, "training": 1]] }
    static var commit: [String: Any] { ["command": "commitUnit", "exercise": "ts25", "unit": "aus-3rar", "role": "Reserve",
                                        "window": ["start": "2025-07-14", "end": "2025-07-20"]] }
    static var plan: [String: Any] { [
        "command": "planExercise", "exercise": "pb25", "name": "PITCH BLACK 25", "types": ["livex"], "joint": false, "combined": true,
        "leadNations": ["AUS"], "strategicObjectives": ["interoperability"], "ceiling": "UNCLASSIFIED",
        "window": ["start": "2025-09-01", "end": "2025-09-20"], "minimumReadiness": 2,
        "phases": [["id": "air", "name": "Air phase", "window": ["start": "2025-09-02", "end": "2025-09-10"]]],
    ] }
    static var inject: [String: Any] { [
        "command": "scriptInject", "exercise": "ts25",
        "inject": ["number": 13, "scenarioTime": "H+40", "from": "AUS", "to": ["USA"], "method": "message", "kind": "inject",
                   "expectedAction": "Report", "objectives": ["amphib-1"], "controller": "White Cell",
                   "marking": ["classification": "UNCLASSIFIED", "noforn": false, "releasableTo": ["USA"]]] as [String: Any],
    ] }

    /// `object` with the value at a dotted path (`inject.marking.noforn`, `types.0`) replaced, or removed when nil.
    static func setting(_ object: [String: Any], _ path: String, _ value: Any?) -> [String: Any] {
        func apply(_ node: Any, _ keys: ArraySlice<Substring>) -> Any? {
            guard let key = keys.first else { return value }
            if var array = node as? [Any], let index = Int(key), index < array.count {
                if let new = apply(array[index], keys.dropFirst()) { array[index] = new } else { array.remove(at: index) }
                return array
            }
            var dictionary = node as? [String: Any] ?? [:]
            let next = dictionary[String(key)] ?? [String: Any]()
            if keys.count == 1, value == nil { dictionary.removeValue(forKey: String(key)) } else { dictionary[String(key)] = apply(next, keys.dropFirst()) }
            return dictionary
        }
        return apply(object, path.split(separator: ".")[...]) as? [String: Any] ?? object
    }

    static func jsonCases() -> [JSONCase] {
        var cases: [JSONCase] = []
        func add(_ name: String, _ object: [String: Any], _ mentions: [String]) { cases.append(JSONCase(name: name, data: json(object), mentions: mentions)) }
        func raw(_ name: String, _ text: String, _ mentions: [String]) { cases.append(JSONCase(name: name, data: Data(text.utf8), mentions: mentions)) }

        // Wrong types, nulls and missing fields.
        let fields: [(String, [String: Any], String)] = [
            ("nation", nation, "nation"), ("name", nation, "name"), ("unit", readiness, "unit"), ("asOf", readiness, "asOf"),
            ("ratings", readiness, "ratings"), ("personnel", readiness, "ratings.personnel"), ("role", commit, "role"),
            ("window", commit, "window"), ("window.end", commit, "window.end"), ("types", plan, "types"), ("joint", plan, "joint"),
            ("ceiling", plan, "ceiling"), ("minimumReadiness", plan, "minimumReadiness"), ("leadNations", plan, "leadNations"),
            ("phase name", plan, "phases.0.name"), ("inject number", inject, "inject.number"), ("inject to", inject, "inject.to"),
            ("marking", inject, "inject.marking"), ("classification", inject, "inject.marking.classification"),
        ]
        for (name, base, path) in fields {
            let field = path.replacingOccurrences(of: ".0.", with: "[0].")
            let wrong: Any = path.hasPrefix("ratings.") || path.hasSuffix("number") || path == "minimumReadiness"
                ? "1" : path == "joint" ? "yes" : 42
            add("\(name) wrong type", setting(base, path, wrong), ["'\(field)'"])
            add("\(name) null", setting(base, path, NSNull()), ["'\(field)'", "null"])
            // A commitment without a window covers the whole exercise: not a missing field.
            if path != "window" { add("\(name) missing", setting(base, path, nil), ["'\(field)'"]) }
        }
        add("nation as an array", setting(nation, "nation", ["NZL"]), ["'nation'"])
        add("name as an object", setting(nation, "name", ["en": "New Zealand"]), ["'name'"])
        add("fictional as a number", setting(nation, "fictional", 1), ["'fictional'"])
        add("fictional as a string", setting(nation, "fictional", "true"), ["'fictional'"])
        add("rating as a boolean", setting(readiness, "ratings.training", true), ["'ratings.training'"])
        add("types as a string", setting(plan, "types", "livex"), ["'types'"])

        // Unknown and extra fields, top level and nested.
        add("extra top-level field", setting(nation, "admin", true), ["'admin'"])
        add("extra nested field", setting(readiness, "ratings.morale", 1), ["'ratings.morale'"])
        add("extra field in a marking", setting(inject, "inject.marking.declassify", "2030-01-01"), ["'inject.marking.declassify'"])
        add("extra field in a phase", setting(plan, "phases.0.secret", true), ["'phases[0].secret'"])
        add("field of another command", setting(nation, "exercise", "ts25"), ["'exercise'"])
        add("id field in the body", setting(nation, "commandId", UUID().uuidString), ["'commandId'"])
        add("key with a NUL", setting(nation, "na\u{0}me", "x"), [#"'na\0me'"#])
        add("oversized unknown key", setting(nation, String(repeating: "k", count: 5000), 1), ["field 'kkkk", "…"])

        // Numbers out of range.
        for value in [0, 5, -1, Int.max, Int.min] as [Any] { add("rating \(value)", setting(readiness, "ratings.personnel", value), ["'ratings.personnel'"]) }
        raw("rating 1e400", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": 1e400, "supplies": 1, "equipment": 1, "training": 1}}"#,
            ["not valid JSON", "1e400"])
        raw("rating 1.5", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": 1.5, "supplies": 1, "equipment": 1, "training": 1}}"#,
            ["'ratings.personnel'"])
        raw("rating 2^53 + 1", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": 9007199254740993, "supplies": 1, "equipment": 1, "training": 1}}"#,
            ["'ratings.personnel'"])
        raw("rating 10^30", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": 1000000000000000000000000000000, "supplies": 1, "equipment": 1, "training": 1}}"#,
            ["'ratings.personnel'"])
        raw("rating -0.0", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": -0.0, "supplies": 1, "equipment": 1, "training": 1}}"#,
            ["'ratings.personnel'"])
        for value in [0, 100_000, Int.max, -5] as [Any] { add("inject number \(value)", setting(inject, "inject.number", value), ["'inject.number'"]) }
        add("minimum readiness 6", setting(plan, "minimumReadiness", 6), ["'minimumReadiness'"])
        add("minimum readiness huge", setting(plan, "minimumReadiness", Int.max), ["'minimumReadiness'"])

        // Dates, windows and text.
        for date in badDates.prefix(8) { add("asOf '\(date)'", setting(readiness, "asOf", date), ["'asOf'"]) }
        add("window reversed", setting(setting(commit, "window.start", "2025-07-20"), "window.end", "2025-07-14"), ["'window.end'", "before start"])
        add("phase window reversed", setting(setting(plan, "phases.0.window.start", "2025-09-10"), "phases.0.window.end", "2025-09-02"),
            ["'phases[0].window.end'"])
        add("plan window reversed", setting(setting(plan, "window.start", "2025-09-20"), "window.end", "2025-09-01"), ["'window.end'"])
        add("name with a control character", setting(nation, "name", "New\u{1}Zealand"), ["'name'"])
        add("name with a line break", setting(nation, "name", "New\nZealand"), ["'name'"])
        add("name with a NUL", setting(nation, "name", "New\u{0}Zealand"), ["'name'"])
        add("name empty", setting(nation, "name", ""), ["'name'"])
        add("name 201 characters", setting(nation, "name", String(repeating: "n", count: 201)), ["'name'"])
        add("expected action 10001 characters", setting(inject, "inject.expectedAction", String(repeating: "e", count: 10_001)), ["'inject.expectedAction'"])
        add("controller with an escape sequence", setting(inject, "inject.controller", "\u{1B}]0;pwned\u{7}"), ["'inject.controller'"])
        for (index, payload) in injections.enumerated() {
            let targets = ["nation", "unit", "asOf", "exercise", "inject.from", "inject.marking.classification"]
            let target = targets[index % targets.count]
            let base = target == "nation" ? nation : target == "unit" || target == "asOf" ? readiness : target == "exercise" ? commit : inject
            add("injection in \(target)", setting(base, target, payload), ["'\(target)'"])
        }
        add("injection in a trigraph list", setting(plan, "leadNations", ["AUS", "'); DROP TABLE event_store.events; --"]), ["'leadNations[1]'"])
        add("injection in the command name", setting(nation, "command", "registerNation'; DROP TABLE event_store.events; --"), ["'command'"])
        add("wrong trigraph", setting(nation, "nation", "Nzl"), ["'nation'"])
        add("wrong trigraph in a list", setting(inject, "inject.to", ["USA", "US"]), ["'inject.to[1]'"])
        add("lower-case classification", setting(inject, "inject.marking.classification", "secret"), ["'inject.marking.classification'"])
        add("classification with a space", setting(inject, "inject.marking.classification", "UNCLASSIFIED "), ["'inject.marking.classification'"])

        // Unknown ids and rules the decider enforces.
        add("unknown exercise", setting(commit, "exercise", "ts99"), ["ts99", "does not exist"])
        add("unknown unit", setting(commit, "unit", "aus-9rar"), ["unit aus-9rar"])
        add("unknown phase", setting(setting(commit, "window", nil), "phase", "sea"), ["phase sea"])
        add("commitment outside the window", setting(setting(commit, "window.start", "2025-08-01"), "window.end", "2025-08-10"), ["outside"])
        add("inject above the ceiling", setting(inject, "inject.marking.classification", "SECRET"), ["ceiling UNCLASSIFIED"])
        add("NOFORN sent abroad", setting(setting(inject, "inject.marking.noforn", true), "inject.marking.releasableTo", []), ["NOFORN", "USA"])
        add("NOFORN and REL TO", setting(inject, "inject.marking.noforn", true), ["NOFORN", "REL TO"])
        let secret = setting(setting(setting(inject, "exercise", "ss25"), "inject.marking.classification", "SECRET"), "inject.objectives", ["strike-1"])
        add("SECRET REL TO outside the exercise", setting(secret, "inject.marking.releasableTo", ["USA", "FJI"]), ["REL TO FJI"])
        add("SECRET to a nation outside its REL TO", setting(secret, "inject.to", ["USA", "FJI"]), ["cannot go to FJI"])
        add("SECRET with no REL TO sent abroad", setting(secret, "inject.marking.releasableTo", []), ["cannot go to USA"])
        add("RESTRICTED observation to FJI", [
            "command": "recordObservation", "exercise": "ss25",
            "observation": ["id": "obs-1", "dimension": "technical", "reportedBy": "AUS", "nations": ["FJI"], "severity": "minor", "text": "x",
                            "marking": ["classification": "RESTRICTED", "releasableTo": ["USA"]]] as [String: Any],
        ], ["ss25"])

        // Not an object, not JSON, duplicated keys, nesting.
        raw("empty input", "", ["not valid JSON"])
        raw("not JSON", "{not json", ["not valid JSON"])
        raw("an array", #"[{"command": "registerNation", "nation": "NZL", "name": "x"}]"#, ["not a JSON object"])
        raw("a string", #""registerNation""#, ["not valid JSON"])
        raw("null", "null", ["not valid JSON"])
        raw("two objects", #"{"command": "registerNation", "nation": "NZL", "name": "x"} {"command": "registerNation", "nation": "TON", "name": "y"}"#,
            ["not valid JSON"])
        raw("raw control character in a string", "{\"command\": \"registerNation\", \"nation\": \"NZL\", \"name\": \"a\u{1}b\"}", ["not valid JSON"])
        raw("unknown command", #"{"command": "launchMissiles", "target": "x"}"#, ["'command'"])
        raw("command missing", #"{"nation": "NZL", "name": "x"}"#, ["'command'", "missing"])
        raw("command not a string", #"{"command": ["registerNation"], "nation": "NZL", "name": "x"}"#, ["'command'"])
        raw("duplicate key", #"{"command": "registerNation", "nation": "NZL", "name": "New Zealand", "name": "'; DROP TABLE x; --"}"#,
            ["'name'", "more than once"])
        raw("duplicate nested key", #"{"command": "reportReadiness", "unit": "aus-3rar", "asOf": "2025-06-05", "ratings": {"personnel": 1, "supplies": 1, "equipment": 1, "training": 1, "training": 4}}"#,
            ["'ratings.training'", "more than once"])
        raw("duplicate key spelt with an escape", #"{"command": "registerNation", "nation": "NZL", "name": "x", "n\u0061me": "y"}"#,
            ["'name'", "more than once"])
        raw("duplicate command key", #"{"command": "registerNation", "command": "registerUnit", "nation": "NZL", "name": "x"}"#,
            ["'command'", "more than once"])
        raw("deep nesting", #"{"command": "registerNation", "nation": "NZL", "name": "x", "deep": "# + String(repeating: "[", count: 5000)
            + String(repeating: "]", count: 5000) + "}", ["not valid JSON"])
        raw("nesting within the limit", #"{"command": "registerNation", "nation": "NZL", "name": "x", "deep": "# + String(repeating: "[", count: 400)
            + String(repeating: "]", count: 400) + "}", ["'deep'"])

        // Through standard input: invalid UTF-8 and sizes beyond any argument.
        var invalidName = Data(#"{"command": "registerNation", "nation": "NZL", "name": "x"#.utf8)
        invalidName += Data([0xFF, 0xFE]) + Data(#"y"}"#.utf8)
        cases.append(JSONCase(name: "invalid UTF-8 in a value", data: invalidName, mentions: ["'name'", "UTF-8"], viaStdin: true))
        var invalidKey = Data(#"{"command": "registerNation", "nation": "NZL", "name": "x", "n"#.utf8)
        invalidKey += Data([0xC3, 0x28]) + Data(#"": 1}"#.utf8)
        cases.append(JSONCase(name: "invalid UTF-8 in a key", data: invalidKey, mentions: ["UTF-8"], viaStdin: true))
        var overlong = Data(#"{"command": "registerNation", "nation": "NZL", "name": ""#.utf8)
        overlong += Data([0xC0, 0xAF]) + Data(#""}"#.utf8)
        cases.append(JSONCase(name: "overlong UTF-8 encoding", data: overlong, mentions: ["'name'", "UTF-8"], viaStdin: true))
        var surrogate = Data(#"{"command": "registerNation", "nation": "NZL", "name": ""#.utf8)
        surrogate += Data([0xED, 0xA0, 0x80]) + Data(#""}"#.utf8)
        cases.append(JSONCase(name: "encoded surrogate", data: surrogate, mentions: ["'name'", "UTF-8"], viaStdin: true))
        cases.append(JSONCase(name: "lone surrogate escape", data: Data(#"{"command": "registerNation", "nation": "NZL", "name": "x\ud800y"}"#.utf8),
                              mentions: ["not valid JSON"], viaStdin: true))
        let huge = String(repeating: "A", count: 2 << 20)
        cases.append(JSONCase(name: "2 MiB name", data: json(setting(nation, "name", huge)), mentions: ["'name'"], viaStdin: true))
        cases.append(JSONCase(name: "2 MiB unknown key", data: json(setting(nation, huge, 1)), mentions: ["field 'AAAA", "…"], viaStdin: true))
        cases.append(JSONCase(name: "2 MiB expected action", data: json(setting(inject, "inject.expectedAction", huge)),
                              mentions: ["'inject.expectedAction'"], viaStdin: true))
        cases.append(JSONCase(name: "2 MiB command name", data: json(setting(nation, "command", huge)), mentions: ["'command'"], viaStdin: true))
        cases.append(JSONCase(name: "100k-element list", data: json(setting(plan, "leadNations", Array(repeating: "aus", count: 100_000))),
                              mentions: ["'leadNations[0]'"], viaStdin: true))
        cases.append(JSONCase(name: "NUL byte in the input", data: Data(#"{"command": "registerNation", "nation": "NZL", "name": "a"#.utf8) + Data([0])
                              + Data(#"b"}"#.utf8), mentions: ["not valid JSON"], viaStdin: true))
        return cases
    }

    /// Import lines: the JSON cases, plus import's own `meta` and line-level cases.
    static func importCases() -> [HostileLine] {
        var lines: [HostileLine] = []
        // Blank lines are skipped by design, so the empty input is not a line case.
        for json in jsonCases() where !json.data.contains(UInt8(ascii: "\n")) && !json.data.isEmpty {
            // A whole line longer than 1 MiB is refused before it is parsed.
            let mentions = json.data.count > ImportLimits.maxLineBytes ? ["longer than 1 MiB"]
                : json.mentions.map { $0 == "not valid JSON" || $0 == "not a JSON object" ? "not a JSON object" : $0 }
                    .filter { $0 != "1e400" }
            lines.append(HostileLine(name: json.name, line: json.data, mentions: mentions))
        }
        func meta(_ name: String, _ meta: Any, _ mentions: [String]) {
            var object = setting(nation, "name", "Aotearoa")
            object["meta"] = meta
            lines.append(HostileLine(name: name, line: json(object), mentions: mentions))
        }
        meta("meta not an object", "j5", ["'meta'"])
        meta("meta null", NSNull(), ["'meta'"])
        meta("meta actor a number", ["actor": 5], ["'meta.actor'"])
        meta("meta actor empty", ["actor": ""], ["'meta.actor'"])
        meta("meta actor with a line break", ["actor": "j5\nplans"], ["'meta.actor'"])
        meta("meta actor injection too long", ["actor": String(repeating: "'; DROP TABLE event_store.events; --", count: 10)], ["'meta.actor'"])
        meta("meta reason with an escape", ["reason": "x\u{1B}[2J"], ["'meta.reason'"])
        meta("meta reason too long", ["reason": String(repeating: "r", count: 2001)], ["'meta.reason'"])
        meta("meta command id not a UUID", ["commandId": "'; DROP TABLE event_store.commands; --"], ["'meta.commandId'"])
        meta("meta command id a number", ["commandId": 42], ["'meta.commandId'"])
        meta("meta at impossible", ["at": "2025-02-30"], ["'meta.at'"])
        meta("meta at with an offset", ["at": "2025-06-10T12:00:00+10:00"], ["'meta.at'"])
        meta("meta unknown key", ["role": "admin"], ["'meta.role'"])
        meta("meta nested object", ["actor": ["name": "j5"]], ["'meta.actor'"])
        meta("meta reused command id", ["commandId": HostileCLI.knownCommandID], ["command id", HostileCLI.knownCommandID])
        lines.append(HostileLine(name: "duplicate meta key", line: Data(#"{"command": "registerNation", "nation": "NZL", "name": "x", "meta": {"actor": "a", "actor": "b"}}"#.utf8),
                                 mentions: ["'meta.actor'", "more than once"]))
        lines.append(HostileLine(name: "duplicate meta", line: Data(#"{"command": "registerNation", "nation": "NZL", "name": "x", "meta": {}, "meta": {"actor": "b"}}"#.utf8),
                                 mentions: ["'meta'", "more than once"]))
        lines.append(HostileLine(name: "line of 2 MiB", line: Data(repeating: UInt8(ascii: " "), count: 2 << 20) + json(nation),
                                 mentions: ["longer than 1 MiB"]))
        lines.append(HostileLine(name: "carriage return only line then junk", line: Data("\r junk".utf8), mentions: ["not a JSON object"]))
        return lines
    }
}

/// The line limit `muster import` documents.
enum ImportLimits {
    static let maxLineBytes = 1 << 20
}

// MARK: - Running the binary

struct HostileRun {
    let status: Int32
    /// True when the process ended on a signal (a trap), not an exit status.
    let signalled: Bool
    let stdout: String
    let stderr: String
}

enum HostileCLI {
    static let at = "2025-06-10"
    static let knownCommandID = "3b241101-e2bb-4255-8caf-4136c566a962"
    static let knownCommand = ["nation", "register", "--nation", "NZL", "--name", "New Zealand", "--command-id", knownCommandID]
    static let traces = ["Fatal error", "Stack dump", "Current stack trace", "Backtrace", "Illegal instruction", "Segmentation fault"]

    /// Nations, an alliance, a ready unit, a training area, TALISMAN SABRE 25 (UNCLASSIFIED) and SOUTHERN STRIKE 25
    /// (SECRET, REL TO AUS and USA), each with an objective and an inject.
    static let programme: [[String]] = [
        ["nation", "register", "--nation", "AUS", "--name", "Australia"],
        ["nation", "register", "--nation", "USA", "--name", "United States"],
        ["nation", "register", "--nation", "FJI", "--name", "Fiji"],
        knownCommand,
        ["alliance", "form", "--alliance", "anzus", "--name", "ANZUS Treaty", "--kind", "treaty-alliance", "--founded", "1951-09-01"],
        ["alliance", "admit", "--alliance", "anzus", "--nation", "AUS", "--role", "member", "--joined", "1952-04-29"],
        ["alliance", "admit", "--alliance", "anzus", "--nation", "USA", "--role", "member", "--joined", "1952-04-29"],
        ["unit", "register", "--unit", "aus-3rar", "--nation", "AUS", "--service", "land", "--echelon", "battalion", "--name", "3 RAR"],
        ["unit", "readiness", "report", "--unit", "aus-3rar", "--as-of", "2025-06-01",
         "--personnel", "1", "--supplies", "2", "--equipment", "1", "--training", "2"],
        ["area", "register", "--area", "shoalwater-bay", "--host-nation", "AUS", "--kind", "land-range", "--name", "Shoalwater Bay"],
        ["exercise", "plan", "--exercise", "ts25", "--name", "TALISMAN SABRE 25", "--type", "livex", "--joint", "--combined",
         "--alliance", "anzus", "--lead", "AUS", "--lead", "USA", "--host", "AUS", "--strategic-objective", "interoperability",
         "--ceiling", "unclassified", "--rel-to", "AUS", "--rel-to", "USA", "--start", "2025-07-13", "--end", "2025-08-04",
         "--phase", "amphib:Amphibious phase:2025-07-20:2025-07-31", "--minimum-readiness", "C-2"],
        ["exercise", "invite", "--exercise", "ts25", "--nation", "FJI", "--role", "participant"],
        ["exercise", "objective", "add", "--exercise", "ts25", "--objective", "amphib-1", "--text", "Hold a beachhead",
         "--priority", "1", "--strategic-objective", "interoperability"],
        ["exercise", "plan", "--exercise", "ss25", "--name", "SOUTHERN STRIKE 25", "--type", "cpx", "--combined", "--lead", "AUS",
         "--lead", "USA", "--strategic-objective", "deterrence", "--ceiling", "secret", "--rel-to", "AUS", "--rel-to", "USA",
         "--start", "2025-10-01", "--end", "2025-10-10", "--minimum-readiness", "2"],
        ["exercise", "invite", "--exercise", "ss25", "--nation", "FJI", "--role", "participant"],
        ["exercise", "objective", "add", "--exercise", "ss25", "--objective", "strike-1", "--text", "Coordinate a combined strike",
         "--priority", "1", "--strategic-objective", "deterrence"],
    ]

    /// One seeded database for the tests that only read it (or copy it).
    static let shared: Result<TestDatabase, any Error> = Result { try seededDatabase() }

    static func seededDatabase() throws -> TestDatabase {
        let database = try TestDatabase()
        for arguments in programme {
            let result = try run(HostileCase(name: "seed", arguments: arguments), on: database)
            #expect(result.status == 0, "seed \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return database
    }

    static func eventCount(_ db: PostgresConnection) throws -> Int {
        try db.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? -1
    }

    static var binary: String { Muster.binary }

    /// Runs a case with `--at` and `--database` appended (planner flags), writing its standard input if any.
    static func run(_ hostile: HostileCase, on database: TestDatabase, environment changes: [String: String?] = [:]) throws -> HostileRun {
        signal(SIGPIPE, SIG_IGN)  // a child that refuses early closes its standard input
        let process = Process()
        var environment = ProcessInfo.processInfo.environment
        for (name, value) in changes { environment[name] = value }
        if let shell = hostile.shell {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", shell + #" --at "$MUSTER_AT" --database "$MUSTER_DB""#]
            environment["MUSTER"] = binary
            environment["MUSTER_AT"] = at
            environment["MUSTER_DB"] = database.conninfo
        } else {
            process.executableURL = URL(fileURLWithPath: binary)
            let planner = !["audit", "report", "projections", "db"].contains(hostile.arguments.first ?? "")
            let flags = planner && !hostile.arguments.contains("--at") ? ["--at", at] : []
            process.arguments = hostile.arguments + flags + ["--database", database.conninfo]
        }
        process.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        let group = DispatchGroup()
        let errBox = HostileDataBox(), inputHandle = input.fileHandleForWriting, errHandle = err.fileHandleForReading
        let stdin = hostile.stdin
        group.enter()
        DispatchQueue.global().async {
            if let stdin { try? inputHandle.write(contentsOf: stdin) }
            try? inputHandle.close()
            group.leave()
        }
        group.enter()
        DispatchQueue.global().async {
            errBox.data = errHandle.readDataToEndOfFile()
            group.leave()
        }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        process.waitUntilExit()
        return HostileRun(status: process.terminationStatus, signalled: process.terminationReason == .uncaughtSignal,
                          stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// Refused: exit 1 or 64, not on a signal, no trace, nothing accepted, and every mention on stderr.
    static func expectRefused(_ result: HostileRun, _ name: String, mentions: [String], oneLine: Bool = true,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        let stderr = String(result.stderr.prefix(2000))
        #expect(!result.signalled, "\(name): ended on signal \(result.status): \(stderr)", sourceLocation: sourceLocation)
        #expect(result.status == 1 || result.status == 64, "\(name): exit status \(result.status): \(stderr) \(result.stdout.prefix(500))",
                sourceLocation: sourceLocation)
        for mention in mentions {
            #expect(result.stderr.contains(mention), "\(name): stderr does not mention \(mention): \(stderr)", sourceLocation: sourceLocation)
        }
        for trace in traces {
            #expect(!result.stderr.contains(trace), "\(name): \(stderr)", sourceLocation: sourceLocation)
        }
        #expect(!result.stdout.contains("accepted:"), "\(name): \(result.stdout.prefix(500))", sourceLocation: sourceLocation)
        if oneLine && result.status == 1 {
            #expect(result.stderr.split(separator: "\n").count == 1, "\(name): more than one line: \(stderr)", sourceLocation: sourceLocation)
        }
        #expect(result.stderr.utf8.count < 20_000, "\(name): \(result.stderr.utf8.count) bytes on stderr", sourceLocation: sourceLocation)
    }
}

/// Holds data written by another thread before `DispatchGroup.wait()` returns.
private final class HostileDataBox: @unchecked Sendable {
    // @unchecked: written once on one thread, read after `group.wait()` on another.
    var data = Data()
}
