import Foundation
import EventSourcing
import Planning
import Postgres

/// How the read models apply a batch: each creates, next to its tables, a PL/pgSQL function
/// `apply_events` that reads the batch's events of the types it uses straight from `event_store.events`,
/// in global order, and runs one case per event type. No event crosses the wire, and the statements
/// inside the function are planned once per session.
///
/// In a case, `e` is the event row (`position`, `event_type`, `schema_version`, `metadata`, `recorded_at`)
/// and `p` its payload in the current schema version: the function upcasts older payloads as
/// `PlanningEvent.upcast` does (the Planning tests cover the Swift form, the read-model tests this one).
enum BatchFunction {
    /// One `WHEN` arm of the function's `CASE e.event_type`.
    struct Case {
        let types: [String]
        let sql: String

        init(_ types: String..., sql: String) {
            self.types = types
            self.sql = sql
        }
    }

    /// Creates `schema.apply_events(...)` running `cases` over a batch; `{s}.` in a case marks the projection's tables.
    ///
    /// The body names the tables unqualified and `apply` sets the search path to the schema for the call: a
    /// rebuild renames its schema (`rm_<name>__next` to `rm_<name>`), so a schema name written into the body
    /// would point at a schema that is gone.
    ///
    /// - Parameters:
    ///   - prelude: set-based statements run before the loop, for events whose effect does not depend on
    ///     their order among the batch's other events; `{batch}` in it is the condition selecting the batch's
    ///     rows of `event_store.events` aliased `ev` of `preludeTypes`, and `{payload}` the upcast payload of `ev`.
    ///   - preludeTypes: the event types the prelude reads; with the cases' types, `types(cases:preludeTypes:)`,
    ///     every type the function reads (`Projection.eventTypes`).
    ///   - declarations: extra PL/pgSQL variables, set by the prelude.
    ///   - loopFilter: a condition on `ev` that the loop's events must meet as well (the rest were handled by the prelude).
    static func create(in schema: String, cases: [Case], preludeTypes: [String] = [], prelude: String = "", declarations: String = "",
                       loopFilter: String = "true", _ db: PostgresConnection) throws {
        let types = cases.flatMap(\.types)
        let batch = """
            (ev.transaction_id, ev.position) > (after_tx, after_pos)
                       AND (ev.transaction_id, ev.position) <= (through_tx, through_pos)
                       AND (max_time IS NULL OR ev.recorded_at <= max_time)
                       AND (max_pos IS NULL OR ev.position <= max_pos)
            """
        let preludeBatch = "\(batch) AND ev.event_type IN (\(preludeTypes.isEmpty ? "NULL" : preludeTypes.map(literal).joined(separator: ", ")))"
        let preludeSQL = prelude.replacingOccurrences(of: "{s}.", with: "").replacingOccurrences(of: "{batch}", with: preludeBatch)
            .replacingOccurrences(of: "{payload}", with: upcastPayload)
        let arms = cases.map { c in
            "        WHEN \(c.types.map(literal).joined(separator: ", ")) THEN\n"
                + c.sql.replacingOccurrences(of: "{s}.", with: "")
        }.joined(separator: "\n")
        // No cases: the prelude does all the work, and the batch is not scanned a second time.
        let loop = cases.isEmpty ? "" : """
                FOR e IN
                    SELECT ev.position, ev.event_type, \(upcastPayload) AS payload, ev.metadata, ev.recorded_at
                      FROM event_store.events ev
                     WHERE \(batch)
                       AND ev.event_type IN (\(types.map(literal).joined(separator: ", ")))
                       AND (\(loopFilter))
                     ORDER BY ev.transaction_id, ev.position
                LOOP
                    p := e.payload;
                    CASE e.event_type
            \(arms)
                    END CASE;
                    n := n + 1;
                END LOOP;
            """
        try db.execute("""
            CREATE FUNCTION \(schema).apply_events(after_tx xid8, after_pos bigint, through_tx xid8, through_pos bigint,
                                                  max_time timestamptz, max_pos bigint) RETURNS bigint
            LANGUAGE plpgsql
            AS $fn$
            DECLARE
                e record;
                p jsonb;
                v_status text;
                n bigint := 0;
                \(declarations)
            BEGIN
                \(preludeSQL)
                \(loop)
                RETURN n;
            END
            $fn$;
            REVOKE ALL ON FUNCTION \(schema).apply_events(xid8, bigint, xid8, bigint, timestamptz, bigint) FROM PUBLIC;
            """)
    }

    /// Every event type a function `create` makes with these cases and prelude types reads.
    static func types(_ cases: [Case], preludeTypes: [String] = []) -> Set<String> {
        Set(cases.flatMap(\.types) + preludeTypes)
    }

    /// The statements that apply `batch` with the function `create` made in `schema`
    /// (`Projection.statements(applying:in:)`).
    static func statements(_ batch: EventBatch, in schema: String) -> String {
        let (maxTime, maxPosition) = cut(batch)
        // SET LOCAL: only for this transaction; RESET afterwards for the rest of it.
        return """
            SET LOCAL search_path = \(schema), pg_catalog;
            SELECT \(schema).apply_events('\(batch.after.transactionID)', \(batch.after.position), '\(batch.through.transactionID)',
                                          \(batch.through.position), \(maxTime), \(maxPosition));
            RESET search_path
            """
    }

    /// The payload of `ev` in its current schema version, as `PlanningEvent.upcast` makes it.
    /// The batch's as-of cut as SQL literals: the latest recorded time (`timestamptz`) and the highest
    /// position, each `NULL` when the batch has no such cut.
    static func cut(_ batch: EventBatch) -> (maxTime: String, maxPosition: String) {
        switch batch.asOf {
        case nil: return ("NULL", "NULL")
        case .time(let t): return ("'\(PostgresTimestamp.format(t))'::timestamptz", "NULL")
        case .position(let p): return ("NULL", String(p))
        }
    }

    static let upcastPayload = """
        CASE WHEN ev.schema_version > 1 THEN ev.payload
             -- v1: {"unit", "asOf", "level"}: one overall C-level, no area ratings.
             WHEN ev.event_type = 'ReadinessReported' THEN (ev.payload - 'level') || jsonb_build_object('cLevel', ev.payload -> 'level')
             -- v1: {"start", "end", ...} instead of {"window": {"start", "end"}}; no phases or standards.
             WHEN ev.event_type = 'ExercisePlanned'
                 THEN (ev.payload - 'start' - 'end') || jsonb_build_object('window', jsonb_build_object('start', ev.payload -> 'start', 'end', ev.payload -> 'end'))
             ELSE ev.payload END
        """

    private static func literal(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "''") + "'" }

    // MARK: SQL shared by several read models

    /// A text[] from a JSON array of strings (empty when absent).
    static func textArray(_ json: String) -> String {
        "ARRAY(SELECT jsonb_array_elements_text(coalesce(\(json), '[]'::jsonb)))"
    }

    /// The status an exercise's life-cycle events move it to: sets the exercises table's `status` column.
    static var exerciseStatus: Case {
        func q(_ s: String) -> String { literal(s) }
        return Case("ExerciseAdvanced", "ExercisePaused", "ExerciseResumed", "ExerciseCancelled", sql: """
                v_status := CASE e.event_type WHEN 'ExerciseAdvanced' THEN p ->> 'to'
                                              WHEN 'ExercisePaused' THEN \(q(ExerciseStatus.paused.rawValue))
                                              WHEN 'ExerciseResumed' THEN \(q(ExerciseStatus.conduct.rawValue))
                                              WHEN 'ExerciseCancelled' THEN \(q(ExerciseStatus.cancelled.rawValue)) END;
                UPDATE {s}.exercises SET status = v_status WHERE exercise = p ->> 'exercise';
            """)
    }

    /// The status StartEx and EndEx move an exercise to (other milestones: NULL).
    static var milestoneStatus: String {
        """
        CASE p ->> 'milestone' WHEN \(literal(Milestone.startEx.rawValue)) THEN \(literal(ExerciseStatus.conduct.rawValue))
                               WHEN \(literal(Milestone.endEx.rawValue)) THEN \(literal(ExerciseStatus.assessment.rawValue)) END
        """
    }

    /// The title of a milestone (`Milestone.title`).
    static var milestoneTitle: String {
        "CASE p ->> 'milestone' " + Milestone.sequence.map { "WHEN \(literal($0.rawValue)) THEN \(literal($0.title))" }.joined(separator: " ") + " END"
    }
}
