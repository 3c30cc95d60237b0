import EventSourcing
import Foundation
import Postgres
import TestSupport
import Testing

/// Runs the built `muster` binary as a user would.
struct Muster {
    struct Result {
        let status: Int32
        let stdout: String
        let stderr: String
    }

    static var binary: String {
        if let env = ProcessInfo.processInfo.environment["MUSTER_BIN"], !env.isEmpty { return env }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return root.appendingPathComponent(".build/debug/muster").path
    }

    /// - Parameter environment: changes to the inherited environment (nil removes a variable).
    static func run(_ arguments: [String], environment: [String: String?] = [:], stdin: Data? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        // Read both pipes to the end before waiting, so a large output cannot block the child.
        final class Sink: @unchecked Sendable { var data = Data() }  // written once before group.wait()
        let errSink = Sink()
        let group = DispatchGroup()
        group.enter()
        let errHandle = err.fileHandleForReading
        DispatchQueue.global().async { errSink.data = errHandle.readDataToEndOfFile(); group.leave() }
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errSink.data
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
    }

    /// Runs against a test database.
    static func run(_ arguments: [String], on database: TestDatabase, stdin: Data? = nil) throws -> Result {
        try run(arguments + ["--database", database.conninfo], stdin: stdin)
    }

    /// Commands the server has run, from `muster server status`; nil when it is not running.
    static func served(_ status: String) -> Int? {
        guard let range = status.range(of: #"(\d+) command\(s\) run"#, options: .regularExpression) else { return nil }
        return Int(status[range].prefix { $0.isNumber })
    }
}

func eventCount(_ database: TestDatabase) throws -> Int {
    try database.connect().query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? -1
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct DemoAndAuditCLITests {
    @Test func demoRunsEndToEndIsIdempotentAndVerifies() throws {
        // Given a fresh database
        let database = try TestDatabase()

        // When the demo runs
        let first = try Muster.run(["demo"], on: database)

        // Then it applies the scenario, refuses exactly the three rule-breaking steps, and prints the views
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.components(separatedBy: "REFUSED as expected").count - 1 == 3)
        #expect(first.stdout.contains("already committed"), "the overlap is refused with its reason")
        #expect(first.stdout.contains("Readiness — ts25"))
        #expect(first.stdout.contains("SYNTHETIC"))
        #expect(first.stdout.contains("Nation × nation interoperability"))
        #expect(first.stdout.contains("Conflicts"))
        let events = try eventCount(database)
        #expect(events > 100)

        // Running it again writes nothing
        let again = try Muster.run(["demo"], on: database)
        #expect(again.status == 0)
        #expect(again.stdout.contains("Applied 0 command(s)"))
        #expect(try eventCount(database) == events)

        // And an auditor finds the log intact and every projection equal to a rebuild
        let verify = try Muster.run(["audit", "verify"], on: database)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("verified: no findings"))
        #expect(verify.stdout.contains("projection readiness: equals a fresh rebuild"))
    }

    @Test func auditVerifyPointsAtATamperedEventAndAKeptDigestCatchesARechain() throws {
        let database = try TestDatabase()
        #expect(try Muster.run(["demo"], on: database).status == 0)
        let head = try Muster.run(["audit", "head"], on: database)
        #expect(head.status == 0)
        let digest = head.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(digest.hasPrefix("muster-head:1:"))
        #expect(try Muster.run(["audit", "verify", "--against", digest], on: database).status == 0)

        // Alter one event behind the store's back.
        let db = try database.connect()
        try db.execute("""
            ALTER TABLE event_store.events DISABLE TRIGGER USER;
            UPDATE event_store.events SET payload = jsonb_set(payload, '{name}', '"TAMPERED"')
             WHERE stream_name = 'exercise-ts25' AND stream_version = 1;
            ALTER TABLE event_store.events ENABLE TRIGGER USER;
            """)
        let verify = try Muster.run(["audit", "verify", "--against", digest], on: database)
        #expect(verify.status == 1)
        #expect(verify.stdout.contains("FINDING: stream exercise-ts25 version 1"), "\(verify.stdout)")
    }

    @Test func auditLogFiltersAndReplayShowsThePast() throws {
        let database = try TestDatabase()
        #expect(try Muster.run(["demo"], on: database).status == 0)
        let log = try Muster.run(["audit", "log", "--stream", "exercise-ts25", "--format", "csv"], on: database)
        #expect(log.status == 0)
        let lines = log.stdout.split(separator: "\n")
        #expect(lines.first?.hasPrefix("position,stream,version,type,recorded_at,actor") == true)
        #expect(lines.dropFirst().allSatisfy { $0.contains(",exercise-ts25,") })
        #expect(lines.count > 5)

        // The first events only: the schedule then had one exercise at most.
        let replay = try Muster.run(["audit", "replay", "schedule", "--position", "40", "--format", "json"], on: database)
        #expect(replay.status == 0, "\(replay.stderr)")
        let live = try Muster.run(["report", "schedule", "--format", "json"], on: database)
        func exercises(_ json: String) throws -> Int {
            let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]
            let sections = object?["sections"] as? [[String: Any]]
            return (sections?.first?["rows"] as? [Any])?.count ?? -1
        }
        #expect(try exercises(replay.stdout) < exercises(live.stdout))
        // Replay leaves no scratch schemas behind.
        let leftovers = try database.connect().query("SELECT count(*) AS n FROM pg_namespace WHERE nspname LIKE 'replay\\_%' OR nspname LIKE '%\\_\\_scratch%'")
        #expect(try leftovers.first?.decode("n", as: Int.self) == 0)
    }

    @Test func reportsRenderEveryFormat() throws {
        let database = try TestDatabase()
        #expect(try Muster.run(["demo"], on: database).status == 0)
        for kind in ["readiness", "interoperability", "schedule", "conflicts"] {
            let json = try Muster.run(["report", kind, "--format", "json"], on: database)
            #expect(json.status == 0)
            #expect((try? JSONSerialization.jsonObject(with: Data(json.stdout.utf8))) != nil, "\(kind) json parses")
            let csv = try Muster.run(["report", kind, "--format", "csv"], on: database)
            #expect(csv.status == 0 && csv.stdout.split(separator: "\n").count >= 1)
        }
        let schedule = try Muster.run(["report", "schedule", "--format", "html"], on: database)
        #expect(schedule.stdout.hasPrefix("<!DOCTYPE html>"))
        #expect(schedule.stdout.contains("<svg"))
        #expect(!schedule.stdout.contains("<script"), "self-contained, no scripts")
        let interop = try Muster.run(["report", "interoperability", "--exercise", "ts25", "--format", "html"], on: database)
        #expect(interop.stdout.contains("Interoperability matrix — ts25"))
        #expect(interop.stdout.contains("class=\"l"))
        let bad = try Muster.run(["report", "readiness", "--format", "pdf"], on: database)
        #expect(bad.status == 64)
    }

    @Test func projectionsStatusAndRebuild() throws {
        let database = try TestDatabase()
        #expect(try Muster.run(["demo"], on: database).status == 0)
        let status = try Muster.run(["projections", "status", "--format", "json"], on: database)
        #expect(status.status == 0)
        #expect(status.stdout.contains("\"projection\" : \"readiness\""))
        let rebuild = try Muster.run(["projections", "rebuild"], on: database)
        #expect(rebuild.status == 0, "\(rebuild.stderr)")
        #expect(rebuild.stdout.contains("rebuilt readiness from"))
        #expect(try Muster.run(["audit", "verify"], on: database).status == 0)
    }

    @Test func aWorkerStartsBesideACommandCatchingUpButRefusesToRunBesideAnotherWorker() throws {
        // Given: a database whose read models exist, and a session holding one read model's worker lock, as a
        // planner command's catch-up does for a few milliseconds.
        let database = try TestDatabase()
        #expect(try Muster.run(["nation", "register", "--nation", "AUS", "--name", "Australia"], on: database).status == 0)
        let holder = try database.connect()
        try holder.query("SELECT pg_advisory_lock(1836384257, hashtext('interoperability'))")

        // When a worker starts while it is held, and the lock is released a moment later
        let worker = try BackgroundMuster(["projections", "run", "--poll", "0.2", "--database", database.conninfo])
        Thread.sleep(forTimeInterval: 0.3)
        try holder.query("SELECT pg_advisory_unlock(1836384257, hashtext('interoperability'))")

        // Then it runs: it waited for the lock instead of refusing, and holds all five read models' locks.
        let workerLocks = "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND classid = 1836384257 AND granted AND pid <> pg_backend_pid()"
        #expect(try eventually(timeout: 30) { try holder.query(PostgresQuery(sql: workerLocks)).first?.decode("n", as: Int.self) == 5 }, "\(worker.text)")
        #expect(worker.process.isRunning, "\(worker.text)")

        // And a second worker, beside the running one, still refuses, naming it.
        let second = try Muster.run(["projections", "run", "--for", "5"], on: database)
        #expect(second.status == 1, "\(second.stdout)\(second.stderr)")
        #expect(second.stderr.contains("already being run by PostgreSQL backend pid"), "\(second.stderr)")
        #expect(worker.stop() == 0, "\(worker.text)")
        #expect(worker.text.contains("projection worker (backend pid"), "\(worker.text)")
        #expect(!worker.text.contains("already being run"), "\(worker.text)")
    }

    @Test func aPlannerCommandSaysWhenItRebuildsAReadModelOfAnotherVersion() throws {
        // Given: read models built by a first command, one of them then marked as an older version.
        let database = try TestDatabase()
        let first = try Muster.run(["nation", "register", "--nation", "AUS", "--name", "Australia"], on: database)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(!first.stderr.contains("building it again"), "a first build is not an upgrade: \(first.stderr)")
        let db = try database.connect()
        try db.execute("COMMENT ON SCHEMA rm_schedule IS 'muster projection schedule version 0'")

        // When
        let second = try Muster.run(["nation", "register", "--nation", "NZL", "--name", "New Zealand"], on: database)
        let third = try Muster.run(["nation", "register", "--nation", "FJI", "--name", "Fiji"], on: database)

        // Then: the command that rebuilt it says so, once, and the schema carries this version's mark.
        #expect(second.status == 0, "\(second.stderr)")
        #expect(second.stderr.contains("note: read model schedule is marked 'muster projection schedule version 0', and this muster has version 1: building it again from the event log"), "\(second.stderr)")
        #expect(third.status == 0)
        #expect(!third.stderr.contains("building it again"), "\(third.stderr)")
        let mark = try db.query("SELECT obj_description('rm_schedule'::regnamespace, 'pg_namespace') AS m").first?.decode("m", as: String.self)
        #expect(mark == "muster projection schedule version 1")
        let verify = try Muster.run(["projections", "status"], on: database)
        #expect(verify.status == 0, "\(verify.stderr)")
    }

    @Test func runOnceBuildsMissingReadModelsOnTwoConnectionsAndTheyEqualARebuild() throws {
        // Given: the demo, then two read models gone (as after an upgrade that dropped them) and one of an old version.
        let database = try TestDatabase()
        #expect(try Muster.run(["demo"], on: database).status == 0)
        let db = try database.connect()
        let before = try db.query("SELECT count(*) AS n FROM reporting.readiness_units").first?.decode("n", as: Int64.self)
        try db.execute("""
            DROP SCHEMA rm_readiness CASCADE; DROP SCHEMA rm_schedule CASCADE;
            DELETE FROM projection_meta.checkpoints WHERE name IN ('readiness', 'schedule');
            COMMENT ON SCHEMA rm_interoperability IS 'muster projection interoperability version 0'
            """)
        let events = try db.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n", as: Int64.self) ?? 0

        // When
        let once = try Muster.run(["projections", "run", "--once"], on: database)

        // Then those three were built from the whole log, the others had nothing to apply,
        #expect(once.status == 0, "\(once.stderr)")
        #expect(once.stdout.contains("interoperability \(events), readiness \(events), readiness_history 0, schedule \(events)"), "\(once.stdout)")
        // the reports read them again, and every read model equals a fresh rebuild.
        #expect(try db.query("SELECT count(*) AS n FROM reporting.readiness_units").first?.decode("n", as: Int64.self) == before)
        let verify = try Muster.run(["audit", "verify"], on: database)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("projection schedule: equals a fresh rebuild"), "\(verify.stdout)")
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct ImportAndErrorCLITests {
    @Test func importAppliesGoodLinesReportsBadOnesByNumberAndIsIdempotent() throws {
        let database = try TestDatabase()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-import-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: file) }
        let lines = [
            #"{"command": "registerNation", "nation": "AUS", "name": "Australia", "meta": {"actor": "j5.plans", "reason": "programme load"}}"#,
            #"{"command": "registerNation", "nation": "aus", "name": "Lowercase"}"#,
            "",
            #"{"command": "registerNation", "nation": "NZL", "name": "New Zealand", "extra": 1}"#,
            #"{"command": "registerNation", "nation": "FJI", "name": "Fiji"}"#,
            "not json at all",
        ]
        try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)

        let first = try Muster.run(["import", file.path], on: database)
        #expect(first.status == 1)
        #expect(first.stdout.contains("imported 2 command(s), 0 already applied, 3 rejected"))
        #expect(first.stderr.contains("line 2: field 'nation'"))
        #expect(first.stderr.contains("line 4: field 'extra'"))
        #expect(first.stderr.contains("line 6: the line is not a JSON object"))
        #expect(try eventCount(database) == 2)
        let actor = try database.connect().query("SELECT metadata->>'actor' AS a FROM event_store.events WHERE stream_name = 'nation-aus'").first
        #expect(try actor?.decode("a", as: String.self) == "j5.plans")

        let second = try Muster.run(["import", file.path], on: database)
        #expect(second.stdout.contains("imported 0 command(s), 2 already applied, 3 rejected"))
        #expect(try eventCount(database) == 2)
    }

    @Test func submitRetriesAreIdempotentAndAReusedIdIsRefused() throws {
        let database = try TestDatabase()
        let id = UUID().uuidString
        let command = #"{"command": "registerNation", "nation": "JPN", "name": "Japan"}"#
        let first = try Muster.run(["submit", command, "--command-id", id, "--actor", "j3", "--reason", "IPC"], on: database)
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("accepted: registerNation"))
        let retry = try Muster.run(["submit", command, "--command-id", id], on: database)
        #expect(retry.status == 0)
        #expect(retry.stdout.contains("already applied"))
        let reused = try Muster.run(["submit", #"{"command": "registerNation", "nation": "IND", "name": "India"}"#, "--command-id", id], on: database)
        #expect(reused.status == 1)
        #expect(reused.stderr.contains("already used for a different command"))
        #expect(try eventCount(database) == 1)
    }

    @Test func typedSubcommandsCarryTextAndNumbersExactlyAsGiven() throws {
        // Given: flag values with quotes, a backslash, a slash and letters outside ASCII.
        let database = try TestDatabase()
        let name = #"Aotearoa "New Zealand" \ / Māori – 🇳🇿"#

        // When
        let nation = try Muster.run(["nation", "register", "--nation", "NZL", "--name", name], on: database)
        let unit = try Muster.run(["unit", "register", "--unit", "nzl-1rnzir", "--nation", "NZL", "--service", "land",
                                   "--echelon", "battalion", "--name", #"1 RNZIR "Ready" \ Battalion"#], on: database)
        let report = try Muster.run(["unit", "readiness", "report", "--unit", "nzl-1rnzir", "--as-of", "2025-06-30",
                                     "--personnel", "1", "--supplies", "2", "--equipment", "3", "--training", "4"], on: database)

        // Then: the events hold exactly those values.
        #expect(nation.status == 0, "\(nation.stderr)")
        #expect(unit.status == 0, "\(unit.stderr)")
        #expect(report.status == 0, "\(report.stderr)")
        let db = try database.connect()
        let names = try db.query("""
            SELECT payload ->> 'name' AS name FROM event_store.events
             WHERE event_type IN ('NationRegistered', 'UnitRegistered') ORDER BY position
            """).map { try $0.decode("name", as: String.self) }
        #expect(names == [name, #"1 RNZIR "Ready" \ Battalion"#])
        let ratings = try db.query("SELECT (payload -> 'ratings')::text AS r FROM event_store.events WHERE event_type = 'ReadinessReported'")
            .first?.decode("r", as: String.self)
        #expect(ratings == #"{"supplies": 2, "training": 4, "equipment": 3, "personnel": 1}"#)
    }

    @Test func badInputGetsOneClearLineAndWritesNothing() throws {
        let database = try TestDatabase()
        let cases: [([String], Int32, String)] = [
            (["submit", #"{"command": "registerNation", "nation": "AU", "name": "x"}"#], 1, "field 'nation'"),
            (["submit", #"{"command": "launchMissiles"}"#], 1, "field 'command'"),
            (["submit", "{not json"], 1, "not valid JSON"),
            (["submit", #"{"command": "registerNation", "nation": "AUS", "name": "x'); DROP TABLE event_store.events; --"}"#], 0, ""),
            (["submit", #"{"command": "registerNation", "nation": "GBR", "name": "x"}"#, "--command-id", "not-a-uuid"], 64, "--command-id"),
            (["submit", #"{"command": "registerNation", "nation": "GBR", "name": "x"}"#, "--at", "2025-02-30"], 64, "--at"),
            (["report", "readiness", "--exercise", "TS25; DROP"], 64, "--exercise"),
            (["audit", "replay", "readiness"], 64, "--as-of"),
        ]
        var expectedEvents = 0
        for (arguments, status, message) in cases {
            let before = try eventCount(database)
            let result = try Muster.run(arguments, on: database)
            #expect(result.status == status, "\(arguments): \(result.stderr)")
            if status == 0 { expectedEvents += 1; continue }
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
            #expect(!result.stderr.contains("Fatal error") && !result.stderr.contains("Stack dump"))
            #expect(try eventCount(database) == before)
        }
        #expect(try eventCount(database) == expectedEvents)
    }

    @Test func unreachableDatabaseNamesTheTargetButNotThePassword() throws {
        let result = try Muster.run(["report", "readiness", "--database", "host=/nonexistent port=5999 dbname=muster user=planner password=topsecret connect_timeout=2"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("database unavailable"))
        #expect(result.stderr.contains("/nonexistent"))
        #expect(!result.stderr.contains("topsecret"))
        #expect(result.stderr.split(separator: "\n").count == 1)
        // A planner command connects while its arguments are parsed (EarlyConnection): the same one line.
        let planner = try Muster.run(["nation", "register", "--nation", "NOR", "--name", "Norway",
                                      "--database", "host=/nonexistent port=5999 dbname=muster user=planner password=topsecret connect_timeout=2"])
        #expect(planner.status == 1)
        #expect(planner.stderr.hasPrefix("error: database unavailable"), "\(planner.stderr)")
        #expect(planner.stderr.contains("/nonexistent"))
        #expect(!planner.stderr.contains("topsecret"))
        #expect(planner.stderr.split(separator: "\n").count == 1)
    }

    @Test func anUnmigratedDatabaseIsNamedWithTheFix() throws {
        let database = try TestDatabase(migrated: false)
        let result = try Muster.run(["report", "readiness"], on: database)
        #expect(result.status == 1)
        #expect(result.stderr.contains("muster db migrate"))
        // A planner command asks which migrations are missing while its arguments are parsed: refused alike.
        let planner = try Muster.run(["nation", "register", "--nation", "NOR", "--name", "Norway"], on: database)
        #expect(planner.status == 1)
        #expect(planner.stderr.contains("is missing ") && planner.stderr.contains(" migration(s)") && planner.stderr.contains("muster db migrate"), "\(planner.stderr)")
        #expect(planner.stderr.split(separator: "\n").count == 1)
        #expect(try database.connect().query("SELECT to_regclass('event_store.events') IS NULL AS absent").first?.decode("absent", as: Bool.self) == true)
        let migrate = try Muster.run(["db", "migrate"], on: database)
        #expect(migrate.status == 0)
        #expect(migrate.stdout.contains("applied 0001-create-event-store"))
        #expect(try Muster.run(["db", "migrate"], on: database).stdout.contains("up to date"))
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct EmbeddedDefaultCLITests {
    @Test func withNoConnectionConfiguredMusterStartsItsOwnCluster() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("muster-home-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let env: [String: String?] = ["XDG_DATA_HOME": home.path, "PGHOST": nil, "PGPORT": nil, "PGUSER": nil, "PGDATABASE": nil, "DATABASE_URL": nil]
        defer {
            _ = try? Muster.run(["db", "stop"], environment: env)
            try? FileManager.default.removeItem(at: home)
        }

        let before = try Muster.run(["db", "status"], environment: env)
        #expect(before.stdout.contains("not initialised"))

        let submit = try Muster.run(["submit", #"{"command": "registerNation", "nation": "SWE", "name": "Sweden"}"#], environment: env)
        #expect(submit.status == 0, "\(submit.stderr)")
        #expect(submit.stderr.contains("started the embedded PostgreSQL cluster"))

        /// Commands the command server has run; nil when none runs.
        let served = { Muster.served(try Muster.run(["server", "status"], environment: env).stdout) }

        // Now that its server runs, a planner command connects to it while its arguments are parsed.
        #expect(try Muster.run(["server", "status"], environment: env).stdout.contains("not running"))
        let register = try Muster.run(["nation", "register", "--nation", "NOR", "--name", "Norway"], environment: env)
        #expect(register.status == 0, "\(register.stderr)")
        #expect(register.stderr.isEmpty, "\(register.stderr)")
        // Having run on its own on the embedded cluster, it left a command server for the commands after it
        // (started in the background, so it may take a moment to answer).
        #expect(try eventually(timeout: 10) { try served() != nil })
        #expect(try served() == 0)

        // An applied schema file that changed is reported by a planner command too, which then writes nothing.
        let changed = home.appendingPathComponent("schema-changed")
        try FileManager.default.copyItem(at: try Migrator.locateSchemaDirectory(), to: changed)
        let first = changed.appendingPathComponent("0001-create-event-store.sql")
        try (try String(contentsOf: first, encoding: .utf8) + "\n-- edited after it was applied\n").write(to: first, atomically: true, encoding: .utf8)
        var changedEnv = env
        changedEnv["MUSTER_SCHEMA_DIR"] = changed.path
        let refused = try Muster.run(["nation", "register", "--nation", "FJI", "--name", "Fiji"], environment: changedEnv)
        #expect(refused.status == 1, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("0001-create-event-store was changed after it was applied"), "\(refused.stderr)")

        // The command server runs beside the embedded cluster (whose directory the postgres user owns when
        // the tests run as root) and takes planner commands: the refused one above, and this one.
        let start = try Muster.run(["server", "start"], environment: env)
        #expect(start.stdout.contains("already running"), "\(start.stdout)\(start.stderr)")
        let finland = try Muster.run(["nation", "register", "--nation", "FIN", "--name", "Finland"], environment: env)
        #expect(finland.status == 0, "\(finland.stderr)")
        #expect(try served() == 2)
        // Stopped by hand, it stays stopped: a command runs on its own and starts none.
        #expect(try Muster.run(["server", "stop"], environment: env).status == 0)
        let alone = try Muster.run(["nation", "register", "--nation", "DNK", "--name", "Denmark"], environment: env)
        #expect(alone.status == 0, "\(alone.stderr)")
        usleep(300_000)
        let stoppedByHand = try Muster.run(["server", "status"], environment: env).stdout
        #expect(stoppedByHand.contains("not running, stopped with 'muster server stop'"), "\(stoppedByHand)")

        let status = try Muster.run(["db", "status"], environment: env)
        #expect(status.stdout.contains("server: running"))
        #expect(status.stdout.contains("events: 4"))
        #expect(FileManager.default.fileExists(atPath: home.appendingPathComponent("muster/pgdata/PG_VERSION").path))
        // fsync stays on for the embedded cluster: it holds a user's real data.
        let embedded = try PostgresConnection(conninfo: "host='\(home.path)/muster/run' dbname=muster user=\(getuid() == 0 ? "postgres" : NSUserName())")
        let fsync = try embedded.query("SHOW fsync").first?.decode("fsync", as: String.self)
        #expect(fsync == "on")
        // PL/pgSQL, which the append and the read models run in, is loaded once by the server, not by each backend.
        #expect(try embedded.query("SHOW shared_preload_libraries").first?.decode("shared_preload_libraries", as: String.self) == "plpgsql")
        embedded.close()

        // 'db stop' undoes 'server stop'. With MUSTER_SERVER=off a command starts the cluster and no server ...
        #expect(try Muster.run(["db", "stop"], environment: env).status == 0)
        let off = try Muster.run(["nation", "register", "--nation", "ISL", "--name", "Iceland"], environment: env.merging(["MUSTER_SERVER": "off"]) { $1 })
        #expect(off.status == 0, "\(off.stderr)")
        usleep(300_000)
        #expect(try Muster.run(["server", "status"], environment: env).stdout.contains("not running"))
        // A refused command starts none either ...
        let refusedAgain = try Muster.run(["nation", "register", "--nation", "ISL", "--name", "Iceland"], environment: env)
        #expect(refusedAgain.status == 1 && refusedAgain.stderr.contains("already registered"), "\(refusedAgain.stderr)")
        usleep(300_000)
        #expect(try Muster.run(["server", "status"], environment: env).stdout.contains("not running"))
        // ... nor does one on a configured database ...
        let configured = try TestDatabase()
        #expect(try Muster.run(["nation", "register", "--nation", "LVA", "--name", "Latvia", "--database", configured.conninfo], environment: ["XDG_DATA_HOME": home.path]).status == 0)
        usleep(300_000)
        #expect(try Muster.run(["server", "status"], environment: env).stdout.contains("not running"))
        // ... and without any of those, a command leaves one again, and 'db stop' stops it with the cluster.
        #expect(try Muster.run(["nation", "register", "--nation", "EST", "--name", "Estonia"], environment: env).status == 0)
        #expect(try eventually(timeout: 10) { try served() != nil })
        #expect(try served() == 0)
        let stop = try Muster.run(["db", "stop"], environment: env)
        #expect(stop.status == 0, "\(stop.stderr)")
        #expect(stop.stdout.contains("command server stopped") && stop.stdout.contains("embedded cluster stopped"), "\(stop.stdout)")
        #expect(try Muster.run(["server", "status"], environment: env).stdout.contains("not running"))
        #expect(try Muster.run(["db", "status"], environment: env).stdout.contains("stopped"))
    }
}
