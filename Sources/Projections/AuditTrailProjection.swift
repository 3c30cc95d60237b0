import Foundation
public import EventSourcing
public import Postgres

/// Every event of the log with who did it, on whose command and why: one row per event, of every type.
public struct AuditTrailProjection: ReportingProjection {
    public let name = "audit_trail"

    public init() {}

    public func createTables(in schema: String, _ db: PostgresConnection) throws {
        try db.execute("""
            CREATE TABLE \(schema).events (
                position bigint PRIMARY KEY, transaction_id xid8 NOT NULL, stream text NOT NULL, category text NOT NULL,
                version bigint NOT NULL, event_id uuid NOT NULL, event_type text NOT NULL, schema_version int NOT NULL,
                actor text NOT NULL, command text, command_id uuid, correlation_id uuid, causation_id uuid, reason text,
                classification text, releasable_to text[], recorded_at timestamptz NOT NULL);
            CREATE INDEX ON \(schema).events (stream, version);
            CREATE INDEX ON \(schema).events (command_id);
            """)
    }

    /// Every event becomes a row: one INSERT ... SELECT per batch.
    public func apply(_ batch: EventBatch, in s: String, _ db: PostgresConnection) throws {
        try db.execute("""
            INSERT INTO \(s).events
            SELECT e.position, e.transaction_id, e.stream_name, e.category, e.stream_version, e.event_id, e.event_type, e.schema_version,
                   coalesce(e.metadata ->> 'actor', 'unknown'), e.metadata ->> 'command', (e.metadata ->> 'command_id')::uuid,
                   (e.metadata ->> 'correlation_id')::uuid, (e.metadata ->> 'causation_id')::uuid, e.metadata ->> 'reason',
                   e.metadata ->> 'classification',
                   CASE WHEN jsonb_typeof(e.metadata -> 'releasable_to') = 'array'
                        THEN ARRAY(SELECT jsonb_array_elements_text(e.metadata -> 'releasable_to')) END,
                   e.recorded_at
              FROM event_store.events e
             WHERE \(batch.condition("e"))
             ORDER BY e.transaction_id, e.position
            """)
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
                SELECT position, transaction_id, stream, category, version, event_id, event_type, schema_version, actor, command,
                       command_id, correlation_id, causation_id, reason, classification, releasable_to, recorded_at
                  FROM {src}.events
                """),
        ]
    }
}
