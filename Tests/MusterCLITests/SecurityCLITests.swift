import Foundation
import Postgres
import TestSupport
import Testing

/// Secrets in connection strings, role separation over the read models, and tamper evidence
/// through `muster audit verify`.
@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct SecurityCLITests {
    static let password = "Sup3r-s3cret_pw"

    /// Connection strings that fail in different places, each holding the password.
    static let failingConnections: [(String, String)] = [
        ("unreachable host (URL)", "postgresql://planner:\(password)@127.0.0.1:1/muster?connect_timeout=2"),
        ("unreachable socket (keywords)", "host=/nonexistent port=5999 dbname=muster user=planner password=\(password) connect_timeout=2"),
        ("quoted password, unreachable", "host=/nonexistent dbname=muster user=planner password='\(password) x' connect_timeout=2"),
        ("malformed percent-encoding in the password", "postgresql://planner:\(password)%zz@127.0.0.1:1/muster"),
        ("unmatched IPv6 bracket", "postgresql://planner:\(password)@[::1/muster"),
        ("unencoded slash in the password, unmatched bracket", "postgresql://planner:\(password)/x@[::1/muster"),
        ("unknown URL parameter", "postgresql://planner:\(password)@127.0.0.1:1/muster?password=\(password)&bogus=1"),
        ("bad port", "postgresql://planner:\(password)@127.0.0.1:notaport/muster"),
        ("unterminated quote", "host=/nonexistent user=planner password='\(password)"),
        ("password in the query string", "postgresql://127.0.0.1:1/muster?user=planner&password=\(password)&connect_timeout=2"),
    ]

    @Test func passwordsNeverAppearInOutputOrErrors() throws {
        let database = try TestDatabase()
        let host = ProcessInfo.processInfo.environment["PGHOST"] ?? "/tmp"
        let url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("muster-security-\(UUID()).jsonl")
        defer { try? FileManager.default.removeItem(at: url) }
        try #"{"command": "registerNation", "nation": "NZL", "name": "New Zealand"}"#.write(to: url, atomically: true, encoding: .utf8)
        let commands: [[String]] = [
            ["report", "readiness"], ["submit", #"{"command": "registerNation", "nation": "TON", "name": "Tonga"}"#],
            ["import", url.path], ["audit", "verify"], ["db", "status"], ["nation", "register", "--nation", "FJI", "--name", "Fiji"],
        ]
        // Failing connections, given with --database, with --database=, and as DATABASE_URL.
        var connections = Self.failingConnections
        connections.append(("missing database", "host=\(host) dbname=muster_no_such_db user=postgres password=\(Self.password)"))
        connections.append(("missing role", "host=\(host) dbname=\(database.name) user=muster_no_such_role password=\(Self.password)"))
        for (name, conninfo) in connections {
            for command in commands {
                for form in command == commands[0] ? ["flag", "flag=", "env"] : command == commands[1] ? ["flag", "env"] : ["flag"] {
                    let result: Muster.Result
                    switch form {
                    case "flag": result = try Muster.run(command + ["--database", conninfo])
                    case "flag=": result = try Muster.run(command + ["--database=\(conninfo)"])
                    default: result = try Muster.run(command, environment: ["DATABASE_URL": conninfo])
                    }
                    let label = "\(name), \(command.prefix(2).joined(separator: " ")), \(form)"
                    #expect(result.status != 0, "\(label): \(result.stdout)")
                    Self.expectNoSecret(result, label)
                }
            }
        }
        // A password in PGPASSWORD never appears either.
        let env = try Muster.run(["report", "readiness"], environment: [
            "PGPASSWORD": Self.password, "PGHOST": "/nonexistent", "PGPORT": "5999", "PGDATABASE": "muster", "DATABASE_URL": nil,
        ])
        #expect(env.status == 1)
        Self.expectNoSecret(env, "PGPASSWORD")

        // And a connection that succeeds (the test cluster trusts local users) prints no password either.
        let working = "host=\(host) dbname=\(database.name) password=\(Self.password)"
        for command in commands + [["audit", "log"], ["report", "schedule", "--format", "json"], ["audit", "head"], ["projections", "status"]] {
            let result = try Muster.run(command + ["--database", working])
            Self.expectNoSecret(result, "working connection, \(command.prefix(2).joined(separator: " "))")
        }
        let stored = try database.connect().query("SELECT count(*) AS n FROM event_store.events WHERE metadata::text LIKE \("%" + Self.password + "%") OR payload::text LIKE \("%" + Self.password + "%")")
        #expect(try stored.first?.decode("n", as: Int.self) == 0, "the password was recorded in an event")
    }

    static func expectNoSecret(_ result: Muster.Result, _ label: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for secret in [password, password.lowercased(), "s3cret"] {
            #expect(!result.stderr.contains(secret), "\(label): stderr shows the password: \(result.stderr)", sourceLocation: sourceLocation)
            #expect(!result.stdout.contains(secret), "\(label): stdout shows the password: \(result.stdout.prefix(500))", sourceLocation: sourceLocation)
        }
        #expect(!result.stderr.contains("Fatal error"), "\(label): \(result.stderr)", sourceLocation: sourceLocation)
    }

    @Test func plannerAndAuditorCannotWriteReadModelsOrCheckpointsAndReporterSeesOnlyReporting() throws {
        // Given a programme applied, so every read model has its tables, views and checkpoints
        let database = try HostileCLI.shared.get()
        let db = try database.connect()
        let readModels = try db.query("""
            SELECT schemaname || '.' || tablename AS t FROM pg_tables WHERE schemaname LIKE 'rm\\_%' ORDER BY 1
            """).map { try $0.decode("t", as: String.self) }
        let views = try db.query("SELECT 'reporting.' || viewname AS v FROM pg_views WHERE schemaname = 'reporting' ORDER BY 1")
            .map { try $0.decode("v", as: String.self) }
        #expect(readModels.count >= 4, "\(readModels)")
        #expect(views.count >= 4, "\(views)")
        #expect(try db.query("SELECT count(*) AS n FROM projection_meta.checkpoints").first?.decode("n", as: Int.self) ?? 0 >= 4)

        // Then by privilege: planners and auditors read but never write read models or checkpoints
        let protected = readModels + ["projection_meta.checkpoints", "event_store.events", "event_store.streams", "event_store.commands"]
        for role in ["muster_planner", "muster_auditor", "muster_reporter"] {
            for table in protected {
                for privilege in ["INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"] {
                    let granted = try db.query("SELECT has_table_privilege(\(role), \(table), \(privilege)) AS g").first?.decode("g", as: Bool.self)
                    #expect(granted == false, "\(role) has \(privilege) on \(table)")
                }
            }
            for schema in ["event_store", "projection_meta", "reporting", "public"] + Set(readModels.map { String($0.prefix { $0 != "." }) }).sorted() {
                let create = try db.query("SELECT has_schema_privilege(\(role), \(schema), 'CREATE') AS g").first?.decode("g", as: Bool.self)
                #expect(create == false, "\(role) may create objects in \(schema)")
            }
            // No function that writes read models or checkpoints is open to the roles.
            for function in try db.query("""
                SELECT p.oid::regprocedure::text AS f FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname LIKE 'rm\\_%' OR n.nspname = 'projection_meta'
                """).map({ try $0.decode("f", as: String.self) }) {
                let execute = try db.query("SELECT has_function_privilege(\(role), \(function), 'EXECUTE') AS g").first?.decode("g", as: Bool.self)
                #expect(execute == false, "\(role) may execute \(function)")
            }
        }
        // And the reporter reads the reporting views and nothing else
        for view in views {
            #expect(try db.query("SELECT has_table_privilege('muster_reporter', \(view), 'SELECT') AS g").first?.decode("g", as: Bool.self) == true, "\(view)")
        }
        for table in protected {
            #expect(try db.query("SELECT has_table_privilege('muster_reporter', \(table), 'SELECT') AS g").first?.decode("g", as: Bool.self) == false,
                    "the reporter reads \(table)")
        }
        #expect(try db.query("SELECT has_function_privilege('muster_reporter', 'event_store.append(uuid, jsonb, jsonb)', 'EXECUTE') AS g")
            .first?.decode("g", as: Bool.self) == false)

        // And by statement, as each role
        for sql in ["UPDATE projection_meta.checkpoints SET position = 0",
                    "DELETE FROM projection_meta.checkpoints",
                    "INSERT INTO projection_meta.checkpoints (name) VALUES ('evil')",
                    "TRUNCATE projection_meta.checkpoints"] + readModels.flatMap({ ["DELETE FROM \($0)", "TRUNCATE \($0)"] }) {
            for role in ["muster_planner", "muster_auditor"] {
                try db.execute("SET ROLE \(role)")
                let error = #expect(throws: PostgresError.self, "\(role): \(sql)") { try db.execute(sql) }
                #expect(error?.sqlState == "42501", "\(role): \(sql): \(error?.description ?? "")")
                try db.execute("RESET ROLE")
            }
        }
        try db.execute("SET ROLE muster_reporter")
        for view in views { try db.execute("SELECT * FROM \(view) LIMIT 1") }
        for sql in ["SELECT * FROM projection_meta.checkpoints", "SELECT * FROM event_store.events"] + readModels.map({ "SELECT * FROM \($0)" }) {
            let error = #expect(throws: PostgresError.self, "\(sql)") { try db.execute(sql) }
            #expect(error?.sqlState == "42501", "\(sql): \(error?.description ?? "")")
        }
        for sql in ["SELECT event_store.append(gen_random_uuid(), NULL, '{\"streams\": [{\"stream\": \"unit-x\", \"events\": [{\"event_id\": \"\(UUID())\", \"type\": \"X\", \"schema_version\": 1, \"payload\": {}}]}]}')"] {
            let error = #expect(throws: PostgresError.self, "\(sql)") { try db.execute(sql) }
            #expect(error?.sqlState == "42501", "\(sql): \(error?.description ?? "")")
        }
        try db.execute("RESET ROLE")
    }

    @Test func auditVerifyNamesTheStreamAndVersionOfEveryKindOfTampering() throws {
        // Given a programme in the store
        let database = try HostileCLI.shared.get()
        #expect(try Muster.run(["audit", "verify"], on: database).status == 0)
        let admin = try PostgresConnection(conninfo: "dbname=postgres")

        let tamperings: [(name: String, sql: String, finding: String)] = [
            ("payload altered", "UPDATE event_store.events SET payload = jsonb_set(payload, '{name}', '\"FORGED\"') WHERE stream_name = 'nation-fji' AND stream_version = 1",
             "stream nation-fji version 1"),
            ("metadata altered (actor)", "UPDATE event_store.events SET metadata = jsonb_set(metadata, '{actor}', '\"someone-else\"') WHERE stream_name = 'exercise-ts25' AND stream_version = 2",
             "stream exercise-ts25 version 2"),
            ("event type altered", "UPDATE event_store.events SET event_type = 'NationInvitedX' WHERE stream_name = 'exercise-ts25' AND stream_version = 2",
             "stream exercise-ts25 version 2"),
            ("schema version altered", "UPDATE event_store.events SET schema_version = 7 WHERE stream_name = 'unit-aus-3rar' AND stream_version = 2",
             "stream unit-aus-3rar version 2"),
            ("recorded_at back-dated", "UPDATE event_store.events SET recorded_at = recorded_at - interval '1 year' WHERE stream_name = 'unit-aus-3rar' AND stream_version = 1",
             "stream unit-aus-3rar version 1"),
            ("event id altered", "UPDATE event_store.events SET event_id = gen_random_uuid() WHERE stream_name = 'alliance-anzus' AND stream_version = 2",
             "stream alliance-anzus version 2"),
            ("first event deleted", "DELETE FROM event_store.events WHERE stream_name = 'alliance-anzus' AND stream_version = 1",
             "stream alliance-anzus version 1"),
            ("middle event deleted", "DELETE FROM event_store.events WHERE stream_name = 'exercise-ts25' AND stream_version = 2",
             "stream exercise-ts25 version 2"),
            ("last event deleted", "DELETE FROM event_store.events WHERE stream_name = 'exercise-ss25' AND stream_version = 3",
             "stream exercise-ss25 version 3"),
            ("two events swapped", """
                ALTER TABLE event_store.events DROP CONSTRAINT events_stream_version_check;
                UPDATE event_store.events SET stream_version = -stream_version WHERE stream_name = 'exercise-ts25' AND stream_version IN (2, 3);
                UPDATE event_store.events SET stream_version = CASE stream_version WHEN -2 THEN 3 ELSE 2 END
                 WHERE stream_name = 'exercise-ts25' AND stream_version < 0
                """, "stream exercise-ts25 version 2"),
            ("event moved to another stream", """
                UPDATE event_store.events SET stream_name = 'nation-usa', stream_version = 2 WHERE stream_name = 'nation-fji' AND stream_version = 1
                """, "stream nation-usa version 2"),
            ("hash replaced", "UPDATE event_store.events SET hash = sha256('x'::bytea) WHERE stream_name = 'nation-aus' AND stream_version = 1",
             "stream nation-aus version 1"),
        ]
        for tampering in tamperings {
            // When the store is altered behind its back (as a superuser, the trigger off), in a copy of the database
            let copy = "muster_test_tamper_\(UUID().uuidString.prefix(8).lowercased())"
            try admin.execute("CREATE DATABASE \(copy) TEMPLATE \(database.name)")
            defer { try? admin.execute("DROP DATABASE IF EXISTS \(copy) WITH (FORCE)") }
            try PostgresConnection(conninfo: "dbname=\(copy)").execute("""
                BEGIN;
                ALTER TABLE event_store.events DISABLE TRIGGER USER;
                \(tampering.sql);
                ALTER TABLE event_store.events ENABLE TRIGGER USER;
                COMMIT;
                """)
            let verify = try Muster.run(["audit", "verify", "--database", "dbname=\(copy)"])

            // Then the auditor's verification fails and names the exact stream and version
            #expect(verify.status == 1, "\(tampering.name): \(verify.stdout)")
            // (An event the projections cannot decode may stop the rebuild check with an error that names it instead.)
            #expect(verify.stdout.contains("FINDING: \(tampering.finding)") || verify.stderr.contains("\(tampering.finding)"),
                    "\(tampering.name): \(verify.stdout) \(verify.stderr)")
        }
    }
}
