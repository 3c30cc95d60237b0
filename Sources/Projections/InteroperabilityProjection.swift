public import EventSourcing
import Planning
public import Postgres

/// Interoperability: the standards units implement, what exercises require, who takes part with which
/// units, and after-action observations with their lesson stage. The levels are computed by the views.
public struct InteroperabilityProjection: ReportingProjection {
    public let name = "interoperability"

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).units (unit text PRIMARY KEY, nation text NOT NULL, name text NOT NULL);
            CREATE TABLE \(schema).capabilities (
                unit text NOT NULL, kind text NOT NULL, name text NOT NULL, position bigint NOT NULL,
                PRIMARY KEY (unit, kind, name));
            CREATE TABLE \(schema).exercises (exercise text PRIMARY KEY, name text NOT NULL);
            CREATE TABLE \(schema).required_standards (
                exercise text NOT NULL, ordinal int NOT NULL, kind text NOT NULL, name text NOT NULL,
                PRIMARY KEY (exercise, kind, name));
            CREATE TABLE \(schema).participants (
                exercise text NOT NULL, nation text NOT NULL, role text NOT NULL, status text NOT NULL,
                PRIMARY KEY (exercise, nation));
            CREATE TABLE \(schema).commitments (
                exercise text NOT NULL, unit text NOT NULL, nation text NOT NULL, phase text, role text NOT NULL, position bigint NOT NULL);
            CREATE UNIQUE INDEX commitments_key ON \(schema).commitments (exercise, unit, coalesce(phase, ''));
            CREATE TABLE \(schema).observations (
                exercise text NOT NULL, observation text NOT NULL, dimension text NOT NULL, reported_by text NOT NULL,
                nations text[] NOT NULL, standard_kind text, standard_name text, severity text NOT NULL,
                observed_level smallint CHECK (observed_level BETWEEN 0 AND 3), text text NOT NULL,
                stage text NOT NULL, stage_note text, position bigint NOT NULL, stage_position bigint NOT NULL,
                PRIMARY KEY (exercise, observation));
            """)
        try BatchFunction.create(in: schema, cases: Self.cases, db)
    }

    public func statements(applying batch: EventBatch, in schema: String) -> String? {
        BatchFunction.statements(batch, in: schema)
    }

    public var eventTypes: Set<String>? { Self.types }

    /// Built once: the cases are built anew on every use.
    private static let types = BatchFunction.types(Self.cases)

    /// One case per event type this read model uses; see `BatchFunction`.
    static var cases: [BatchFunction.Case] {
        func participation(_ type: String, _ status: ParticipationStatus) -> BatchFunction.Case {
            BatchFunction.Case(type, sql: """
                    UPDATE {s}.participants SET status = '\(status.rawValue)' WHERE exercise = p ->> 'exercise' AND nation = p ->> 'nation';
                """)
        }
        return [
            BatchFunction.Case("UnitRegistered", sql: """
                    INSERT INTO {s}.units VALUES (p ->> 'unit', p ->> 'nation', p ->> 'name')
                    ON CONFLICT (unit) DO UPDATE SET nation = excluded.nation, name = excluded.name;
                """),
            BatchFunction.Case("CapabilityAdded", sql: """
                    INSERT INTO {s}.capabilities VALUES (p ->> 'unit', p -> 'capability' ->> 'kind', p -> 'capability' ->> 'name', e.position)
                    ON CONFLICT DO NOTHING;
                """),
            BatchFunction.Case("CapabilityWithdrawn", sql: """
                    DELETE FROM {s}.capabilities
                     WHERE unit = p ->> 'unit' AND kind = p -> 'capability' ->> 'kind' AND name = p -> 'capability' ->> 'name';
                """),
            BatchFunction.Case("ExercisePlanned", sql: """
                    INSERT INTO {s}.exercises VALUES (p ->> 'exercise', p ->> 'name')
                    ON CONFLICT (exercise) DO UPDATE SET name = excluded.name;
                    DELETE FROM {s}.required_standards WHERE exercise = p ->> 'exercise';
                    INSERT INTO {s}.required_standards
                    SELECT p ->> 'exercise', r.ordinal, r.standard ->> 'kind', r.standard ->> 'name'
                      FROM jsonb_array_elements(coalesce(p -> 'requiredStandards', '[]'::jsonb)) WITH ORDINALITY AS r (standard, ordinal)
                     ORDER BY r.ordinal
                    ON CONFLICT DO NOTHING;
                    -- Lead and host nations take part without an invitation.
                    INSERT INTO {s}.participants
                    SELECT p ->> 'exercise', n.nation, n.role, '\(ParticipationStatus.accepted.rawValue)'
                      FROM (SELECT l.nation, 'lead' AS role, 1 AS k, l.i FROM jsonb_array_elements_text(coalesce(p -> 'leadNations', '[]'::jsonb)) WITH ORDINALITY AS l (nation, i)
                            UNION ALL
                            SELECT h.nation, 'host', 2, h.i FROM jsonb_array_elements_text(coalesce(p -> 'hostNations', '[]'::jsonb)) WITH ORDINALITY AS h (nation, i)) n
                     ORDER BY n.k, n.i
                    ON CONFLICT DO NOTHING;
                """),
            BatchFunction.Case("NationInvited", sql: """
                    INSERT INTO {s}.participants VALUES (p ->> 'exercise', p ->> 'nation', p ->> 'role', '\(ParticipationStatus.invited.rawValue)')
                    ON CONFLICT (exercise, nation) DO UPDATE SET role = excluded.role, status = excluded.status;
                """),
            participation("InvitationAccepted", .accepted),
            participation("InvitationDeclined", .declined),
            participation("NationWithdrew", .withdrawn),
            BatchFunction.Case("ForceCommitted", sql: """
                    INSERT INTO {s}.commitments VALUES (p ->> 'exercise', p ->> 'unit', p ->> 'nation', p ->> 'phase', p ->> 'role', e.position)
                    ON CONFLICT (exercise, unit, coalesce(phase, '')) DO UPDATE SET nation = excluded.nation, role = excluded.role,
                        position = excluded.position;
                """),
            BatchFunction.Case("ForceReleased", sql: """
                    DELETE FROM {s}.commitments
                     WHERE exercise = p ->> 'exercise' AND unit = p ->> 'unit' AND phase IS NOT DISTINCT FROM p ->> 'phase';
                """),
            BatchFunction.Case("ObservationRecorded", sql: """
                    INSERT INTO {s}.observations VALUES (p ->> 'exercise', p -> 'observation' ->> 'id', p -> 'observation' ->> 'dimension',
                        p -> 'observation' ->> 'reportedBy', \(BatchFunction.textArray("p -> 'observation' -> 'nations'")),
                        p -> 'observation' -> 'standard' ->> 'kind', p -> 'observation' -> 'standard' ->> 'name', p -> 'observation' ->> 'severity',
                        (p -> 'observation' ->> 'observedLevel')::smallint, p -> 'observation' ->> 'text', '\(LessonStage.observation.rawValue)', NULL,
                        e.position, e.position)
                    ON CONFLICT (exercise, observation) DO NOTHING;
                """),
            BatchFunction.Case("LessonAdvanced", sql: """
                    UPDATE {s}.observations SET stage = p ->> 'stage', stage_note = p ->> 'note', stage_position = e.position
                     WHERE exercise = p ->> 'exercise' AND observation = p ->> 'observation';
                """),
        ]
    }

    public var views: [ReportingView] {
        [
            ReportingView("interoperability_matrix",
                "Per exercise, each unordered pair of nations with committed units (nation_a < nation_b): the interoperability level derived from the required standards both implement through their committed units, lowered by open after-action observations naming both nations.",
                columns: [
                    ("exercise", "Exercise id."),
                    ("exercise_name", "Exercise name."),
                    ("nation_a", "The alphabetically first nation of the pair."),
                    ("nation_b", "The other nation."),
                    ("required", "Number of standards the exercise requires."),
                    ("shared", "Required standards both nations implement through units committed to the exercise."),
                    ("shared_standards", "Names of the shared required standards, in the exercise's order, comma-separated."),
                    ("missing_standards", "Names of the required standards not shared, comma-separated."),
                    ("derived_level", "Level from standards alone: 3 all shared; 2 at least half; 1 at least one, or the exercise requires none; 0 none."),
                    ("observation_ids", "Open observations (not lesson-learned) naming both nations, comma-separated, oldest first."),
                    ("level", "derived_level lowered by each open observation: min with its observed_level when given, else minus 1 (minor), 2 (major) or 3 (critical); floor 0."),
                    ("level_name", "not interoperable (0), deconflicted (1), compatible (2) or integrated (3)."),
                    ("evidence", "One sentence explaining the level: shared and missing standards, and the observations that lowered it."),
                ],
                Self.matrix(byUnit: false) + """
                SELECT exercise, exercise_name, nation_a, nation_b, required, shared, shared_standards, missing_standards,
                       derived_level, observation_ids, level, level_name, evidence
                  FROM m
                """),
            ReportingView("interoperability_units",
                "Per exercise, each unordered pair of distinct committed units (unit_a < unit_b): the same rule as interoperability_matrix applied to the standards the two units implement; observations naming both units' nations lower pairs of units of different nations.",
                columns: [
                    ("exercise", "Exercise id."),
                    ("unit_a", "The alphabetically first unit of the pair."),
                    ("unit_b", "The other unit."),
                    ("nation_a", "Nation of unit_a."),
                    ("nation_b", "Nation of unit_b."),
                    ("required", "Number of standards the exercise requires."),
                    ("shared", "Required standards both units implement."),
                    ("shared_standards", "Names of the shared required standards, comma-separated."),
                    ("missing_standards", "Names of the required standards not shared, comma-separated."),
                    ("derived_level", "Level from standards alone (same rule as interoperability_matrix)."),
                    ("observation_ids", "Open observations naming both units' nations (different nations only), comma-separated."),
                    ("level", "derived_level lowered by those observations, floor 0."),
                    ("level_name", "not interoperable, deconflicted, compatible or integrated."),
                ],
                Self.matrix(byUnit: true) + """
                SELECT exercise, unit_a, unit_b, nation_a, nation_b, required, shared, shared_standards, missing_standards,
                       derived_level, observation_ids, level, level_name
                  FROM m
                """),
            ReportingView("standard_implementers",
                "One row per interoperability standard and nation: how many of the nation's registered units implement it now (withdrawn capabilities excluded).",
                columns: [
                    ("standard", "Readable label \"kind: name\", e.g. \"data-link: Link 16\"."),
                    ("kind", "stanag, fmn, data-link or language."),
                    ("name", "The standard's name, e.g. Link 16, FMN Spiral 4, STANAG 4586."),
                    ("nation", "NATO trigraph."),
                    ("units", "Number of the nation's units implementing the standard."),
                    ("unit_list", "Those units' ids, comma-separated, sorted."),
                ],
                """
                SELECT k.kind || ': ' || k.name AS standard, k.kind, k.name, u.nation, count(*)::int AS units,
                       string_agg(k.unit, ', ' ORDER BY k.unit) AS unit_list
                  FROM {src}.capabilities k JOIN {src}.units u ON u.unit = k.unit
                 GROUP BY k.kind, k.name, u.nation
                """),
            ReportingView("gap_register",
                "One row per after-action observation, with its lesson stage: the gap register (observation, lesson-identified, remedial-action, lesson-learned).",
                columns: [
                    ("exercise", "Exercise id."),
                    ("exercise_name", "Exercise name."),
                    ("observation", "Observation id."),
                    ("dimension", "technical, procedural or human."),
                    ("reported_by", "Nation that recorded the observation."),
                    ("nations", "Nations involved (text array)."),
                    ("standard", "The standard concerned as \"kind: name\"; NULL when none."),
                    ("severity", "minor, major or critical."),
                    ("observed_level", "Interoperability level observed between the nations (0-3); NULL when not assessed."),
                    ("stage", "Lesson stage: observation, lesson-identified, remedial-action or lesson-learned."),
                    ("stage_note", "Note of the latest lesson step; NULL at the observation stage."),
                    ("lowers_level", "True while the observation lowers interoperability levels (any stage before lesson-learned)."),
                    ("text", "What was observed."),
                    ("position", "Log position of the observation's event."),
                ],
                """
                SELECT o.exercise, e.name AS exercise_name, o.observation, o.dimension, o.reported_by, o.nations,
                       o.standard_kind || ': ' || o.standard_name AS standard, o.severity, o.observed_level::int AS observed_level,
                       o.stage, o.stage_note, o.stage <> 'lesson-learned' AS lowers_level, o.text, o.position
                  FROM {src}.observations o LEFT JOIN {src}.exercises e ON e.exercise = o.exercise
                """),
        ]
    }

    /// The common part of both matrices: a `WITH` clause ending in `m`, one row per pair.
    static func matrix(byUnit: Bool) -> String {
        let id = byUnit ? "unit" : "nation"
        return """
            WITH entities AS (SELECT DISTINCT exercise, \(id) AS id, nation FROM {src}.commitments),
            impl AS (
                SELECT DISTINCT c.exercise, c.\(id) AS id, k.kind, k.name
                  FROM {src}.commitments c JOIN {src}.capabilities k ON k.unit = c.unit),
            pairs AS (
                SELECT a.exercise, a.id AS id_a, b.id AS id_b, a.nation AS nation_a, b.nation AS nation_b
                  FROM entities a JOIN entities b ON b.exercise = a.exercise AND a.id < b.id),
            per_standard AS (
                SELECT p.exercise, p.id_a, p.id_b, r.ordinal, r.name,
                       EXISTS (SELECT FROM impl i WHERE i.exercise = p.exercise AND i.id = p.id_a AND i.kind = r.kind AND i.name = r.name)
                   AND EXISTS (SELECT FROM impl i WHERE i.exercise = p.exercise AND i.id = p.id_b AND i.kind = r.kind AND i.name = r.name) AS shared
                  FROM pairs p JOIN {src}.required_standards r ON r.exercise = p.exercise),
            scored AS (
                SELECT p.exercise, p.id_a, p.id_b, p.nation_a, p.nation_b,
                       count(ps.name)::int AS required, count(ps.name) FILTER (WHERE ps.shared)::int AS shared,
                       coalesce(string_agg(ps.name, ', ' ORDER BY ps.ordinal) FILTER (WHERE ps.shared), '') AS shared_standards,
                       coalesce(string_agg(ps.name, ', ' ORDER BY ps.ordinal) FILTER (WHERE NOT ps.shared), '') AS missing_standards
                  FROM pairs p LEFT JOIN per_standard ps ON ps.exercise = p.exercise AND ps.id_a = p.id_a AND ps.id_b = p.id_b
                 GROUP BY p.exercise, p.id_a, p.id_b, p.nation_a, p.nation_b),
            derived AS (
                SELECT s.*, CASE WHEN s.required = 0 THEN 1 WHEN s.shared = s.required THEN 3
                                 WHEN s.shared * 2 >= s.required THEN 2 WHEN s.shared >= 1 THEN 1 ELSE 0 END AS derived_level
                  FROM scored s),
            candidates AS (
                SELECT d.exercise, d.id_a, d.id_b, d.derived_level, o.observation, o.position, o.standard_name, o.dimension, o.severity,
                       CASE WHEN o.observed_level IS NOT NULL THEN least(d.derived_level, o.observed_level)
                            ELSE d.derived_level - CASE o.severity WHEN 'minor' THEN 1 WHEN 'major' THEN 2 WHEN 'critical' THEN 3
                                                                   WHEN 'medium' THEN 1 WHEN 'high' THEN 2 ELSE 0 END
                       END AS candidate
                  FROM derived d
                  JOIN {src}.observations o ON o.exercise = d.exercise AND o.stage <> 'lesson-learned'
                       AND d.nation_a <> d.nation_b AND o.nations @> ARRAY[d.nation_a, d.nation_b]),
            lowering AS (
                SELECT exercise, id_a, id_b, string_agg(observation, ', ' ORDER BY position) AS observation_ids, min(candidate) AS lowest,
                       string_agg(format('observation %s (%s gap, %s)', observation, coalesce(standard_name, dimension), severity), ', '
                                  ORDER BY position) FILTER (WHERE candidate < derived_level) AS lowered_by
                  FROM candidates GROUP BY exercise, id_a, id_b),
            leveled AS (
                SELECT d.*, e.name AS exercise_name, coalesce(l.observation_ids, '') AS observation_ids, l.lowered_by,
                       greatest(0, least(d.derived_level, coalesce(l.lowest, d.derived_level))) AS level
                  FROM derived d
                  LEFT JOIN lowering l ON l.exercise = d.exercise AND l.id_a = d.id_a AND l.id_b = d.id_b
                  LEFT JOIN {src}.exercises e ON e.exercise = d.exercise),
            m AS (
                SELECT x.*, x.id_a AS unit_a, x.id_b AS unit_b,
                       CASE x.level WHEN 0 THEN 'not interoperable' WHEN 1 THEN 'deconflicted' WHEN 2 THEN 'compatible'
                                    ELSE 'integrated' END AS level_name,
                       CASE WHEN x.required = 0 THEN 'the exercise requires no interoperability standards'
                            WHEN x.shared = 0 THEN format('shares none of %s required standards; missing %s', x.required, x.missing_standards)
                            ELSE format('shares %s of %s required standards (%s)', x.shared, x.required, x.shared_standards)
                                 || CASE WHEN x.missing_standards <> '' THEN '; missing ' || x.missing_standards ELSE '' END
                       END || coalesce('; lowered by ' || x.lowered_by, '') AS evidence
                  FROM leveled x)

            """
    }
}
