import Foundation
import Postgres
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct PostgresConnectionTests {
    @Test func bindsParametersAsDataNeverAsSQL() throws {
        // Given
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        try db.execute("CREATE TABLE t (id int, name text)")
        let hostile = "x'); DROP TABLE t; --"

        // When
        try db.query("INSERT INTO t VALUES (\(1), \(hostile)), (\(2), \(String?.none)), (\(3), \("Ωmega 🛰"))")
        let rows = try db.query("SELECT id, name FROM t ORDER BY id")

        // Then
        #expect(rows.count == 3)
        #expect(try rows[0].decode("name", as: String.self) == hostile)
        #expect(try rows[1].decodeIfPresent("name", as: String.self) == nil)
        #expect(try rows[2].decode("name", as: String.self) == "Ωmega 🛰")
    }

    @Test func aConnectionIsIdleAndQuietOnlyOutsideTransactionsAndWhileTheServerKeepsIt() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        #expect(db.isIdleAndQuiet)
        try db.simpleQuery("BEGIN")
        #expect(!db.isIdleAndQuiet, "inside a transaction")
        try db.simpleQuery("ROLLBACK")
        #expect(db.isIdleAndQuiet)

        // The server ends the session: its notice makes the socket readable before any query fails.
        let admin = try database.connect()
        try admin.query("SELECT pg_terminate_backend(\(db.backendPID))")
        var quiet = true
        for _ in 0..<200 where quiet {
            quiet = db.isIdleAndQuiet
            if quiet { usleep(10_000) }
        }
        #expect(!quiet, "a terminated session is not quiet")
        db.close()
        #expect(!db.isIdleAndQuiet)
    }

    @Test func anInterrupterStopsTheRunningStatementAndEveryLaterOneFromAnotherThread() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let interrupter = db.interrupter()
        #expect(!db.wasInterrupted)
        try db.query("SELECT 1 AS one")

        // A statement that would run for a minute is cancelled by the server.
        Thread {
            usleep(300_000)
            interrupter.interrupt()
        }.start()
        let running = #expect(throws: PostgresError.self) { try db.query("SELECT pg_sleep(60)") }
        #expect(running?.sqlState == "57014", "\(running?.description ?? "")")
        #expect(db.wasInterrupted)

        // Every later statement fails the same way without reaching the server.
        let later = #expect(throws: PostgresError.self) { try db.execute("CREATE TABLE interrupted_after (n int)") }
        #expect(later?.sqlState == "57014")
        let observer = try database.connect()
        #expect(try observer.query("SELECT to_regclass('interrupted_after') IS NULL AS absent").first?.decode("absent", as: Bool.self) == true)
        // Other connections are not affected.
        #expect(try observer.query("SELECT 2 AS two").first?.decode("two", as: Int.self) == 2)
    }

    @Test func aReusedQueryIsPreparedFromItsSecondUseAndBindsEachCallsValues() throws {
        // Given
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        func preparedNames() throws -> [String] {
            try db.query("SELECT name FROM pg_prepared_statements ORDER BY name").map { try $0.decode("name", as: String.self) }
        }

        // When / Then: the first use runs unprepared, the second prepares, later ones reuse it.
        var answers: [String] = []
        for value in ["one", "two'); DROP TABLE x; --", "three"] {
            answers.append(try db.query("SELECT upper(\(value)) AS v", reusing: "upper_one").first?.decode("v", as: String.self) ?? "")
            if value == "one" { #expect(try preparedNames().isEmpty) }
        }
        #expect(answers == ["ONE", "TWO'); DROP TABLE X; --", "THREE"])
        #expect(try preparedNames() == ["upper_one"])

        // A name already prepared with other SQL runs that SQL unprepared.
        #expect(try db.query("SELECT lower(\("ABC")) AS v", reusing: "upper_one").first?.decode("v", as: String.self) == "abc")
        // An error in the prepared statement is the server's error, and the statement stays usable.
        #expect(try db.query("SELECT upper(\("1"))::int AS v", reusing: "cast_one").first?.decode("v", as: Int.self) == 1)
        let error = #expect(throws: PostgresError.self) {
            try db.query("SELECT upper(\("y"))::int AS v", reusing: "cast_one")
        }
        #expect(error?.sqlState == "22P02")
        #expect(try preparedNames() == ["cast_one", "upper_one"])
        #expect(try db.query("SELECT upper(\("2"))::int AS v", reusing: "cast_one").first?.decode("v", as: Int.self) == 2)

        // A name the session prepared before (a pooler's kept server connection) is never run in its place.
        try db.execute("PREPARE kept_one AS SELECT 'other SQL' AS v")
        for value in ["a", "b", "c"] {
            #expect(try db.query("SELECT upper(\(value)) AS v", reusing: "kept_one").first?.decode("v", as: String.self) == value.uppercased())
        }
    }

    @Test func serverErrorCarriesSQLStateAndStatementButNoBoundValues() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        try db.execute("CREATE TABLE t (id int PRIMARY KEY)")
        try db.query("INSERT INTO t VALUES (\(7))")
        let secret = "s3cret-value"

        // When
        let error = #expect(throws: PostgresError.self) {
            try db.query("INSERT INTO t SELECT \(7) WHERE \(secret) <> ''")
        }

        // Then
        #expect(error?.sqlState == "23505")
        #expect(error?.description.contains("INSERT INTO t") == true)
        #expect(error?.description.contains("23505") == true)
        #expect(error?.description.contains(secret) == false)
        #expect(error?.debugDescription.contains(secret) == true)
    }

    @Test func connectionFailureNamesTheTargetButNotThePassword() {
        let error = #expect(throws: PostgresError.self) {
            _ = try PostgresConnection(conninfo: "host=/nonexistent/socket/dir port=5999 dbname=nowhere user=planner password=hunter2-secret connect_timeout=2")
        }
        #expect(error?.isConnectionFailure == true)
        #expect(error?.description.contains("/nonexistent/socket/dir") == true)
        #expect(error?.description.contains("nowhere") == true)
        #expect(error?.description.contains("hunter2") == false)
    }

    @Test func malformedConnectionStringsNeverPutThePasswordInTheError() {
        // libpq quotes parts of these in its message, or reads part of the password as a host or port.
        let password = "Sup3r-s3cret_pw"
        let strings = [
            "postgresql://planner:\(password)%zz@127.0.0.1:1/muster",
            "postgresql://planner:\(password)@[::1/muster",
            "postgresql://planner:\(password)/x@[::1/muster",
            "postgresql://planner:\(password)@127.0.0.1:notaport/muster",
            "host=/nonexistent user=planner password='\(password)",
            "host=/nonexistent port=5999 dbname=muster user=planner password=\(password) connect_timeout=2",
        ]
        for conninfo in strings {
            let error = #expect(throws: PostgresError.self, "\(conninfo)") { _ = try PostgresConnection(conninfo: conninfo) }
            let text = error.map { "\($0.description) \(String(reflecting: $0))" } ?? ""
            #expect(!text.isEmpty && !text.contains(password) && !text.contains("s3cret"), "\(text)")
        }
    }

    @Test func acceptsPostgresURLs() throws {
        let database = try TestDatabase(migrated: false)
        let host = ProcessInfo.processInfo.environment["PGHOST"] ?? "/tmp"
        let encodedHost = host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? host
        let db = try PostgresConnection(conninfo: "postgresql:///\(database.name)?host=\(encodedHost)")
        #expect(try db.query("SELECT current_database() AS d").first?.decode("d", as: String.self) == database.name)
    }

    @Test func sessionSettingsApplyAndTheUsersOwnStartupOptionsAreKept() throws {
        // Given
        let database = try TestDatabase(migrated: false)
        let serviceFile = FileManager.default.temporaryDirectory.appendingPathComponent("muster-pg-service-\(UUID())")
        try Data("[muster_test]\ndbname=\(database.name)\noptions=-c work_mem=9MB -c TimeZone=Asia/Tokyo\n".utf8).write(to: serviceFile)
        defer { try? FileManager.default.removeItem(at: serviceFile) }
        setenv("PGSERVICEFILE", serviceFile.path, 1)
        defer { unsetenv("PGSERVICEFILE") }
        let query = """
            SELECT current_setting('DateStyle') AS date_style, current_setting('TimeZone') AS time_zone,
                   current_setting('IntervalStyle') AS interval_style, current_setting('client_min_messages') AS messages,
                   current_setting('client_encoding') AS encoding, current_setting('work_mem') AS work_mem
            """

        // When: options in the connection string (sent in the startup packet), and in a service file
        // (which libpq reads only while connecting, so the settings follow as SET statements)
        for (conninfo, workMem) in [("\(database.conninfo) options='-c work_mem=8MB -c TimeZone=Europe/Paris'", "8MB"),
                                    ("service=muster_test", "9MB")] {
            let db = try PostgresConnection(conninfo: conninfo)
            let row = try #require(try db.query(PostgresQuery(sql: query)).first)

            // Then: this layer's settings win, the user's others stay
            #expect(try row.decode("date_style", as: String.self) == "ISO, YMD")
            #expect(try row.decode("time_zone", as: String.self) == "UTC")
            #expect(try row.decode("interval_style", as: String.self) == "iso_8601")
            #expect(try row.decode("messages", as: String.self) == "warning")
            #expect(try row.decode("encoding", as: String.self) == "UTF8")
            #expect(try row.decode("work_mem", as: String.self) == workMem, "\(conninfo)")
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        try db.execute("CREATE TABLE t (id int)")
        struct Abort: Error {}

        #expect(throws: Abort.self) {
            try db.transaction {
                try db.query("INSERT INTO t VALUES (\(1))")
                throw Abort()
            }
        }
        try db.transaction { try db.query("INSERT INTO t VALUES (\(2))") }

        let ids = try db.query("SELECT id FROM t").map { try $0.decode("id", as: Int.self) }
        #expect(ids == [2])
    }

    @Test func copyInAndOutRoundTripsAwkwardText() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        try db.execute("CREATE TABLE t (id int, note text)")
        let notes: [String?] = ["tab\there", "new\nline", "back\\slash", nil, "plain"]

        // When
        let copied = try db.copyIn("COPY t (id, note) FROM STDIN",
                                   lines: notes.enumerated().map { "\($0.offset)\t\(PostgresCopy.escape($0.element))" })
        var out = Data()
        try db.copyOut("COPY (SELECT count(*) FROM t) TO STDOUT") { out.append(contentsOf: $0) }
        let back = try db.query("SELECT note FROM t ORDER BY id").map { try $0.decodeIfPresent("note", as: String.self) }

        // Then
        #expect(copied == notes.count)
        #expect(String(decoding: out, as: UTF8.self) == "\(notes.count)\n")
        #expect(back == notes)
    }

    @Test func copyErrorIsReportedAndTheConnectionStaysUsable() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        try db.execute("CREATE TABLE t (id int)")
        let error = #expect(throws: PostgresError.self) {
            try db.copyIn("COPY t (id) FROM STDIN", lines: ["1", "not-a-number"])
        }
        #expect(error?.sqlState == "22P02")
        #expect(try db.query("SELECT count(*) AS n FROM t").first?.decode("n", as: Int.self) == 0)
    }

    @Test func listenReceivesNotifications() throws {
        let database = try TestDatabase(migrated: false)
        let listener = try database.connect()
        let sender = try database.connect()
        try listener.listen("muster_test")

        // Nothing yet: the wait times out empty.
        #expect(try listener.waitForNotifications(timeout: 0.05).isEmpty)
        try sender.notify("muster_test", payload: "exercise")
        let got = try listener.waitForNotifications(timeout: 5)

        #expect(got.map(\.channel) == ["muster_test"])
        #expect(got.first?.payload == "exercise")
        #expect(got.first?.senderPID == sender.backendPID)
    }

    @Test func timestampsRoundTripThroughTheServer() throws {
        let database = try TestDatabase(migrated: false)
        let db = try database.connect()
        let instant = Date(timeIntervalSince1970: 1_752_364_800.123456) // 2025-07-13T00:00:00.123456Z
        let row = try db.query("SELECT \(instant)::timestamptz AS t, (\(instant)::timestamptz)::text AS s").first
        let back: Date? = try row?.decode("t")
        #expect(abs((back?.timeIntervalSince1970 ?? 0) - instant.timeIntervalSince1970) < 0.000_001)
        #expect(try row?.decode("s", as: String.self) == "2025-07-13 00:00:00.123456+00")
        #expect(PostgresTimestamp.format(instant) == "2025-07-13T00:00:00.123456Z")
    }

    @Test func queryFragmentsRenumberPlaceholders() {
        var q: PostgresQuery = "SELECT * FROM t WHERE a = \(1) AND b = \(2)"
        q.append(" AND c = \(3) AND d = $$x$$")
        #expect(q.sql == "SELECT * FROM t WHERE a = $1 AND b = $2 AND c = $3 AND d = $$x$$")
        #expect(q.binds == ["1", "2", "3"])
    }
}
