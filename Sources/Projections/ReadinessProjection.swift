public import EventSourcing
import Planning
public import Postgres

/// Readiness of units: the current report per as-of date, exercises, commitments and alliance
/// membership, so that the views can flag units below an exercise's threshold. Every readiness event as
/// history is the `readiness_history` read model's.
public struct ReadinessProjection: ReportingProjection {
    public let name = "readiness"
    /// 2: the history moved to its own read model (`ReadinessHistoryProjection`).
    public let version = 2

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).units (
                unit text PRIMARY KEY, nation text NOT NULL, service text NOT NULL, echelon text NOT NULL, name text NOT NULL,
                position bigint NOT NULL);
            CREATE TABLE \(schema).reports (
                unit text NOT NULL, as_of date NOT NULL,
                personnel smallint, supplies smallint, equipment smallint, training smallint,
                computed_c_level smallint NOT NULL CHECK (computed_c_level BETWEEN 1 AND 5),
                override_c_level smallint CHECK (override_c_level BETWEEN 1 AND 5), override_remark text,
                correction_reason text, reported_position bigint NOT NULL, updated_position bigint NOT NULL,
                PRIMARY KEY (unit, as_of));
            CREATE TABLE \(schema).exercises (
                exercise text PRIMARY KEY, name text NOT NULL, start_date date NOT NULL, end_date date NOT NULL,
                minimum_c_level smallint NOT NULL, alliance text, status text NOT NULL);
            \(UnitCommitments.tableDDL(schema))
            CREATE TABLE \(schema).alliances (
                alliance text PRIMARY KEY, name text NOT NULL, kind text NOT NULL, founded date NOT NULL, dissolved date);
            CREATE TABLE \(schema).alliance_members (
                position bigint PRIMARY KEY, alliance text NOT NULL, nation text NOT NULL, role text NOT NULL,
                joined date NOT NULL, left_on date);
            """)
        try BatchFunction.create(in: schema, cases: Self.cases, preludeTypes: Self.preludeTypes, prelude: Self.prelude, declarations: "v_keys text[];",
                                 loopFilter: "ev.event_type <> 'ReadinessReported' OR EXISTS (SELECT FROM unnest(v_keys) k WHERE k = (ev.payload ->> 'unit') || '|' || (ev.payload ->> 'asOf'))",
                                 db)
    }

    public func statements(applying batch: EventBatch, in schema: String) -> String? {
        BatchFunction.statements(batch, in: schema)
    }

    public var eventTypes: Set<String>? { Self.types }

    /// Built once: the cases are built anew on every use.
    private static let types = BatchFunction.types(Self.cases, preludeTypes: Self.preludeTypes)

    static let preludeTypes = ["ReadinessReported", "ReadinessOverridden", "ReadinessCorrected"]

    /// The four area ratings (personnel, supplies, equipment, training) of a readiness payload, as smallint
    /// columns in that order. `payload` is the SQL expression of the (upcast) payload.
    static func ratings(_ payload: String) -> String {
        ["personnel", "supplies", "equipment", "training"].map { "(\(payload) -> 'ratings' ->> '\($0)')::smallint" }.joined(separator: ", ")
    }

    /// A new report of a (unit, as-of) replaces its row whole, dropping any override and correction.
    static let reportReplaces = """
        ON CONFLICT (unit, as_of) DO UPDATE SET personnel = excluded.personnel, supplies = excluded.supplies,
            equipment = excluded.equipment, training = excluded.training, computed_c_level = excluded.computed_c_level,
            override_c_level = NULL, override_remark = NULL, correction_reason = NULL,
            reported_position = excluded.reported_position, updated_position = excluded.updated_position;
        """

    /// Set-based work before the batch's loop (see `BatchFunction`): readiness reports are most of a log.
    ///
    /// A report's row is replaced whole by each new report of its (unit, as-of), so for the keys that no
    /// override or correction in this batch touches, the batch's last report is the row: one upsert.
    /// The other keys (`v_keys`) go through the loop, event by event, in order.
    static var prelude: String {
        let ratings = Self.ratings("r.p")
        return """
            v_keys := ARRAY(SELECT DISTINCT (ev.payload ->> 'unit') || '|' || (ev.payload ->> 'asOf') FROM event_store.events ev
                             WHERE {batch} AND ev.event_type IN ('ReadinessOverridden', 'ReadinessCorrected'));
            INSERT INTO {s}.reports
            SELECT DISTINCT ON (r.p ->> 'unit', (r.p ->> 'asOf')::date) r.p ->> 'unit', (r.p ->> 'asOf')::date, \(ratings),
                   (r.p ->> 'cLevel')::smallint, NULL, NULL, NULL, r.position, r.position
              FROM (SELECT ev.position, ev.transaction_id, {payload} AS p FROM event_store.events ev
                     WHERE {batch} AND ev.event_type = 'ReadinessReported'
                       AND NOT EXISTS (SELECT FROM unnest(v_keys) k WHERE k = (ev.payload ->> 'unit') || '|' || (ev.payload ->> 'asOf'))) r
             ORDER BY r.p ->> 'unit', (r.p ->> 'asOf')::date, r.transaction_id DESC, r.position DESC
            \(Self.reportReplaces)
            """
    }

    /// One case per event type this read model uses; see `BatchFunction`.
    static var cases: [BatchFunction.Case] {
        let ratings = Self.ratings("p")
        return [
            BatchFunction.Case("AllianceFormed", sql: """
                    INSERT INTO {s}.alliances VALUES (p ->> 'alliance', p ->> 'name', p ->> 'kind', (p ->> 'founded')::date, NULL)
                    ON CONFLICT (alliance) DO UPDATE SET name = excluded.name, kind = excluded.kind, founded = excluded.founded;
                """),
            BatchFunction.Case("AllianceMemberAdmitted", sql: """
                    INSERT INTO {s}.alliance_members VALUES (e.position, p ->> 'alliance', p ->> 'nation', p ->> 'role', (p ->> 'joined')::date, NULL);
                """),
            BatchFunction.Case("AllianceMemberLeft", sql: """
                    UPDATE {s}.alliance_members SET left_on = (p ->> 'left')::date
                     WHERE alliance = p ->> 'alliance' AND nation = p ->> 'nation' AND left_on IS NULL;
                """),
            BatchFunction.Case("AllianceDissolved", sql: """
                    UPDATE {s}.alliances SET dissolved = (p ->> 'dissolved')::date WHERE alliance = p ->> 'alliance';
                """),
            BatchFunction.Case("UnitRegistered", sql: """
                    INSERT INTO {s}.units VALUES (p ->> 'unit', p ->> 'nation', p ->> 'service', p ->> 'echelon', p ->> 'name', e.position)
                    ON CONFLICT (unit) DO UPDATE SET nation = excluded.nation, service = excluded.service, echelon = excluded.echelon,
                        name = excluded.name, position = excluded.position;
                """),
            // The prelude writes most reports; here only those of (unit, as-of) keys that an override or
            // correction in the same batch also touches.
            BatchFunction.Case("ReadinessReported", sql: """
                    INSERT INTO {s}.reports VALUES (p ->> 'unit', (p ->> 'asOf')::date, \(ratings),
                        (p ->> 'cLevel')::smallint, NULL, NULL, NULL, e.position, e.position)
                    \(Self.reportReplaces)
                """),
            BatchFunction.Case("ReadinessOverridden", sql: """
                    UPDATE {s}.reports SET override_c_level = (p ->> 'cLevel')::smallint, override_remark = p ->> 'remark', updated_position = e.position
                     WHERE unit = p ->> 'unit' AND as_of = (p ->> 'asOf')::date;
                """),
            BatchFunction.Case("ReadinessCorrected", sql: """
                    UPDATE {s}.reports SET personnel = (p -> 'ratings' ->> 'personnel')::smallint, supplies = (p -> 'ratings' ->> 'supplies')::smallint,
                           equipment = (p -> 'ratings' ->> 'equipment')::smallint, training = (p -> 'ratings' ->> 'training')::smallint,
                           computed_c_level = (p ->> 'cLevel')::smallint, correction_reason = p ->> 'reason', updated_position = e.position
                     WHERE unit = p ->> 'unit' AND as_of = (p ->> 'asOf')::date;
                """),
            BatchFunction.Case("ExercisePlanned", sql: """
                    INSERT INTO {s}.exercises VALUES (p ->> 'exercise', p ->> 'name', (p -> 'window' ->> 'start')::date,
                        (p -> 'window' ->> 'end')::date, (p ->> 'minimumReadiness')::smallint, p ->> 'alliance', '\(ExerciseStatus.programmed.rawValue)')
                    ON CONFLICT (exercise) DO UPDATE SET name = excluded.name, start_date = excluded.start_date, end_date = excluded.end_date,
                        minimum_c_level = excluded.minimum_c_level, alliance = excluded.alliance, status = excluded.status;
                """),
            BatchFunction.Case("ExercisePostponed", sql: """
                    UPDATE {s}.exercises SET start_date = (p -> 'window' ->> 'start')::date, end_date = (p -> 'window' ->> 'end')::date
                     WHERE exercise = p ->> 'exercise';
                """),
            BatchFunction.Case("MilestoneHeld", sql: """
                    v_status := \(BatchFunction.milestoneStatus);
                    IF v_status IS NOT NULL THEN
                        UPDATE {s}.exercises SET status = v_status WHERE exercise = p ->> 'exercise';
                    END IF;
                """),
            BatchFunction.exerciseStatus,
        ] + UnitCommitments.cases
    }

    public var views: [ReportingView] {
        let latest = """
            SELECT r.as_of, coalesce(r.override_c_level, r.computed_c_level)::int AS c_level,
                   r.personnel::int AS personnel, r.supplies::int AS supplies, r.equipment::int AS equipment, r.training::int AS training,
                   r.override_c_level IS NOT NULL AS overridden, coalesce(r.override_remark, r.correction_reason) AS remark
              FROM {src}.reports r
            """
        // The roll-ups repeat this query rather than read readiness_units: every view then depends on the
        // tables only, so a rebuild's swap locks all of them (views before tables) in the order readers do.
        let unitsLatest = """
            SELECT u.unit, u.name AS unit_name, u.nation, u.service, u.echelon, l.as_of, l.c_level,
                   l.personnel, l.supplies, l.equipment, l.training, coalesce(l.overridden, false) AS overridden, l.remark,
                   current_date - l.as_of AS report_age_days,
                   (l.as_of IS NULL OR current_date - l.as_of > 30) AS stale
              FROM {src}.units u
              LEFT JOIN LATERAL (\(latest) WHERE r.unit = u.unit ORDER BY r.as_of DESC, r.reported_position DESC LIMIT 1) l ON true
            """
        return [
            ReportingView("readiness_units",
                "One row per registered unit: its latest readiness report (by as-of date, then log position), age and staleness. Units that never reported have NULL ratings and count as stale.",
                columns: [
                    ("unit", "Unit id (slug)."),
                    ("unit_name", "Unit name."),
                    ("nation", "NATO trigraph of the unit's nation."),
                    ("service", "land, maritime, air, space, cyber or sof."),
                    ("echelon", "Echelon, e.g. battalion, ship, squadron."),
                    ("as_of", "As-of date of the latest report; NULL when the unit never reported."),
                    ("c_level", "Overall C-level 1 (best) to 5: the commander's override when there is one, else the worst area rating."),
                    ("personnel", "P area rating 1-4 (NULL for reports upcast from schema 1)."),
                    ("supplies", "S area rating 1-4: equipment and supplies on hand."),
                    ("equipment", "R area rating 1-4: equipment condition."),
                    ("training", "T area rating 1-4."),
                    ("overridden", "True when the commander overrode the computed C-level."),
                    ("remark", "The override remark, else the reason of the latest correction."),
                    ("report_age_days", "current_date minus as_of, in days."),
                    ("stale", "True when the report is older than 30 days, or the unit never reported."),
                ],
                unitsLatest),
            ReportingView("readiness_exercise",
                "One row per unit commitment (unit, exercise, phase): readiness at StartEx against the exercise's minimum C-level, and readiness now.",
                columns: [
                    ("exercise", "Exercise id."),
                    ("exercise_name", "Exercise name."),
                    ("exercise_status", "Life-cycle status of the exercise."),
                    ("start_date", "First day of the exercise window (StartEx)."),
                    ("end_date", "Last day of the exercise window."),
                    ("minimum_c_level", "The C-level committed units must report, or better (numerically lower or equal)."),
                    ("unit", "Unit id."),
                    ("unit_name", "Unit name."),
                    ("nation", "NATO trigraph of the unit's nation."),
                    ("phase", "Phase id of the commitment; NULL for the whole window."),
                    ("role", "The unit's role in the exercise."),
                    ("commitment_start", "First day of the commitment."),
                    ("commitment_end", "Last day of the commitment."),
                    ("as_of", "As-of date of the latest report on or before start_date; NULL when none."),
                    ("c_level", "Effective C-level of that report (override included)."),
                    ("overridden", "True when that report's C-level was overridden by the commander."),
                    ("age_at_start_days", "start_date minus as_of, in days."),
                    ("stale_at_start", "True when that report is more than 30 days old at start_date, or there is none."),
                    ("below_threshold", "True when c_level is worse than minimum_c_level (numerically greater), or there is no report."),
                    ("current_as_of", "As-of date of the latest report overall."),
                    ("current_c_level", "Effective C-level of the latest report overall."),
                    ("below_threshold_now", "True when current_c_level is worse than minimum_c_level, or the unit never reported: units that fell below it later."),
                ],
                """
                SELECT e.exercise, e.name AS exercise_name, e.status AS exercise_status, e.start_date, e.end_date,
                       e.minimum_c_level::int AS minimum_c_level, c.unit, u.name AS unit_name, u.nation, c.phase, c.role,
                       c.start_date AS commitment_start, c.end_date AS commitment_end,
                       s.as_of, s.c_level, s.overridden, e.start_date - s.as_of AS age_at_start_days,
                       (s.as_of IS NULL OR e.start_date - s.as_of > 30) AS stale_at_start,
                       (s.c_level IS NULL OR s.c_level > e.minimum_c_level) AS below_threshold,
                       n.as_of AS current_as_of, n.c_level AS current_c_level,
                       (n.c_level IS NULL OR n.c_level > e.minimum_c_level) AS below_threshold_now
                  FROM {src}.commitments c
                  JOIN {src}.exercises e ON e.exercise = c.exercise
                  LEFT JOIN {src}.units u ON u.unit = c.unit
                  LEFT JOIN LATERAL (\(latest) WHERE r.unit = c.unit AND r.as_of <= e.start_date
                                      ORDER BY r.as_of DESC, r.reported_position DESC LIMIT 1) s ON true
                  LEFT JOIN LATERAL (\(latest) WHERE r.unit = c.unit ORDER BY r.as_of DESC, r.reported_position DESC LIMIT 1) n ON true
                """),
            ReportingView("readiness_by_nation",
                "One row per nation with registered units: how many units stand at each C-level (latest report) and how many reports are stale.",
                columns: [
                    ("nation", "NATO trigraph."),
                    ("units", "Registered units of the nation."),
                    ("c1", "Units at C-1."), ("c2", "Units at C-2."), ("c3", "Units at C-3."), ("c4", "Units at C-4."),
                    ("c5", "Units at C-5."),
                    ("not_reporting", "Units that never reported."),
                    ("worst_c_level", "The worst (highest) current C-level among the nation's units."),
                    ("stale_units", "Units whose latest report is stale (older than 30 days, or none)."),
                ],
                """
                SELECT nation, count(*)::int AS units,
                       count(*) FILTER (WHERE c_level = 1)::int AS c1, count(*) FILTER (WHERE c_level = 2)::int AS c2,
                       count(*) FILTER (WHERE c_level = 3)::int AS c3, count(*) FILTER (WHERE c_level = 4)::int AS c4,
                       count(*) FILTER (WHERE c_level = 5)::int AS c5, count(*) FILTER (WHERE c_level IS NULL)::int AS not_reporting,
                       max(c_level) AS worst_c_level, count(*) FILTER (WHERE stale)::int AS stale_units
                  FROM (\(unitsLatest)) u GROUP BY nation
                """),
            ReportingView("readiness_by_alliance",
                "One row per alliance not dissolved as of today: readiness of the units of its members and partners as of today (observers excluded).",
                columns: [
                    ("alliance", "Alliance id."),
                    ("alliance_name", "Alliance name."),
                    ("nations", "Member and partner nations as of today."),
                    ("units", "Registered units of those nations."),
                    ("c1", "Units at C-1."), ("c2", "Units at C-2."), ("c3", "Units at C-3."), ("c4", "Units at C-4."),
                    ("c5", "Units at C-5."),
                    ("not_reporting", "Units that never reported."),
                    ("worst_c_level", "The worst (highest) current C-level among those units."),
                    ("stale_units", "Units whose latest report is stale (older than 30 days, or none)."),
                ],
                """
                WITH m AS (
                    SELECT DISTINCT a.alliance, a.name, m.nation
                      FROM {src}.alliances a
                      LEFT JOIN {src}.alliance_members m ON m.alliance = a.alliance AND m.role IN ('member', 'partner')
                           AND m.joined <= current_date AND (m.left_on IS NULL OR m.left_on > current_date)
                     WHERE a.dissolved IS NULL OR a.dissolved > current_date)
                SELECT m.alliance, m.name AS alliance_name, count(DISTINCT m.nation)::int AS nations, count(u.unit)::int AS units,
                       count(*) FILTER (WHERE u.c_level = 1)::int AS c1, count(*) FILTER (WHERE u.c_level = 2)::int AS c2,
                       count(*) FILTER (WHERE u.c_level = 3)::int AS c3, count(*) FILTER (WHERE u.c_level = 4)::int AS c4,
                       count(*) FILTER (WHERE u.c_level = 5)::int AS c5,
                       count(u.unit) FILTER (WHERE u.c_level IS NULL)::int AS not_reporting,
                       max(u.c_level) AS worst_c_level, count(*) FILTER (WHERE u.stale)::int AS stale_units
                  FROM m LEFT JOIN (\(unitsLatest)) u ON u.nation = m.nation
                 GROUP BY m.alliance, m.name
                """),
        ]
    }
}
