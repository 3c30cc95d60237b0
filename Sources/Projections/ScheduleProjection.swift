import Foundation
public import EventSourcing
import Planning
public import Postgres

/// The exercise programme: exercises, phases, milestones and workshops, unit commitments and training-area
/// bookings with their windows, so that the views can show utilisation and deconfliction.
public struct ScheduleProjection: ReportingProjection {
    public let name = "schedule"

    /// Turnarounds shorter than this many days between two windows of one resource are near-conflicts.
    public static let turnaroundDays = 14

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).exercises (
                exercise text PRIMARY KEY, name text NOT NULL, series text, types text[] NOT NULL, joint boolean NOT NULL,
                combined boolean NOT NULL, status text NOT NULL, start_date date NOT NULL, end_date date NOT NULL, alliance text,
                lead_nations text[] NOT NULL, host_nations text[] NOT NULL, position bigint NOT NULL);
            CREATE TABLE \(schema).phases (
                exercise text NOT NULL, phase text NOT NULL, ordinal int NOT NULL, name text NOT NULL,
                start_date date NOT NULL, end_date date NOT NULL, PRIMARY KEY (exercise, phase));
            CREATE TABLE \(schema).milestones (
                position bigint PRIMARY KEY, exercise text NOT NULL, milestone text NOT NULL,
                kind text NOT NULL CHECK (kind IN ('milestone', 'workshop')), title text NOT NULL, held_on date NOT NULL);
            CREATE TABLE \(schema).units (unit text PRIMARY KEY, nation text NOT NULL, name text NOT NULL);
            CREATE TABLE \(schema).areas (area text PRIMARY KEY, host_nation text NOT NULL, kind text NOT NULL, name text NOT NULL);
            \(UnitCommitments.tableDDL(schema))
            CREATE TABLE \(schema).bookings (
                area text NOT NULL, exercise text NOT NULL, phase text, start_date date NOT NULL, end_date date NOT NULL,
                position bigint NOT NULL);
            CREATE UNIQUE INDEX bookings_key ON \(schema).bookings (area, exercise, coalesce(phase, ''));
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
        [
            BatchFunction.Case("UnitRegistered", sql: """
                    INSERT INTO {s}.units VALUES (p ->> 'unit', p ->> 'nation', p ->> 'name')
                    ON CONFLICT (unit) DO UPDATE SET nation = excluded.nation, name = excluded.name;
                """),
            BatchFunction.Case("TrainingAreaRegistered", sql: """
                    INSERT INTO {s}.areas VALUES (p ->> 'area', p ->> 'hostNation', p ->> 'kind', p ->> 'name')
                    ON CONFLICT (area) DO UPDATE SET host_nation = excluded.host_nation, kind = excluded.kind, name = excluded.name;
                """),
            BatchFunction.Case("TrainingAreaBooked", sql: """
                    INSERT INTO {s}.bookings VALUES (p ->> 'area', p ->> 'exercise', p ->> 'phase',
                        (p -> 'window' ->> 'start')::date, (p -> 'window' ->> 'end')::date, e.position)
                    ON CONFLICT (area, exercise, coalesce(phase, '')) DO UPDATE SET start_date = excluded.start_date,
                        end_date = excluded.end_date, position = excluded.position;
                """),
            BatchFunction.Case("TrainingAreaBookingMoved", sql: """
                    UPDATE {s}.bookings SET start_date = (p -> 'window' ->> 'start')::date, end_date = (p -> 'window' ->> 'end')::date
                     WHERE area = p ->> 'area' AND exercise = p ->> 'exercise' AND phase IS NOT DISTINCT FROM p ->> 'phase';
                """),
            BatchFunction.Case("TrainingAreaBookingReleased", sql: """
                    DELETE FROM {s}.bookings
                     WHERE area = p ->> 'area' AND exercise = p ->> 'exercise' AND phase IS NOT DISTINCT FROM p ->> 'phase';
                """),
            BatchFunction.Case("ExercisePlanned", sql: """
                    INSERT INTO {s}.exercises VALUES (p ->> 'exercise', p ->> 'name', p ->> 'series', \(BatchFunction.textArray("p -> 'types'")),
                        (p ->> 'joint')::boolean, (p ->> 'combined')::boolean, '\(ExerciseStatus.programmed.rawValue)',
                        (p -> 'window' ->> 'start')::date, (p -> 'window' ->> 'end')::date, p ->> 'alliance',
                        \(BatchFunction.textArray("p -> 'leadNations'")), \(BatchFunction.textArray("p -> 'hostNations'")), e.position)
                    ON CONFLICT (exercise) DO UPDATE SET name = excluded.name, series = excluded.series, types = excluded.types,
                        joint = excluded.joint, combined = excluded.combined, status = excluded.status, start_date = excluded.start_date,
                        end_date = excluded.end_date, alliance = excluded.alliance, lead_nations = excluded.lead_nations,
                        host_nations = excluded.host_nations, position = excluded.position;
                    DELETE FROM {s}.phases WHERE exercise = p ->> 'exercise';
                    INSERT INTO {s}.phases
                    SELECT p ->> 'exercise', ph.phase ->> 'id', ph.ordinal, ph.phase ->> 'name',
                           (ph.phase -> 'window' ->> 'start')::date, (ph.phase -> 'window' ->> 'end')::date
                      FROM jsonb_array_elements(coalesce(p -> 'phases', '[]'::jsonb)) WITH ORDINALITY AS ph (phase, ordinal);
                """),
            BatchFunction.Case("ExercisePostponed", sql: """
                    UPDATE {s}.exercises SET start_date = (p -> 'window' ->> 'start')::date, end_date = (p -> 'window' ->> 'end')::date
                     WHERE exercise = p ->> 'exercise';
                    UPDATE {s}.phases SET start_date = start_date + (p ->> 'shiftDays')::int, end_date = end_date + (p ->> 'shiftDays')::int
                     WHERE exercise = p ->> 'exercise';
                """),
            BatchFunction.Case("MilestoneHeld", sql: """
                    INSERT INTO {s}.milestones VALUES (e.position, p ->> 'exercise', p ->> 'milestone', 'milestone',
                        \(BatchFunction.milestoneTitle), (p ->> 'on')::date);
                    v_status := \(BatchFunction.milestoneStatus);
                    IF v_status IS NOT NULL THEN
                        UPDATE {s}.exercises SET status = v_status WHERE exercise = p ->> 'exercise';
                    END IF;
                """),
            BatchFunction.Case("ScenarioWorkshopHeld", sql: """
                    INSERT INTO {s}.milestones VALUES (e.position, p ->> 'exercise', (p ->> 'workshop') || '-workshop', 'workshop',
                        replace(upper(p ->> 'workshop'), '-', '/') || ' scenario workshop', (p ->> 'on')::date);
                """),
            BatchFunction.exerciseStatus,
        ] + UnitCommitments.cases
    }

    public var views: [ReportingView] {
        let turnaround = Self.turnaroundDays
        return [
            ReportingView("schedule_exercises",
                "One row per exercise: its window, status and framework.",
                columns: [
                    ("exercise", "Exercise id."),
                    ("name", "Exercise name."),
                    ("series", "Exercise series, e.g. Talisman Sabre; NULL when none."),
                    ("status", "programmed, initiation, specification, planning, conduct, paused, assessment, closed or cancelled."),
                    ("start_date", "First day of the window (moves when postponed)."),
                    ("end_date", "Last day of the window."),
                    ("days", "Length of the window in days, both ends included."),
                    ("alliance", "Alliance framework id; NULL when none."),
                    ("lead_nations", "Lead nations, comma-separated."),
                    ("host_nations", "Host nations, comma-separated."),
                    ("types", "Exercise types (cpx, livex, ftx, ...), comma-separated."),
                    ("joint", "True when several services take part."),
                    ("combined", "True when several nations take part."),
                ],
                """
                SELECT exercise, name, series, status, start_date, end_date, end_date - start_date + 1 AS days, alliance,
                       array_to_string(lead_nations, ', ') AS lead_nations, array_to_string(host_nations, ', ') AS host_nations,
                       array_to_string(types, ', ') AS types, joint, combined
                  FROM {src}.exercises
                """),
            ReportingView("schedule_phases",
                "One row per exercise phase, with its current window.",
                columns: [
                    ("exercise", "Exercise id."),
                    ("phase", "Phase id."),
                    ("ordinal", "Position of the phase in the exercise plan, from 1."),
                    ("name", "Phase name."),
                    ("start_date", "First day of the phase."),
                    ("end_date", "Last day of the phase."),
                ],
                "SELECT exercise, phase, ordinal, name, start_date, end_date FROM {src}.phases"),
            ReportingView("schedule_milestones",
                "One row per planning milestone held (CDC, IPC, MPC, FPC, StartEx, EndEx) and per scenario workshop (MEL/MIL).",
                columns: [
                    ("exercise", "Exercise id."),
                    ("milestone", "cdc, ipc, mpc, fpc, startex or endex; for workshops mel-workshop, mil-workshop or mel-mil-workshop."),
                    ("held_on", "The day it was held."),
                    ("kind", "milestone or workshop."),
                    ("title", "Readable name, e.g. MPC or MEL/MIL scenario workshop."),
                    ("position", "Log position of the event."),
                ],
                "SELECT exercise, milestone, held_on, kind, title, position FROM {src}.milestones"),
            ReportingView("unit_utilisation",
                "One row per unit commitment not released: which unit is committed to which exercise (or phase) and for how long.",
                columns: [
                    ("unit", "Unit id."),
                    ("unit_name", "Unit name."),
                    ("nation", "NATO trigraph of the unit's nation."),
                    ("exercise", "Exercise id."),
                    ("exercise_name", "Exercise name."),
                    ("phase", "Phase id; NULL for the whole window."),
                    ("role", "The unit's role."),
                    ("start_date", "First day of the commitment."),
                    ("end_date", "Last day of the commitment."),
                    ("days", "Days committed, both ends included."),
                ],
                """
                SELECT c.unit, u.name AS unit_name, u.nation, c.exercise, e.name AS exercise_name, c.phase, c.role,
                       c.start_date, c.end_date, c.end_date - c.start_date + 1 AS days
                  FROM {src}.commitments c
                  LEFT JOIN {src}.units u ON u.unit = c.unit
                  LEFT JOIN {src}.exercises e ON e.exercise = c.exercise
                """),
            ReportingView("area_utilisation",
                "One row per training-area booking not released.",
                columns: [
                    ("area", "Training area id."),
                    ("area_name", "Training area name."),
                    ("host_nation", "NATO trigraph of the host nation."),
                    ("kind", "land-range, airspace, sea-area or port."),
                    ("exercise", "Exercise id."),
                    ("exercise_name", "Exercise name."),
                    ("phase", "Phase id; NULL for the whole window."),
                    ("start_date", "First day of the booking."),
                    ("end_date", "Last day of the booking."),
                    ("days", "Days booked, both ends included."),
                ],
                """
                SELECT b.area, a.name AS area_name, a.host_nation, a.kind, b.exercise, e.name AS exercise_name, b.phase,
                       b.start_date, b.end_date, b.end_date - b.start_date + 1 AS days
                  FROM {src}.bookings b
                  LEFT JOIN {src}.areas a ON a.area = b.area
                  LEFT JOIN {src}.exercises e ON e.exercise = b.exercise
                """),
            ReportingView("conflicts",
                "Deconfliction: each pair of windows of one unit or training area in two different exercises (exercise_a < exercise_b) that overlap (conflict) or leave less than \(turnaround) days to turn around (near-conflict).",
                columns: [
                    ("kind", "unit or area."),
                    ("resource", "The unit or training area id."),
                    ("resource_name", "The unit or training area name."),
                    ("exercise_a", "The alphabetically first exercise."),
                    ("exercise_b", "The other exercise."),
                    ("phase_a", "Phase of exercise_a the window belongs to; NULL for the whole window."),
                    ("phase_b", "Phase of exercise_b; NULL for the whole window."),
                    ("start_a", "First day of the window in exercise_a."),
                    ("end_a", "Last day of the window in exercise_a."),
                    ("start_b", "First day of the window in exercise_b."),
                    ("end_b", "Last day of the window in exercise_b."),
                    ("overlap_days", "Days both windows cover (> 0 for a conflict, else 0)."),
                    ("gap_days", "Days from the end of the earlier window to the start of the later one (1 when back to back); 0 when they overlap."),
                    ("severity", "conflict when the windows overlap; near-conflict when the turnaround is under \(turnaround) days."),
                    ("detail", "One sentence describing the clash."),
                ],
                """
                WITH w AS (
                    SELECT 'unit'::text AS kind, c.unit AS resource, u.name AS resource_name, c.exercise, e.name AS exercise_name,
                           c.phase, c.start_date, c.end_date
                      FROM {src}.commitments c LEFT JOIN {src}.units u ON u.unit = c.unit LEFT JOIN {src}.exercises e ON e.exercise = c.exercise
                    UNION ALL
                    SELECT 'area', b.area, a.name, b.exercise, e.name, b.phase, b.start_date, b.end_date
                      FROM {src}.bookings b LEFT JOIN {src}.areas a ON a.area = b.area LEFT JOIN {src}.exercises e ON e.exercise = b.exercise),
                p AS (
                    SELECT a.kind, a.resource, a.resource_name, a.exercise AS exercise_a, b.exercise AS exercise_b,
                           a.phase AS phase_a, b.phase AS phase_b, a.start_date AS start_a, a.end_date AS end_a,
                           b.start_date AS start_b, b.end_date AS end_b,
                           least(a.end_date, b.end_date) - greatest(a.start_date, b.start_date) + 1 AS o,
                           coalesce(a.exercise_name, a.exercise) || coalesce(' (phase ' || a.phase || ')', '') AS label_a,
                           coalesce(b.exercise_name, b.exercise) || coalesce(' (phase ' || b.phase || ')', '') AS label_b
                      FROM w a JOIN w b ON b.kind = a.kind AND b.resource = a.resource AND a.exercise < b.exercise)
                SELECT kind, resource, resource_name, exercise_a, exercise_b, phase_a, phase_b, start_a, end_a, start_b, end_b,
                       greatest(o, 0) AS overlap_days, CASE WHEN o > 0 THEN 0 ELSE 1 - o END AS gap_days,
                       CASE WHEN o > 0 THEN 'conflict' ELSE 'near-conflict' END AS severity,
                       format('%s %s is %s %s from %s to %s and %s from %s to %s: %s',
                              CASE kind WHEN 'unit' THEN 'unit' ELSE 'training area' END, resource,
                              CASE kind WHEN 'unit' THEN 'committed to' ELSE 'booked by' END,
                              label_a, start_a, end_a, label_b, start_b, end_b,
                              CASE WHEN o > 0 THEN format('the windows overlap by %s day(s)', o)
                                   ELSE format('only %s day(s) to turn around between them (under \(turnaround))', 1 - o) END) AS detail
                  FROM p
                 WHERE o > 0 OR 1 - o < \(turnaround)
                """),
        ]
    }
}
