import ArgumentParser
import EventSourcing
import Foundation
import Planning
import Postgres
import Projections

/// Measures 4, 5 and 6 of the benchmark issue: projection catch-up and rebuild of every read model from a
/// synthetic programme (against COPY of the same log), as-of replay of one exercise, and how both scale.
struct Rebuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Projection catch-up and rebuild from a synthetic log, as-of replay of one exercise, and their scaling.",
        discussion: """
            For each size: generates a SYNTHETIC programme (Planning.SyntheticProgramme) into a fresh database through
            EventStore.append; times `COPY (SELECT … FROM event_store.events ORDER BY transaction_id, position) TO STDOUT`
            as the baseline read rate; runs `muster projections run --once` (first catch-up of every read model) and
            `muster projections rebuild` as child processes, recording wall time and peak RSS (wait4); then replays one
            exercise's stream as of the middle of the log (EventStore.readStream + ExerciseState.fold), 30 times.
            """)

    @Option(help: "Log sizes, comma-separated.") var events: String = "10000,100000,1000000"

    func run() throws {
        let sizes = events.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ $0 >= 1_000 }) else { throw ValidationError("--events: sizes of at least 1000, comma-separated") }
        let muster = try musterBinary()
        var results: [Result] = []
        for size in sizes {
            results.append(try measure(size, muster: muster))
        }
        var t4 = Table("events", "generate ev/s", "COPY out ev/s", "catch-up s", "catch-up ev/s", "× COPY", "rebuild s", "rebuild ev/s", "× COPY", "peak RSS MiB")
        for r in results {
            t4.add(String(r.events), rate(r.events, r.generate), rate(r.events, r.copy), fmt(r.catchUp, 2), rate(r.events, r.catchUp),
                   ratio(r.copy, r.catchUp), fmt(r.rebuild, 2), rate(r.events, r.rebuild), ratio(r.copy, r.rebuild),
                   fmt(max(r.catchUpRSS, r.rebuildRSS), 1))
        }
        print("Projection catch-up and rebuild of all \(ReadModels.all.count) read models (goal: ≥ 100,000 ev/s, ≥ 0.25× COPY, peak RSS ≤ 150 MiB)")
        t4.print()
        var t5 = Table("events", "exercise events", "as-of events", "replay p50 ms", "replay p95 ms", "index read p50 ms", "plan")
        for r in results {
            t5.add(String(r.events), String(r.exerciseEvents), String(r.asOfEvents), fmt(r.replayP50 * 1000, 2), fmt(r.replayP95 * 1000, 2),
                   fmt(r.indexP50 * 1000, 2), r.plan)
        }
        print("As-of replay of one exercise, state as of the middle of the log (goal: ≤ 100 ms, index-driven)")
        t5.print()
        if results.count > 1, let base = results.first {
            var t6 = Table("events", "× events", "× COPY time", "× catch-up time", "× rebuild time", "× replay time")
            for r in results {
                let n = Double(r.events) / Double(base.events)
                t6.add(String(r.events), fmt(n, 1), fmt(r.copy / base.copy, 1), fmt(r.catchUp / base.catchUp, 1),
                       fmt(r.rebuild / base.rebuild, 1), fmt(r.replayP50 / base.replayP50, 2))
            }
            print("Scaling against the smallest log (linear: time ratio ≈ events ratio; replay should stay flat)")
            t6.print()
        }
    }

    struct Result {
        var events = 0
        var generate = 0.0, copy = 0.0, catchUp = 0.0, rebuild = 0.0
        var catchUpRSS = 0.0, rebuildRSS = 0.0
        var exerciseEvents = 0, asOfEvents = 0
        var replayP50 = 0.0, replayP95 = 0.0, indexP50 = 0.0
        var plan = ""
    }

    func measure(_ size: Int, muster: String) throws -> Result {
        let database = try BenchDatabase("rebuild\(size)")
        // MUSTER_BENCH_KEEP=1 keeps the database for profiling.
        defer { if ProcessInfo.processInfo.environment["MUSTER_BENCH_KEEP"] == nil { database.drop() } }
        let db = try database.connect()
        defer { db.close() }
        var r = Result()
        FileHandle.standardError.write(Data("rebuild: generating about \(size) events…\n".utf8))
        var middle: Date?
        (r.events, r.generate) = try timed { try generate(size, into: EventStore(db)) { middle = $0 } }
        try db.execute("VACUUM ANALYZE event_store.events")

        // Baseline: read the whole log in global order, as a projection must, with COPY.
        (_, r.copy) = try timed {
            try db.copyOut("""
                COPY (SELECT position, transaction_id, stream_name, event_type, schema_version, payload, metadata, recorded_at
                        FROM event_store.events ORDER BY transaction_id, position) TO STDOUT
                """) { _ in }
        }

        let log = "/tmp/muster-bench-\(getpid())-projections.log"
        let catchUp = try spawnMeasured(muster, ["projections", "run", "--once", "--database", database.conninfo], log: log)
        guard catchUp.status == 0 else { throw BenchError("projections run --once failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
        (r.catchUp, r.catchUpRSS) = (catchUp.seconds, catchUp.peakRSSMiB)
        let rebuild = try spawnMeasured(muster, ["projections", "rebuild", "--database", database.conninfo], log: log)
        guard rebuild.status == 0 else { throw BenchError("projections rebuild failed: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
        (r.rebuild, r.rebuildRSS) = (rebuild.seconds, rebuild.peakRSSMiB)
        let processed: Int = try db.query("SELECT min(events_processed) AS n FROM projection_meta.checkpoints").first?.decode("n") ?? 0
        guard processed == r.events else { throw BenchError("the read models processed \(processed) of \(r.events) events") }

        // As-of replay of the exercise with the most events recorded by the middle of the log.
        let cut = AsOf.time(middle ?? Date())
        let stream: String = try db.query("""
            SELECT stream_name FROM event_store.events WHERE category = 'exercise' AND recorded_at <= \(middle ?? Date())
             GROUP BY stream_name ORDER BY count(*) DESC, stream_name LIMIT 1
            """).first?.decode("stream_name") ?? ""
        let store = EventStore(db)
        var replays: [Double] = [], reads: [Double] = []
        for _ in 0..<30 {
            let (state, seconds) = try timed { () throws -> ExerciseState in
                var events: [PlanningEvent] = []
                try store.forEachInStream(stream, asOf: cut) { e in
                    events.append(try PlanningEvent.decode(EventRecord(type: e.type, schemaVersion: e.schemaVersion, payload: e.payload)))
                }
                r.asOfEvents = events.count
                return ExerciseState.fold(events)
            }
            guard state.exists || r.asOfEvents == 0 else { throw BenchError("the replayed exercise does not exist") }
            replays.append(seconds)
            let (_, read) = try timed { try db.query("SELECT count(*) AS n FROM event_store.events WHERE stream_name = \(stream) AND recorded_at <= \(middle ?? Date())") }
            reads.append(read)
        }
        r.exerciseEvents = Int(try EventStore(db).version(of: stream))
        r.replayP50 = percentile(replays, 0.5)
        r.replayP95 = percentile(replays, 0.95)
        r.indexP50 = percentile(reads, 0.5)
        let plan = try db.query("EXPLAIN SELECT * FROM event_store.events WHERE stream_name = \(stream) AND stream_version >= 1 AND recorded_at <= \(middle ?? Date()) ORDER BY stream_version LIMIT 1000")
        let lines = try plan.map { try $0.decode("QUERY PLAN", as: String.self) }
        r.plan = lines.contains { $0.contains("Index") } ? "index scan" : "NOT index-driven"
        return r
    }

    /// Appends the synthetic programme in appends of up to 1,000 events and 100 streams (each stream once per append);
    /// calls `middle` with the time when half the events were written.
    func generate(_ size: Int, into store: EventStore, middle: (Date) -> Void) throws -> Int {
        var pending: [(stream: String, events: [NewEvent])] = []
        var index: [String: Int] = [:]
        var count = 0, written = 0
        var middleSeen = false
        func flush() throws {
            guard !pending.isEmpty else { return }
            try store.append(pending.map { StreamAppend(stream: $0.stream, expected: .any, events: $0.events) })
            written += pending.reduce(0) { $0 + $1.events.count }
            pending.removeAll(keepingCapacity: true)
            index.removeAll(keepingCapacity: true)
            if !middleSeen && written * 2 >= size {
                middleSeen = true
                Thread.sleep(forTimeInterval: 0.01)
                middle(Date())
                Thread.sleep(forTimeInterval: 0.01)
            }
        }
        try SyntheticProgramme.generate(targetEvents: size) { command in
            let metadata = EventMetadata(actor: command.actor, reason: command.reason, command: command.name)
            for (stream, records) in command.writes {
                let events = records.map { NewEvent(type: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload, metadata: metadata) }
                if let i = index[stream] { pending[i].events += events } else { index[stream] = pending.count; pending.append((stream, events)) }
                count += events.count
            }
            // Weekly reports are one event per unit: with few streams per append, each commit (one fsync) would
            // carry a handful of events.
            if count - written >= 1_000 || pending.count >= 100 { try flush() }
        }
        try flush()
        return count
    }
}
