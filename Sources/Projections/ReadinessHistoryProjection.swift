public import EventSourcing
public import Postgres

/// Every readiness event of every unit, oldest first: reports, commanders' overrides and corrections.
///
/// Insert-only, one row per event whatever the order, so a batch is one INSERT … SELECT. A read model of
/// its own (it was part of `readiness` until version 2 of that one) so that a catch-up or rebuild can write
/// it on one connection while the current reports are written on another.
public struct ReadinessHistoryProjection: ReportingProjection {
    public let name = "readiness_history"
    /// 2: the units' nations are written set-based (the same rows as version 1's loop).
    public let version = 2

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).units (unit text PRIMARY KEY, nation text NOT NULL);
            CREATE TABLE \(schema).history (
                position bigint PRIMARY KEY, unit text NOT NULL, as_of date NOT NULL,
                kind text NOT NULL CHECK (kind IN ('reported', 'overridden', 'corrected')),
                c_level smallint NOT NULL CHECK (c_level BETWEEN 1 AND 5),
                personnel smallint, supplies smallint, equipment smallint, training smallint, remark text);
            """)
        try BatchFunction.create(in: schema, cases: [], preludeTypes: Self.preludeTypes, prelude: Self.prelude, db)
    }

    /// For readers of one unit's history; applying never reads it.
    public func createIndexes(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("CREATE INDEX ON \(schema).history (unit, as_of)")
    }

    public func statements(applying batch: EventBatch, in schema: String) -> String? {
        BatchFunction.statements(batch, in: schema)
    }

    public var eventTypes: Set<String>? { Self.types }

    /// Built once: the cases are built anew on every use.
    private static let types = BatchFunction.types([], preludeTypes: Self.preludeTypes)

    static let preludeTypes = ["ReadinessReported", "ReadinessOverridden", "ReadinessCorrected", "UnitRegistered"]

    /// The batch's readiness events, one INSERT; the units' nations, one upsert (the last registration of a
    /// unit in the batch wins, as it would event by event).
    static var prelude: String {
        let ratings = ReadinessProjection.ratings("r.p")
        return """
            INSERT INTO {s}.history
            SELECT r.position, r.p ->> 'unit', (r.p ->> 'asOf')::date,
                   CASE r.event_type WHEN 'ReadinessReported' THEN 'reported' WHEN 'ReadinessOverridden' THEN 'overridden' ELSE 'corrected' END,
                   (r.p ->> 'cLevel')::smallint, \(ratings),
                   CASE r.event_type WHEN 'ReadinessReported' THEN r.metadata ->> 'reason' WHEN 'ReadinessOverridden' THEN r.p ->> 'remark' ELSE r.p ->> 'reason' END
              FROM (SELECT ev.position, ev.event_type, ev.metadata, {payload} AS p FROM event_store.events ev
                     WHERE {batch} AND ev.event_type IN ('ReadinessReported', 'ReadinessOverridden', 'ReadinessCorrected')) r;
            INSERT INTO {s}.units
            SELECT DISTINCT ON (ev.payload ->> 'unit') ev.payload ->> 'unit', ev.payload ->> 'nation' FROM event_store.events ev
             WHERE {batch} AND ev.event_type = 'UnitRegistered'
             ORDER BY ev.payload ->> 'unit', ev.transaction_id DESC, ev.position DESC
            ON CONFLICT (unit) DO UPDATE SET nation = excluded.nation;
            """
    }

    public var views: [ReportingView] {
        [
            ReportingView("readiness_history",
                "Every readiness event, oldest first: reports, commander's overrides and corrections. Nothing is ever removed: history is immutable.",
                columns: [
                    ("unit", "Unit id."),
                    ("nation", "NATO trigraph of the unit's nation."),
                    ("as_of", "As-of date of the report the event concerns."),
                    ("c_level", "C-level the event states: reported or corrected (worst area), or overridden (the commander's level)."),
                    ("personnel", "P rating 1-4; NULL for overrides and reports upcast from schema 1."),
                    ("supplies", "S rating 1-4; NULL for overrides."),
                    ("equipment", "R rating 1-4; NULL for overrides."),
                    ("training", "T rating 1-4; NULL for overrides."),
                    ("kind", "reported, overridden or corrected."),
                    ("remark", "The reporter's reason (reported), the commander's remark (overridden) or the correction's reason (corrected)."),
                    ("position", "Log position of the event: orders the trend."),
                ],
                """
                SELECT h.unit, u.nation, h.as_of, h.c_level::int AS c_level, h.personnel::int AS personnel, h.supplies::int AS supplies,
                       h.equipment::int AS equipment, h.training::int AS training, h.kind, h.remark, h.position
                  FROM {src}.history h LEFT JOIN {src}.units u ON u.unit = h.unit
                """),
        ]
    }
}
