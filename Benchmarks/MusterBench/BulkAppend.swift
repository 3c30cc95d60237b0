import ArgumentParser
import EventSourcing
import Foundation
import Postgres

/// Bulk append: events/s through `EventStore.append` (the import path: one call per batch, hash chain,
/// expectations, command id, notify), next to a raw multi-row INSERT and a COPY of identically shaped
/// rows into an identically indexed table, one transaction per batch in every case.
struct BulkAppend: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bulk-append",
        abstract: "Bulk append: events/s through EventStore.append in batches, next to raw multi-row INSERT and COPY.",
        discussion: """
            Each batch is one transaction in every variant. EventStore.append writes one new stream per
            batch (expected: no stream) with a command id; the "10 events per stream" row spreads each batch
            over streams of 10 events (a multi-stream append). Each shape has its own baselines, which insert
            the same rows (same stream names and versions, payload and metadata JSON, 32-byte hashes) into
            bench.events, a copy of event_store.events' shape (same columns, defaults, checks and indexes;
            no triggers, no foreign key). Each shape runs --rounds times per batch size, each time on a new
            database, the append going after its baselines in one round and before them in the next; ratios
            are the median of the rounds' ratios.
            """)

    @Option(help: "Events per variant.")
    var events = 100_000

    @Option(help: "Batch sizes (events per append), comma-separated.")
    var batch = "100,1000"

    @Option(help: "Run only these variants, comma-separated (append, append10, insert, copy); for profiling.")
    var only: String?

    @Option(help: "Rounds per batch size and shape, each on a new database; the baselines and the append alternate which goes first, and each ratio is the median of the rounds' ratios.")
    var rounds = 3

    func run() throws {
        let sizes = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !sizes.isEmpty else { throw ValidationError("--batch: expected sizes such as 100,1000") }
        guard rounds >= 1 else { throw ValidationError("--rounds: expected at least 1") }
        let variants = only.map { Set($0.split(separator: ",").map { String($0) }) } ?? ["append", "append10", "insert", "copy"]
        var table = Table("bulk append (fsync on, one transaction per batch)", "batch", "events", "seconds", "events/s", "vs INSERT", "vs COPY", "per round")
        var verification: [String] = []
        let shapes = [("append", "a", "1 stream per batch"), ("append10", "m", "10 events per stream")]
        for size in sizes {
            let n = (events / size) * size
            guard n > 0 else { continue }
            // The same events for every variant and round, built before any clock starts.
            let batches: [[NewEvent]] = (0..<(n / size)).map { b in
                let meta = AppendBench.metadata(UUID())
                return (0..<size).map { AppendBench.event(b * size + $0, metadata: meta) }
            }

            // The baselines store ready-made 32-byte hashes (random, made before the clock starts).
            let hashes: [[String]] = batches.map { $0.map { _ in AppendBench.randomHash() } }

            // Seconds per shape and variant, one entry per round.
            var seconds: [String: [String: [Double]]] = [:]
            // Per shape, what the check found after each round's append.
            var checked: [String: [String]] = [:]
            for round in 0..<rounds {
                // Each shape is compared with baselines of the same shape: the same stream names and versions
                // (one stream per batch, or streams of 10 events), so that the index on (stream, version) sees
                // the same order of keys. Each shape in each round has a new database: the append starts from an
                // empty log, as its baselines start from an empty table.
                for (variant, label, shape) in shapes {
                    let database = try BenchDatabase("bulk")
                    defer { database.drop() }
                    let db = try database.connect()
                    defer { db.close() }
                    try AppendBench.createBaselineTable(db, "events")
                    let perStream = variant == "append" ? size : 10
                    let order = round % 2 == 0 ? ["insert", "copy", variant] : [variant, "insert", "copy"]
                    for step in order where variants.contains(step) {
                        let taken: Double
                        switch step {
                        case "insert":
                            taken = try Self.rawInsert(db, batches, hashes, eventsPerStream: perStream)
                            try db.execute("TRUNCATE bench.events")
                        case "copy":
                            taken = try Self.copy(db, batches, hashes, eventsPerStream: perStream)
                            try db.execute("TRUNCATE bench.events")
                        default:
                            taken = try Self.append(EventStore(db), batches, eventsPerStream: perStream, label: label)
                            let report = try ChainVerifier(db).verify()
                            let stored = try EventStore(db).count()
                            let outcome = "\(stored) events in \(report.streams) streams, \(report.findings.isEmpty ? "every hash chain verifies (ChainVerifier)" : "\(report.findings.count) chain finding(s): \(report.findings.prefix(3))")"
                            guard report.findings.isEmpty, stored == Int64(n) else {
                                throw ValidationError("bulk append check failed, batch \(size), \(shape), round \(round + 1): \(outcome)")
                            }
                            checked[shape, default: []].append(outcome)
                        }
                        seconds[shape, default: [:]][step == variant ? "append" : step, default: []].append(taken)
                    }
                }
            }
            for (_, _, shape) in shapes {
                if let outcomes = checked[shape] {
                    verification.append("batch \(size), \(shape): \(Set(outcomes).count == 1 ? "each of \(outcomes.count) round(s), \(outcomes[0])" : outcomes.joined(separator: "; "))")
                }
                let taken = seconds[shape] ?? [:]
                /// The median over the rounds of `numerator`'s seconds ÷ `denominator`'s (a throughput ratio), and each round's.
                func versus(_ numerator: String, _ denominator: String) -> (median: String, rounds: [Double]) {
                    guard let a = taken[numerator], let b = taken[denominator], a.count == b.count, !a.isEmpty else { return ("", []) }
                    let each = zip(a, b).map { $0 / $1 }
                    return (String(format: "%.2f×", median(each)), each)
                }
                if let s = taken["append"] {
                    let t = median(s)
                    let vsInsert = versus("insert", "append")
                    table.add("EventStore.append, \(shape)", String(size), String(n), fmt(t, 2), rate(n, t), vsInsert.median,
                              versus("copy", "append").median, vsInsert.rounds.map { fmt($0, 2) }.joined(separator: " "))
                }
                if let s = taken["insert"] {
                    let t = median(s)
                    table.add("  baseline: multi-row INSERT, \(shape)", String(size), String(n), fmt(t, 2), rate(n, t), "1.00×",
                              versus("copy", "insert").median, "")
                }
                if let s = taken["copy"] {
                    let t = median(s)
                    table.add("  baseline: COPY FROM STDIN (text), \(shape)", String(size), String(n), fmt(t, 2), rate(n, t),
                              versus("insert", "copy").median, "1.00×", "")
                }
            }
        }
        table.print()
        verification.forEach { print($0) }
        print("ratios are throughput ratios: EventStore.append events/s ÷ baseline events/s (goal: ≥ 0.80× raw INSERT).")
        print("\(rounds) round(s) per batch size and shape, each on a new database, the append going last and first in turn: seconds and events/s are the median over the rounds (with an even count, the mean of the middle two), each ratio the median of the rounds' ratios (vs INSERT under per round).")
    }

    /// EventStore.append, one call (one transaction) per batch.
    static func append(_ store: EventStore, _ batches: [[NewEvent]], eventsPerStream: Int, label: String) throws -> Double {
        let appends: [[StreamAppend]] = batches.enumerated().map { b, events in
            stride(from: 0, to: events.count, by: eventsPerStream).map { start in
                StreamAppend(stream: "bulk\(label)-\(b)-\(start)", expected: .noStream,
                             events: events[start..<min(start + eventsPerStream, events.count)].map { event in
                                 var copy = event
                                 copy.eventID = UUID()  // event ids are unique store-wide
                                 return copy
                             })
            }
        }
        // Each variant appends the same events under new command ids (a repeated id would be a retry).
        let commandIDs = batches.indices.map { _ in UUID() }
        let commands = batches.indices.map { Data(#"{"command": "import", "variant": "\#(label)", "batch": \#($0)}"#.utf8) }
        let (_, seconds) = try timed {
            for (i, streams) in appends.enumerated() {
                let result = try store.append(streams, commandID: commandIDs[i], command: commands[i])
                guard !result.duplicate else { throw ValidationError("append \(i) was taken for a retry") }
            }
        }
        return seconds
    }

    /// One multi-row INSERT with bound parameters per batch; streams of `eventsPerStream` events, as the append writes them.
    static func rawInsert(_ db: PostgresConnection, _ batches: [[NewEvent]], _ hashes: [[String]], eventsPerStream: Int) throws -> Double {
        let (_, seconds) = try timed {
            for (b, events) in batches.enumerated() {
                let meta = AppendBench.metadataJSON(events[0].metadata)
                let commandID = events[0].metadata.commandID?.uuidString.lowercased()
                var sql = "INSERT INTO bench.events (\(AppendBench.columns)) VALUES "
                var binds: [String?] = []
                binds.reserveCapacity(events.count * 11)
                let zero = "\\x" + String(repeating: "0", count: 64)
                var previous = zero
                for (i, e) in events.enumerated() {
                    if i > 0 { sql += "," }
                    if i % eventsPerStream == 0 { previous = zero }
                    sql += "("
                    for c in 1...11 {
                        let placeholder: String = "$" + String(binds.count + c)
                        sql += c == 1 ? placeholder : "," + placeholder
                        if c == 7 || c == 8 { sql += "::jsonb" } else if c >= 10 { sql += "::bytea" }
                    }
                    sql += ")"
                    let hash: String = hashes[b][i]
                    let payload: String = String(decoding: e.payload, as: UTF8.self)
                    let stream = "bulki-" + String(b) + "-" + String(i / eventsPerStream * eventsPerStream)
                    let row: [String?] = [stream, "bulki", String(i % eventsPerStream + 1), e.eventID.uuidString.lowercased(), e.type,
                                          String(e.schemaVersion), payload, meta, commandID, previous, hash]
                    binds.append(contentsOf: row)
                    previous = hash
                }
                try db.query(PostgresQuery(sql: sql, binds: binds))
            }
        }
        return seconds
    }

    /// One COPY FROM STDIN (text format) per batch; streams of `eventsPerStream` events.
    static func copy(_ db: PostgresConnection, _ batches: [[NewEvent]], _ hashes: [[String]], eventsPerStream: Int) throws -> Double {
        let (_, seconds) = try timed {
            for (b, events) in batches.enumerated() {
                let meta = PostgresCopy.escape(AppendBench.metadataJSON(events[0].metadata))
                let commandID = events[0].metadata.commandID?.uuidString.lowercased() ?? "\\N"
                let zero = "\\\\x" + String(repeating: "0", count: 64)
                var previous = zero
                var lines: [String] = []
                lines.reserveCapacity(events.count)
                for (i, e) in events.enumerated() {
                    if i % eventsPerStream == 0 { previous = zero }
                    let hash: String = PostgresCopy.escape(hashes[b][i])
                    let payload: String = PostgresCopy.escape(String(decoding: e.payload, as: UTF8.self))
                    let stream = "bulkc-" + String(b) + "-" + String(i / eventsPerStream * eventsPerStream)
                    let fields: [String] = [stream, "bulkc", String(i % eventsPerStream + 1), e.eventID.uuidString.lowercased(), e.type,
                                            String(e.schemaVersion), payload, meta, commandID, previous, hash]
                    lines.append(fields.joined(separator: "\t"))
                    previous = hash
                }
                try db.copyIn("COPY bench.events (\(AppendBench.columns)) FROM STDIN", lines: lines)
            }
        }
        return seconds
    }
}
