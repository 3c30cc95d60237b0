@testable import EventSourcing
import Foundation
import Postgres
import TestSupport
import Testing

/// Counts events per stream; `weight` lets a test tell one generation from another.
struct StreamCounts: EventByEventProjection {
    var name = "stream_counts"
    var weight = 1
    var version = 1
    /// Simulates a crash: `apply` throws on the event at this position.
    var failAt: Int64?

    struct Crash: Error, CustomStringConvertible {
        let position: Int64
        var description: String { "simulated crash at position \(position)" }
    }

    func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("CREATE TABLE \(schema).counts (stream text PRIMARY KEY, events bigint NOT NULL, last_version bigint NOT NULL)")
    }

    func createIndexes(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("CREATE INDEX counts_by_events ON \(schema).counts (events)")
    }

    func apply(_ event: RecordedEvent, in schema: String, _ db: PostgresConnection) throws {
        if event.position == failAt { throw Crash(position: event.position) }
        try db.query("""
            INSERT INTO \(unescaped: schema).counts AS c VALUES (\(event.stream), \(weight), \(event.version))
            ON CONFLICT (stream) DO UPDATE SET events = c.events + excluded.events, last_version = excluded.last_version
            """)
    }

    func createViews(liveSchema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE OR REPLACE VIEW public.stream_totals AS
            SELECT count(*) AS streams, coalesce(sum(events), 0) AS events FROM \(liveSchema).counts
            """)
    }
}

/// Counts events per category with one statement per batch (`statements`), which the runner sends in one
/// message with the other projections' statements and the checkpoint update. With `poison`, a batch that
/// holds an event of that type fails (division by zero).
struct CategoryCounts: Projection {
    var name = "category_counts"
    var poison: String?

    func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("CREATE TABLE \(schema).counts (category text PRIMARY KEY, events bigint NOT NULL)")
    }

    func statements(applying batch: EventBatch, in schema: String) -> String? { sql(batch, schema) }

    private func sql(_ batch: EventBatch, _ schema: String) -> String {
        var sql = """
            INSERT INTO \(schema).counts AS c
            SELECT e.category, count(*) FROM event_store.events e WHERE \(batch.condition()) GROUP BY e.category
            ON CONFLICT (category) DO UPDATE SET events = c.events + excluded.events
            """
        if let poison {
            sql += ";\nSELECT 1 / (e.position - e.position) FROM event_store.events e WHERE \(batch.condition()) AND e.event_type = '\(poison)'"
        }
        return sql
    }
}

/// Records each batch it is asked to apply; it reads only events of `Wanted`.
struct WantedOnly: Projection {
    let name = "wanted_only"
    var eventTypes: Set<String>? { ["Wanted"] }

    func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("CREATE TABLE \(schema).calls (through bigint PRIMARY KEY, wanted bigint NOT NULL)")
    }

    func statements(applying batch: EventBatch, in schema: String) -> String? {
        """
        INSERT INTO \(schema).calls SELECT \(batch.through.position), count(*) FROM event_store.events e
         WHERE \(batch.condition()) AND e.event_type = 'Wanted'
        """
    }
}

private func counts(_ db: PostgresConnection) throws -> [String: Int64] {
    var out: [String: Int64] = [:]
    for row in try db.query("SELECT stream, events FROM rm_stream_counts.counts") {
        out[try row.decode("stream")] = try row.decode("events")
    }
    return out
}

private func totals(_ db: PostgresConnection, _ from: String = "rm_stream_counts.counts") throws -> String {
    let sql = from == "view" ? "SELECT streams, events FROM public.stream_totals"
                             : "SELECT count(*) AS streams, coalesce(sum(events), 0) AS events FROM \(from)"
    let row = try db.query(PostgresQuery(sql: sql))[0]
    return "\(try row.decode("streams", as: Int.self))/\(try row.decode("events", as: Int64.self))"
}

/// Polls `condition` until it holds or `seconds` pass; returns whether it held.
private func eventually(_ seconds: Double = 20, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.02)
    }
    return try condition()
}

/// Starts `body` on a thread; the returned semaphore is signalled when it ends.
private func background(_ body: @escaping @Sendable () -> Void) -> DispatchSemaphore {
    let done = DispatchSemaphore(value: 0)
    Thread {
        body()
        done.signal()
    }.start()
    return done
}

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct ProjectionRunnerTests {
    @Test func catchUpAppliesEveryEventOnceAndResumesFromItsCheckpoint() throws {
        // Given
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(3))])
        try store.append([StreamAppend(stream: "unit-b", expected: .noStream, events: events(2)),
                          StreamAppend(stream: "exercise-x", expected: .noStream, events: events(1))])
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()], batchSize: 4)

        // When
        let first = try runner.catchUp()
        let second = try runner.catchUp()

        // Then
        #expect(first == ["stream_counts": 6])
        #expect(second == ["stream_counts": 0])
        #expect(try counts(db) == ["unit-a": 3, "unit-b": 2, "exercise-x": 1])
        let status = try #require(try runner.status().first)
        #expect(try status.checkpoint == store.read(after: .start).last?.checkpoint)
        #expect(status.eventsProcessed == 6)
        #expect(status.lagEvents == 0)
        #expect(status.generation == 1)
        #expect(try totals(db, "view") == "3/6")

        // And new events are applied from the checkpoint on.
        try store.append([StreamAppend(stream: "unit-a", expected: .exact(3), events: events(2))])
        #expect(try runner.catchUp() == ["stream_counts": 2])
        #expect(try counts(db)["unit-a"] == 5)
        #expect(try runner.status().first?.checkpoint == (try store.read(after: .start).last?.checkpoint))
    }

    @Test func aRoundOfStatementsAndSwiftProjectionsAppliesAllOrNothingAndNamesTheOneThatFailed() throws {
        // Given: two projections that give their statements, one applied from Swift, all built.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(3))])
        let projections: [any Projection] = [CategoryCounts(), CategoryCounts(name: "poisoned", poison: "Poison"), StreamCounts()]
        let runner = ProjectionRunner(try database.connect(), projections: projections, batchSize: 100)
        #expect(try runner.catchUp() == ["category_counts": 3, "poisoned": 3, "stream_counts": 3])

        // When: the next catch-up applies events of two categories in one round.
        try store.append([StreamAppend(stream: "unit-a", expected: .exact(3), events: events(2)),
                          StreamAppend(stream: "exercise-x", expected: .noStream, events: events(1))])
        let applied = try runner.catchUp()

        // Then
        #expect(applied == ["category_counts": 3, "poisoned": 3, "stream_counts": 3])
        let byCategory = Dictionary(uniqueKeysWithValues: try db.query("SELECT category, events FROM rm_category_counts.counts").map {
            (try $0.decode("category", as: String.self), try $0.decode("events", as: Int64.self))
        })
        #expect(byCategory == ["unit": 5, "exercise": 1])
        #expect(try counts(db) == ["unit-a": 5, "exercise-x": 1])

        // When: a batch one projection's statement fails on.
        let before = try runner.status().map { "\($0.name) \($0.checkpoint) \($0.eventsProcessed)" }
        try store.append([StreamAppend(stream: "unit-b", expected: .noStream, events: [event("Poison"), event()])])
        let error = #expect(throws: ProjectionError.self) { try runner.catchUp() }

        // Then: the error names it, and no projection of the round moved or changed.
        #expect(error.map { "\($0)" }?.contains("poisoned") == true, "\(String(describing: error))")
        #expect(error.map { "\($0)" }?.contains("division by zero") == true, "\(String(describing: error))")
        #expect(try runner.status().map { "\($0.name) \($0.checkpoint) \($0.eventsProcessed)" } == before)
        #expect(try db.query("SELECT sum(events) AS n FROM rm_category_counts.counts")[0].decode("n", as: Int64.self) == 6)
        #expect(try counts(db) == ["unit-a": 5, "exercise-x": 1])
        #expect(try db.query("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")[0].decode("n", as: Int.self) == 0)
    }

    @Test func aBatchWithoutAnyOfAProjectionsEventTypesOnlyMovesItsCheckpoint() throws {
        // Given: a projection that reads only `Wanted` events, built.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: [event("Wanted")])])
        let runner = ProjectionRunner(try database.connect(), projections: [WantedOnly(), StreamCounts()])
        try runner.catchUp()
        func calls() throws -> [String] {
            try db.query("SELECT through, wanted FROM rm_wanted_only.calls ORDER BY through").map {
                "\(try $0.decode("through", as: Int64.self)):\(try $0.decode("wanted", as: Int64.self))"
            }
        }
        let built = try calls()

        // When: a batch of other types only, then one that holds a `Wanted` event.
        try store.append([StreamAppend(stream: "unit-a", expected: .exact(1), events: events(2, "Other"))])
        let skipped = try runner.catchUp()
        let afterSkip = try calls()
        let statusAfterSkip = try #require(try runner.status().first { $0.name == "wanted_only" })
        let headAfterSkip = try #require(try store.read(after: .start).last?.checkpoint)
        try store.append([StreamAppend(stream: "unit-b", expected: .noStream, events: [event("Other"), event("Wanted")])])
        let applied = try runner.catchUp()

        // Then: it was not asked to apply the first batch, yet its checkpoint moved past it; the second it applied.
        #expect(skipped == ["wanted_only": 2, "stream_counts": 2])
        #expect(afterSkip == built)
        #expect(statusAfterSkip.checkpoint == headAfterSkip)
        #expect(statusAfterSkip.visibleLag == 0)
        #expect(statusAfterSkip.eventsProcessed == 3)
        #expect(applied == ["wanted_only": 2, "stream_counts": 2])
        let last = try #require(try store.read(after: .start).last)
        #expect(try calls() == built + ["\(last.position):1"])
        #expect(try counts(db) == ["unit-a": 3, "unit-b": 2])
    }

    @Test func aRoundsBookkeepingStaysCheapToPlanOnALargeLog() throws {
        // Given: a log of 200,000 events (written straight into the table: only their number matters here).
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(3))])
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts(), WantedOnly()])
        try runner.catchUp()
        try db.execute("""
            INSERT INTO event_store.events (stream_name, category, stream_version, event_id, event_type, schema_version,
                                            payload, metadata, recorded_at, previous_hash, hash)
            SELECT 'unit-b', 'unit', i, gen_random_uuid(), 'Filler', 1, '{}', '{}', now(), '\\x00', '\\x00'
              FROM generate_series(1, 200000) i;
            ANALYZE event_store.events
            """)

        // When
        let plan = try db.simpleQuery("EXPLAIN (FORMAT JSON) " + ProjectionRunner.checkpointsAndBatches(["stream_counts", "wanted_only"], batchSize: 10_000))
        let row = try #require(plan.first)
        let json = try row.decode("QUERY PLAN", as: String.self)
        let parsed = try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [[String: Any]]
        let top = try #require(parsed?.first?["Plan"] as? [String: Any])
        let cost = try #require(top["Total Cost"] as? Double)

        // Then: far below the cost at which the server compiles a query (jit_above_cost), as it did on every
        // command once the events' types were read without a limit.
        let setting = try db.query("SHOW jit_above_cost").first?.decode("jit_above_cost", as: String.self)
        let jitAbove = try #require(setting.flatMap(Double.init))
        #expect(cost < jitAbove / 10, "total cost \(cost)")
    }

    @Test func aProjectionOfAnotherVersionIsBuiltAgainFromTheLogAndItsTablesAreLogged() throws {
        // Given: a projection caught up at version 1.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(3))])
        #expect(try ProjectionRunner(try database.connect(), projections: [StreamCounts()]).catchUp() == ["stream_counts": 3])
        try store.append([StreamAppend(stream: "unit-b", expected: .noStream, events: events(2))])

        // When the same projection comes back as version 2, writing twice the weight.
        let v2 = ProjectionRunner(try database.connect(), projections: [StreamCounts(weight: 2, version: 2)])
        let applied = try v2.catchUp()

        // Then it was built from the start of the log, as a new generation, with the version on its schema.
        #expect(applied == ["stream_counts": 5])
        #expect(try counts(db) == ["unit-a": 6, "unit-b": 4])
        #expect(try v2.status().first?.generation == 2)
        #expect(try db.query("SELECT obj_description('rm_stream_counts'::regnamespace, 'pg_namespace') AS c").first?.decode("c", as: String.self)
                == "muster projection stream_counts version 2")
        #expect(try totals(db, "view") == "2/10")
        // And built UNLOGGED, it was made LOGGED before readers got it: a crash cannot empty it.
        #expect(try db.query("SELECT count(*) AS n FROM pg_class WHERE relnamespace = 'rm_stream_counts'::regnamespace AND relpersistence <> 'p'")
                .first?.decode("n", as: Int64.self) == 0)
        // And its deferred index, built after the load, is there.
        #expect(try db.query("SELECT count(*) AS n FROM pg_indexes WHERE schemaname = 'rm_stream_counts' AND indexname = 'counts_by_events'")
                .first?.decode("n", as: Int64.self) == 1)
        // And from then on it is caught up without another build.
        try store.append([StreamAppend(stream: "unit-a", expected: .exact(3), events: events(1))])
        #expect(try v2.catchUp() == ["stream_counts": 1])
        #expect(try v2.status().first?.generation == 2)
    }

    @Test func projectionsBuiltWithSharedBatchBoundsEqualProjectionsBuiltAlone() throws {
        // Given 22 events, read in batches of 4 (5 full batches and a short one)
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        for i in 0..<5 {
            try store.append([StreamAppend(stream: "unit-s\(i)", expected: .noStream, events: events(4 + i % 2))])
        }
        let bounds = BatchBounds()

        // When two projections are built one after the other on two connections, sharing the bounds
        let first = ProjectionRunner(try database.connect(), projections: [StreamCounts()], batchSize: 4)
        first.sharedBounds = bounds
        #expect(try first.catchUp() == ["stream_counts": 22])
        #expect(bounds.count == 5)
        let second = ProjectionRunner(try database.connect(), projections: [StreamCounts(name: "stream_counts_b", weight: 2)], batchSize: 4)
        second.sharedBounds = bounds
        #expect(try second.catchUp() == ["stream_counts_b": 22])

        // Then both hold every event once, and each equals a fresh rebuild.
        let b = try db.query("SELECT count(*) AS streams, sum(events) AS events FROM rm_stream_counts_b.counts").first
        #expect(try b?.decode("streams", as: Int64.self) == 5)
        #expect(try b?.decode("events", as: Int64.self) == 44)
        #expect(try totals(db) == "5/22")
        #expect(try first.compareWithRebuild("stream_counts") == [])
        #expect(try second.compareWithRebuild("stream_counts_b") == [])
    }

    @Test func anAppendNotifiesNobodyAndNotifyAppendedNamesTheCategoriesOnce() throws {
        let database = try TestDatabase()
        let listener = try database.connect()
        try listener.listen(ProjectionRunner.channel)
        let store = EventStore(try database.connect())
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(1)),
                          StreamAppend(stream: "exercise-x", expected: .noStream, events: events(1))])
        #expect(try listener.waitForNotifications(timeout: 0.3).isEmpty)
        try store.notifyAppended(streams: ["unit-a", "exercise-x", "unit-b"])
        let got = try listener.waitForNotifications(timeout: 5)
        #expect(got.map(\.payload) == ["unit,exercise"])
    }

    @Test func readsInNumericTransactionOrderAcrossADigitBoundary() throws {
        // Given: an event whose transaction id has fewer digits than an earlier-read one ("9" sorts
        // after "10123" as text, before it as a number), written behind append()'s back.
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-z", expected: .noStream, events: events(1))])
        try db.execute("""
            INSERT INTO event_store.events (transaction_id, stream_name, category, stream_version, event_id, event_type,
                                            schema_version, payload, metadata, previous_hash, hash)
            VALUES ('9', 'unit-z', 'unit', 2, gen_random_uuid(), 'ThingHappened', 1, '{}', '{}', '\\x00', '\\x00')
            """)
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()], batchSize: 1)

        // When / Then: each event is applied once, the older transaction first.
        #expect(try runner.catchUp() == ["stream_counts": 2])
        #expect(try runner.catchUp() == ["stream_counts": 0])
        #expect(try counts(db) == ["unit-z": 2])
        let lastVersion = try db.query("SELECT last_version FROM rm_stream_counts.counts").first?.decode("last_version", as: Int64.self)
        #expect(lastVersion == 1)
    }

    @Test func aCrashMidBatchCommitsNothingAndARestartEqualsARebuild() throws {
        // Given: five events applied, six more waiting.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(5))])
        try ProjectionRunner(try database.connect(), projections: [StreamCounts()]).catchUp()
        let before = try #require(try ProjectionRunner(db, projections: [StreamCounts()]).status().first?.checkpoint)
        for s in ["unit-b", "unit-c", "unit-a"] {
            try store.append([StreamAppend(stream: s, expected: .any, events: events(2))])
        }
        let crashAt = try store.read(after: before)[3].position

        // When the projection fails on the fourth event of the batch
        let crashing = ProjectionRunner(try database.connect(), projections: [StreamCounts(failAt: crashAt)], batchSize: 100)
        let error = #expect(throws: ProjectionError.self) { try crashing.catchUp() }

        // Then nothing of the batch is committed and the checkpoint has not moved.
        #expect(error?.isApplyFailure == true)
        #expect(error?.description.contains("simulated crash at position \(crashAt)") == true, "\(error?.description ?? "")")
        #expect(error?.description.contains("checkpoint stays at \(before)") == true)
        #expect(try counts(db) == ["unit-a": 5])
        #expect(try crashing.status().first?.checkpoint == before)

        // And a healthy restart applies each event once: the table equals a fresh rebuild.
        let healthy = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        #expect(try healthy.catchUp() == ["stream_counts": 6])
        #expect(try counts(db) == ["unit-a": 7, "unit-b": 2, "unit-c": 2])
        #expect(try healthy.compareWithRebuild("stream_counts") == [])
    }

    @Test func aSecondWorkerFailsNamingTheHolderOrWaitsForIt() throws {
        // Given: a worker running the projection on another connection.
        let database = try TestDatabase()
        try EventStore(try database.connect()).append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(2))])
        let holderPID = Box<Int32>(0), release = Box(false), failures = Box([String]())
        let holderDone = background {
            do {
                let conn = try database.connect()
                holderPID.mutate { $0 = conn.backendPID }
                try ProjectionRunner(conn, projections: [StreamCounts()]).run(pollInterval: 30, maxDuration: 60) { release.get }
            } catch {
                failures.mutate { $0.append("holder: \(error)") }
            }
        }
        let observer = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        #expect(try eventually { try observer.status().first.map { $0.workerPID != nil && $0.lagEvents == 0 } == true })
        #expect(try observer.status().first?.workerPID == holderPID.get)
        // An event the worker will not see before its next poll (nobody notifies): there is work to do.
        try EventStore(try database.connect()).append([StreamAppend(stream: "unit-b", expected: .noStream, events: events(1))])

        // When a second worker in fail mode starts, it is refused with the holder's pid.
        let error = #expect(throws: ProjectionError.self) {
            try ProjectionRunner(try database.connect(), projections: [StreamCounts()], whenBusy: .fail).catchUp()
        }
        #expect(error?.isBusy == true)
        #expect(error?.holderPID == holderPID.get)
        #expect(error?.description.contains("pid \(holderPID.get)") == true, "\(error?.description ?? "")")

        // And in wait mode it proceeds once the first worker stops.
        let waiterApplied = Box<[String: Int]?>(nil)
        let waiterDone = background {
            do {
                let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()], whenBusy: .wait)
                let applied = try runner.catchUp()
                waiterApplied.mutate { $0 = applied }
            } catch {
                failures.mutate { $0.append("waiter: \(error)") }
            }
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(waiterApplied.get == nil, "the waiting worker must not run while the lock is held")
        release.mutate { $0 = true }
        #expect(holderDone.wait(timeout: .now() + 20) == .success)
        #expect(waiterDone.wait(timeout: .now() + 20) == .success)
        #expect(waiterApplied.get == ["stream_counts": 1])
        #expect(failures.get.isEmpty, "\(failures.get)")
    }

    @Test func aLiveWorkerWakesOnANotificationAfterTheCommitLongBeforeItsPollInterval() throws {
        // Given: a worker that polls only every 30 s.
        let database = try TestDatabase()
        let db = try database.connect()
        let stop = Box(false), failures = Box([String]())
        let done = background {
            do {
                try ProjectionRunner(try database.connect(), projections: [StreamCounts()])
                    .run(pollInterval: 30, maxDuration: 60) { stop.get }
            } catch {
                failures.mutate { $0.append("\(error)") }
            }
        }
        defer { stop.mutate { $0 = true } }
        let observer = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        #expect(try eventually { try observer.status().first?.exists == true && observer.status().first?.workerPID != nil })
        Thread.sleep(forTimeInterval: 0.3)  // let it settle into its wait

        // When an event is appended and, after the commit, the writer notifies
        let started = Date()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-live", expected: .noStream, events: events(1))])
        try store.notifyAppended(streams: ["unit-live"])

        // Then the worker applies it well before the next poll.
        #expect(try eventually(20) { try counts(db)["unit-live"] == 1 })
        #expect(Date().timeIntervalSince(started) < 20)
        stop.mutate { $0 = true }
        #expect(done.wait(timeout: .now() + 20) == .success)
        #expect(failures.get.isEmpty, "\(failures.get)")
    }

    @Test func rebuildSwapsSoThatReadersSeeOnlyTheOldOrTheNewTables() throws {
        // Given: 30 streams of 40 events applied with weight 1.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        for s in 0..<30 {
            try store.append([StreamAppend(stream: "unit-s\(s)", expected: .noStream, events: events(40))])
        }
        try ProjectionRunner(try database.connect(), projections: [StreamCounts()]).catchUp()
        #expect(try totals(db) == "30/1200")

        // When it is rebuilt with weight 2 while a reader reads the table and the view in a loop
        let stop = Box(false), seen = Box(Set<String>()), failures = Box([String]())
        let reader = background {
            do {
                let conn = try database.connect()
                while !stop.get {
                    let table = try totals(conn)
                    let view = try totals(conn, "view")
                    seen.mutate { $0.insert(table); $0.insert(view) }
                }
            } catch {
                failures.mutate { $0.append("reader: \(error)") }
            }
        }
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts(weight: 2)], batchSize: 50)
        let rebuilt = try runner.rebuild("stream_counts")
        #expect(eventually { seen.get.contains("30/2400") })
        stop.mutate { $0 = true }
        #expect(reader.wait(timeout: .now() + 20) == .success)

        // Then the reader saw only complete tables, and the live tables are the rebuild's.
        #expect(failures.get.isEmpty, "\(failures.get)")
        #expect(seen.get == ["30/1200", "30/2400"])
        #expect(rebuilt == ["stream_counts": 1200])
        let status = try #require(try runner.status().first)
        #expect(status.generation == 2)
        #expect(status.eventsProcessed == 1200)
        #expect(status.lagEvents == 0)
        #expect(try runner.compareWithRebuild("stream_counts") == [])
        #expect(try db.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'rm\\_stream\\_counts\\_\\_%'").isEmpty)
    }

    @Test func rebuildWhileALiveWorkerAndWritersRunLosesAndDoublesNothing() throws {
        // Given: a live worker and a writer appending while the projection is rebuilt twice.
        let database = try TestDatabase()
        let db = try database.connect()
        try EventStore(db).append([StreamAppend(stream: "unit-w", expected: .noStream, events: events(50))])
        let stop = Box(false), writing = Box(true), failures = Box([String]())
        let worker = background {
            do {
                try ProjectionRunner(try database.connect(), projections: [StreamCounts()], batchSize: 7)
                    .run(pollInterval: 0.2, maxDuration: 120) { stop.get }
            } catch {
                failures.mutate { $0.append("worker: \(error)") }
            }
        }
        let observer = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        #expect(try eventually { try observer.status().first.map { $0.exists && $0.workerPID != nil } == true })
        let writer = background {
            do {
                let store = EventStore(try database.connect())
                for i in 0..<60 {
                    try store.append([StreamAppend(stream: "unit-w\(i % 4)", expected: .any, events: events(2))])
                }
            } catch {
                failures.mutate { $0.append("writer: \(error)") }
            }
            writing.mutate { $0 = false }
        }

        // When
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()], batchSize: 10)
        try runner.rebuild()
        try runner.rebuild(nil)
        #expect(writer.wait(timeout: .now() + 60) == .success)
        #expect(try eventually { try runner.status().first?.lagEvents == 0 })
        stop.mutate { $0 = true }
        #expect(worker.wait(timeout: .now() + 20) == .success)

        // Then every event counts once.
        #expect(failures.get.isEmpty, "\(failures.get)")
        let total = try totals(db)
        let status = try #require(try runner.status().first)
        let detail = "\(try counts(db)) \(try runner.compareWithRebuild("stream_counts"))"
        #expect(total == "5/170", "\(detail)")
        #expect(status.eventsProcessed == 170, "\(status)")
        #expect(status.generation == 3)
        let differences = try runner.compareWithRebuild("stream_counts")
        #expect(differences == [])
    }

    @Test func statusReportsLagAndTheTransactionHoldingTheHorizon() throws {
        // Given: five events applied, three more waiting.
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(5))])
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        let unknown = try runner.status()
        #expect(unknown.first?.exists == false)
        #expect(unknown.first?.lagEvents == 5)
        try runner.catchUp()
        try store.append([StreamAppend(stream: "unit-a", expected: .exact(5), events: events(3))])

        // When another session appends in a transaction it leaves open, and a third appends after it
        let open = try database.connect()
        try open.execute("BEGIN")
        try EventStore(open).append([StreamAppend(stream: "unit-open", expected: .any, events: events(1))])
        try store.append([StreamAppend(stream: "unit-b", expected: .any, events: events(1))])
        let held = try #require(try runner.status().first)

        // Then the status counts both kinds of lag and names the session holding the horizon.
        #expect(held.visibleLag == 3)
        #expect(held.pendingLag == 1)
        #expect(held.lagEvents == 4)
        #expect(held.lagSeconds >= 0)
        #expect(held.horizonHolder?.pid == open.backendPID)
        #expect(held.horizonHolder?.state == "idle in transaction")
        #expect(held.horizonHolder?.description.contains("pid \(open.backendPID)") == true)

        // And once it commits, a catch-up clears the lag.
        try open.execute("COMMIT")
        #expect(try runner.catchUp() == ["stream_counts": 5])
        let caughtUp = try #require(try runner.status().first)
        #expect(caughtUp.lagEvents == 0)
        #expect(caughtUp.lagSeconds == 0)
        #expect(caughtUp.horizonHolder == nil)
        #expect(caughtUp.eventsProcessed == 10)
    }

    @Test func compareWithRebuildFindsAlteredRowsAndScratchBuildsStopAsOf() throws {
        // Given
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try store.append([StreamAppend(stream: "unit-a", expected: .noStream, events: events(3))])
        try store.append([StreamAppend(stream: "unit-b", expected: .noStream, events: events(2))])
        let runner = ProjectionRunner(try database.connect(), projections: [StreamCounts()])
        #expect(try runner.compareWithRebuild("stream_counts").count == 1)  // never ran
        try runner.catchUp()
        #expect(try runner.compareWithRebuild("stream_counts") == [])

        // When a live row is altered behind the runner's back
        try db.execute("UPDATE rm_stream_counts.counts SET events = 99 WHERE stream = 'unit-a'")
        let differences = try runner.compareWithRebuild("stream_counts")

        // Then both directions of the difference are reported, naming the table and the row.
        #expect(differences.count == 2, "\(differences)")
        #expect(differences.allSatisfy { $0.contains("rm_stream_counts.counts") })
        #expect(differences.contains { $0.contains("in the live table but not in a fresh rebuild") && $0.contains("(unit-a,99,3)") })
        #expect(differences.contains { $0.contains("in a fresh rebuild but not in the live table") && $0.contains("(unit-a,3,3)") })

        // And a scratch build as of a position leaves the live tables alone.
        let cut = try store.read(after: .start)[3].position
        let scratch = try runner.buildScratch("stream_counts", asOf: .position(cut))
        #expect(try totals(db, "\(scratch).counts") == "2/4")
        #expect(try totals(db) == "2/101")
        try runner.dropScratch(scratch)
        #expect(throws: ProjectionError.self) { try runner.dropScratch("rm_stream_counts") }
        #expect(try db.query("SELECT 1 FROM pg_namespace WHERE nspname = \(scratch)").isEmpty)
        #expect(throws: ProjectionError.self) { try runner.rebuild("nope") }
    }
}
