import EventSourcing
import Foundation
import Postgres
import TestSupport
import Testing

/// The set-based append (schema/0004, as 0005 amends it) against the row-by-row definition of schema/0001, and
/// the request the client builds.
@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct SetBasedAppendTests {
    /// 0001's append, installed under another name so both can run in one transaction.
    static func installRowByRowAppend(_ db: PostgresConnection) throws {
        let sql = try String(contentsOf: Migrator.locateSchemaDirectory().appendingPathComponent("0001-create-event-store.sql"), encoding: .utf8)
        guard let start = sql.range(of: "CREATE OR REPLACE FUNCTION event_store.append("),
              let end = sql.range(of: "\n$$;", range: start.upperBound..<sql.endIndex) else {
            Issue.record("0001 no longer holds the append function")
            return
        }
        let function = String(sql[start.lowerBound..<end.upperBound])
            .replacingOccurrences(of: "FUNCTION event_store.append(", with: "FUNCTION event_store.append_0001(")
        try db.execute(function)
    }

    struct Row: Equatable {
        let position: Int64, stream: String, version: Int64, eventID: String, type: String, schemaVersion: Int
        let payload: String, metadata: String, commandID: String?, recordedAt: String, previousHash: Data, hash: Data
    }

    static func rows(_ db: PostgresConnection) throws -> [Row] {
        try db.query("""
            SELECT position, stream_name, stream_version, event_id::text AS event_id, event_type, schema_version,
                   payload::text AS payload, metadata::text AS metadata, command_id::text AS command_id,
                   recorded_at::text AS recorded_at, previous_hash, hash
              FROM event_store.events ORDER BY position
            """).map { r in
            Row(position: try r.decode("position"), stream: try r.decode("stream_name"), version: try r.decode("stream_version"),
                eventID: try r.decode("event_id"), type: try r.decode("event_type"), schemaVersion: try r.decode("schema_version"),
                payload: try r.decode("payload"), metadata: try r.decode("metadata"), commandID: try r.decodeIfPresent("command_id"),
                recordedAt: try r.decode("recorded_at"), previousHash: try r.decode("previous_hash"), hash: try r.decode("hash"))
        }
    }

    /// Each stream's head: its last event's version and hash (since schema/0013; 0001's definition also kept
    /// them in the stream's row, which the rows compared here must then agree with).
    static func heads(_ db: PostgresConnection) throws -> [String] {
        try db.query("""
            SELECT DISTINCT ON (stream_name) stream_name || ' ' || stream_version || ' ' || encode(hash, 'hex') AS h
              FROM event_store.events ORDER BY stream_name, stream_version DESC
            """).map { try $0.decode("h") }
    }

    static func streamRows(_ db: PostgresConnection) throws -> [String] {
        try db.query("SELECT stream_name || ' ' || version || ' ' || encode(head_hash, 'hex') AS h FROM event_store.streams ORDER BY stream_name")
            .map { try $0.decode("h") }
    }

    @Test func writesTheSameRowsHashesAndResultAsTheRowByRowDefinition() throws {
        // Given: two requests, each applied in the same transaction (so now() is equal) by both definitions.
        let database = try TestDatabase()
        let db = try database.connect()
        try Self.installRowByRowAppend(db)
        let meta = #"{"actor": "maj.smith", "reason": "IPC \"outcome\" – ü \n", "command_id": "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"}"#
        let first = """
            {"streams": [
              {"stream": "exercise-ts25", "expected": "no_stream", "events": [
                {"event_id": "00000000-0000-4000-8000-000000000001", "type": "ExercisePlanned", "schema_version": 1, "payload": {"name": "TALISMAN SABRE 25", "b": [3, 1.50, null]}, "metadata": \(meta)},
                {"event_id": "00000000-0000-4000-8000-000000000002", "type": "MilestoneHeld", "schema_version": 2, "payload": {"milestone": "IPC"}},
                {"event_id": "00000000-0000-4000-8000-000000000003", "type": "MilestoneHeld", "schema_version": 2, "payload": {"milestone": "MPC"}, "metadata": {}}]},
              {"stream": "unit-aus-3rar", "expected": "any", "events": [
                {"event_id": "00000000-0000-4000-8000-000000000004", "type": "UnitRegistered", "schema_version": 1, "payload": {"unit": "aus-3rar"}, "metadata": \(meta)}]}]}
            """
        let second = """
            {"streams": [
              {"stream": "unit-aus-3rar", "expected": "exact", "expected_version": 1, "events": [
                {"event_id": "00000000-0000-4000-8000-000000000005", "type": "ReadinessReported", "schema_version": 2, "payload": {"unit": "aus-3rar", "cLevel": 2}, "metadata": \(meta)},
                {"event_id": "00000000-0000-4000-8000-000000000006", "type": "ReadinessReported", "schema_version": 2, "payload": {"unit": "aus-3rar", "cLevel": 1}, "metadata": \(meta)}]},
              {"stream": "exercise-ts25", "expected": "stream_exists", "events": [
                {"event_id": "00000000-0000-4000-8000-000000000007", "type": "UnitCommitted", "schema_version": 1, "payload": {"unit": "aus-3rar"}, "metadata": \(meta)}]}]}
            """
        // One event on one existing stream: the single-statement path of schema/0006, with and without a command.
        let third = """
            {"streams": [{"stream": "exercise-ts25", "expected": "exact", "expected_version": 4, "events": [
                {"event_id": "00000000-0000-4000-8000-000000000008", "type": "MilestoneHeld", "schema_version": 2, "payload": {"milestone": "FPC"}, "metadata": \(meta)}]}]}
            """
        let fourth = """
            {"streams": [{"stream": "unit-aus-3rar", "expected": "any", "events": [
                {"event_id": "00000000-0000-4000-8000-000000000009", "type": "ReadinessReported", "schema_version": 2, "payload": {"unit": "aus-3rar", "cLevel": 3}}]}]}
            """
        // One event with a command id but no command: its content hash comes from the stream, type and payload.
        let fifth = """
            {"streams": [{"stream": "unit-aus-3rar", "expected": "stream_exists", "events": [
                {"event_id": "00000000-0000-4000-8000-000000000010", "type": "ReadinessCorrected", "schema_version": 1, "payload": {"unit": "aus-3rar", "n": [1, 2.50, "é"]}, "metadata": \(meta)}]}]}
            """
        let commandID = "8d6f3a52-57d1-4c1e-9a53-6f5c37f6a001"
        let thirdCommandID = "8d6f3a52-57d1-4c1e-9a53-6f5c37f6a003"
        let fifthCommandID = "8d6f3a52-57d1-4c1e-9a53-6f5c37f6a005"

        /// Applies the requests through `function`; with `single`, the one-event requests go through
        /// `event_store.append_one` with the request's fields bound one by one, as `EventStore` sends them.
        func applyBoth(_ function: String, single: Bool = false) throws -> ([String], [Row], [String], [String]) {
            func one(_ commandID: String?, _ command: String?, _ request: String) throws -> String {
                guard single else {
                    return try db.query(PostgresQuery(sql: "SELECT \(function)($1::uuid, $2::jsonb, $3::jsonb)::text AS r", binds: [commandID, command, request])).first?.decode("r") ?? ""
                }
                return try db.query(PostgresQuery(sql: """
                    SELECT event_store.append_one($1::uuid, $2::jsonb, s ->> 'stream', coalesce(s ->> 'expected', 'any'), (s ->> 'expected_version')::bigint,
                                                  (e ->> 'event_id')::uuid, e ->> 'type', (e ->> 'schema_version')::integer, e -> 'payload', e -> 'metadata')::text AS r
                      FROM (SELECT $3::jsonb -> 'streams' -> 0 AS s) q, LATERAL (SELECT q.s -> 'events' -> 0 AS e) x
                    """, binds: [commandID, command, request])).first?.decode("r") ?? ""
            }
            var results: [String] = []
            results.append(try db.query(PostgresQuery(sql: "SELECT \(function)($1, $2::jsonb, $3::jsonb)::text AS r", binds: [commandID, #"{"command": "import"}"#, first])).first?.decode("r") ?? "")
            results.append(try db.query(PostgresQuery(sql: "SELECT \(function)(NULL, NULL, $1::jsonb)::text AS r", binds: [second])).first?.decode("r") ?? "")
            results.append(try one(thirdCommandID, #"{"command": "holdMilestone"}"#, third))
            results.append(try one(nil, nil, fourth))
            results.append(try one(fifthCommandID, nil, fifth))
            // Retries of the first, third and fifth command ids.
            results.append(try db.query(PostgresQuery(sql: "SELECT \(function)($1, $2::jsonb, $3::jsonb)::text AS r", binds: [commandID, #"{"command": "import"}"#, first])).first?.decode("r") ?? "")
            results.append(try one(thirdCommandID, #"{"command": "holdMilestone"}"#, third))
            results.append(try one(fifthCommandID, nil, fifth))
            let commands = try db.query("""
                SELECT command_id::text || ' ' || encode(request_hash, 'hex') || ' ' || coalesce(command::text, '-') || ' ' || result::text AS c
                  FROM event_store.commands WHERE length(request_hash) > 0 ORDER BY command_id
                """).map { try $0.decode("c", as: String.self) }
            // Appends without a command id: recorded under a made-up id since schema/0013, with their results.
            let madeUp = try db.query("SELECT result::text AS r FROM event_store.commands WHERE length(request_hash) = 0 ORDER BY (result ->> 'first_position')::bigint")
                .map { try $0.decode("r", as: String.self) }
            if function == "event_store.append_0001" {
                #expect(try Self.streamRows(db) == Self.heads(db), "0001 moves each stream's row to its last event")
                #expect(madeUp.isEmpty)
            } else {
                #expect(madeUp.map(normalised) == [results[1], results[3]].map(normalised), "\(function) single: \(single)")
            }
            return (results, try Self.rows(db), try Self.heads(db), commands)
        }

        // When
        try db.execute("BEGIN")
        try db.execute("SAVEPOINT before")
        let old = try applyBoth("event_store.append_0001")
        try db.execute("ROLLBACK TO SAVEPOINT before")
        #expect(try Self.rows(db).isEmpty)
        let new = try applyBoth("event_store.append")
        try db.execute("ROLLBACK TO SAVEPOINT before")
        let one = try applyBoth("event_store.append", single: true)
        try db.execute("COMMIT")

        // Then: byte-identical rows (positions restart after the rollback, so compare them relative to the first).
        for (new, label) in [(new, "append"), (one, "append_one")] {
            let offset = new.1.first!.position - old.1.first!.position
            #expect(new.0.map(normalised) == old.0.map { shifted($0, by: offset) }, "\(label)")
            #expect(new.1.count == 10)
            #expect(new.1.map(\.hash) == old.1.map(\.hash), "\(label)")
            #expect(new.1.map(\.previousHash) == old.1.map(\.previousHash), "\(label)")
            #expect(new.1.map { [$0.stream, String($0.version), $0.eventID, $0.type, String($0.schemaVersion), $0.payload, $0.metadata, $0.commandID ?? "-", $0.recordedAt] }
                    == old.1.map { [$0.stream, String($0.version), $0.eventID, $0.type, String($0.schemaVersion), $0.payload, $0.metadata, $0.commandID ?? "-", $0.recordedAt] }, "\(label)")
            #expect(new.2 == old.2, "\(label)")
            // Each applied command is recorded once, with the same content hash and the same result.
            #expect(new.3.count == 3)
            #expect(new.3.map { shiftedCommand($0, by: offset) } == old.3.map { shiftedCommand($0, by: 0) }, "\(label)")
            // Positions follow the request order: streams in order, versions ascending within each stream.
            #expect(new.1.map { String($0.eventID.suffix(2)) } == ["01", "02", "03", "04", "05", "06", "07", "08", "09", "10"], "\(label)")
            #expect(new.1.map(\.position) == Array(new.1[0].position..<(new.1[0].position + 10)), "\(label)")
        }
        // And the chains verify independently, in Swift.
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
    }

    /// A recorded command with its result's positions rewritten by `offset`.
    func shiftedCommand(_ row: String, by offset: Int64) -> String {
        guard let brace = row.range(of: " {\"streams\"", options: .backwards) else { return row }
        return String(row[..<brace.lowerBound]) + " " + shifted(String(row[row.index(after: brace.lowerBound)...]), by: -offset)
    }

    /// Rewrites `"first_position": n` and `"last_position": n` in a result by `offset`.
    func shifted(_ result: String, by offset: Int64) -> String {
        guard let object = try? JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any] else { return result }
        var copy = object
        for key in ["first_position", "last_position"] {
            if let n = object[key] as? Int { copy[key] = Int64(n) + offset }
        }
        guard let data = try? JSONSerialization.data(withJSONObject: copy, options: [.sortedKeys]) else { return result }
        return normalised(String(decoding: data, as: UTF8.self))
    }

    @Test func largeBatchesKeepTheChainVersionsAndPositionsInOrder() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        let metadata = EventMetadata(actor: "importer", commandID: UUID(), reason: "bulk \"load\"", command: "import")
        let batch = (0..<1000).map { NewEvent(type: "ThingHappened", payload: Data(#"{"n": \#($0), "s": "é\t\"x\""}"#.utf8), metadata: metadata) }

        let first = try store.append([StreamAppend(stream: "bulk-a", expected: .noStream, events: batch)], commandID: UUID())
        let second = try store.append([StreamAppend(stream: "bulk-a", expected: .exact(1000), events: Array(batch.prefix(10)).map { var e = $0; e.eventID = UUID(); return e }),
                                       StreamAppend(stream: "bulk-b", expected: .noStream, events: Array(batch.suffix(5)).map { var e = $0; e.eventID = UUID(); return e })])

        #expect(first.streams == [.init(stream: "bulk-a", fromVersion: 1, toVersion: 1000)])
        #expect(first.lastPosition! - first.firstPosition! == 999)
        #expect(second.streams == [.init(stream: "bulk-a", fromVersion: 1001, toVersion: 1010), .init(stream: "bulk-b", fromVersion: 1, toVersion: 5)])
        #expect(second.lastPosition! - second.firstPosition! == 14)
        let read = try store.readStream("bulk-a", limit: 2000)
        #expect(read.map(\.version) == Array(1...1010))
        #expect(zip(read, read.dropFirst()).allSatisfy { $0.position < $1.position && $1.previousHash == $0.hash })
        #expect(read[0].metadata == metadata)
        #expect(read[999].payload == Data(#"{"n": 999, "s": "é\t\"x\""}"#.utf8))
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
    }

    @Test func theRequestCarriesMetadataAsJSONEncoderWouldWriteIt() throws {
        // Metadata is written by hand for speed; jsonb must store what JSONEncoder's form stores.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        let samples = [
            EventMetadata(actor: "maj.smith"),
            EventMetadata(actor: "Ünïcode \"quoted\" \\ / \n\t\u{1}", commandID: UUID(), correlationID: UUID(), causationID: UUID(),
                          reason: "line\r\nbreak", classification: "UNCLASSIFIED", releasableTo: ["AUS", "USA"], command: "commitUnit"),
            EventMetadata(actor: "x", releasableTo: []),
        ]
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        for (i, meta) in samples.enumerated() {
            try store.append([StreamAppend(stream: "meta-m\(i)", expected: .noStream, events: [NewEvent(type: "T", payload: Data("{}".utf8), metadata: meta)])])
            let stored = try db.query("SELECT metadata::text AS m, metadata = \(String(decoding: try encoder.encode(meta), as: UTF8.self))::jsonb AS same FROM event_store.events WHERE stream_name = \("meta-m\(i)")").first
            let storedText = try stored?.decode("m", as: String.self) ?? ""
            #expect(try stored?.decode("same", as: Bool.self) == true, "\(storedText)")
            #expect(try store.readStream("meta-m\(i)")[0].metadata == meta)
        }
    }
}

/// Sorted-key JSON text of a JSON document, for comparing results whatever their key order.
func normalised(_ json: String) -> String {
    guard let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)),
          let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return json }
    return String(decoding: data, as: UTF8.self)
}
