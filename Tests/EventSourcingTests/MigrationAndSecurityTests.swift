import EventSourcing
import Foundation
import Postgres
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct MigrationTests {
    @Test func appliesEachFileOnceAndRerunningIsANoOp() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let migrator = try Migrator(directory: Migrator.locateSchemaDirectory())
        let pendingBefore = try migrator.pending(db)

        let first = try migrator.migrate(db)
        let second = try migrator.migrate(db)
        let recorded = try db.query("SELECT version FROM muster_meta.migrations ORDER BY version").map { try $0.decode("version", as: Int.self) }

        #expect(pendingBefore.map(\.version) == migrator.migrations.map(\.version))
        #expect(first.map(\.version) == migrator.migrations.map(\.version))
        #expect(second.isEmpty)
        #expect(recorded == migrator.migrations.map(\.version))
        #expect(try migrator.pending(db).isEmpty)
    }

    /// A copy of the schema directory for a test to change; the caller removes it.
    func copyOfSchema() throws -> URL {
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("muster-schema-\(UUID())")
        try FileManager.default.copyItem(at: Migrator.locateSchemaDirectory(), to: copy)
        return copy
    }

    @Test func anEditedAppliedFileIsReportedNotReRun() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let copy = try copyOfSchema()
        defer { try? FileManager.default.removeItem(at: copy) }
        try Migrator(directory: copy).migrate(db)

        let first = try FileManager.default.contentsOfDirectory(atPath: copy.path).sorted()[0]
        let handle = try FileHandle(forWritingTo: copy.appendingPathComponent(first))
        handle.seekToEndOfFile()
        handle.write(Data("\n-- edited\n".utf8))
        try handle.close()

        let error = #expect(throws: MigrationError.self) { try Migrator(directory: copy).migrate(db) }
        #expect(error?.description.contains("forward-only") == true)
    }

    /// The migrations from `schema/0010` on: each is applied to a store written before it.
    static let recentMigrations: [Int] =
        ((try? Migrator(directory: Migrator.locateSchemaDirectory()))?.migrations.map(\.version) ?? []).filter { $0 >= 10 }

    /// A store written under the migrations before `version` takes it and the ones after, verifies clean, and
    /// takes appends of every kind after them: new streams, one event on an existing stream, and several
    /// existing streams at once (whose heads the general append locks).
    @Test(arguments: recentMigrations)
    func aMigrationAppliesToAStoreWrittenBeforeIt(_ version: Int) throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let all = try Migrator(directory: Migrator.locateSchemaDirectory())
        let earlier = try copyOfSchema()
        defer { try? FileManager.default.removeItem(at: earlier) }
        for migration in all.migrations where migration.version >= version {
            try FileManager.default.removeItem(at: earlier.appendingPathComponent(migration.name + ".sql"))
        }
        let before = all.migrations.filter { $0.version < version }.map(\.version)
        #expect(try Migrator(directory: earlier).migrate(db).map(\.version) == before)

        let store = EventStore(db)
        for s in ["exercise-ts25", "unit-aus-3rar", "conference-ts25-ipc"] {
            try store.append([StreamAppend(stream: s, expected: .noStream, events: events(2))])
            try store.append([StreamAppend(stream: s, expected: .exact(2), events: events(1))])
        }
        try store.append([StreamAppend(stream: "exercise-ts25", expected: .exact(3), events: events(1)),
                          StreamAppend(stream: "unit-aus-3rar", expected: .exact(3), events: events(2)),
                          StreamAppend(stream: "unit-nzl-1rnzir", expected: .noStream, events: events(1))])

        #expect(try all.migrate(db).map(\.version) == all.migrations.map(\.version).filter { $0 >= version })
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
        try store.append([StreamAppend(stream: "exercise-ts25", expected: .exact(4), events: events(1))])
        try store.append([StreamAppend(stream: "unit-aus-3rar", expected: .exact(5), events: events(1)),
                          StreamAppend(stream: "conference-ts25-ipc", expected: .exact(3), events: events(2))])
        try store.append([StreamAppend(stream: "unit-usa-31meu", expected: .noStream, events: events(1))])
        let conflict = #expect(throws: EventStoreError.self) {
            try store.append([StreamAppend(stream: "exercise-ts25", expected: .exact(5), events: events(1)),
                              StreamAppend(stream: "unit-nzl-1rnzir", expected: .exact(9), events: events(1))])
        }
        #expect(conflict?.isConcurrencyConflict == true)
        let report = try ChainVerifier(db).verify()
        #expect(report.findings.isEmpty, "\(report.findings)")
        #expect(report.events == 18)
        #expect(report.streams == 5)
        #expect(try store.version(of: "exercise-ts25") == 5)
        #expect(try store.version(of: "unit-aus-3rar") == 6)
        #expect(try store.version(of: "conference-ts25-ipc") == 5)
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct ImmutabilityAndRoleTests {
    @Test func eventsCannotBeUpdatedDeletedOrTruncatedEvenByTheOwner() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-x", expected: .any, events: events(2))])

        for sql in ["UPDATE event_store.events SET payload = '{\"n\": 9}'",
                    "DELETE FROM event_store.events",
                    "TRUNCATE event_store.events CASCADE",
                    "DELETE FROM event_store.streams"] {
            let error = #expect(throws: PostgresError.self) { try db.execute(sql) }
            #expect(error?.sqlState == "MU010", "\(sql): \(error?.description ?? "")")
            #expect(error?.description.contains("append-only") == true)
        }
        #expect(try eventCount(db) == 2)
    }

    @Test func plannerAppendsOnlyThroughTheFunctionAndCannotAlterEvents() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try db.execute("SET ROLE muster_planner")
        let store = EventStore(db)

        try store.append([StreamAppend(stream: "unit-x", expected: .any, events: events(1))])
        #expect(try store.readStream("unit-x").count == 1)

        for sql in ["UPDATE event_store.events SET event_type = 'X'",
                    "DELETE FROM event_store.events",
                    "TRUNCATE event_store.events",
                    "INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version, payload, metadata, previous_hash, hash) VALUES ('unit-x', 'unit', 2, gen_random_uuid(), 'X', 1, '{}', '{}', '', '')",
                    "UPDATE event_store.streams SET version = 0",
                    "UPDATE event_store.commands SET result = '{}'"] {
            let error = #expect(throws: PostgresError.self) { try db.execute(sql) }
            #expect(error?.sqlState == "42501", "\(sql): \(error?.description ?? "")")
        }
        try db.execute("RESET ROLE")
        #expect(try eventCount(db) == 1)
    }

    @Test func auditorReadsEventsButCannotAppend() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-x", expected: .any, events: events(1))])
        try db.execute("SET ROLE muster_auditor")

        #expect(try EventStore(db).readStream("unit-x").count == 1)
        let error = #expect(throws: EventStoreError.self) {
            try EventStore(db).append([StreamAppend(stream: "unit-y", expected: .any, events: events(1))])
        }
        #expect(error?.underlying?.sqlState == "42501")
    }

    @Test func reporterCannotReadEvents() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try db.execute("SET ROLE muster_reporter")
        for sql in ["SELECT * FROM event_store.events", "SELECT * FROM event_store.streams", "SELECT * FROM event_store.commands"] {
            let error = #expect(throws: PostgresError.self) { try db.execute(sql) }
            #expect(error?.sqlState == "42501", "\(sql)")
        }
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct NameCheckTests {
    /// The patterns of `schema/0001`, which `schema/0009` restates in a cheaper form (and `schema/0010` as a domain).
    static let streamPattern = "^[a-z][a-z0-9_]{0,30}-[a-z0-9][a-z0-9-]{0,99}$"
    static let typePattern = "^[A-Za-z][A-Za-z0-9_.]{0,127}$"

    /// Runs `statement` as the owner inside a savepoint, rolled back after: nil when it passes, its SQLSTATE when it
    /// fails with one of `refusals`. Any other failure is thrown.
    func refusal(_ db: PostgresConnection, _ statement: PostgresQuery, among refusals: Set<String>) throws -> String? {
        try db.execute("SAVEPOINT candidate")
        defer { try? db.execute("ROLLBACK TO SAVEPOINT candidate") }
        do {
            _ = try db.query(statement)
            return nil
        } catch {
            guard let state = error.sqlState, refusals.contains(state) else { throw error }
            return state
        }
    }

    /// Whether `statement` passes the checks on the values it writes (a check refuses with SQLSTATE 23514).
    func accepted(_ db: PostgresConnection, _ statement: PostgresQuery) throws -> Bool {
        try refusal(db, statement, among: ["23514"]) == nil
    }

    func matches(_ db: PostgresConnection, _ text: String, _ pattern: String) throws -> Bool {
        try db.query("SELECT \(text) ~ \(pattern) AS m").first?.decode("m") ?? false
    }

    /// Names on both sides of every boundary of 0001's stream-name pattern.
    static let streamNames: [String] = {
        var names = ["", "-", "a-", "-a", "a-b", "A-b", "a-B", "1-a", "_-a", "a_-a", "a--", "a-1", "a-1-2", "a--b",
                     "a-b\n", "a\n-b", "a-b ", " a-b", "a-é", "é-a", "a-ｂ", "a.b-c", "a-b.c", "a_b_c-x_y", "ab", "a-_"]
        for category in [0, 1, 2, 30, 31, 32, 33] {
            for id in [0, 1, 2, 99, 100, 101] {
                names.append(String(repeating: "c", count: category) + "-" + String(repeating: "9", count: id))
                names.append("a" + String(repeating: "_", count: max(category - 1, 0)) + "-" + String(repeating: "-", count: id))
                names.append("a" + String(repeating: "7", count: max(category - 1, 0)) + "-x" + String(repeating: "-", count: max(id - 1, 0)))
            }
        }
        return names
    }()

    @Test func theStreamNameCheckAcceptsExactlyWhatThePatternOf0001Accepts() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        let names = Self.streamNames
        try db.execute("BEGIN")
        defer { try? db.execute("ROLLBACK") }
        var accepted = 0
        for name in names {
            let byTable = try self.accepted(db, "INSERT INTO event_store.streams (stream_name, category, version, head_hash) VALUES (\(name), 'c', 0, '\\x00')")
            #expect(byTable == (try matches(db, name, Self.streamPattern)), "stream name \(name.debugDescription)")
            if byTable { accepted += 1 }
        }
        // Both sides of each boundary are in the list.
        #expect(accepted > 10 && accepted < names.count - 10)
    }

    /// `event_store.append` checks each stream's name itself, to refuse a request with its own error (MU003) before
    /// anything is written; `schema/0011` restates that check in 0009's form.
    @Test func theGeneralAppendRefusesExactlyTheNamesThePatternOf0001Refuses() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try db.execute("BEGIN")
        defer { try? db.execute("ROLLBACK") }
        var refused = 0
        for name in Self.streamNames {
            let quoted = String(decoding: try JSONEncoder().encode(name), as: UTF8.self)
            let request = #"{"streams": [{"stream": \#(quoted), "expected": "no_stream", "events": [{"event_id": "\#(UUID())", "type": "T", "schema_version": 1, "payload": {}}]}]}"#
            let state = try refusal(db, "SELECT event_store.append(NULL, NULL, \(request)::jsonb)", among: ["MU003"])
            let matches = try matches(db, name, Self.streamPattern)
            #expect(state == (matches ? nil : "MU003"), "stream name \(name.debugDescription)")
            if state != nil { refused += 1 }
        }
        #expect(refused > 10 && refused < Self.streamNames.count - 10)
    }

    @Test func aStreamNameSetByAnUpdateIsCheckedToo() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-aus-3rar", expected: .noStream, events: events(1))])
        try db.execute("BEGIN")
        defer { try? db.execute("ROLLBACK") }
        #expect(try !accepted(db, "UPDATE event_store.streams SET stream_name = 'Unit-aus-3rar' WHERE stream_name = 'unit-aus-3rar'"))
        #expect(try !accepted(db, "UPDATE event_store.streams SET stream_name = stream_name || '-' || repeat('x', 100)"))
        #expect(try accepted(db, "UPDATE event_store.streams SET stream_name = 'unit-aus-3rar-2' WHERE stream_name = 'unit-aus-3rar'"))
    }

    @Test func theEventTypeCheckAcceptsExactlyWhatThePatternOf0001Accepts() throws {
        let database = try TestDatabase()
        let db = try database.connect()
        var types = ["", "A", "a", "1", "_", ".", "A1", "A_", "A.", "A-B", "A B", "A\n", "\nA", "Aé", "éA", "Ａ", "Unit.Readiness_Reported2"]
        for length in [126, 127, 128, 129, 130] {
            types.append("U" + String(repeating: "x", count: length - 1))
            types.append("U" + String(repeating: ".", count: length - 1))
            types.append("9" + String(repeating: "x", count: length - 1))
        }
        try db.execute("BEGIN")
        defer { try? db.execute("ROLLBACK") }
        var accepted = 0
        for type in types {
            let byTable = try self.accepted(db, """
                INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version, payload, metadata, previous_hash, hash)
                VALUES ('unit-x', 'unit', 1, gen_random_uuid(), \(type), 1, '{}', '{}', '', '')
                """)
            #expect(byTable == (try matches(db, type, Self.typePattern)), "event type \(type.debugDescription)")
            if byTable { accepted += 1 }
        }
        #expect(accepted > 5 && accepted < types.count - 5)
    }
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct HashChainTests {
    /// Alters the store as a superuser would behind its back, with the immutability trigger off.
    func tamper(_ db: PostgresConnection, _ sql: String) throws {
        try db.execute("""
            BEGIN;
            ALTER TABLE event_store.events DISABLE TRIGGER USER;
            \(sql);
            ALTER TABLE event_store.events ENABLE TRIGGER USER;
            COMMIT;
            """)
    }

    func seeded() throws -> (TestDatabase, PostgresConnection) {
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        for s in ["exercise-ts25", "unit-aus-3rar"] {
            for _ in 0..<3 { try store.append([StreamAppend(stream: s, expected: .any, events: events(1))]) }
        }
        return (database, db)
    }

    @Test func anIntactStoreVerifiesClean() throws {
        let (_, db) = try seeded()
        let report = try ChainVerifier(db).verify(batchSize: 2)
        #expect(report.findings.isEmpty, "\(report.findings)")
        #expect(report.events == 6)
        #expect(report.streams == 2)
    }

    @Test func serverAndSwiftComputeTheSameHash() throws {
        let (_, db) = try seeded()
        let row = try db.query("""
            SELECT encode(sha256(previous_hash || event_store.hash_input(stream_name, stream_version, event_id, event_type,
                   schema_version, payload, metadata, recorded_at)), 'hex') AS server, encode(hash, 'hex') AS stored
              FROM event_store.events ORDER BY position LIMIT 1
            """).first
        #expect(try row?.decode("server", as: String.self) == row?.decode("stored", as: String.self))
        #expect(SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex([UInt8]()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(Array(String(repeating: "a", count: 1000).utf8)) == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }

    @Test func anAlteredPayloadIsDetectedAtItsStreamAndVersion() throws {
        let (_, db) = try seeded()
        try tamper(db, "UPDATE event_store.events SET payload = '{\"n\": 99}' WHERE stream_name = 'unit-aus-3rar' AND stream_version = 2")
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.map(\.stream) == ["unit-aus-3rar"])
        #expect(findings.map(\.version) == [2])
        #expect(findings.first?.description.contains("altered") == true)
    }

    @Test func aDeletedEventIsDetected() throws {
        let (_, db) = try seeded()
        try tamper(db, "DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 2")
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.contains { $0.stream == "exercise-ts25" && $0.version == 2 && $0.problem.contains("missing") })
    }

    /// No later event chains over a stream's last one: the record of the append that wrote it names it.
    @Test func aDeletedLastEventIsDetectedByTheRecordOfItsAppend() throws {
        let (_, db) = try seeded()
        try tamper(db, "DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 3")
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.contains { $0.stream == "exercise-ts25" && $0.version == 3 && $0.problem.contains("no longer stored") })
    }

    /// An event added at the end of a stream with a correct chain, by a plain INSERT the triggers allow: no
    /// recorded append wrote it.
    @Test func aCorrectlyChainedEventAddedAtTheEndIsDetected() throws {
        let (_, db) = try seeded()
        try db.execute("""
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, recorded_at, previous_hash, hash)
            SELECT stream_name, category, 4, e.id, 'Forged', 1, '{}', '{}', t.at, hash,
                   sha256(hash || event_store.hash_input(stream_name, 4, e.id, 'Forged', 1, '{}', '{}', t.at))
              FROM event_store.events, (SELECT gen_random_uuid() AS id) e, (SELECT now() AS at) t
             WHERE stream_name = 'exercise-ts25' AND stream_version = 3
            """)
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.count == 1, "\(findings)")
        #expect(findings.contains { $0.stream == "exercise-ts25" && $0.version == 4 && $0.problem.contains("no recorded append") })
    }

    /// The metadata is optional in append_one; when the request is handed on (here: a new stream), it is {}.
    @Test func appendOneWithoutMetadataWritesEmptyMetadataOnEveryPath() throws {
        let (_, db) = try seeded()
        for (stream, expected) in [("unit-nzl-1rnzir", "any"), ("exercise-ts25", "any"), ("exercise-ts25", "exact")] {
            let version = try EventStore(db).version(of: stream)
            _ = try db.query(PostgresQuery(sql: "SELECT event_store.append_one(NULL, NULL, $1, $2, $3, gen_random_uuid(), 'T', 1, '{}', NULL) AS r",
                                           binds: [stream, expected, String(version)]))
        }
        #expect(try db.query("SELECT count(*) AS n FROM event_store.events WHERE event_type = 'T' AND metadata = '{}'").first?.decode("n", as: Int.self) == 3)
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
    }

    /// A store written before schema/0013 has no record of its appends without a command id: the stream's row,
    /// which those appends moved, still shows where each stream had got to. After 0013 the records take over.
    @Test func aDeletedLastEventOfAStoreWrittenBefore0013IsDetectedByItsStreamRow() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let all = try Migrator(directory: Migrator.locateSchemaDirectory())
        let earlier = try MigrationTests().copyOfSchema()
        defer { try? FileManager.default.removeItem(at: earlier) }
        for migration in all.migrations where migration.version >= 13 {
            try FileManager.default.removeItem(at: earlier.appendingPathComponent(migration.name + ".sql"))
        }
        _ = try Migrator(directory: earlier).migrate(db)
        let store = EventStore(db)
        for _ in 0..<3 { try store.append([StreamAppend(stream: "exercise-ts25", expected: .any, events: events(1))]) }
        _ = try all.migrate(db)
        #expect(try db.query("SELECT count(*) AS n FROM event_store.commands").first?.decode("n", as: Int.self) == 0)

        try tamper(db, "DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 3")
        let before = try ChainVerifier(db).verify().findings
        #expect(before.contains { $0.stream == "exercise-ts25" && $0.version == 3 && $0.problem.contains("record says it reached version 3") }, "\(before)")

        // Appends after 0013 leave the row where it was and are covered by their records.
        try tamper(db, "ALTER TABLE event_store.streams DISABLE TRIGGER USER; DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25'; DELETE FROM event_store.streams; ALTER TABLE event_store.streams ENABLE TRIGGER USER")
        try store.append([StreamAppend(stream: "exercise-ts25", expected: .noStream, events: events(1))])
        try store.append([StreamAppend(stream: "exercise-ts25", expected: .exact(1), events: events(1))])
        #expect(try ChainVerifier(db).verify().findings.isEmpty)
        #expect(try db.query("SELECT version FROM event_store.streams").first?.decode("version", as: Int64.self) == 1)
        try tamper(db, "DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 2")
        let after = try ChainVerifier(db).verify().findings
        #expect(after.count == 1 && after.first?.version == 2 && after.first?.problem.contains("no longer stored") == true, "\(after)")
    }

    @Test func reorderedEventsAreDetected() throws {
        let (_, db) = try seeded()
        try tamper(db, """
            ALTER TABLE event_store.events DROP CONSTRAINT events_stream_version_check;
            UPDATE event_store.events SET stream_version = -stream_version WHERE stream_name = 'unit-aus-3rar' AND stream_version IN (1, 2);
            UPDATE event_store.events SET stream_version = CASE stream_version WHEN -1 THEN 2 ELSE 1 END
             WHERE stream_name = 'unit-aus-3rar' AND stream_version < 0
            """)
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.contains { $0.stream == "unit-aus-3rar" && $0.version == 1 })
    }

    @Test func aDisabledTriggerIsReported() throws {
        let (_, db) = try seeded()
        try db.execute("ALTER TABLE event_store.events DISABLE TRIGGER events_immutable")
        let findings = try ChainVerifier(db).verify().findings
        #expect(findings.map(\.problem) == ["immutability trigger events_immutable is disabled"])
    }

    @Test func headDigestIsStableAndDetectsARechainedHistory() throws {
        let (_, db) = try seeded()
        let digest = try HeadDigest.compute(db)
        try EventStore(db).append([StreamAppend(stream: "exercise-ts25", expected: .any, events: events(1))])

        // New events after the checkpoint do not change the digest at that checkpoint.
        let later = try HeadDigest.compute(db, at: digest.checkpoint)
        #expect(later == HeadDigest(parsing: digest.description).map { _ in later })
        #expect(later.digest == digest.digest)
        #expect(HeadDigest(parsing: digest.description)?.checkpoint == digest.checkpoint)

        // An attacker who alters an early event and recomputes the whole chain still changes the digest.
        try tamper(db, """
            ALTER TABLE event_store.streams DISABLE TRIGGER USER;
            UPDATE event_store.events SET payload = '{"n": 42}' WHERE stream_name = 'unit-aus-3rar' AND stream_version = 1
            """)
        try db.execute("""
            DO $$
            DECLARE r record; prev bytea := '\\x0000000000000000000000000000000000000000000000000000000000000000'; h bytea;
            BEGIN
              ALTER TABLE event_store.events DISABLE TRIGGER USER;
              FOR r IN SELECT * FROM event_store.events WHERE stream_name = 'unit-aus-3rar' ORDER BY stream_version LOOP
                h := sha256(prev || event_store.hash_input(r.stream_name, r.stream_version, r.event_id, r.event_type,
                       r.schema_version, r.payload, r.metadata, r.recorded_at));
                UPDATE event_store.events SET previous_hash = prev, hash = h WHERE position = r.position;
                -- The stream's row holds the hash at the version it recorded.
                UPDATE event_store.streams SET head_hash = h WHERE stream_name = r.stream_name AND version = r.stream_version;
                prev := h;
              END LOOP;
              ALTER TABLE event_store.events ENABLE TRIGGER USER;
            END $$
            """)
        #expect(try ChainVerifier(db).verify().findings.isEmpty, "a full re-chain passes the chain check …")
        #expect(try HeadDigest.compute(db, at: digest.checkpoint).digest != digest.digest, "… but not the kept digest")
    }
}
