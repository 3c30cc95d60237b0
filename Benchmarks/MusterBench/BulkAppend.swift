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
            no triggers, no foreign key).
            """)

    @Option(help: "Events per variant.")
    var events = 100_000

    @Option(help: "Batch sizes (events per append), comma-separated.")
    var batch = "100,1000"

    @Option(help: "Run only these variants, comma-separated (append, append10, insert, copy); for profiling.")
    var only: String?

    func run() throws {
        let sizes = batch.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }.filter { $0 > 0 }
        guard !sizes.isEmpty else { throw ValidationError("--batch: expected sizes such as 100,1000") }
        let variants = only.map { Set($0.split(separator: ",").map { String($0) }) } ?? ["append", "append10", "insert", "copy"]
        var table = Table("bulk append (fsync on, one transaction per batch)", "batch", "events", "seconds", "events/s", "vs INSERT", "vs COPY")
        var verification: [String] = []
        for size in sizes {
            let n = (events / size) * size
            guard n > 0 else { continue }
            let database = try BenchDatabase("bulk")
            defer { database.drop() }
            let db = try database.connect()
            try AppendBench.createBaselineTable(db, "events")
            // The same events for every variant, built before any clock starts.
            let batches: [[NewEvent]] = (0..<(n / size)).map { b in
                let meta = AppendBench.metadata(UUID())
                return (0..<size).map { AppendBench.event(b * size + $0, metadata: meta) }
            }

            // The baselines store ready-made 32-byte hashes (random, made before the clock starts).
            let hashes: [[String]] = batches.map { $0.map { _ in AppendBench.randomHash() } }

            // Each shape is compared with baselines of the same shape: the same stream names and versions
            // (one stream per batch, or streams of 10 events), so that the index on (stream, version) sees the
            // same order of keys.
            func versus(_ baseline: Double, _ seconds: Double) -> String {
                baseline.isNaN ? "" : ratio(baseline, seconds)
            }
            var rows = 0
            for (variant, perStream, label, shape) in [("append", size, "a", "1 stream per batch"), ("append10", 10, "m", "10 events per stream")] {
                var insertSeconds = Double.nan, copySeconds = Double.nan, appendSeconds = Double.nan
                if variants.contains("insert") {
                    insertSeconds = try Self.rawInsert(db, batches, hashes, eventsPerStream: perStream)
                    try db.execute("TRUNCATE bench.events")
                }
                if variants.contains("copy") {
                    copySeconds = try Self.copy(db, batches, hashes, eventsPerStream: perStream)
                    try db.execute("TRUNCATE bench.events")
                }
                if variants.contains(variant) {
                    appendSeconds = try Self.append(EventStore(db), batches, eventsPerStream: perStream, label: label)
                    rows += 1
                    table.add("EventStore.append, \(shape)", String(size), String(n), fmt(appendSeconds, 2), rate(n, appendSeconds),
                              versus(insertSeconds, appendSeconds), versus(copySeconds, appendSeconds))
                }
                if !insertSeconds.isNaN {
                    table.add("  baseline: multi-row INSERT, \(shape)", String(size), String(n), fmt(insertSeconds, 2), rate(n, insertSeconds),
                              "1.00×", versus(copySeconds, insertSeconds))
                }
                if !copySeconds.isNaN {
                    table.add("  baseline: COPY FROM STDIN (text), \(shape)", String(size), String(n), fmt(copySeconds, 2), rate(n, copySeconds),
                              versus(insertSeconds, copySeconds), "1.00×")
                }
            }

            if rows > 0 {
                let report = try ChainVerifier(db).verify()
                let stored = try EventStore(db).count()
                verification.append("batch \(size): \(stored) events in \(report.streams) streams, \(report.findings.isEmpty ? "every hash chain verifies (ChainVerifier)" : "\(report.findings.count) chain finding(s): \(report.findings.prefix(3))")")
                guard report.findings.isEmpty, stored == Int64(n * rows) else {
                    throw ValidationError("bulk append check failed: \(verification.last ?? "")")
                }
            }
            db.close()
        }
        table.print()
        verification.forEach { print($0) }
        print("ratios are throughput ratios: EventStore.append events/s ÷ baseline events/s (goal: ≥ 0.80× raw INSERT).")
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
