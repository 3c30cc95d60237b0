public import Foundation
public import Postgres

/// A read model built from the event log: a set of tables in its own schema, updated one batch of events at a time.
///
/// The runner owns the schema (`rm_<name>` when live) and the transactions: `apply` runs inside the
/// runner's transaction, together with the checkpoint update, so it must not commit or roll back.
/// A projection must be deterministic: everything it writes is derived from the events (no `now()`,
/// no sequences whose values show), so that a rebuild reproduces the live tables row for row.
///
/// Fast projections apply a batch with set-based SQL over `event_store.events` (`EventBatch.condition`
/// selects the batch's rows), so that no event crosses the wire; `EventByEventProjection` is the simple
/// form that reads the batch and applies each event from Swift.
public protocol Projection {
    /// A lowercase name of letters, digits and single underscores, at most 40 characters, e.g. `readiness`.
    var name: String { get }

    /// The version of the projection's tables and of what it writes into them. Raise it whenever either
    /// changes: a runner that finds a live schema of another version builds it again from the log.
    var version: Int { get }

    /// Creates this projection's tables (and any functions it applies batches with) inside `schema`,
    /// a fresh and empty schema.
    ///
    /// - Parameters:
    ///   - schema: the schema to create the tables in (an identifier that needs no quoting).
    ///   - db: the runner's connection, inside its transaction.
    func createTables(in schema: String, _ db: PostgresConnection) throws

    /// Creates the secondary indexes that applying batches does not use (none that an upsert's conflict
    /// target or a lookup while applying needs). A build from the start of the log creates them once its
    /// tables are loaded, which is faster than maintaining them row by row; otherwise they follow the tables.
    ///
    /// - Parameters:
    ///   - schema: the schema holding the tables.
    ///   - db: the runner's connection, inside its transaction.
    func createIndexes(in schema: String, _ db: PostgresConnection) throws

    /// Applies a batch of events, in global order, to the tables in `schema`, inside the runner's transaction.
    /// By default it runs `statements(applying:in:)`; a projection that applies batches from Swift implements it.
    ///
    /// Events of every category are in the batch; ignore those the projection does not use.
    func apply(_ batch: EventBatch, in schema: String, _ db: PostgresConnection) throws

    /// The SQL `apply` runs for `batch`: statements without parameters, which the runner may send in one
    /// message together with other projections' statements and the checkpoint update of the same
    /// transaction (a command's catch-up in one round trip instead of one per projection). Nil (the default)
    /// when the projection applies batches from Swift; the runner then calls `apply`.
    func statements(applying batch: EventBatch, in schema: String) -> String?

    /// The event types `apply` reads, or nil (the default) for every type. A runner may move the checkpoint
    /// past a batch holding none of them without calling `apply`: declare them only when `apply` ignores
    /// every other type, as a read model whose SQL selects its events by type does.
    var eventTypes: Set<String>? { get }

    /// Creates (or re-creates) views outside the projection's schema that read its live tables.
    ///
    /// Called after the live schema is first created and inside a rebuild's swap transaction, after the
    /// old schema and every view depending on it were dropped. Use `CREATE OR REPLACE VIEW`.
    func createViews(liveSchema: String, _ db: PostgresConnection) throws
}

extension Projection {
    /// Version 1 unless a projection says otherwise.
    public var version: Int { 1 }

    /// No deferred indexes by default.
    public func createIndexes(in schema: String, _ db: PostgresConnection) throws {}

    /// No views by default.
    public func createViews(liveSchema: String, _ db: PostgresConnection) throws {}

    /// Applied from Swift by default.
    public func statements(applying batch: EventBatch, in schema: String) -> String? { nil }

    /// Runs the projection's `statements`: a projection that gives them need not implement `apply`.
    public func apply(_ batch: EventBatch, in schema: String, _ db: PostgresConnection) throws {
        guard let sql = statements(applying: batch, in: schema) else {
            throw ProjectionError.inconsistent(name, "it implements neither apply nor statements")
        }
        try db.execute(sql)
    }

    /// Every event type by default.
    public var eventTypes: Set<String>? { nil }
}

/// A projection that applies one event at a time from Swift: one or more round trips per event.
public protocol EventByEventProjection: Projection {
    /// Applies one event to the tables in `schema`, inside the runner's transaction.
    func apply(_ event: RecordedEvent, in schema: String, _ db: PostgresConnection) throws
}

extension EventByEventProjection {
    /// Reads the batch's events and applies them one by one.
    public func apply(_ batch: EventBatch, in schema: String, _ db: PostgresConnection) throws {
        for event in try batch.events(db) {
            do {
                try apply(event, in: schema, db)
            } catch {
                throw EventApplyError(event: event, underlying: error)
            }
        }
    }
}

/// An event-by-event projection could not apply an event.
public struct EventApplyError: Error, CustomStringConvertible {
    public let event: RecordedEvent
    public let underlying: any Error
    public var description: String {
        "event \(event.checkpoint) (\(event.type), stream \(event.stream) version \(event.version)): \(underlying)"
    }
}

/// The events a projection applies in one transaction: those after `after`, up to and including `through`,
/// in global order, optionally only those recorded up to an as-of cut.
public struct EventBatch: Sendable, Equatable {
    /// Exclusive lower bound: the checkpoint the projection stood at.
    public let after: Checkpoint
    /// Inclusive upper bound: the last event of the batch.
    public let through: Checkpoint
    /// How many events the batch holds.
    public let count: Int
    /// Only events recorded up to this time or position (an audit's as-of cut), nil for all.
    public let asOf: AsOf?

    public init(after: Checkpoint, through: Checkpoint, count: Int, asOf: AsOf? = nil) {
        self.after = after
        self.through = through
        self.count = count
        self.asOf = asOf
    }

    /// A SQL condition selecting exactly the batch's rows of `event_store.events` aliased `alias`.
    ///
    /// Made of numeric and timestamp literals only. Order the rows by `(alias.transaction_id, alias.position)`.
    public func condition(_ alias: String = "e") -> String {
        var sql = "(\(alias).transaction_id, \(alias).position) > ('\(after.transactionID)'::xid8, \(after.position))"
        sql += " AND (\(alias).transaction_id, \(alias).position) <= ('\(through.transactionID)'::xid8, \(through.position))"
        switch asOf {
        case nil: break
        case .time(let t): sql += " AND \(alias).recorded_at <= '\(PostgresTimestamp.format(t))'::timestamptz"
        case .position(let p): sql += " AND \(alias).position <= \(p)"
        }
        return sql
    }

    /// Reads the batch's events, in global order.
    public func events(_ db: PostgresConnection) throws -> [RecordedEvent] {
        try db.query("""
            SELECT \(unescaped: EventStore.columns) FROM event_store.events e WHERE \(unescaped: condition("e"))
             ORDER BY e.transaction_id, e.position
            """).map(EventStore.decode)
    }
}

/// Where a projection stands: progress, lag and, when the log's visible horizon is held back, who holds it.
public struct ProjectionStatus: Sendable, Equatable {
    public let name: String
    /// The schema that readers query, `rm_<name>`.
    public let schema: String
    /// False until a runner first created the projection's tables.
    public let exists: Bool
    /// The last event applied.
    public let checkpoint: Checkpoint
    /// Events applied by the current generation, from the start of the log.
    public let eventsProcessed: Int64
    /// How many times a rebuild swapped in fresh tables, plus one.
    public let generation: Int
    public let updatedAt: Date?
    /// Events after the checkpoint that the projection could read now.
    public let visibleLag: Int64
    /// Committed events it cannot read yet, because an older transaction is still open (see `horizonHolder`).
    public let pendingLag: Int64
    /// Age in seconds of the oldest event not yet applied (visible or not), 0 when caught up.
    public let lagSeconds: Double
    /// The backend holding this projection's worker lock, when a worker runs.
    public let workerPID: Int32?
    /// The transaction holding the log's visible horizon back, when committed events are waiting behind it.
    public let horizonHolder: HorizonHolder?

    /// All events not yet applied: visible now plus waiting behind the horizon.
    public var lagEvents: Int64 { visibleLag + pendingLag }
}

/// The oldest running transaction with a transaction id: until it ends, no reader of the global
/// order may move past it, because it could still commit events that sort before later ones.
public struct HorizonHolder: Sendable, Equatable, CustomStringConvertible {
    /// The server process id; `pg_terminate_backend(pid)` ends it, 0 for a prepared transaction.
    public let pid: Int32
    /// The transaction id (32-bit form, as `pg_stat_activity.backend_xid` shows it).
    public let transactionID: String
    /// Transactions started since this one (`age(backend_xid)`).
    public let transactionAge: Int64
    /// Seconds since the transaction began.
    public let seconds: Double
    /// `active`, `idle in transaction`, ... (or `prepared`).
    public let state: String?
    public let user: String?
    public let application: String?
    public let database: String?
    /// The session's current or last statement (or the prepared transaction's gid).
    public let query: String?

    public var description: String {
        let age = String(format: "%.1f", seconds)
        var text = "backend pid \(pid) (\(application.map { "application \($0), " } ?? "")user \(user ?? "?"), database \(database ?? "?")) "
        text += "has held transaction \(transactionID) open for \(age) s (\(state ?? "unknown state"))"
        if let query, !query.isEmpty { text += "; last statement: \(query.prefix(200))" }
        return text
    }
}

/// What a worker does when another worker already runs the same projection.
public enum WorkerLockPolicy: Sendable, Equatable {
    /// Throw a `ProjectionError` naming the backend that holds the lock.
    case fail
    /// Wait until the other worker stops.
    case wait
}

/// A projection could not be run, rebuilt or compared.
public struct ProjectionError: Error, Sendable, CustomStringConvertible {
    private enum Code: Sendable {
        case busy
        case unknownProjection
        case invalidName
        case applyFailed
        case inconsistent
    }

    private let code: Code
    /// The projection concerned.
    public let projection: String
    public let description: String
    /// For a busy projection: the server process id of the session holding its lock.
    public let holderPID: Int32?

    /// Another worker (or rebuild) holds the projection's lock.
    public var isBusy: Bool { code == .busy }
    /// A projection's `apply` threw; nothing of that batch was committed.
    public var isApplyFailure: Bool { code == .applyFailed }

    private init(_ code: Code, _ projection: String, _ description: String, holderPID: Int32? = nil) {
        self.code = code
        self.projection = projection
        self.description = description
        self.holderPID = holderPID
    }

    static func busy(_ projection: String, what: String, holder: Int32?, holderInfo: String) -> ProjectionError {
        let who = holder.map { "PostgreSQL backend pid \($0)\(holderInfo)" } ?? "another session"
        return ProjectionError(.busy, projection,
            "projection \(projection) is already \(what) by \(who); stop that worker or run this one in wait mode",
            holderPID: holder)
    }

    static func unknown(_ projection: String, known: [String]) -> ProjectionError {
        ProjectionError(.unknownProjection, projection,
            "there is no projection named \(projection); known projections: \(known.joined(separator: ", "))")
    }

    static func invalidName(_ projection: String) -> ProjectionError {
        ProjectionError(.invalidName, projection,
            "projection name \"\(projection)\" is invalid: use lowercase letters, digits and single underscores, starting with a letter, at most 40 characters")
    }

    static func applyFailed(_ projection: String, batch: EventBatch, error: any Error) -> ProjectionError {
        let what = error is EventApplyError ? "\(error)" : "the \(batch.count) event(s) after \(batch.after) through \(batch.through): \(error)"
        return ProjectionError(.applyFailed, projection,
            "projection \(projection) failed to apply \(what); nothing of this batch was committed and its checkpoint stays at \(batch.after)")
    }

    static func inconsistent(_ projection: String, _ message: String) -> ProjectionError {
        ProjectionError(.inconsistent, projection, "projection \(projection): \(message)")
    }
}
