import Foundation
public import EventSourcing
public import Postgres

/// Every event of the log with who did it, on whose command and why: one row per event, of every type.
///
/// The rows are the log itself: the projection keeps only how far it has applied (`applied`, one row), and
/// the view reads `event_store.events` up to that point. Copying every event into a second table cost more
/// than all other read models together (a third of a rebuild) and added nothing the log does not hold.
/// Readers still see exactly the applied events: a batch never passes a transaction that could still
/// commit events before it, so every event at or before the mark is visible, and none after it is shown.
public struct AuditTrailProjection: ReportingProjection {
    public let name = "audit_trail"
    /// 2: the view reads the log up to the `applied` mark (1 copied every event into `events`).
    public let version = 2

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).applied (
                one boolean PRIMARY KEY DEFAULT true CHECK (one),
                transaction_id xid8 NOT NULL, position bigint NOT NULL,
                max_recorded_at timestamptz, max_position bigint);
            INSERT INTO \(schema).applied VALUES (true, '0', 0, NULL, NULL);
            """)
    }

    /// Moves the mark to the batch's last event (and its as-of cut, the same for every batch of a build).
    public func statements(applying batch: EventBatch, in s: String) -> String? {
        let (maxTime, maxPosition) = BatchFunction.cut(batch)
        return """
            UPDATE \(s).applied SET transaction_id = '\(batch.through.transactionID)'::xid8, position = \(batch.through.position),
                   max_recorded_at = \(maxTime), max_position = \(maxPosition)
            """
    }

    public var views: [ReportingView] {
        [
            ReportingView("audit_trail",
                "One row per event in the log, of every type: who did what, on whose command and why. Order by (transaction_id, position) for the global order.",
                columns: [
                    ("position", "Log position of the event (unique; with transaction_id, the global order)."),
                    ("transaction_id", "PostgreSQL transaction id (xid8) that appended the event."),
                    ("stream", "Stream name, category-id, e.g. exercise-ts25."),
                    ("category", "The stream's category: alliance, nation, unit, area or exercise."),
                    ("version", "The event's version within its stream, from 1."),
                    ("event_id", "The event's id."),
                    ("event_type", "Past-tense event type, e.g. UnitCommitted."),
                    ("schema_version", "Schema version of the stored payload."),
                    ("actor", "Who issued the command."),
                    ("command", "The command's name, e.g. commitUnit."),
                    ("command_id", "Id of the command that appended the event; retries reuse it."),
                    ("correlation_id", "Id shared by the commands of one piece of work."),
                    ("causation_id", "Id of the command or event that caused this command, if any."),
                    ("reason", "The reason the actor gave, if any."),
                    ("classification", "Classification of the event's content, if marked."),
                    ("releasable_to", "REL TO nations of the event's content, if marked."),
                    ("recorded_at", "When the event was appended (the appending transaction's time)."),
                ],
                """
                SELECT e.position, e.transaction_id, e.stream_name AS stream, e.category, e.stream_version AS version, e.event_id,
                       e.event_type, e.schema_version, coalesce(e.metadata ->> 'actor', 'unknown') AS actor, e.metadata ->> 'command' AS command,
                       (e.metadata ->> 'command_id')::uuid AS command_id, (e.metadata ->> 'correlation_id')::uuid AS correlation_id,
                       (e.metadata ->> 'causation_id')::uuid AS causation_id, e.metadata ->> 'reason' AS reason,
                       e.metadata ->> 'classification' AS classification,
                       CASE WHEN jsonb_typeof(e.metadata -> 'releasable_to') = 'array'
                            THEN ARRAY(SELECT jsonb_array_elements_text(e.metadata -> 'releasable_to')) END AS releasable_to,
                       e.recorded_at
                  FROM {src}.applied a
                  JOIN event_store.events e ON (e.transaction_id, e.position) <= (a.transaction_id, a.position)
                       AND (a.max_recorded_at IS NULL OR e.recorded_at <= a.max_recorded_at)
                       AND (a.max_position IS NULL OR e.position <= a.max_position)
                """),
        ]
    }
}
