import Foundation
import Postgres
import TestSupport
import Testing

/// The repository's root, for tools/ and schema/.
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// Runs a program to completion with its output captured.
enum Tool {
    static func run(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String?] = [:]) throws -> Muster.Result {
        try Background(executable, arguments, stdin: stdin, environment: environment).finish()
    }

    static var psql: String {
        ["/usr/bin/psql", "/usr/lib/postgresql/15/bin/psql"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "/usr/bin/psql"
    }
}

/// A program running in the background, its standard input and output in files: nothing can block on a
/// full pipe, and a server it forks cannot hold them open.
final class Background {
    let process = Process()
    let out: URL, err: URL

    init(_ executable: String, _ arguments: [String], stdin: String = "", environment: [String: String?]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("muster-tool-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let input = dir.appendingPathComponent("in")
        out = dir.appendingPathComponent("out")
        err = dir.appendingPathComponent("err")
        try Data(stdin.utf8).write(to: input)
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        process.standardInput = try FileHandle(forReadingFrom: input)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        try process.run()
    }

    /// Waits for the program and returns what it printed.
    func finish() -> Muster.Result {
        process.waitUntilExit()
        defer { try? FileManager.default.removeItem(at: out.deletingLastPathComponent()) }
        return Muster.Result(status: process.terminationStatus,
                             stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

/// The checker tools/soak uses (tools/lib/soak-check.sql): whole commands, contiguous stream versions,
/// unique event ids, and the writers' outcomes (`command_id<TAB>outcome` lines) against the log.
func checkLog(_ conninfo: String, outcomes: [(UUID, String)] = []) throws -> Muster.Result {
    let input = outcomes.map { "\($0.0.uuidString.lowercased())\t\($0.1)\n" }.joined()
    return try Tool.run(Tool.psql, ["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-d", conninfo,
                                    "-f", repositoryRoot.appendingPathComponent("tools/lib/soak-check.sql").path], stdin: input)
}

/// A `muster` process left running (a writer or a projection worker) that a test kills or stops.
final class BackgroundMuster {
    let process = Process()
    let output: URL

    init(_ arguments: [String]) throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("muster-bg-\(UUID().uuidString.prefix(8)).log")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = URL(fileURLWithPath: Muster.binary)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        try? FileManager.default.removeItem(at: output)
    }

    /// kill -9: no chance to clean up.
    func crash() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// SIGTERM, then waits; returns the exit status.
    func stop() -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }
}

/// Waits (bounded) until `condition` holds; false on timeout. Not a timing assertion: the bound is generous.
func eventually(timeout: Double = 60, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return try condition()
}

/// Each projection's row of `muster projections status --format csv`: events processed, visible and blocked lag.
func projectionLag(_ connection: [String]) throws -> [(name: String, events: Int, visible: Int, blocked: Int, blockedBy: String)] {
    let status = try Muster.run(["projections", "status", "--format", "csv"] + connection)
    return status.stdout.split(separator: "\n").dropFirst().compactMap { line in
        let f = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard f.count >= 10, let events = Int(f[3]), let visible = Int(f[5]), let blocked = Int(f[6]) else { return nil }
        return (f[0], events, visible, blocked, f[9])
    }
}

/// Readiness reports for `units` units, as JSON Lines with explicit command ids: a large programme to import.
func readinessProgramme(units: Int, reports: Int) -> (lines: String, commandIDs: [UUID]) {
    var lines = [#"{"command": "registerNation", "nation": "AUS", "name": "Australia"}"#]
    for u in 1...units {
        lines.append(#"{"command": "registerUnit", "unit": "aus-f\#(u)", "nation": "AUS", "echelon": "battalion", "service": "land", "name": "Fault unit \#(u)"}"#)
    }
    var ids: [UUID] = []
    for r in 0..<reports {
        let id = UUID()
        ids.append(id)
        // One report a day per unit: a second report of a unit for the same day is refused.
        let k = r / units
        let day = String(format: "2029-%02d-%02d", k / 28 + 1, k % 28 + 1)
        lines.append(#"{"command": "reportReadiness", "unit": "aus-f\#(r % units + 1)", "asOf": "\#(day)", "ratings": {"personnel": \#(r % 4 + 1), "supplies": 1, "equipment": 2, "training": 1}, "meta": {"commandId": "\#(id.uuidString.lowercased())"}}"#)
    }
    return (lines.joined(separator: "\n") + "\n", ids)
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct CrashFaultTests {
    /// Sessions on `database` other than the caller's: a killed client's backend lingers until it notices.
    func otherSessions(_ database: TestDatabase) throws -> Int {
        try database.connect().query("""
            SELECT count(*) AS n FROM pg_stat_activity WHERE datname = \(database.name) AND pid <> pg_backend_pid()
            """).first?.decode("n") ?? 0
    }

    @Test func killingWritersAndTheWorkerMidWorkLeavesOnlyWholeCommands() throws {
        // Given a database and a programme of 1 200 commands to import
        let database = try TestDatabase()
        let (programme, ids) = readinessProgramme(units: 12, reports: 1200)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-fault-\(UUID().uuidString.prefix(8)).jsonl")
        try Data(programme.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let db = ["--database", database.conninfo]

        // When, six times, an import (the writer) and a projection worker run side by side and both are
        // killed with SIGKILL at random moments
        var faults = 0, checks = 0
        for round in 1...6 {
            let writer = try BackgroundMuster(["import", file.path, "--at", "2029-12-28"] + db)
            let worker = try BackgroundMuster(["projections", "run", "--poll", "0.1"] + db)
            let writerDelay = Double.random(in: 0.2...1.5), workerDelay = Double.random(in: 0...0.6)
            Thread.sleep(forTimeInterval: writerDelay)
            writer.crash()
            Thread.sleep(forTimeInterval: workerDelay)
            worker.crash()
            faults += 2
            let events = try eventCount(database)
            print("round \(round): writer killed after \(String(format: "%.2f", writerDelay)) s, worker \(String(format: "%.2f", workerDelay)) s later; \(events) event(s) in the log")

            // Then, after every crash, the log holds only whole commands
            #expect(try eventually { try otherSessions(database) == 0 }, "the killed clients' sessions end")
            let check = try checkLog(database.conninfo)
            checks += 1
            #expect(check.status == 0, "round \(round): \(check.stdout)\(check.stderr)")
        }

        // And a restarted import applies the rest exactly once
        let rest = try Muster.run(["import", file.path, "--at", "2029-12-28"], on: database)
        #expect(rest.status == 0, "\(rest.stderr)")
        #expect(rest.stdout.contains("already applied"), "\(rest.stdout)")
        #expect(try eventCount(database) == 1 + 12 + 1200)
        let final = try checkLog(database.conninfo, outcomes: ids.map { ($0, "accepted") })
        #expect(final.status == 0, "\(final.stdout)\(final.stderr)")
        let perCommand = try database.connect().query("""
            SELECT count(*) FILTER (WHERE n <> 1) AS wrong, count(*) AS commands
              FROM (SELECT command_id, count(*) AS n FROM event_store.events GROUP BY command_id) c
            """).first
        #expect(try perCommand?.decode("wrong", as: Int.self) == 0)
        #expect(try perCommand?.decode("commands", as: Int.self) == 1 + 12 + 1200)

        // And the hash chains are intact and the projections, caught up by the import, equal a rebuild
        let verify = try Muster.run(["audit", "verify"], on: database)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stdout.contains("verified: no findings"))
        #expect(try projectionLag(db).allSatisfy { $0.events == 1 + 12 + 1200 && $0.visible == 0 })
        print("crash faults: \(faults) kill -9 injected (\(faults / 2) writers, \(faults / 2) workers), \(checks + 1) log checks; \(final.stdout.split(separator: "\n").first ?? "")")
    }

    @Test func aLongTransactionHoldsTheWorkerBackAndNothingIsSkipped() throws {
        // Given a nation and a live projection worker
        let database = try TestDatabase()
        let db = ["--database", database.conninfo]
        #expect(try Muster.run(["nation", "register", "--nation", "FJI", "--name", "Fiji"], on: database).status == 0)
        let worker = try BackgroundMuster(["projections", "run", "--poll", "0.2"] + db)
        #expect(try eventually { try projectionLag(db).allSatisfy { $0.events == 1 && $0.visible == 0 } })

        // When a writer appends in a transaction it keeps open, and a later command commits first
        let open = try database.connect()
        try open.execute("BEGIN")
        try open.query("""
            SELECT event_store.append(gen_random_uuid(), NULL, jsonb_build_object('streams', jsonb_build_array(jsonb_build_object(
                       'stream', 'nation-ton', 'expected', 'no_stream', 'events', jsonb_build_array(jsonb_build_object(
                           'event_id', gen_random_uuid(), 'type', e.event_type, 'schema_version', e.schema_version,
                           'payload', e.payload || '{"nation": "TON", "name": "Tonga"}'::jsonb,
                           'metadata', e.metadata - 'command_id' - 'correlation_id'))))))
              FROM event_store.events e WHERE e.stream_name = 'nation-fji'
            """)
        let later = try Muster.run(["nation", "register", "--nation", "NZL", "--name", "New Zealand"], on: database)
        #expect(later.status == 0, "\(later.stderr)")

        // Then the status names the open transaction's backend and counts the committed event it holds back
        let status = try Muster.run(["projections", "status"], on: database)
        #expect(status.stdout.contains("held back by backend pid \(open.backendPID)"), "\(status.stdout)")
        let held = try projectionLag(db)
        #expect(held.count == 5)
        #expect(held.allSatisfy { $0.events == 1 && $0.visible == 0 && $0.blocked == 1 && $0.blockedBy == "pid \(open.backendPID)" }, "\(held)")

        // And once it commits, the worker delivers both events: none was skipped
        try open.execute("COMMIT")
        #expect(try eventually { try projectionLag(db).allSatisfy { $0.events == 3 && $0.visible == 0 && $0.blocked == 0 } })
        #expect(worker.stop() == 0, "\(worker.text)")
        let verify = try Muster.run(["audit", "verify"], on: database)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(try checkLog(database.conninfo).status == 0)
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct RestartFaultTests {
    @Test func aRestartedServerFailsCommandsClearlyRetriesApplyOnceAndTheWorkerReconnects() throws {
        // Given a private cluster (never the shared one other suites use), a nation, a unit and a live worker
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("muster-restart-\(UUID().uuidString.prefix(8))")
        let cluster = LocalCluster(directory: directory)
        try cluster.start()
        defer {
            try? cluster.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        let secret = "restart-secret-\(UUID().uuidString.prefix(6))"
        let conninfo = cluster.conninfo + " password=\(secret)"
        let db = ["--database", conninfo]
        #expect(try Muster.run(["db", "migrate"] + db).status == 0)
        #expect(try Muster.run(["nation", "register", "--nation", "AUS", "--name", "Australia"] + db).status == 0)
        #expect(try Muster.run(["unit", "register", "--unit", "aus-r1", "--nation", "AUS", "--service", "land", "--echelon", "battalion", "--name", "R1"] + db).status == 0)
        let worker = try BackgroundMuster(["projections", "run", "--poll", "0.2"] + db)

        // When a writer keeps issuing commands, retrying each with its own id until it is applied,
        // while the server restarts under it
        final class Progress: @unchecked Sendable {  // @unchecked: every access holds `lock`
            let lock = NSLock()
            var done = 0, failures: [String] = [], ids: [UUID] = []
        }
        let progress = Progress()
        let writerDone = DispatchSemaphore(value: 0)
        let writer = Thread {
            for i in 0..<40 {
                let id = UUID()
                let day = String(format: "2029-%02d-%02d", i / 28 + 11, i % 28 + 1)  // one report a day
                for _ in 0..<300 {
                    let r = try? Muster.run(["unit", "readiness", "report", "--unit", "aus-r1", "--as-of", day, "--personnel", "1", "--supplies", "2",
                                             "--equipment", "1", "--training", "\(i % 4 + 1)", "--command-id", id.uuidString, "--at", "2029-12-29"] + db)
                    if r?.status == 0 { break }
                    progress.lock.lock(); progress.failures.append(r?.stderr ?? "could not run muster"); progress.lock.unlock()
                    // Only an unavailable database is worth a retry; anything else is a finding.
                    if r?.stderr.contains("database unavailable") != true { break }
                    Thread.sleep(forTimeInterval: 0.1)
                }
                progress.lock.lock(); progress.done += 1; progress.ids.append(id); progress.lock.unlock()
            }
            writerDone.signal()
        }
        writer.start()
        #expect(eventually { progress.lock.lock(); defer { progress.lock.unlock() }; return progress.done >= 5 })
        try cluster.stop()

        // Then a command while the server is down fails clearly, naming neither a password nor a half-done result
        let id = UUID().uuidString.lowercased()
        let register = ["nation", "register", "--nation", "NZL", "--name", "New Zealand", "--command-id", id] + db
        let down = try Muster.run(register)
        #expect(down.status == 1)
        #expect(down.stderr.contains("database unavailable"), "\(down.stderr)")
        #expect(!down.stderr.contains(secret) && !down.stdout.contains(secret))
        #expect(down.stderr.split(separator: "\n").count == 1, "\(down.stderr)")
        Thread.sleep(forTimeInterval: 1)  // let the worker find the server gone and back off

        // And after the restart a retry with the same id applies it, and another retry applies nothing
        try cluster.start()
        let retried = try Muster.run(register)
        #expect(retried.status == 0, "\(retried.stderr)")
        #expect(retried.stdout.hasPrefix("accepted:"), "\(retried.stdout)")
        let again = try Muster.run(register)
        #expect(again.status == 0)
        #expect(again.stdout.hasPrefix("already applied:"), "\(again.stdout)")

        // And the writer's commands are each in the log once, its failures all said "database unavailable"
        #expect(writerDone.wait(timeout: .now() + 120) == .success)
        progress.lock.lock()
        let failures = progress.failures, ids = progress.ids
        progress.lock.unlock()
        #expect(ids.count == 40)
        #expect(failures.allSatisfy { $0.contains("database unavailable") && !$0.contains(secret) }, "\(failures.filter { !$0.contains("database unavailable") }.prefix(3))")
        let check = try checkLog(conninfo, outcomes: ids.map { ($0, "accepted") } + [(UUID(uuidString: id)!, "accepted")])
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        let store = try PostgresConnection(conninfo: conninfo)
        let idList = "{" + ids.map { $0.uuidString.lowercased() }.joined(separator: ",") + "}"
        let perCommand = try store.query("""
            SELECT count(*) AS n, count(DISTINCT command_id) AS commands FROM event_store.events WHERE command_id = ANY(\(idList)::uuid[])
            """).first
        #expect(try perCommand?.decode("n", as: Int.self) == 40)
        #expect(try perCommand?.decode("commands", as: Int.self) == 40)
        let total: Int = try store.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? -1

        // And the worker survived: it reconnected, caught up from its checkpoint, and stops cleanly
        #expect(try eventually { try projectionLag(db).allSatisfy { $0.events == total && $0.visible == 0 } }, "\(worker.text)")
        #expect(worker.stop() == 0, "\(worker.text)")
        #expect(worker.text.contains("database unavailable"), "\(worker.text)")
        #expect(worker.text.contains("reconnected after"), "\(worker.text)")
        #expect(!worker.text.contains(secret))
        let verify = try Muster.run(["audit", "verify"] + db)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        print("restart: \(failures.count) writer attempt(s) failed with 'database unavailable' and were retried; \(check.stdout.split(separator: "\n").first ?? "")")
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct ImportFaultTests {
    @Test func anImportWhoseConnectionDropsStopsOnceAndARerunFinishesIt() throws {
        // Given: an import of 2,000 nations, running.
        let database = try TestDatabase()
        let letters = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        let lines = (0..<2000).map { i in
            let code = String([letters[i / 676 % 26], letters[i / 26 % 26], letters[i % 26]])
            return #"{"command": "registerNation", "nation": "\#(code)", "name": "Nation \#(code)"}"#
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-import-\(UUID().uuidString.prefix(8)).jsonl")
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let db = try database.connect()
        let importing = try BackgroundMuster(["import", file.path, "--database", database.conninfo])

        // When: its connection is terminated part way through.
        #expect(try eventually { try eventCount(database) >= 20 })
        let terminated = try db.query("""
            SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
             WHERE datname = current_database() AND pid <> pg_backend_pid()
            """).first?.decode("n", as: Int.self)
        importing.process.waitUntilExit()

        // Then: it stops at once, with one line for the failed command and how to finish.
        // At least the import's; a probe connection of `eventCount` may still be on its way out.
        #expect((terminated ?? 0) >= 1)
        #expect(importing.process.terminationStatus == 1)
        let output = importing.text
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("line ") }.count == 1, "\(output)")
        #expect(output.contains("import stopped at line"), "\(output)")
        #expect(output.contains("Run the same import again"), "\(output)")
        let before = try eventCount(database)
        #expect(before < 2000)

        // And the same import again applies the rest, each nation exactly once.
        let rerun = try Muster.run(["import", file.path], on: database)
        #expect(rerun.status == 0, "\(rerun.stderr)")
        #expect(rerun.stdout.contains("0 rejected"), "\(rerun.stdout)")
        #expect(try eventCount(database) == 2000)
        let distinct = try db.query("SELECT count(DISTINCT payload ->> 'nation') AS n FROM event_store.events").first?.decode("n", as: Int.self)
        #expect(distinct == 2000)
    }
}
