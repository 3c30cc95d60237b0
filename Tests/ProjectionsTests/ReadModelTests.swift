import EventSourcing
import Foundation
import Planning
import Postgres
import Projections
import TestSupport
import Testing

/// Wraps a projection and throws after applying the batch holding the event at `failAt`, as a projector
/// killed mid-batch would stop.
struct Crashing: Projection {
    let inner: any Projection
    let failAt: Int64
    var name: String { inner.name }

    struct Crash: Error, CustomStringConvertible {
        let position: Int64
        var description: String { "simulated crash at position \(position)" }
    }

    func createTables(in schema: String, _ db: PostgresConnection) throws { try inner.createTables(in: schema, db) }
    func apply(_ batch: EventBatch, in schema: String, _ db: PostgresConnection) throws {
        try inner.apply(batch, in: schema, db)
        if try batch.events(db).contains(where: { $0.position == failAt }) { throw Crash(position: failAt) }
    }
    func createViews(liveSchema: String, _ db: PostgresConnection) throws { try inner.createViews(liveSchema: liveSchema, db) }
}

let viewColumns: [String: [String]] = {
    var out: [String: [String]] = [:]
    for p in ReadModels.all {
        for v in (p as? any ReportingProjection)?.views ?? [] { out[v.name] = v.columns.map(\.name) }
    }
    return out
}()

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct ReadModelTests {
    @Test func readinessViewsShowLatestOverrideStaleAndThreshold() throws {
        // Given
        let (database, db) = try Scenario.database()

        // When
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // Then: latest report per unit, with the override and staleness.
        #expect(try rows(db, """
            SELECT unit, as_of, c_level, overridden, stale, report_age_days = current_date - as_of
              FROM reporting.readiness_units WHERE unit IN ('nzl-1rnzir', 'usa-rafael-peralta', 'usa-31meu', 'jpn-ardb') ORDER BY unit
            """) == [
                ["jpn-ardb", "2025-05-29", "3", "f", "t", "t"],
                ["nzl-1rnzir", "2025-05-28", "2", "t", "t", "t"],
                ["usa-31meu", "2025-07-20", "3", "f", "t", "t"],
                ["usa-rafael-peralta", Scenario.today.description, "1", "f", "f", "t"],
            ])
        #expect(try rows(db, "SELECT remark FROM reporting.readiness_units WHERE unit = 'nzl-1rnzir'")
            == [["Commander's assessment: spares delivered 2025-06-01; SYNTHETIC demo figure"]])
        #expect(try rows(db, "SELECT personnel, supplies, equipment, training, remark FROM reporting.readiness_units WHERE unit = 'jpn-ardb'")
            == [["3", "2", "1", "2", "Corrected return: personnel shortfall (SYNTHETIC)"]])

        // History keeps every event, the override and the correction included.
        #expect(try rows(db, "SELECT kind, c_level, personnel FROM reporting.readiness_history WHERE unit IN ('nzl-1rnzir', 'jpn-ardb') ORDER BY position")
            == [["reported", "3", "2"], ["reported", "2", "2"], ["overridden", "2", "∅"], ["corrected", "3", "3"]])

        // At StartEx of Talisman Sabre 25: stale reports, one unit below threshold, one falling below it later.
        #expect(try rows(db, """
            SELECT unit, as_of, c_level, age_at_start_days, stale_at_start, below_threshold, current_c_level, below_threshold_now, overridden
              FROM reporting.readiness_exercise WHERE exercise = 'ts25' ORDER BY unit
            """) == [
                ["aus-20str", "2025-05-30", "2", "44", "t", "f", "2", "f", "f"],
                ["aus-3rar", "2025-05-30", "2", "44", "t", "f", "2", "f", "f"],
                ["jpn-ardb", "2025-05-29", "3", "45", "t", "t", "3", "t", "f"],
                ["nzl-1rnzir", "2025-05-28", "2", "46", "t", "f", "2", "f", "t"],
                ["usa-31meu", "2025-05-31", "2", "43", "t", "f", "3", "t", "f"],
            ])
        #expect(try rows(db, """
            SELECT unit, as_of, c_level, age_at_start_days, stale_at_start, below_threshold
              FROM reporting.readiness_exercise WHERE exercise = 'kakadu24' ORDER BY unit
            """) == [
                ["aus-2sqn", "2024-05-28", "2", "74", "t", "f"],
                ["usa-rafael-peralta", "2024-06-01", "1", "70", "t", "f"],
            ])
        // The cancelled exercise keeps no commitments.
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.readiness_exercise WHERE exercise = 'wallaby24'") == 0)

        // Roll-ups.
        #expect(try rows(db, "SELECT nation, units, c1, c2, c3, c4, c5, worst_c_level, stale_units FROM reporting.readiness_by_nation ORDER BY nation") == [
            ["AUS", "4", "0", "4", "0", "0", "0", "2", "4"],
            ["IND", "1", "0", "1", "0", "0", "0", "2", "1"],
            ["JPN", "1", "0", "0", "1", "0", "0", "3", "1"],
            ["NZL", "1", "0", "1", "0", "0", "0", "2", "1"],
            ["USA", "2", "1", "0", "1", "0", "0", "3", "1"],
        ])
        #expect(try rows(db, "SELECT alliance, nations, units, c1, c2, c3, worst_c_level, stale_units FROM reporting.readiness_by_alliance ORDER BY alliance") == [
            ["abcanz", "5", "7", "1", "5", "1", "3", "6"],
            ["anzus", "3", "7", "1", "5", "1", "3", "6"],
            ["nato", "6", "7", "1", "4", "2", "3", "6"],
            ["quad", "4", "8", "1", "5", "2", "3", "7"],
        ])
    }

    @Test func interoperabilityViewsDeriveAndLowerLevels() throws {
        // Given
        let (database, db) = try Scenario.database()

        // When
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // Then
        #expect(try rows(db, """
            SELECT nation_a, nation_b, required, shared, derived_level, level, level_name, observation_ids
              FROM reporting.interoperability_matrix WHERE exercise = 'ts25' ORDER BY nation_a, nation_b
            """) == [
                ["AUS", "JPN", "2", "1", "2", "1", "deconflicted", "link16-aus-jpn"],
                ["AUS", "NZL", "2", "1", "2", "2", "compatible", ""],
                ["AUS", "USA", "2", "1", "2", "1", "deconflicted", "fmn-aus-usa"],
                ["JPN", "NZL", "2", "1", "2", "2", "compatible", ""],
                ["JPN", "USA", "2", "1", "2", "2", "compatible", ""],
                ["NZL", "USA", "2", "1", "2", "2", "compatible", ""],
            ])
        #expect(try rows(db, "SELECT evidence FROM reporting.interoperability_matrix WHERE exercise = 'ts25' AND nation_a = 'AUS' AND nation_b IN ('JPN', 'USA') ORDER BY nation_b") == [
            ["shares 1 of 2 required standards (FMN Spiral 4); missing Link 16; lowered by observation link16-aus-jpn (Link 16 gap, major)"],
            ["shares 1 of 2 required standards (FMN Spiral 4); missing Link 16; lowered by observation fmn-aus-usa (FMN Spiral 4 gap, minor)"],
        ])
        #expect(try rows(db, "SELECT exercise, nation_a, nation_b, required, shared, level, level_name, evidence FROM reporting.interoperability_matrix WHERE exercise <> 'ts25' ORDER BY exercise") == [
            ["kakadu24", "AUS", "USA", "1", "1", "3", "integrated", "shares 1 of 1 required standards (Link 16)"],
            ["malabar23", "AUS", "IND", "1", "0", "0", "not interoperable", "shares none of 1 required standards; missing Link 16"],
        ])
        // Unit × unit: ten pairs of the five committed units; same-nation pairs ignore observations.
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.interoperability_units WHERE exercise = 'ts25'") == 10)
        #expect(try rows(db, """
            SELECT unit_a, unit_b, shared, level, level_name FROM reporting.interoperability_units
             WHERE exercise = 'ts25' AND unit_a IN ('aus-20str', 'aus-3rar') AND unit_b IN ('aus-3rar', 'usa-31meu') ORDER BY 1, 2
            """) == [
                ["aus-20str", "aus-3rar", "1", "2", "compatible"],
                ["aus-20str", "usa-31meu", "1", "1", "deconflicted"],
                ["aus-3rar", "usa-31meu", "1", "1", "deconflicted"],
            ])
        #expect(try rows(db, "SELECT standard, nation, units, unit_list FROM reporting.standard_implementers WHERE name = 'Link 16' ORDER BY nation") == [
            ["data-link: Link 16", "AUS", "2", "aus-2sqn, aus-hmas-brisbane"],
            ["data-link: Link 16", "USA", "2", "usa-31meu, usa-rafael-peralta"],
        ])
        #expect(try rows(db, "SELECT observation, nations::text, standard, severity, observed_level, stage, lowers_level FROM reporting.gap_register ORDER BY position") == [
            ["link16-aus-jpn", "{AUS,JPN}", "data-link: Link 16", "major", "1", "remedial-action", "t"],
            ["fmn-aus-usa", "{AUS,USA}", "fmn: FMN Spiral 4", "minor", "∅", "observation", "t"],
            ["voice-nzl-usa", "{NZL,USA}", "∅", "critical", "∅", "lesson-learned", "f"],
        ])
    }

    @Test func scheduleViewsShowUtilisationAndConflicts() throws {
        // Given
        let (database, db) = try Scenario.database()

        // When
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // Then
        #expect(try rows(db, "SELECT exercise, status, start_date, end_date, lead_nations, types FROM reporting.schedule_exercises WHERE exercise IN ('ts25', 'wallaby24') ORDER BY 1") == [
            ["ts25", "assessment", "2025-07-13", "2025-08-04", "AUS, USA", "livex, ftx, cpx"],
            ["wallaby24", "cancelled", "2024-10-15", "2024-10-24", "AUS", "ftx"],
        ])
        #expect(try rows(db, "SELECT exercise, phase, name, start_date, end_date FROM reporting.schedule_phases ORDER BY exercise, ordinal") == [
            ["malabar23", "harbour", "Harbour phase", "2023-08-11", "2023-08-15"],
            ["malabar23", "sea", "Sea phase", "2023-08-16", "2023-08-21"],
            ["wallaby24", "live", "Live fire", "2024-10-17", "2024-10-22"],
        ])
        #expect(try rows(db, "SELECT milestone, held_on FROM reporting.schedule_milestones WHERE exercise = 'ts25' ORDER BY held_on") == [
            ["cdc", "2024-08-15"], ["ipc", "2024-11-12"], ["mpc", "2025-02-18"], ["mel-mil-workshop", "2025-04-08"],
            ["fpc", "2025-05-20"], ["startex", "2025-07-13"], ["endex", "2025-08-04"],
        ])
        #expect(try rows(db, "SELECT exercise, phase, role, start_date, end_date, days FROM reporting.unit_utilisation WHERE unit = 'aus-2sqn' ORDER BY start_date") == [
            ["rimpac24", "∅", "AEW&C", "2024-06-27", "2024-08-01", "36"],
            ["pb24", "∅", "Airborne early warning and control", "2024-07-12", "2024-08-02", "22"],
            ["kakadu24", "∅", "AEW&C", "2024-08-10", "2024-08-20", "11"],
        ])
        #expect(try rows(db, "SELECT area, exercise, phase, days FROM reporting.area_utilisation ORDER BY area, start_date") == [
            ["coral-sea-east", "malabar23", "sea", "6"],
            ["darwin-airspace", "pb24", "∅", "22"],
            ["darwin-airspace", "kakadu24", "∅", "11"],
            ["shoalwater-bay", "ts25", "∅", "23"],
            ["sydney-fleet-base", "malabar23", "harbour", "5"],
        ])
        #expect(try rows(db, "SELECT kind, resource, exercise_a, exercise_b, overlap_days, gap_days, severity FROM reporting.conflicts ORDER BY kind DESC, resource, exercise_a, exercise_b") == [
            ["unit", "aus-2sqn", "kakadu24", "pb24", "0", "8", "near-conflict"],
            ["unit", "aus-2sqn", "kakadu24", "rimpac24", "0", "9", "near-conflict"],
            ["unit", "aus-2sqn", "pb24", "rimpac24", "21", "0", "conflict"],
            ["area", "darwin-airspace", "kakadu24", "pb24", "0", "8", "near-conflict"],
        ])
        #expect(try rows(db, "SELECT detail FROM reporting.conflicts WHERE severity = 'conflict'") == [
            ["unit aus-2sqn is committed to PITCH BLACK 24 from 2024-07-12 to 2024-08-02 and RIMPAC 2024 from 2024-06-27 to 2024-08-01: the windows overlap by 21 day(s)"],
        ])
    }

    @Test func auditTrailHasEveryEventWithItsMetadata() throws {
        // Given
        let (database, db) = try Scenario.database()

        // When
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // Then
        let events = try count(db, "SELECT count(*) AS n FROM event_store.events")
        #expect(events > 150)
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.audit_trail") == events)
        #expect(try count(db, """
            SELECT count(*) AS n FROM reporting.audit_trail a JOIN event_store.events e USING (position)
             WHERE a.transaction_id = e.transaction_id AND a.stream = e.stream_name AND a.version = e.stream_version
               AND a.event_type = e.event_type AND a.actor = e.metadata ->> 'actor' AND a.command_id IS NOT DISTINCT FROM e.command_id
               AND a.recorded_at = e.recorded_at AND a.reason IS NOT DISTINCT FROM e.metadata ->> 'reason'
               AND a.correlation_id IS NOT DISTINCT FROM (e.metadata ->> 'correlation_id')::uuid
            """) == events)
        #expect(try rows(db, "SELECT event_type, actor, command, reason FROM reporting.audit_trail WHERE stream = 'unit-nzl-1rnzir' AND event_type = 'ReadinessOverridden'") == [
            ["ReadinessOverridden", "nzdf-commander", "overrideReadiness", "∅"],
        ])
        #expect(try rows(db, "SELECT actor, command_id IS NULL FROM reporting.audit_trail WHERE stream = 'unit-aus-2sqn' AND event_type = 'UnitCommitted' AND actor = 'legacy-import'") == [
            ["legacy-import", "t"],
        ])

        // And it shows the events the projection has applied, not those appended since (it reads the log up to its mark).
        try EventStore(db).append([StreamAppend(stream: "unit-aus-late", expected: .noStream,
                                                events: [NewEvent(type: "Noted", schemaVersion: 1, payload: Data("{}".utf8),
                                                                  metadata: EventMetadata(actor: "late"))])])
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.audit_trail") == events)
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.audit_trail") == events + 1)
        #expect(try rows(db, "SELECT actor FROM reporting.audit_trail WHERE stream = 'unit-aus-late'") == [["late"]])
    }

    @Test func rebuildEqualsTablesMaintainedInSmallCatchUps() throws {
        // Given: the scenario applied in slices, with a small batch size, caught up after each slice.
        let database = try TestDatabase()
        let db = try database.connect()
        let runner = ProjectionRunner(try database.connect(), projections: ReadModels.all, batchSize: 7)
        let steps = Scenario.allSteps
        var index = 0
        for size in [1, 5, 13, 40, 3, 60] + Array(repeating: 25, count: 20) where index < steps.count {
            let end = min(index + size, steps.count)
            try Scenario.apply(steps[index..<end], db)
            try runner.catchUp()
            index = end
        }
        try Scenario.appendLegacyImport(db)
        try runner.catchUp()

        // Then each read model equals a fresh rebuild, row for row.
        for p in ReadModels.all {
            #expect(try runner.compareWithRebuild(p.name) == [], "\(p.name)")
        }

        // And after a rebuild swaps in new tables, the views are back, with the same rows.
        let before = try rows(db, "SELECT * FROM reporting.interoperability_matrix ORDER BY exercise, nation_a, nation_b")
        let conflictsBefore = try rows(db, "SELECT * FROM reporting.conflicts ORDER BY 1, 2, 4, 5")
        try runner.rebuild()
        #expect(try rows(db, "SELECT * FROM reporting.interoperability_matrix ORDER BY exercise, nation_a, nation_b") == before)
        #expect(try rows(db, "SELECT * FROM reporting.conflicts ORDER BY 1, 2, 4, 5") == conflictsBefore)
        #expect(try count(db, "SELECT count(*) AS n FROM pg_views WHERE schemaname = 'reporting'") == viewColumns.count)
        for p in ReadModels.all {
            #expect(try runner.compareWithRebuild(p.name) == [], "\(p.name) after rebuild")
        }
    }

    @Test func rebuiltTablesKeepTakingLiveBatches() throws {
        // Given: half the scenario projected, then rebuilt (the rebuild renames its schema into place)
        let database = try TestDatabase()
        let db = try database.connect()
        let steps = Scenario.allSteps
        try Scenario.apply(steps[..<(steps.count / 2)], db)
        let runner = ProjectionRunner(try database.connect(), projections: ReadModels.all, batchSize: 50)
        try runner.catchUp()
        try runner.rebuild()

        // When the rest arrives and the live worker catches up
        try Scenario.apply(steps[(steps.count / 2)...], db)
        try Scenario.appendLegacyImport(db)
        let applied = try runner.catchUp()

        // Then it applied every new event into the rebuilt tables, which equal a fresh rebuild.
        #expect(applied.values.allSatisfy { $0 > 0 }, "\(applied)")
        for p in ReadModels.all {
            #expect(try runner.compareWithRebuild(p.name) == [], "\(p.name)")
        }
    }

    @Test func aSyntheticProgrammeOfEveryEventTypeProjectsConsistently() throws {
        // Given a synthetic programme with every event type, old schema versions included
        let database = try TestDatabase()
        let db = try database.connect()
        let store = EventStore(db)
        try SyntheticProgramme.generate(targetEvents: 12_000) { command in
            let metadata = EventMetadata(actor: command.actor, reason: command.reason, command: command.name)
            try store.append(command.writes.map { w in
                StreamAppend(stream: w.stream, expected: .any,
                             events: w.events.map { NewEvent(type: $0.type, schemaVersion: $0.schemaVersion, payload: $0.payload, metadata: metadata) })
            })
        }

        // When it is projected in small batches
        let runner = ProjectionRunner(try database.connect(), projections: ReadModels.all, batchSize: 333)
        try runner.catchUp()

        // Then every read model equals a rebuild, and the views agree with counts taken from the log itself.
        for p in ReadModels.all {
            #expect(try runner.compareWithRebuild(p.name) == [], "\(p.name)")
        }
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.readiness_history")
            == count(db, "SELECT count(*) AS n FROM event_store.events WHERE event_type IN ('ReadinessReported', 'ReadinessOverridden', 'ReadinessCorrected')"))
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.readiness_history WHERE personnel IS NULL AND kind = 'reported'")
            == count(db, "SELECT count(*) AS n FROM event_store.events WHERE event_type = 'ReadinessReported' AND schema_version = 1"))
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.audit_trail") == count(db, "SELECT count(*) AS n FROM event_store.events"))
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.schedule_exercises")
            == count(db, "SELECT count(*) AS n FROM event_store.streams WHERE category = 'exercise'"))
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.schedule_exercises WHERE status = 'cancelled'")
            == count(db, "SELECT count(*) AS n FROM event_store.events WHERE event_type = 'ExerciseCancelled'"))
        // An upcast v1 plan has its window (from start/end) and no phases.
        #expect(try count(db, """
            SELECT count(*) AS n FROM reporting.schedule_exercises x JOIN event_store.events e
                ON e.event_type = 'ExercisePlanned' AND e.schema_version = 1 AND e.payload ->> 'exercise' = x.exercise
             WHERE x.start_date = (e.payload ->> 'start')::date + coalesce((SELECT sum((p.payload ->> 'shiftDays')::int) FROM event_store.events p
                                    WHERE p.event_type = 'ExercisePostponed' AND p.payload ->> 'exercise' = x.exercise), 0)::int
            """) == count(db, "SELECT count(*) AS n FROM event_store.events WHERE event_type = 'ExercisePlanned' AND schema_version = 1"))
    }

    @Test func aProjectorKilledMidBatchResumesToTheSameTablesAsARebuild() throws {
        // Given: half the scenario projected, the rest waiting.
        let database = try TestDatabase()
        let db = try database.connect()
        let steps = Scenario.allSteps
        try Scenario.apply(steps[..<(steps.count / 2)], db)
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()
        let before = try count(db, "SELECT count(*) AS n FROM event_store.events")
        try Scenario.apply(steps[(steps.count / 2)...], db)
        try Scenario.appendLegacyImport(db)
        let crashAt: Int64 = try db.query("SELECT position FROM event_store.events ORDER BY position OFFSET \(before + 40) LIMIT 1")
            .first?.decode("position") ?? 0

        // When each projector dies on the 41st waiting event of its batch
        for p in ReadModels.all {
            let crashing = ProjectionRunner(try database.connect(), projections: [Crashing(inner: p, failAt: crashAt)], batchSize: 100)
            let error = #expect(throws: ProjectionError.self) { try crashing.catchUp() }
            #expect(error?.isApplyFailure == true, "\(p.name)")
        }
        // and a healthy worker takes over
        let runner = ProjectionRunner(try database.connect(), projections: ReadModels.all, batchSize: 100)
        try runner.catchUp()

        // Then the tables equal a rebuild, and every event was applied exactly once.
        for p in ReadModels.all {
            #expect(try runner.compareWithRebuild(p.name) == [], "\(p.name)")
        }
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.audit_trail") == count(db, "SELECT count(*) AS n FROM event_store.events"))
    }

    @Test func reportersReadTheReportingViewsAndNothingElse() throws {
        // Given
        let (database, db) = try Scenario.database()
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // When
        try db.execute("SET ROLE muster_reporter")

        // Then every reporting view is readable
        for view in viewColumns.keys.sorted() {
            #expect(throws: Never.self, "\(view)") { try db.query(PostgresQuery(sql: "SELECT * FROM reporting.\(view) LIMIT 1")) }
        }
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.readiness_units") == 9)
        // and nothing behind them is.
        let forbidden = ["rm_readiness.units", "rm_readiness.reports", "rm_interoperability.observations", "rm_schedule.commitments",
                         "rm_audit_trail.applied", "event_store.events", "event_store.commands", "projection_meta.checkpoints"]
        for table in forbidden {
            let error = #expect(throws: PostgresError.self, "\(table)") { try db.query(PostgresQuery(sql: "SELECT * FROM \(table) LIMIT 1")) }
            #expect(error?.sqlState == "42501", "\(table): \(String(describing: error))")
        }
        try db.execute("RESET ROLE")

        // Planners and auditors read the views too.
        for role in ["muster_planner", "muster_auditor"] {
            try db.execute("SET ROLE \(role)")
            #expect(try count(db, "SELECT count(*) AS n FROM reporting.conflicts") == 4, "\(role)")
            try db.execute("RESET ROLE")
        }
    }

    @Test func everyViewAndColumnIsCommentedAndDocumented() throws {
        // Given
        let database = try TestDatabase()
        let db = try database.connect()

        // When
        try ProjectionRunner(try database.connect(), projections: ReadModels.all).catchUp()

        // Then the views are exactly the documented ones, with their columns in order and a comment on each.
        let actual = try rows(db, """
            SELECT c.relname, a.attname, coalesce(col_description(c.oid, a.attnum), '') <> '', coalesce(obj_description(c.oid, 'pg_class'), '') <> ''
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
             WHERE n.nspname = 'reporting' ORDER BY c.relname, a.attnum
            """)
        var found: [String: [String]] = [:]
        for r in actual {
            found[r[0], default: []].append(r[1])
            #expect(r[2] == "t" && r[3] == "t", "reporting.\(r[0]).\(r[1]) has no comment")
        }
        #expect(found == viewColumns)

        // And docs/reporting.md names every view and column.
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/reporting.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for (view, columns) in viewColumns {
            #expect(text.contains("reporting.\(view)"), "docs/reporting.md does not describe \(view)")
            for column in columns {
                #expect(text.contains("| `\(column)` |"), "docs/reporting.md does not describe \(view).\(column)")
            }
        }
    }

    @Test func theSameViewsCanBeCreatedOverAScratchRebuildInAnotherSchema() throws {
        // Given: the live read models, and a scratch copy of each as of the end of the demo's 2023 steps.
        let (database, db) = try Scenario.database()
        let runner = ProjectionRunner(try database.connect(), projections: ReadModels.all)
        try runner.catchUp()
        let cut: Int64 = try db.query("SELECT max(position) AS p FROM event_store.events WHERE (payload ->> 'exercise') = 'malabar23'")
            .first?.decode("p") ?? 0
        var scratches: [String: String] = [:]
        for p in ReadModels.all { scratches[p.name] = try runner.buildScratch(p.name, asOf: .position(cut)) }
        defer { for s in scratches.values { try? runner.dropScratch(s) } }

        // When
        try db.execute("CREATE SCHEMA replay_test")
        try ReadModels.createViews(in: "replay_test", reading: scratches, db)

        // Then the past shows only what was planned by then, and the live views are untouched.
        #expect(try rows(db, "SELECT exercise FROM replay_test.schedule_exercises ORDER BY 1") == [["malabar23"]])
        #expect(try count(db, "SELECT count(*) AS n FROM replay_test.audit_trail") == count(db, "SELECT count(*) AS n FROM event_store.events WHERE position <= \(cut)"))
        #expect(try count(db, "SELECT count(*) AS n FROM reporting.schedule_exercises") == 6)
        #expect(try rows(db, "SELECT unit FROM replay_test.readiness_exercise ORDER BY unit, phase") == [
            ["aus-hmas-brisbane"], ["ind-ins-kolkata"], ["ind-ins-kolkata"],
        ])
    }
}
