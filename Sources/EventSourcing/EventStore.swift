public import Foundation
public import Postgres

/// A failed append or read.
public struct EventStoreError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case conflict
        case commandReused
        case invalidRequest
        case database
    }

    private let code: Code
    public let description: String
    /// For a conflict: the stream whose expectation failed.
    public let stream: String?
    /// The underlying database error, when there is one.
    public let underlying: PostgresError?

    /// A wrong expected version, or an append PostgreSQL rolled back for a deadlock with another: nothing
    /// was written; re-read, decide again and retry.
    public var isConcurrencyConflict: Bool { code == .conflict }
    /// The command id was used before for a different command.
    public var isCommandReused: Bool { code == .commandReused }
    /// The database could not be reached or the connection dropped.
    public var isUnavailable: Bool { underlying?.isConnectionFailure == true }

    public init(_ error: PostgresError) {
        switch error.sqlState {
        case "MU001":
            code = .conflict
            let detail = error.detail.flatMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            stream = detail?["stream"] as? String
            description = "concurrency conflict: \(error.message)"
        case "40P01", "40001":
            // A deadlock (two appends creating the same new streams in opposite orders) or a serialization
            // failure: PostgreSQL rolled the append back, and a retry decides again like any conflict.
            code = .conflict
            stream = nil
            description = "concurrency conflict: \(error.message) (another append to the same streams went ahead; nothing was written)"
        case "MU002":
            code = .commandReused
            stream = nil
            description = error.message
        case "MU003":
            code = .invalidRequest
            stream = nil
            description = "invalid append: \(error.message)"
        default:
            code = .database
            stream = nil
            description = error.isConnectionFailure ? "database unavailable: \(error)" : error.description
        }
        underlying = error
    }

    init(invalid message: String) {
        code = .invalidRequest
        stream = nil
        description = message
        underlying = nil
    }
}

/// Where a reader stops: at a recorded time, or at a global position.
public enum AsOf: Sendable, Equatable {
    case time(Date)
    case position(Int64)
}

/// The PostgreSQL event store: append with optimistic concurrency, read streams, categories
/// and the whole log in a global order that never skips a late-committing transaction.
public final class EventStore {
    public let db: PostgresConnection

    public init(_ db: PostgresConnection) {
        self.db = db
    }

    // MARK: Append

    /// Appends events to one or more streams in one transaction, each with its own expectation.
    ///
    /// - Parameters:
    ///   - appends: per stream, the expected version and the events.
    ///   - commandID: when given, a second append with the same id writes nothing and returns the first result.
    ///   - command: the command as submitted (JSON), kept for the audit trail and to detect a reused id.
    /// - Throws: `EventStoreError`: a conflict names the stream, expected and actual version; nothing is written.
    @discardableResult
    public func append(_ appends: [StreamAppend], commandID: UUID? = nil, command: Data? = nil) throws(EventStoreError) -> AppendResult {
        guard !appends.isEmpty else { throw EventStoreError(invalid: "nothing to append") }
        let commandText = command.map { String(decoding: $0, as: UTF8.self) }
        do {
            let rows: PostgresRows
            if appends.count == 1, appends[0].events.count == 1, appends[0].expected != .noStream {
                // One event on one stream (most commands): its fields bound one by one (`schema/0008`).
                let a = appends[0], e = a.events[0]
                let (expected, version): (String, Int64?) = switch a.expected {
                case .exact(let n): ("exact", n)
                case .streamExists: ("stream_exists", nil)
                case .any, .noStream: ("any", nil)
                }
                let payload = String(decoding: e.payload, as: UTF8.self)
                rows = try db.query("""
                    SELECT event_store.append_one(\(commandID), \(commandText)::jsonb, \(a.stream), \(expected), \(version),
                                                  \(e.eventID), \(e.type), \(e.schemaVersion), \(payload)::jsonb, \(AppendJSON.encode(e.metadata))::jsonb) AS result
                    """, reusing: "muster_append_one")
            } else {
                rows = try db.query("SELECT event_store.append(\(commandID), \(commandText)::jsonb, \(Self.request(appends))::jsonb) AS result",
                                    reusing: "muster_append")
            }
            let text = try rows.first?.decode("result", as: String.self) ?? "{}"
            return try AppendResult(serverText: text) ?? JSONDecoder().decode(AppendResult.self, from: Data(text.utf8))
        } catch let error as PostgresError {
            throw EventStoreError(error)
        } catch {
            throw EventStoreError(invalid: "the store returned an unreadable append result: \(error)")
        }
    }

    /// Wakes projection workers listening on `ProjectionRunner.channel`: call it after the append committed.
    ///
    /// `event_store.append` does not notify: a NOTIFY inside the appending transaction holds a global lock
    /// from its commit until the flush, so concurrent appends would commit one at a time. Sent after the
    /// commit, a notification costs a round trip and no flush. It is only a wake-up; workers also poll.
    /// - Parameter streams: the streams appended to; the payload lists their categories.
    public func notifyAppended(streams: [String]) throws(EventStoreError) {
        var categories: [String] = []
        for stream in streams {
            let category = String(stream.prefix { $0 != "-" })
            if !categories.contains(category) { categories.append(category) }
        }
        do {
            try db.notify(ProjectionRunner.channel, payload: categories.joined(separator: ","))
        } catch {
            throw EventStoreError(error)
        }
    }

    /// The JSON request `event_store.append` reads, written directly: payloads are spliced in as they
    /// are (they are JSON objects already), and each distinct metadata value is encoded once.
    static func request(_ appends: [StreamAppend]) -> String {
        var capacity = 32
        for a in appends {
            capacity += a.stream.utf8.count + 80
            for e in a.events { capacity += e.payload.count + e.type.utf8.count + 400 }
        }
        var request = ""
        request.reserveCapacity(capacity)
        request += "{\"streams\":["
        var lastMetadata: EventMetadata?
        var lastMetadataJSON = ""
        for (i, a) in appends.enumerated() {
            if i > 0 { request += "," }
            request += "{\"stream\":"
            AppendJSON.append(quoted: a.stream, to: &request)
            switch a.expected {
            case .exact(let n): request += ",\"expected\":\"exact\",\"expected_version\":\(n),"
            case .noStream: request += ",\"expected\":\"no_stream\","
            case .streamExists: request += ",\"expected\":\"stream_exists\","
            case .any: request += ",\"expected\":\"any\","
            }
            request += "\"events\":["
            for (j, e) in a.events.enumerated() {
                if j > 0 { request += "," }
                if lastMetadata != e.metadata {
                    lastMetadataJSON = AppendJSON.encode(e.metadata)
                    lastMetadata = e.metadata
                }
                request += "{\"event_id\":\""
                AppendJSON.append(lowercased: e.eventID, to: &request)
                request += "\",\"type\":"
                AppendJSON.append(quoted: e.type, to: &request)
                request += ",\"schema_version\":"
                request += String(e.schemaVersion)
                request += ",\"payload\":"
                request += String(decoding: e.payload, as: UTF8.self)
                request += ",\"metadata\":"
                request += lastMetadataJSON
                request += "}"
            }
            request += "]}"
        }
        request += "]}"
        return request
    }

    /// The recorded result when `commandID` was already applied to this same `command`.
    ///
    /// - Throws: `EventStoreError` with `isCommandReused` when the id was applied to a different command.
    public func appliedResult(commandID: UUID, command: Data) throws(EventStoreError) -> AppendResult? {
        let text = String(decoding: command, as: UTF8.self)
        do {
            let rows = try db.query("""
                SELECT result::text AS result, request_hash = sha256(convert_to(\(text)::jsonb::text, 'UTF8')) AS same
                  FROM event_store.commands WHERE command_id = \(commandID)
                """)
            guard let row = rows.first else { return nil }
            guard try row.decode("same", as: Bool.self) else {
                throw EventStoreError(PostgresError.server(sqlState: "MU002", message: "command id \(commandID.uuidString.lowercased()) was already used for a different command",
                                                           detail: nil, hint: "use a new --command-id for a new command", statement: nil, parameters: []))
            }
            let result = try JSONDecoder().decode(AppendResult.self, from: Data(try row.decode("result", as: String.self).utf8))
            return AppendResult(streams: result.streams, firstPosition: result.firstPosition, lastPosition: result.lastPosition, duplicate: true)
        } catch let error as EventStoreError {
            throw error
        } catch let error as PostgresError {
            throw EventStoreError(error)
        } catch {
            throw EventStoreError(invalid: "unreadable command result: \(error)")
        }
    }

    /// The current version of a stream (0 when it does not exist): the version of its last event.
    public func version(of stream: String) throws(EventStoreError) -> Int64 {
        do {
            let rows = try db.query("""
                SELECT stream_version FROM event_store.events WHERE stream_name = \(stream) ORDER BY stream_version DESC LIMIT 1
                """)
            return try rows.first?.decode("stream_version", as: Int64.self) ?? 0
        } catch {
            throw EventStoreError(error)
        }
    }

    // MARK: Read

    static let columns = """
        position, transaction_id::text AS transaction_id, stream_name, category, stream_version, event_id, event_type,
        schema_version, payload::text AS payload, metadata::text AS metadata, recorded_at, previous_hash, hash
        """

    static func decode(_ row: PostgresRow) throws(PostgresError) -> RecordedEvent {
        RecordedEvent(
            position: try row.decode("position"),
            transactionID: try row.decode("transaction_id"),
            stream: try row.decode("stream_name"),
            category: try row.decode("category"),
            version: try row.decode("stream_version"),
            eventID: try row.decode("event_id"),
            type: try row.decode("event_type"),
            schemaVersion: try row.decode("schema_version"),
            payload: Data(try row.decode("payload", as: String.self).utf8),
            metadataJSON: Data(try row.decode("metadata", as: String.self).utf8),
            recordedAt: try row.decode("recorded_at"),
            previousHash: try row.decode("previous_hash"),
            hash: try row.decode("hash"))
    }

    private func asOfClause(_ asOf: AsOf?) -> PostgresQuery {
        switch asOf {
        case nil: return ""
        case .time(let t): return " AND recorded_at <= \(t)"
        case .position(let p): return " AND position <= \(p)"
        }
    }

    /// Reads up to `limit` events of one stream from `version` on, optionally as of a time or position.
    public func readStream(_ stream: String, from version: Int64 = 1, limit: Int = 1000, asOf: AsOf? = nil) throws(EventStoreError) -> [RecordedEvent] {
        var q: PostgresQuery = "SELECT \(unescaped: Self.columns) FROM event_store.events WHERE stream_name = \(stream) AND stream_version >= \(version)"
        q.append(asOfClause(asOf))
        q.append(" ORDER BY stream_version LIMIT \(limit)")
        do throws(PostgresError) {
            return try db.query(q).map(Self.decode)
        } catch {
            throw EventStoreError(error)
        }
    }

    /// Reads a whole stream in batches (memory bounded by `batchSize`).
    public func forEachInStream(_ stream: String, asOf: AsOf? = nil, batchSize: Int = 1000,
                                _ body: (RecordedEvent) throws -> Void) throws {
        var next: Int64 = 1
        while true {
            let batch = try readStream(stream, from: next, limit: batchSize, asOf: asOf)
            for e in batch { try body(e) }
            guard batch.count == batchSize, let last = batch.last else { return }
            next = last.version + 1
        }
    }

    /// What deciding a command needs of a stream's event: its version, type, schema version and payload.
    public struct StreamEvent: Sendable {
        public let version: Int64
        public let type: String
        public let schemaVersion: Int
        /// The payload, a JSON object.
        public let payload: Data
    }

    /// Reads a whole stream's versions, types and payloads in batches: what loading a stream to decide a
    /// command needs, without the metadata, hashes and positions `forEachInStream` reads and parses.
    public func forEachPayload(inStream stream: String, batchSize: Int = 1000, _ body: (StreamEvent) throws -> Void) throws {
        var next: Int64 = 1
        while true {
            let rows: PostgresRows
            do throws(PostgresError) {
                rows = try db.query("""
                    SELECT stream_version, event_type, schema_version, payload::text AS payload FROM event_store.events
                     WHERE stream_name = \(stream) AND stream_version >= \(next) ORDER BY stream_version LIMIT \(batchSize)
                    """)
            } catch {
                throw EventStoreError(error)
            }
            var last: Int64?
            for row in rows {
                let event = try StreamEvent(version: row.decode("stream_version"), type: row.decode("event_type"),
                                            schemaVersion: row.decode("schema_version"), payload: Data(row.decode("payload", as: String.self).utf8))
                try body(event)
                last = event.version
            }
            guard rows.count == batchSize, let last else { return }
            next = last + 1
        }
    }

    /// Reads up to `limit` events after `checkpoint` in global order, optionally one category only.
    ///
    /// Only transactions below the snapshot's xmin are returned: every transaction that could still
    /// commit with a lower id is finished, so a reader that resumes from its checkpoint never skips one.
    public func read(after checkpoint: Checkpoint, category: String? = nil, limit: Int = 1000, asOf: AsOf? = nil) throws(EventStoreError) -> [RecordedEvent] {
        var q: PostgresQuery = """
            SELECT \(unescaped: Self.columns) FROM event_store.events
             WHERE (transaction_id, position) > (\(String(checkpoint.transactionID))::xid8, \(checkpoint.position))
               AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            """
        if let category { q.append(" AND category = \(category)") }
        q.append(asOfClause(asOf))
        q.append(" ORDER BY events.transaction_id, events.position LIMIT \(limit)")
        do throws(PostgresError) {
            return try db.query(q).map(Self.decode)
        } catch {
            throw EventStoreError(error)
        }
    }

    /// Reads every visible event after `checkpoint` in batches and returns the last checkpoint reached.
    @discardableResult
    public func forEach(after checkpoint: Checkpoint = .start, category: String? = nil, asOf: AsOf? = nil, batchSize: Int = 1000,
                        _ body: (RecordedEvent) throws -> Void) throws -> Checkpoint {
        var at = checkpoint
        while true {
            let batch = try read(after: at, category: category, limit: batchSize, asOf: asOf)
            for e in batch { try body(e) }
            if let last = batch.last { at = last.checkpoint }
            if batch.count < batchSize { return at }
        }
    }

    /// The number of events in the store (all of them, visible or not yet).
    public func count() throws(EventStoreError) -> Int64 {
        do {
            return try db.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? 0
        } catch {
            throw EventStoreError(error)
        }
    }
}

/// JSON text for append requests, written without an encoder (the request is built once per append and
/// holds every event; JSONEncoder per event dominated the client's cost of a bulk append).
public enum AppendJSON {
    /// Appends `s` as a JSON string literal (also used by the CLI for the JSON its flags make).
    public static func append(quoted s: String, to out: inout String) {
        out += "\""
        var plain = true
        for b in s.utf8 where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
            plain = false
            break
        }
        if plain {
            out += s
        } else {
            for scalar in s.unicodeScalars {
                switch scalar {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                case "\n": out += "\\n"
                case "\r": out += "\\r"
                case "\t": out += "\\t"
                default:
                    if scalar.value < 0x20 {
                        let hex = String(scalar.value, radix: 16)
                        out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                    } else {
                        out.unicodeScalars.append(scalar)
                    }
                }
            }
        }
        out += "\""
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Appends a UUID in lowercase 8-4-4-4-12 form (no quotes).
    static func append(lowercased id: UUID, to out: inout String) {
        let u = id.uuid
        let bytes = [u.0, u.1, u.2, u.3, u.4, u.5, u.6, u.7, u.8, u.9, u.10, u.11, u.12, u.13, u.14, u.15]
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (i, b) in bytes.enumerated() {
            if i == 4 || i == 6 || i == 8 || i == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigits[Int(b >> 4)])
            text.append(hexDigits[Int(b & 0x0F)])
        }
        out += String(decoding: text, as: UTF8.self)
    }

    /// The metadata object with the keys and values `JSONEncoder` writes for `EventMetadata`
    /// (absent optionals omitted, UUIDs as `uuidString`), keys sorted.
    static func encode(_ m: EventMetadata) -> String {
        var out = "{\"actor\":"
        append(quoted: m.actor, to: &out)
        func field(_ key: String, _ value: String?) {
            guard let value else { return }
            out += ",\"" + key + "\":"
            append(quoted: value, to: &out)
        }
        field("causation_id", m.causationID?.uuidString)
        field("classification", m.classification)
        field("command", m.command)
        field("command_id", m.commandID?.uuidString)
        field("correlation_id", m.correlationID?.uuidString)
        field("reason", m.reason)
        if let list = m.releasableTo {
            out += ",\"releasable_to\":["
            for (i, item) in list.enumerated() {
                if i > 0 { out += "," }
                append(quoted: item, to: &out)
            }
            out += "]"
        }
        out += "}"
        return out
    }
}
