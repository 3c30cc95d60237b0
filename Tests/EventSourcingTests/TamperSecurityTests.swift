import EventSourcing
import Foundation
import Postgres
import TestSupport
import Testing

/// Exhaustive tamper evidence: every event of a store, every column the hash covers, every way
/// of deleting or reordering, each tried in a transaction that is rolled back afterwards.
@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct TamperSecurityTests {
    /// Three streams of 1, 2 and 4 events, appended in interleaved commands.
    func seeded() throws -> (TestDatabase, PostgresConnection, [(stream: String, version: Int64)]) {
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        let order = ["exercise-ts25", "unit-aus-3rar", "exercise-ts25", "nation-fji", "unit-aus-3rar", "exercise-ts25", "exercise-ts25"]
        for (index, stream) in order.enumerated() {
            try store.append([StreamAppend(stream: stream, expected: .any, events: [event("Thing\(index)", #"{"n": \#(index), "text": "x"}"#)])])
        }
        let rows = try db.query("SELECT stream_name, stream_version FROM event_store.events ORDER BY position")
        return (database, db, try rows.map { (try $0.decode("stream_name"), try $0.decode("stream_version")) })
    }

    /// Applies `sql` as a superuser would behind the store's back, verifies, and rolls everything back.
    func findings(_ db: PostgresConnection, _ sql: String) throws -> [AuditFinding] {
        defer { try? db.execute("ROLLBACK") }
        try db.execute("BEGIN; ALTER TABLE event_store.events DISABLE TRIGGER USER; ALTER TABLE event_store.streams DISABLE TRIGGER USER; \(sql); ALTER TABLE event_store.events ENABLE TRIGGER USER; ALTER TABLE event_store.streams ENABLE TRIGGER USER")
        return try ChainVerifier(db).verify(batchSize: 3).findings
    }

    @Test func everyAlterationOfEveryEventIsFoundAtItsStreamAndVersion() throws {
        // Given an intact store
        let (_, db, all) = try seeded()
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
        let alterations = [
            "payload = jsonb_set(payload, '{text}', '\"forged\"')",
            "payload = payload || '{\"extra\": true}'",
            "metadata = jsonb_set(metadata, '{actor}', '\"intruder\"')",
            "metadata = metadata - 'actor'",
            "event_type = event_type || 'X'",
            "schema_version = schema_version + 1",
            "event_id = gen_random_uuid()",
            "recorded_at = recorded_at + interval '1 microsecond'",
            "hash = sha256(hash)",
            "previous_hash = sha256(previous_hash)",
        ]
        for (stream, version) in all {
            for alteration in alterations {
                // When one column of one event is altered
                let found = try findings(db, "UPDATE event_store.events SET \(alteration) WHERE stream_name = '\(stream)' AND stream_version = \(version)")

                // Then the verifier names that stream and version
                #expect(found.contains { $0.stream == stream && $0.version == version }, "\(stream) v\(version) \(alteration): \(found)")
            }
        }
        #expect(try ChainVerifier(db).verify().findings.isEmpty, "every tampering was rolled back")
    }

    @Test func everyDeletionAndEveryReorderingIsFoundAtItsStreamAndVersion() throws {
        let (_, db, all) = try seeded()
        for (stream, version) in all {
            // A deleted event: the gap or, for the last one, the stream head points at it.
            let deleted = try findings(db, "DELETE FROM event_store.events WHERE stream_name = '\(stream)' AND stream_version = \(version)")
            #expect(deleted.contains { $0.stream == stream && $0.version == version }, "delete \(stream) v\(version): \(deleted)")

            // A deletion followed by renumbering the rest and fixing the head's version.
            let renumbered = try findings(db, """
                DELETE FROM event_store.events WHERE stream_name = '\(stream)' AND stream_version = \(version);
                UPDATE event_store.events SET stream_version = stream_version - 1 WHERE stream_name = '\(stream)' AND stream_version > \(version);
                UPDATE event_store.streams SET version = version - 1 WHERE stream_name = '\(stream)'
                """)
            #expect(renumbered.contains { $0.stream == stream }, "delete and renumber \(stream) v\(version): \(renumbered)")
        }
        // Every pair of neighbours swapped within its stream.
        for (stream, version) in all where all.contains(where: { $0.stream == stream && $0.version == version + 1 }) {
            let swapped = try findings(db, """
                ALTER TABLE event_store.events DROP CONSTRAINT events_stream_version_check;
                UPDATE event_store.events SET stream_version = -stream_version WHERE stream_name = '\(stream)' AND stream_version IN (\(version), \(version + 1));
                UPDATE event_store.events SET stream_version = CASE stream_version WHEN -\(version) THEN \(version + 1) ELSE \(version) END
                 WHERE stream_name = '\(stream)' AND stream_version < 0
                """)
            #expect(swapped.contains { $0.stream == stream && $0.version == version }, "swap \(stream) v\(version)/v\(version + 1): \(swapped)")
        }
        // An event moved to the end of another stream, with that stream's head moved along.
        let moved = try findings(db, """
            UPDATE event_store.events SET stream_name = 'unit-aus-3rar', stream_version = 3 WHERE stream_name = 'nation-fji' AND stream_version = 1;
            UPDATE event_store.streams SET version = 3 WHERE stream_name = 'unit-aus-3rar'
            """)
        #expect(moved.contains { $0.stream == "unit-aus-3rar" && $0.version == 3 }, "\(moved)")
        #expect(moved.contains { $0.stream == "nation-fji" }, "the emptied stream is reported too: \(moved)")
        // A forged event inserted at the end of a stream with a valid-looking hash of the wrong chain.
        let inserted = try findings(db, """
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version, payload, metadata, previous_hash, hash)
            SELECT 'unit-aus-3rar', 'unit', 3, gen_random_uuid(), 'Forged', 1, '{}', '{}', hash, sha256(hash) FROM event_store.events
             WHERE stream_name = 'unit-aus-3rar' AND stream_version = 2
            """)
        #expect(inserted.contains { $0.stream == "unit-aus-3rar" && $0.version == 3 }, "\(inserted)")
    }

    /// Columns the hash does not cover: global order and category. The chain check does not see a change
    /// there; the verifier's stream checks do (the category is the stream name's prefix, positions rise
    /// with versions).
    @Test func changesOutsideTheHashedColumns() throws {
        let (_, db, _) = try seeded()
        do {
            let category = try findings(db, "UPDATE event_store.events SET category = 'nation' WHERE stream_name = 'unit-aus-3rar' AND stream_version = 2")
            #expect(category.contains { $0.stream == "unit-aus-3rar" && $0.version == 2 }, "category changed: \(category)")
            let order = try findings(db, """
                ALTER TABLE event_store.events ALTER COLUMN position DROP IDENTITY;
                UPDATE event_store.events e SET position = -e.position WHERE stream_name = 'exercise-ts25' AND stream_version IN (1, 2);
                UPDATE event_store.events e SET position = CASE stream_version WHEN 1 THEN (SELECT -position FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 2)
                                                                   ELSE (SELECT -position FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 1) END
                 WHERE stream_name = 'exercise-ts25' AND stream_version IN (1, 2) AND position < 0
                """)
            #expect(order.contains { $0.stream == "exercise-ts25" }, "positions of v1 and v2 swapped: \(order)")
        }
    }
}
