import ArgumentParser
import Foundation
import Postgres

/// Single command latency: one `muster` process from start to exit, a planner command committed and the
/// read models caught up, next to `psql -c "INSERT …"` of one equivalent row (process start, connect,
/// one insert, commit) into an identically shaped table.
struct Latency: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Single command latency: `muster unit readiness report` from process start to exit, on its own and handed to `muster server`, next to `psql -c INSERT`.",
        discussion: """
            Prepares a database with the demo scenario (`muster demo`), then runs, in a new random order each
            round, `muster unit readiness report` on its own (MUSTER_SERVER=off), the same handed to a command
            server started for the measure (`muster server start`), each run a new unit/as-of day so every one
            is accepted and appends one event, and `psql -X -c "INSERT …"` of one equivalent row into a copy
            of event_store.events' shape (same columns and indexes, no triggers or foreign key).
            Needs MUSTER_BIN (the muster binary) and psql on PATH or in PGBIN.
            """)

    @Option(help: "Runs of each program (at least 200 for the recorded figures).")
    var runs = 200

    @Option(help: "Untimed runs of each program first.")
    var warmup = 5

    @Option(help: "A libpq connection string of an already prepared database (default: a fresh one with the demo scenario).")
    var database: String?

    func run() throws {
        let muster = try LatencyTools.musterBinary()
        let psql = LatencyTools.tool("psql")
        var bench: BenchDatabase?
        let conninfo: String
        if let database {
            conninfo = database
        } else {
            let fresh = try BenchDatabase("latency")
            bench = fresh
            conninfo = fresh.conninfo
            let (status, seconds) = try timed { try LatencyTools.spawn(muster, ["demo", "--database", conninfo]) }
            guard status == 0 else { throw ValidationError("muster demo failed (exit status \(status))") }
            print("prepared \(fresh.name) with `muster demo` in \(fmt(seconds, 2)) s")
        }
        defer { bench?.drop() }

        let db = try PostgresConnection(conninfo: conninfo, applicationName: "muster-bench")
        try db.execute("""
            CREATE SCHEMA IF NOT EXISTS bench;
            DROP TABLE IF EXISTS bench.latency_events;
            CREATE TABLE bench.latency_events (LIKE event_store.events INCLUDING ALL);
            """)
        let units = try db.query("SELECT stream_name FROM event_store.streams WHERE category = 'unit' ORDER BY stream_name")
            .map { String(try $0.decode("stream_name", as: String.self).dropFirst("unit-".count)) }
        guard !units.isEmpty else { throw ValidationError("the database has no units: prepare it with `muster demo`") }
        // A day no unit has reported on yet: the earliest report's day minus runs, going backwards.
        let earliest = try db.query("""
            SELECT coalesce(min((payload ->> 'asOf')::date), current_date) AS d FROM event_store.events WHERE event_type = 'ReadinessReported'
            """).first?.decode("d", as: String.self) ?? "2020-01-01"
        db.close()
        let firstDay = LatencyTools.day(earliest) - 1

        // The command server (`muster server start`) runs in a data directory of its own; the runs without it
        // set MUSTER_SERVER=off, so each row measures one path only.
        let home = "/tmp/muster-bench-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: home) }
        let ownEnvironment = ProcessInfo.processInfo.environment.filter { $0.key != "MUSTER_SERVER" && $0.key != "XDG_DATA_HOME" }
        let served = ownEnvironment.merging(["XDG_DATA_HOME": home]) { $1 }.map { "\($0.key)=\($0.value)" }
        let alone = ownEnvironment.merging(["XDG_DATA_HOME": home, "MUSTER_SERVER": "off"]) { $1 }.map { "\($0.key)=\($0.value)" }
        guard try LatencyTools.spawn(muster, ["server", "start"], environment: served) == 0 else {
            throw ValidationError("muster server start failed")
        }
        defer { _ = try? LatencyTools.spawn(muster, ["server", "stop"], environment: served) }

        enum Program: CaseIterable { case alone, served, psql }
        var times: [Program: [Double]] = [:]
        let total = warmup + runs
        for i in 0..<total {
            // Alternate which program goes first, so that none always follows another's commit.
            let order = Array(Program.allCases.shuffled())
            for program in order {
                // A new unit and as-of day for every muster run, so each appends one event.
                let run = 2 * i + (program == .served ? 1 : 0)
                let unit = units[run % units.count]
                let asOf = LatencyTools.format(day: firstDay - run / units.count)
                let musterArgs = ["unit", "readiness", "report", "--unit", unit, "--as-of", asOf,
                                  "--personnel", "1", "--supplies", "2", "--equipment", "1", "--training", "2",
                                  "--actor", "bench.latency", "--database", conninfo]
                let payload = #"{"unit": "\#(unit)", "asOf": "\#(asOf)", "cLevel": 2, "ratings": {"supplies": 2, "training": 2, "equipment": 1, "personnel": 1}}"#
                let metadata = #"{"actor": "bench.latency", "command": "reportReadiness", "command_id": "\#(UUID().uuidString)", "correlation_id": "\#(UUID().uuidString)"}"#
                let sql = """
                    INSERT INTO bench.latency_events (stream_name, category, stream_version, event_id, event_type, schema_version, payload, metadata, command_id, previous_hash, hash) \
                    VALUES ('unit-\(unit)', 'unit', \(i + 1), '\(UUID().uuidString.lowercased())', 'ReadinessReported', 2, '\(payload)', '\(metadata)', \
                    '\(UUID().uuidString.lowercased())', '\\x\(LatencyTools.hex32())', '\\x\(LatencyTools.hex32())')
                    """
                let psqlArgs = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql]
                let (executable, arguments, environment) = switch program {
                case .alone: (muster, musterArgs, alone)
                case .served: (muster, musterArgs, served)
                case .psql: (psql, psqlArgs, alone)
                }
                let (status, seconds) = try timed { try LatencyTools.spawn(executable, arguments, environment: environment) }
                guard status == 0 else {
                    throw ValidationError("\(executable) failed (exit status \(status)) with \(arguments.joined(separator: " "))")
                }
                if i >= warmup { times[program, default: []].append(seconds * 1000) }
            }
        }
        let servedCount = try LatencyTools.serverCommands(muster, environment: served)

        func mean(_ v: [Double]) -> Double { v.reduce(0, +) / Double(v.count) }
        let musterTimes = times[.alone] ?? [], serverTimes = times[.served] ?? [], psqlTimes = times[.psql] ?? []
        var table = Table("single command, process start → committed → exit", "p50 ms", "p95 ms", "mean ms", "runs")
        table.add("muster unit readiness report (1 event, read models caught up)",
                  fmt(percentile(musterTimes, 0.5), 2), fmt(percentile(musterTimes, 0.95), 2), fmt(mean(musterTimes), 2), String(musterTimes.count))
        table.add("the same, handed to `muster server` (\(servedCount) of \(total) run by it)",
                  fmt(percentile(serverTimes, 0.5), 2), fmt(percentile(serverTimes, 0.95), 2), fmt(mean(serverTimes), 2), String(serverTimes.count))
        table.add("baseline: psql -X -c \"INSERT …\" (1 row, same shape)",
                  fmt(percentile(psqlTimes, 0.5), 2), fmt(percentile(psqlTimes, 0.95), 2), fmt(mean(psqlTimes), 2), String(psqlTimes.count))
        table.add("ratio muster / baseline (goal: p50 ≤ 1.50×)",
                  ratio(percentile(musterTimes, 0.5), percentile(psqlTimes, 0.5)),
                  ratio(percentile(musterTimes, 0.95), percentile(psqlTimes, 0.95)),
                  ratio(mean(musterTimes), mean(psqlTimes)), "")
        table.add("ratio with `muster server` / baseline (goal: p50 ≤ 1.50×)",
                  ratio(percentile(serverTimes, 0.5), percentile(psqlTimes, 0.5)),
                  ratio(percentile(serverTimes, 0.95), percentile(psqlTimes, 0.95)),
                  ratio(mean(serverTimes), mean(psqlTimes)), "")
        table.print()
    }
}

/// Process helpers for the latency measure.
enum LatencyTools {
    static func musterBinary() throws -> String {
        guard let path = ProcessInfo.processInfo.environment["MUSTER_BIN"], FileManager.default.isExecutableFile(atPath: path) else {
            throw ValidationError("set MUSTER_BIN to the muster binary (tools/bench does)")
        }
        return path
    }

    /// A PostgreSQL client program: from $PGBIN when set, else from PATH.
    static func tool(_ name: String) -> String {
        if let bin = ProcessInfo.processInfo.environment["PGBIN"], FileManager.default.isExecutableFile(atPath: "\(bin)/\(name)") {
            return "\(bin)/\(name)"
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        return "/usr/bin/\(name)"
    }

    /// Runs a program with standard output discarded (standard error passes through) and returns its exit status.
    static func spawn(_ executable: String, _ arguments: [String], environment: [String]? = nil) throws -> Int32 {
        var pid: pid_t = 0
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup($0) } + [nil] }
        defer { envp?.forEach { free($0) } }
        let status = envp.map { posix_spawn(&pid, executable, &actions, nil, argv, $0) } ?? posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard status == 0 else { throw ValidationError("cannot start \(executable): \(String(cString: strerror(status)))") }
        var exit: Int32 = 0
        while waitpid(pid, &exit, 0) == -1 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS
        return exit & 0x7f == 0 ? (exit >> 8) & 0xff : 128 + (exit & 0x7f)
    }

    /// How many commands `muster server status` says the server has run.
    static func serverCommands(_ muster: String, environment: [String]) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: muster)
        process.arguments = ["server", "status"]
        process.environment = Dictionary(environment.map { entry in
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (String(parts[0]), parts.count > 1 ? String(parts[1]) : "")
        }) { $1 }
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard let range = text.range(of: #"(\d+) command\(s\) run"#, options: .regularExpression) else {
            throw ValidationError("the command server is not running at the end of the measure: \(text)")
        }
        return Int(text[range].prefix { $0.isNumber }) ?? 0
    }

    /// Days since 1970-01-01 of `YYYY-MM-DD`.
    static func day(_ text: String) -> Int {
        let date = PostgresTimestamp.parse(String(text.prefix(10)) + " 00:00:00") ?? Date(timeIntervalSince1970: 18_262 * 86_400)
        return Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func format(day: Int) -> String {
        String(PostgresTimestamp.format(Date(timeIntervalSince1970: Double(day) * 86_400)).prefix(10))
    }

    static func hex32() -> String {
        (0..<32).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
