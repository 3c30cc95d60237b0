import EventSourcing
import Planning
import Postgres

/// The `commitments` table that the readiness and schedule read models both keep: which unit is
/// committed to which exercise (and phase), for which window. One definition serves both.
enum UnitCommitments {
    static func tableDDL(_ schema: String) -> String {
        """
        CREATE TABLE \(schema).commitments (
                exercise text NOT NULL, unit text NOT NULL, phase text, role text NOT NULL,
                start_date date NOT NULL, end_date date NOT NULL, position bigint NOT NULL);
            CREATE UNIQUE INDEX commitments_key ON \(schema).commitments (exercise, unit, coalesce(phase, ''));
        """
    }

    /// Applies a unit's commitment, move or release to `{s}.commitments`.
    static func apply(_ decoded: PlanningEvent, in s: String, _ pos: Int64, _ db: PostgresConnection) throws {
        switch decoded {
        case .unit(.committed(let p)):
            try db.run(s, """
                INSERT INTO {s}.commitments VALUES (\(p.exercise.value), \(p.unit.value), \(p.phase?.value), \(p.role.value),
                    \(p.window.start.description)::date, \(p.window.end.description)::date, \(pos))
                ON CONFLICT (exercise, unit, coalesce(phase, '')) DO UPDATE SET role = excluded.role,
                    start_date = excluded.start_date, end_date = excluded.end_date, position = excluded.position
                """)
        case .unit(.commitmentMoved(let p)):
            try db.run(s, """
                UPDATE {s}.commitments SET start_date = \(p.window.start.description)::date, end_date = \(p.window.end.description)::date
                 WHERE exercise = \(p.exercise.value) AND unit = \(p.unit.value) AND phase IS NOT DISTINCT FROM \(p.phase?.value)
                """)
        case .unit(.released(let p)):
            try db.run(s, """
                DELETE FROM {s}.commitments
                 WHERE exercise = \(p.exercise.value) AND unit = \(p.unit.value) AND phase IS NOT DISTINCT FROM \(p.phase?.value)
                """)
        default:
            break
        }
    }
}
