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

    /// The batch-function cases for a unit's commitment, move or release to `{s}.commitments`.
    static var cases: [BatchFunction.Case] {
        [
            BatchFunction.Case("UnitCommitted", sql: """
                    INSERT INTO {s}.commitments VALUES (p ->> 'exercise', p ->> 'unit', p ->> 'phase', p ->> 'role',
                        (p -> 'window' ->> 'start')::date, (p -> 'window' ->> 'end')::date, e.position)
                    ON CONFLICT (exercise, unit, coalesce(phase, '')) DO UPDATE SET role = excluded.role,
                        start_date = excluded.start_date, end_date = excluded.end_date, position = excluded.position;
                """),
            BatchFunction.Case("UnitCommitmentMoved", sql: """
                    UPDATE {s}.commitments SET start_date = (p -> 'window' ->> 'start')::date, end_date = (p -> 'window' ->> 'end')::date
                     WHERE exercise = p ->> 'exercise' AND unit = p ->> 'unit' AND phase IS NOT DISTINCT FROM p ->> 'phase';
                """),
            BatchFunction.Case("UnitReleased", sql: """
                    DELETE FROM {s}.commitments
                     WHERE exercise = p ->> 'exercise' AND unit = p ->> 'unit' AND phase IS NOT DISTINCT FROM p ->> 'phase';
                """),
        ]
    }
}
