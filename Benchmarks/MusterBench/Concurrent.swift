import ArgumentParser
import EventSourcing
import Foundation
import Postgres

/// Concurrent appends: N writer threads, each with its own connection and EventStore, appending one
/// event per call (with a command id, as a planner command does) for a fixed time, on distinct streams
/// and on one hot stream (a conflict re-reads the version and retries). Next to pgbench running a
/// single-row INSERT into an identically shaped table with the same client counts.
struct Concurrent: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Concurrent appends: 1, 4, 16 writers on distinct streams and on one hot stream, next to pgbench single-row INSERTs.",
        discussion: """
            After each run every acknowledged append is checked: present exactly once, at the version it was
            acknowledged with, versions contiguous per stream. pgbench comes from PGBIN
            (or PATH) and runs `-n -c N -j N -T seconds` with a custom script inserting one row into
            bench.events, a copy of event_store.events' shape (same columns, defaults, checks and indexes;
            no triggers, no foreign key).
            """)

    @Option(help: "Seconds per run.")
    var seconds = 10.0

    @Option(help: "Writer counts, comma-separated.")
    var writers = "1,4,16"

    @Option(help: "Rounds of pgbench and distinct-stream runs per writer count; they alternate, each going first in turn, and the ratio is the median of the rounds' ratios.")
    var rounds = 3

    @Option(help: "Run only these modes, comma-separated (distinct, hot, pgbench).")
    var only: String?

    func run() throws {
        let counts = writers.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !counts.isEmpty else { throw ValidationError("--writers: expected counts such as 1,4,16") }
        let modes = only.map { Set($0.split(separator: ",").map { String($0) }) } ?? ["distinct", "hot", "pgbench"]
        let database = try BenchDatabase("concurrent")
        defer { database.drop() }
        let admin = try database.connect()
        try AppendBench.createBaselineTable(admin, "events")
        try admin.execute("DROP SEQUENCE IF EXISTS bench.version_seq; CREATE SEQUENCE bench.version_seq")
        admin.close()

        guard rounds >= 1 else { throw ValidationError("--rounds: expected 1 or more") }
        var table = Table("concurrent appends (fsync on, 1 event per transaction)", "writers", "events/s", "conflicts", "retry rate", "vs pgbench", "per round", "checked")
        var notes: [String] = []
        func note(_ n: Int, _ hot: Bool, _ run: RunResult, _ check: String) {
            if !check.isEmpty { notes.append("\(n) writers\(hot ? ", hot stream" : ""): \(check)") }
            if !run.errors.isEmpty { notes.append("\(n) writers\(hot ? ", hot stream" : ""): errors: \(run.errors.prefix(3))") }
        }
        for n in counts {
            // The machine's speed drifts over minutes: baseline and distinct-stream runs alternate, each going
            // first in turn, and each round's ratio is of the two runs beside each other.
            var baselines: [Double] = []
            var distinct: [(eps: Double, acknowledged: Int, conflicts: Int, checked: Bool)] = []
            for round in 0..<rounds {
                for step in (round % 2 == 0 ? ["pgbench", "distinct"] : ["distinct", "pgbench"]) where modes.contains(step) {
                    if step == "pgbench" {
                        baselines.append(try Self.pgbench(database, clients: n, seconds: seconds))
                    } else {
                        let run = try Self.appendRun(database, writers: n, seconds: seconds, hot: false, tag: "w\(n)r\(round)")
                        let check = try Self.verify(database, run)
                        distinct.append((Double(run.acknowledged.count) / run.seconds, run.acknowledged.count, run.conflicts, check.isEmpty))
                        note(n, false, run, check)
                    }
                }
            }
            let baseline = median(baselines)
            if !distinct.isEmpty {
                let eps = median(distinct.map(\.eps))
                let ratios = baselines.count == distinct.count ? zip(distinct, baselines).map { $0.eps / $1 } : []
                let conflicts = distinct.map(\.conflicts).reduce(0, +)
                let acknowledged = distinct.map(\.acknowledged).reduce(0, +)
                let retryRate = conflicts + acknowledged == 0 ? "" : String(format: "%.1f%%", 100 * Double(conflicts) / Double(conflicts + acknowledged))
                table.add("EventStore.append, distinct streams", String(n), fmt(eps, 0), String(conflicts), retryRate,
                          ratios.isEmpty ? "" : String(format: "%.2f×", median(ratios)), ratios.map { fmt($0, 2) }.joined(separator: " "),
                          distinct.allSatisfy(\.checked) ? "ok" : "FAILED")
            }
            if modes.contains("hot") {
                let run = try Self.appendRun(database, writers: n, seconds: seconds, hot: true, tag: "w\(n)")
                let check = try Self.verify(database, run)
                let eps: Double = Double(run.acknowledged.count) / run.seconds
                let attempts: Int = run.acknowledged.count + run.conflicts
                let retryRate: String = attempts == 0 ? "" : String(format: "%.1f%%", 100 * Double(run.conflicts) / Double(attempts))
                table.add("EventStore.append, one hot stream (conflicts retried)", String(n), fmt(eps, 0), String(run.conflicts), retryRate,
                          baseline.isNaN ? "" : ratio(eps, baseline), "", check.isEmpty ? "ok" : "FAILED")
                note(n, true, run, check)
            }
            if !baseline.isNaN {
                table.add("baseline: pgbench single-row INSERT (-c \(n) -j \(n))", String(n), fmt(baseline, 0), "", "", "1.00×",
                          baselines.map { fmt($0, 0) }.joined(separator: " "), "")
            }
        }
        table.print()
        print("checked: every acknowledged append present exactly once at its acknowledged stream version, versions contiguous (1…n) per stream.")
        print("retry rate: conflicts ÷ (conflicts + acknowledged appends). Goal: distinct streams ≥ 0.70× pgbench.")
        print("distinct streams: \(rounds) round(s) alternating with pgbench; events/s is the median run, vs pgbench the median of the rounds' ratios (each under per round), conflicts the sum. The hot stream: one run, against the median pgbench run.")
        notes.forEach { print("FAILED: \($0)") }
        if !notes.isEmpty { throw ExitCode.failure }
    }

    struct Acknowledged: Sendable {
        let stream: String
        let version: Int64
        let eventID: UUID
    }

    struct RunResult: Sendable {
        var acknowledged: [Acknowledged] = []
        var conflicts = 0
        var errors: [String] = []
        var seconds = 0.0
        var streams: [String] = []
    }

    /// Runs `writers` threads for `seconds`, each appending one event per call.
    static func appendRun(_ database: BenchDatabase, writers: Int, seconds: Double, hot: Bool, tag: String) throws -> RunResult {
        let shared = AppendShared(RunResult())
        let conninfo = database.conninfo
        let ready = DispatchSemaphore(value: 0)
        let go = AppendShared(false)
        let start = AppendShared(0.0)
        let prefix = hot ? "hot\(tag)" : "dist\(tag)"
        let workers = DispatchGroup()
        workers.enter()
        let all = Thread {
            appendThreads(writers) { w in
                let stream = hot ? "\(prefix)-0" : "\(prefix)-\(w)"
                let outcome = writer(conninfo: conninfo, stream: stream, writer: w, seconds: seconds, ready: ready, go: go, start: start)
                shared.mutate {
                    $0.acknowledged += outcome.acknowledged
                    $0.conflicts += outcome.conflicts
                    $0.errors += outcome.errors
                    if !$0.streams.contains(stream) { $0.streams.append(stream) }
                }
            }
            workers.leave()
        }
        all.start()
        for _ in 0..<writers { ready.wait() }
        let t0 = now()
        start.mutate { $0 = t0 }
        go.mutate { $0 = true }
        workers.wait()
        var result = shared.get
        result.seconds = now() - t0
        return result
    }

    /// One writer: its own connection and EventStore, one event per append until the deadline.
    static func writer(conninfo: String, stream: String, writer w: Int, seconds: Double, ready: DispatchSemaphore,
                       go: AppendShared<Bool>, start: AppendShared<Double>) -> RunResult {
        var out = RunResult()
        let db: PostgresConnection
        let store: EventStore
        var version: Int64 = 0
        do {
            db = try PostgresConnection(conninfo: conninfo, applicationName: "muster-bench-writer")
            store = EventStore(db)
            version = try store.version(of: stream)
        } catch {
            out.errors.append("\(error)")
            ready.signal()
            return out
        }
        ready.signal()
        while !go.get { usleep(100) }
        let deadline = start.get + seconds
        var i = 0
        while now() < deadline {
            let commandID = UUID.random()
            let e = AppendBench.event(w * 1_000_000 + i, metadata: AppendBench.metadata(commandID))
            let command = Data(#"{"command": "bench", "writer": \#(w), "i": \#(i)}"#.utf8)
            switch attempt(store, StreamAppend(stream: stream, expected: .exact(version), events: [e]), commandID: commandID, command: command) {
            case .appended(let result):
                version = result.streams[0].toVersion
                out.acknowledged.append(Acknowledged(stream: stream, version: version, eventID: e.eventID))
                i += 1
            case .conflict:
                // Someone else appended first: re-read the version and retry.
                out.conflicts += 1
                guard let current = try? store.version(of: stream) else {
                    out.errors.append("cannot read the version of \(stream)")
                    db.close()
                    return out
                }
                version = current
            case .failed(let message):
                out.errors.append(message)
                db.close()
                return out
            }
        }
        db.close()
        return out
    }

    enum Attempt {
        case appended(AppendResult)
        case conflict
        case failed(String)
    }

    static func attempt(_ store: EventStore, _ append: StreamAppend, commandID: UUID, command: Data) -> Attempt {
        do {
            return .appended(try store.append([append], commandID: commandID, command: command))
        } catch {
            return error.isConcurrencyConflict ? .conflict : .failed(error.description)
        }
    }

    /// Checks that every acknowledged append is stored exactly once at its version, and nothing else is.
    static func verify(_ database: BenchDatabase, _ run: RunResult) throws -> String {
        let db = try database.connect()
        defer { db.close() }
        var problems: [String] = []
        let ids = "{" + run.acknowledged.map { $0.eventID.uuidString.lowercased() }.joined(separator: ",") + "}"
        let streams = "{" + run.streams.joined(separator: ",") + "}"
        let stored = try db.query("""
            SELECT count(*) AS n, count(DISTINCT event_id) AS distinct_ids,
                   count(*) FILTER (WHERE event_id = ANY (\(ids)::uuid[])) AS acked
              FROM event_store.events WHERE stream_name = ANY (\(streams)::text[])
            """).first
        let n: Int = try stored?.decode("n") ?? -1
        let distinct: Int = try stored?.decode("distinct_ids") ?? -1
        let acked: Int = try stored?.decode("acked") ?? -1
        if n != run.acknowledged.count || distinct != n || acked != n {
            problems.append("stored \(n) events (\(distinct) distinct ids, \(acked) acknowledged) for \(run.acknowledged.count) acknowledged appends")
        }
        // Each acknowledged event at its acknowledged version.
        let versions: String = "{" + run.acknowledged.map { String($0.version) }.joined(separator: ",") + "}"
        let pairs = try db.query("""
            SELECT count(*) AS n FROM event_store.events e
              JOIN unnest(\(ids)::uuid[], \(versions)::bigint[]) AS a(id, v)
                ON e.event_id = a.id AND e.stream_version = a.v
            """).first?.decode("n", as: Int.self) ?? -1
        if pairs != run.acknowledged.count { problems.append("\(run.acknowledged.count - pairs) acknowledged event(s) not at their acknowledged version") }
        let gaps = try db.query("""
            SELECT count(*) AS n FROM (
              SELECT stream_name, count(*) AS events, max(stream_version) AS top, count(DISTINCT stream_version) AS versions
                FROM event_store.events WHERE stream_name = ANY (\(streams)::text[]) GROUP BY stream_name) x
             WHERE events <> top OR versions <> top
            """).first?.decode("n", as: Int.self) ?? -1
        if gaps != 0 { problems.append("\(gaps) stream(s) with gaps or duplicate versions") }
        return problems.joined(separator: "; ")
    }

    /// pgbench with a single-row INSERT script; returns its tps (excluding connection time).
    static func pgbench(_ database: BenchDatabase, clients: Int, seconds: Double) throws -> Double {
        let payload = #"{"unit": "bench-1", "asOf": "2025-06-11", "cLevel": 2, "ratings": {"personnel": 2, "supplies": 1, "equipment": 1, "training": 2}}"#
        let metadata = AppendBench.metadataJSON(AppendBench.metadata(UUID()))
        let script = """
            INSERT INTO bench.events (\(AppendBench.columns)) VALUES ('bench-c' || :client_id, 'bench', nextval('bench.version_seq'), gen_random_uuid(), 'ReadinessReported', 2, '\(payload)', '\(metadata)', gen_random_uuid(), '\\x\(String(repeating: "ab", count: 32))', '\\x\(String(repeating: "cd", count: 32))');

            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("muster-bench-insert-\(ProcessInfo.processInfo.processIdentifier).sql")
        try Data(script.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let pipe = Pipe()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: LatencyTools.tool("pgbench"))
        process.arguments = ["-n", "-c", String(clients), "-j", String(clients), "-T", String(Int(seconds.rounded(.up))),
                             "-f", file.path, database.name]
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ValidationError("pgbench failed (exit status \(process.terminationStatus)): \(output)") }
        // "tps = 1234.567890 (without initial connection time)"
        for line in output.split(separator: "\n") where line.hasPrefix("tps = ") {
            if let value = line.dropFirst(6).split(separator: " ").first.flatMap({ Double($0) }) { return value }
        }
        throw ValidationError("cannot find tps in pgbench's output: \(output)")
    }
}
