import Foundation
public import Postgres

/// A problem an audit found, pointing at the exact stream and version.
public struct AuditFinding: Sendable, Equatable, CustomStringConvertible {
    public let stream: String?
    public let version: Int64?
    public let problem: String

    public init(stream: String?, version: Int64?, problem: String) {
        self.stream = stream
        self.version = version
        self.problem = problem
    }

    public var description: String {
        switch (stream, version) {
        case let (s?, v?): "stream \(s) version \(v): \(problem)"
        case let (s?, nil): "stream \(s): \(problem)"
        default: problem
        }
    }
}

/// Recomputes every stream's hash chain in Swift (independently of the server's functions)
/// and checks that the store's immutability triggers are in place.
public struct ChainVerifier {
    public struct Report: Sendable {
        public var streams = 0
        public var events = 0
        public var findings: [AuditFinding] = []
    }

    public let db: PostgresConnection

    public init(_ db: PostgresConnection) { self.db = db }

    static let zeroHash = Data(repeating: 0, count: 32)

    /// The exact bytes an event's hash covers (see `event_store.hash_input` in schema/0001).
    static func hashInput(stream: String, version: Int64, eventID: String, type: String, schemaVersion: Int,
                          payload: String, metadata: String, recordedAt: String) -> [UInt8] {
        Array([stream, String(version), eventID, type, String(schemaVersion), payload, metadata, recordedAt]
            .joined(separator: "\n").utf8)
    }

    /// Verifies all chains, reading in batches of `batchSize` events.
    public func verify(batchSize: Int = 5000) throws -> Report {
        // One snapshot for every read, so that appends committed while it runs are either wholly seen (the
        // events and their records) or not at all. Inside the caller's transaction, that one is used.
        guard !db.inTransaction else { return try verifyInSnapshot(batchSize: batchSize) }
        try db.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        do {
            let report = try verifyInSnapshot(batchSize: batchSize)
            try db.execute("COMMIT")
            return report
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    func verifyInSnapshot(batchSize: Int) throws -> Report {
        var report = Report()
        var heads: [String: (version: Int64, hash: Data)] = [:]
        for row in try db.query("SELECT stream_name, version, head_hash FROM event_store.streams") {
            heads[try row.decode("stream_name")] = (try row.decode("version"), try row.decode("head_hash"))
        }
        report.streams = heads.count
        let recorded = try recordedTops()
        var seen = Set<String>()
        var lastStream = ""
        var lastVersion: Int64 = 0
        var currentStream: String?
        var expectedVersion: Int64 = 0
        var previous = Self.zeroHash
        var previousPosition: Int64 = 0
        // A stream's row holds the version and hash it reached when it was created (or before schema/0013,
        // when appends still moved it): a point its chain passes through, checked where the chain gets there.
        // No later event chains over a stream's last ones: since schema/0013 every append is recorded, with
        // the versions it wrote, in event_store.commands, whose rows cannot be changed. The last event must be
        // the last version recorded, or (for appends before 0013 without a command id) the row's version.
        func closeStream() {
            guard let s = currentStream else { return }
            seen.insert(s)
            let top = recorded[s]
            if let top, top.version > expectedVersion {
                report.findings.append(AuditFinding(stream: s, version: expectedVersion + 1,
                    problem: "append \(top.commandID) recorded versions up to \(top.version); version \(expectedVersion + 1) and after are no longer stored (deleted behind the store's back)"))
            }
            let covered = max(top?.version ?? 0, heads[s]?.version ?? 0)
            if expectedVersion > covered {
                report.findings.append(AuditFinding(stream: s, version: covered + 1,
                    problem: "versions \(covered + 1) to \(expectedVersion) were written by no recorded append (added behind the store's back)"))
            }
            if let head = heads[s] {
                if head.version > expectedVersion {
                    report.findings.append(AuditFinding(stream: s, version: head.version,
                        problem: "the stream's record says it reached version \(head.version) but the last event is version \(expectedVersion) (events deleted behind the store's back)"))
                }
                heads[s] = nil
            } else {
                report.findings.append(AuditFinding(stream: s, version: nil, problem: "events exist for a stream with no record in event_store.streams"))
            }
        }
        while true {
            let rows = try db.query("""
                SELECT stream_name, stream_version, position, category, event_id::text AS event_id, event_type, schema_version,
                       payload::text AS payload, metadata::text AS metadata,
                       to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS recorded_at,
                       previous_hash, hash
                  FROM event_store.events
                 WHERE (stream_name, stream_version) > (\(lastStream), \(lastVersion))
                 ORDER BY stream_name, stream_version
                 LIMIT \(batchSize)
                """)
            for row in rows {
                let stream: String = try row.decode("stream_name")
                let version: Int64 = try row.decode("stream_version")
                if stream != currentStream {
                    closeStream()
                    currentStream = stream
                    expectedVersion = 0
                    previous = Self.zeroHash
                    previousPosition = 0
                }
                report.events += 1
                // Not hashed, but fixed by the stream: the category is the name's prefix, and a stream's
                // events are appended in version order, so their positions rise with the version.
                let category: String = try row.decode("category")
                if category != stream.prefix(while: { $0 != "-" }) {
                    report.findings.append(AuditFinding(stream: stream, version: version,
                        problem: "the event's category '\(category)' does not match its stream (changed behind the store's back)"))
                }
                let position: Int64 = try row.decode("position")
                if position <= previousPosition {
                    report.findings.append(AuditFinding(stream: stream, version: version,
                        problem: "position \(position) is not after the position \(previousPosition) of the version before it (events reordered)"))
                }
                previousPosition = position
                if version != expectedVersion + 1 {
                    report.findings.append(AuditFinding(stream: stream, version: expectedVersion + 1,
                        problem: "version \(expectedVersion + 1) is missing (next stored version is \(version))"))
                }
                let storedPrevious: Data = try row.decode("previous_hash")
                let stored: Data = try row.decode("hash")
                if storedPrevious != previous {
                    report.findings.append(AuditFinding(stream: stream, version: version, problem: "previous_hash does not match the hash of the event before it (events removed or reordered)"))
                }
                let input = Self.hashInput(stream: stream, version: version, eventID: try row.decode("event_id"),
                                           type: try row.decode("event_type"), schemaVersion: try row.decode("schema_version"),
                                           payload: try row.decode("payload"), metadata: try row.decode("metadata"),
                                           recordedAt: try row.decode("recorded_at"))
                let computed = SHA256.hash(Array(storedPrevious) + input)
                if computed != stored {
                    report.findings.append(AuditFinding(stream: stream, version: version, problem: "the event's content does not match its hash (altered after it was recorded)"))
                }
                if let head = heads[stream], head.version == version, head.hash != stored {
                    report.findings.append(AuditFinding(stream: stream, version: version,
                        problem: "the stream's record holds another hash for this version (the event was replaced, or the record changed)"))
                }
                previous = stored
                expectedVersion = version
                lastStream = stream
                lastVersion = version
            }
            if rows.count < batchSize { break }
        }
        closeStream()
        // append() creates a stream's row and its first events in one transaction: a row without events (even at
        // version 0) means its events were removed behind the store's back.
        for (s, head) in heads.sorted(by: { $0.key < $1.key }) {
            report.findings.append(AuditFinding(stream: s, version: head.version, problem: "the stream's record says it reached version \(head.version) but the stream has no events"))
        }
        for (s, top) in recorded.sorted(by: { $0.key < $1.key }) where !seen.contains(s) && top.version > 0 {
            report.findings.append(AuditFinding(stream: s, version: 1,
                problem: "append \(top.commandID) recorded versions up to \(top.version) of a stream with no events (deleted behind the store's back)"))
        }
        report.findings += try immutabilityFindings()
        return report
    }

    /// Per stream, the highest version a recorded append wrote, and that append's id.
    func recordedTops() throws -> [String: (version: Int64, commandID: String)] {
        var tops: [String: (version: Int64, commandID: String)] = [:]
        for row in try db.query("""
            SELECT DISTINCT ON (r.stream) r.stream, r.to_version, c.command_id::text AS command_id
              FROM event_store.commands c
             CROSS JOIN LATERAL jsonb_to_recordset(c.result -> 'streams') AS r(stream text, to_version bigint)
             ORDER BY r.stream, r.to_version DESC
            """) {
            tops[try row.decode("stream")] = (try row.decode("to_version"), try row.decode("command_id"))
        }
        return tops
    }

    /// Checks that the triggers which reject UPDATE, DELETE and TRUNCATE are present and enabled.
    public func immutabilityFindings() throws -> [AuditFinding] {
        let expected = ["events_immutable", "events_no_truncate", "commands_immutable", "commands_no_truncate"]
        var present: [String: String] = [:]
        for row in try db.query("""
            SELECT t.tgname, t.tgenabled::text AS enabled FROM pg_trigger t
              JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'event_store' AND NOT t.tgisinternal
            """) {
            present[try row.decode("tgname")] = try row.decode("enabled", as: String.self)
        }
        var findings: [AuditFinding] = []
        for name in expected {
            switch present[name] {
            case nil: findings.append(AuditFinding(stream: nil, version: nil, problem: "immutability trigger \(name) is missing"))
            case "D": findings.append(AuditFinding(stream: nil, version: nil, problem: "immutability trigger \(name) is disabled"))
            default: break
            }
        }
        return findings
    }
}

/// A digest of every stream head at a checkpoint, for auditors to keep. Because each head hash
/// chains over all earlier events of its stream, a later digest at the same checkpoint that
/// still matches proves that no event up to that checkpoint changed.
public struct HeadDigest: Sendable, Equatable, CustomStringConvertible {
    public let checkpoint: Checkpoint
    public let streams: Int
    public let digest: String

    /// `muster-head:1:<transaction id>:<position>:<sha256 hex>`.
    public var description: String { "muster-head:1:\(checkpoint.transactionID):\(checkpoint.position):\(digest)" }

    public init?(parsing text: String) {
        let parts = text.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: ":")
        guard parts.count == 5, parts[0] == "muster-head", parts[1] == "1",
              let tx = UInt64(parts[2]), let pos = Int64(parts[3]), parts[4].count == 64,
              parts[4].allSatisfy({ $0.isHexDigit }) else { return nil }
        checkpoint = Checkpoint(transactionID: tx, position: pos)
        streams = 0
        digest = String(parts[4]).lowercased()
    }

    init(checkpoint: Checkpoint, streams: Int, digest: String) {
        self.checkpoint = checkpoint
        self.streams = streams
        self.digest = digest
    }

    /// Computes the digest at `checkpoint`, or at the newest visible event when nil.
    public static func compute(_ db: PostgresConnection, at checkpoint: Checkpoint? = nil) throws -> HeadDigest {
        let at: Checkpoint
        if let checkpoint {
            at = checkpoint
        } else {
            let rows = try db.query("""
                SELECT transaction_id::text AS transaction_id, position FROM event_store.events
                 WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                 ORDER BY events.transaction_id DESC, events.position DESC LIMIT 1
                """)
            at = try rows.first.map { Checkpoint(transactionID: try $0.decode("transaction_id"), position: try $0.decode("position")) } ?? .start
        }
        let rows = try db.query("""
            SELECT DISTINCT ON (stream_name) stream_name, stream_version, hash FROM event_store.events
             WHERE (transaction_id, position) <= (\(String(at.transactionID))::xid8, \(at.position))
             ORDER BY stream_name, stream_version DESC
            """)
        var text = ""
        for row in rows {
            let hash: Data = try row.decode("hash")
            text += "\(try row.decode("stream_name", as: String.self)) \(try row.decode("stream_version", as: Int64.self)) \(hash.hexString)\n"
        }
        return HeadDigest(checkpoint: at, streams: rows.count, digest: SHA256.hex(Array(text.utf8)))
    }
}
