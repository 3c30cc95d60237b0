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

    public func apply(_ event: RecordedEvent, in s: String, _ db: PostgresConnection) throws {
        let m = event.metadata
        let releasable = m.releasableTo.map { "{" + $0.map { "\"\($0.replacingOccurrences(of: "\"", with: ""))\"" }.joined(separator: ",") + "}" }
        try db.run(s, """
            INSERT INTO {s}.events VALUES (\(event.position), \(String(event.transactionID))::xid8, \(event.stream), \(event.category),
                \(event.version), \(event.eventID), \(event.type), \(event.schemaVersion), \(m.actor), \(m.command), \(m.commandID),
                \(m.correlationID), \(m.causationID), \(m.reason), \(m.classification), \(releasable)::text[], \(event.recordedAt))
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
