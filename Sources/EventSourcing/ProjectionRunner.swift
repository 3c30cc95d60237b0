import Foundation
public import Postgres

/// Runs projections over the event log: catch-up, live tailing, rebuild without downtime, status and audit.
///
/// Each batch applies up to `batchSize` events and moves the projection's checkpoint in the same
/// transaction, so an event's effect is committed exactly once. One worker runs a projection at a
/// time (a session advisory lock keyed by its name). Readers query the live schema `rm_<name>`.
///
/// Locks (advisory, two-key form, the second key `hashtext(name)`):
/// - `workerLockSpace`: session lock held by the worker of a projection;
/// - `rebuildLockSpace`: session lock held by a rebuild (one at a time per projection);
/// - `swapLockSpace`: every live batch takes it shared for its transaction; a rebuild's swap and the
///   first creation take it exclusive, so a swap never interleaves with a live batch.
public final class ProjectionRunner {
    public let db: PostgresConnection
    public let projections: [any Projection]
    public let batchSize: Int
    public let whenBusy: WorkerLockPolicy
    /// How long a rebuild's swap waits for readers' table locks before it gives up and retries.
    public var swapLockTimeout: Double = 5
    /// Progress messages for humans (one line each); ignored by default.
    public var log: (String) -> Void = { _ in }
    /// Called before a live projection is built from the start of the log because its schema is marked
    /// for another version (after an upgrade), with the mark found. A first build, of a projection that is
    /// missing, does not call it.
    public var willReplaceVersion: (_ projection: any Projection, _ found: String) -> Void = { _, _ in }
    /// Batch bounds shared with runners of other projections on other connections (see `BatchBounds`).
    public var sharedBounds: BatchBounds?
    /// In fail mode, how long taking a projection's lock keeps trying before it reports the holder: a
    /// planner command's catch-up holds a read model's worker lock for a few milliseconds, a worker for as
    /// long as it runs. A worker's start sets it, so that it does not refuse to run beside a command.
    public var busyGrace: Double = 0
    /// Commit the transactions that apply batches without waiting for the WAL flush
    /// (`SET LOCAL synchronous_commit = off`). A read model is derived from the log and each batch commits
    /// with its checkpoint, so a batch lost in a crash is applied again by the next run.
    public var asynchronousCommit = false

    static let workerLockSpace: Int32 = 0x6D75_0001
    static let swapLockSpace: Int32 = 0x6D75_0002
    static let rebuildLockSpace: Int32 = 0x6D75_0003
    /// The channel `EventStore.notifyAppended` notifies with the appended categories, after a commit.
    public static let channel = "muster_events"

    /// - Parameters:
    ///   - db: a connection used only by this runner (it holds session locks and LISTENs on it).
    ///   - projections: the projections to run; names must be unique.
    ///   - batchSize: events per transaction.
    ///   - whenBusy: what to do when another worker runs a projection.
    public init(_ db: PostgresConnection, projections: [any Projection], batchSize: Int = 10_000, whenBusy: WorkerLockPolicy = .fail) {
        self.db = db
        self.projections = projections
        self.batchSize = max(1, batchSize)
        self.whenBusy = whenBusy
    }

    /// The schema readers query for a projection.
    public static func liveSchema(_ name: String) -> String { "rm_\(name)" }
    static func nextSchema(_ name: String) -> String { "rm_\(name)__next" }

    // MARK: Catch-up and live

    /// Applies every visible event after each projection's checkpoint, then returns.
    ///
    /// Takes and releases each projection's worker lock (waiting or failing per `whenBusy`), and
    /// creates a projection's schema and tables when they do not exist yet.
    /// - Returns: per projection name, the number of events applied.
    /// - Throws: `ProjectionError` when a worker lock is held elsewhere (fail mode) or `apply` throws;
    ///   `PostgresError` or `EventStoreError` for database failures.
    @discardableResult
    public func catchUp() throws -> [String: Int] {
        try validate()
        var applied: [String: Int] = [:]
        // One query: where each projection stands, and the worker locks of those behind.
        let states = try liveStates(lockingBehind: true)
        // Current, with nothing to apply: no lock, no transaction.
        for p in projections where states[p.name]?.state == .upToDate { applied[p.name] = 0 }
        // Current, with events to apply, and this session holds their locks: all of them together, one
        // transaction per round of batches.
        let held = Set(projections.filter { states[$0.name]?.locked == true }.map(\.name))
        do {
            let together = try applyTogether(projections.filter { held.contains($0.name) })
            applied.merge(together) { $1 }
        } catch {
            releaseWorkerLocks(held)
            throw error
        }
        releaseWorkerLocks(held)
        // Missing, of another version, or held by another worker: one at a time, waiting or failing per `whenBusy`.
        for p in projections where applied[p.name] == nil {
            guard try acquireWorkerLock(p.name, until: { false }) else { continue }
            defer { releaseWorkerLock(p.name) }
            let built = try ensureLive(p)
            applied[p.name] = built + (try applyTogether([p])[p.name] ?? 0)
        }
        return applied
    }

    /// Where a projection's live schema stands, as `liveStates` tells it.
    enum LiveState: Equatable {
        /// Its schema and checkpoint exist, at its version, and no visible event follows the checkpoint.
        case upToDate
        /// Its schema and checkpoint exist, at its version, and visible events follow the checkpoint.
        case behind
    }

    /// Every projection's state, in one query; a projection missing from the answer has no live schema at
    /// its version, or no checkpoint.
    ///
    /// - Parameter lockingBehind: also try the worker lock of each projection that is behind; `locked`
    ///   tells whether this session now holds it (nil when it was not tried).
    private func liveStates(lockingBehind: Bool = false) throws -> [String: (state: LiveState, locked: Bool?)] {
        var q: PostgresQuery = lockingBehind
            ? "SELECT n.name, x.behind, CASE WHEN x.behind THEN pg_try_advisory_lock(\(Self.workerLockSpace), hashtext(n.name)) END AS locked FROM (VALUES "
            : "SELECT n.name, x.behind, NULL::boolean AS locked FROM (VALUES "
        for (i, p) in projections.enumerated() {
            q.append(i == 0 ? "(" : ", (")
            q.append("\(p.name)::text, \(Self.liveSchema(p.name))::text, \(Self.schemaComment(p))::text)")
        }
        q.append("""
            ) AS n(name, schema, comment)
              JOIN projection_meta.checkpoints c ON c.name = n.name
              CROSS JOIN LATERAL (SELECT EXISTS (SELECT FROM event_store.events e
                                                  WHERE (e.transaction_id, e.position) > (c.transaction_id, c.position)
                                                    AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())) AS behind) x
             -- The schema's mark, found through the catalog cache (to_regnamespace): a join with pg_namespace
             -- cost a fresh backend 0.3 ms more. A missing schema has no mark.
             WHERE obj_description(to_regnamespace(n.schema)::oid, 'pg_namespace') = n.comment
            """)
        var out: [String: (state: LiveState, locked: Bool?)] = [:]
        for row in try db.query(q) {
            let behind = try row.decode("behind", as: Bool.self)
            out[try row.decode("name", as: String.self)] = (behind ? .behind : .upToDate, try row.decodeIfPresent("locked", as: Bool.self))
        }
        return out
    }

    /// `(VALUES ($1::text), …) AS n(name)`: projection names as a relation, bound as parameters.
    private static func nameList(_ names: [String]) -> PostgresQuery {
        var q: PostgresQuery = "(VALUES "
        for (i, name) in names.enumerated() { q.append(i == 0 ? "(\(name)::text)" : ", (\(name)::text)") }
        q.append(") AS n(name)")
        return q
    }

    private func releaseWorkerLocks(_ names: Set<String>) {
        guard !names.isEmpty else { return }
        var q: PostgresQuery = "SELECT pg_advisory_unlock(\(Self.workerLockSpace), hashtext(n.name)) FROM "
        q.append(Self.nameList(names.sorted()))
        _ = try? db.query(q)
    }

    /// Applies the events after each projection's checkpoint to all of `group` (live, current, their worker
    /// locks held), in rounds: each round is one transaction that applies the next batch of every projection
    /// still behind and moves all their checkpoints. The batch of projections at the same checkpoint is
    /// looked up once. A few round trips for all of them instead of a transaction each: what a command's
    /// catch-up needs. A group of one is how a worker drains a projection.
    ///
    /// - Parameter stop: checked after each round; true stops before the next.
    private func applyTogether(_ group: [any Projection], until stop: () -> Bool = { false }) throws -> [String: Int] {
        var applied: [String: Int] = [:]
        var active = group
        while !active.isEmpty {
            let counts = try applyRound(active)
            for p in active { applied[p.name, default: 0] += counts[p.name] ?? 0 }
            active = stop() ? [] : active.filter { (counts[$0.name] ?? 0) >= batchSize }
        }
        for (name, n) in applied where n > 0 { log("\(name): applied \(n) event(s)") }
        return applied
    }

    /// One round of `applyTogether` in two round trips: the first message opens the transaction, takes the
    /// shared swap locks, and reads the checkpoints with the bounds and event types of each one's next
    /// batch; the second applies every projection's batch (`Projection.statements`), moves the checkpoints
    /// and commits. A projection without statements is applied from Swift in between; one whose
    /// `eventTypes` the batch holds none of is not applied, and only its checkpoint moves. When the second
    /// message fails, the round is rolled back and run again statement by statement
    /// (`applyRoundStepByStep`), which says which projection failed.
    ///
    /// - Returns: per projection that moved, the number of events applied.
    private func applyRound(_ active: [any Projection]) throws -> [String: Int] {
        let nameRows = active.map { "(\(Self.literal($0.name)))" }.joined(separator: ", ")
        let open = """
            BEGIN ISOLATION LEVEL READ COMMITTED;\(asynchronousCommit ? " SET LOCAL synchronous_commit = off;" : "")
            SELECT pg_advisory_xact_lock_shared(\(Self.swapLockSpace), hashtext(n.name)) FROM (VALUES \(nameRows)) AS n(name);
            \(Self.checkpointsAndBatches(active.map(\.name), batchSize: batchSize))
            """
        // Shared swap locks (a rebuild's swap takes them exclusive) come first, in a statement of their own:
        // the checkpoints are read after them, with a newer snapshot, because a rebuild may have swapped in
        // a newer generation and checkpoint.
        var batches: [String: EventBatch] = [:]
        var typesIn: [String: Set<String>] = [:]
        var found: Set<String> = []
        do {
            for row in try db.simpleQuery(open) {
                let name: String = try row.decode("name")
                found.insert(name)
                let after = Checkpoint(transactionID: try row.decode("transaction_id"), position: try row.decode("position"))
                // No row after the checkpoint: nothing to apply.
                guard let throughTransaction = try row.decodeIfPresent("through_transaction_id", as: UInt64.self) else { continue }
                let through = Checkpoint(transactionID: throughTransaction, position: try row.decode("through_position"))
                let batch = EventBatch(after: after, through: through, count: try row.decode("n"))
                sharedBounds?.record(batch, size: batchSize)
                batches[name] = batch
                if let types = try row.decodeIfPresent("types", as: String.self) {
                    typesIn[name] = Set(types.split(separator: ",").map(String.init))
                }
            }
        } catch {
            rollBack()
            throw error
        }
        var message = ""
        var moved: [(name: String, batch: EventBatch)] = []
        do {
            for p in active {
                guard found.contains(p.name) else {
                    throw ProjectionError.inconsistent(p.name, "its checkpoint row disappeared while running; run it again to re-create it")
                }
                guard let batch = batches[p.name] else { continue }
                if let wanted = p.eventTypes, let present = typesIn[p.name], wanted.isDisjoint(with: present) {
                    // Nothing in the batch for it: only its checkpoint moves.
                } else if let sql = p.statements(applying: batch, in: Self.liveSchema(p.name)) {
                    message += sql + ";\n"
                } else {
                    do {
                        try p.apply(batch, in: Self.liveSchema(p.name), db)
                    } catch {
                        throw ProjectionError.applyFailed(p.name, batch: batch, error: error)
                    }
                }
                moved.append((p.name, batch))
            }
        } catch {
            rollBack()
            throw error
        }
        guard !moved.isEmpty else {
            try db.execute("COMMIT")
            return [:]
        }
        message += Self.checkpointUpdate(moved) + ";\nCOMMIT"
        do {
            try db.simpleQuery(message)
        } catch {
            rollBack()
            // Whatever failed (a projection's statements, the checkpoint update, the commit), nothing of the
            // round is left: run it again one statement at a time, to fail with the projection it was, or to
            // succeed when the failure was transient.
            guard db.isOpen else { throw error }
            return try applyRoundStepByStep(active)
        }
        return Dictionary(uniqueKeysWithValues: moved.map { ($0.name, $0.batch.count) })
    }

    /// The checkpoints of `names`, locked, each with the bounds of its next batch (`n` events up to
    /// `through_transaction_id`/`through_position`, none when no event follows) and, for a batch of up to 100
    /// events, its event types (`types`, comma-separated). Literals only: names are checked (`isValidName`).
    static func checkpointsAndBatches(_ names: [String], batchSize: Int) -> String {
        let names = names.map { literal($0) }.joined(separator: ", ")
        return """
            WITH c AS (SELECT name, transaction_id, position FROM projection_meta.checkpoints WHERE name IN (\(names)) FOR UPDATE),
                 b AS (SELECT d.transaction_id, d.position, x.through_tx, x.through_pos, x.n, t.types
                         FROM (SELECT DISTINCT transaction_id, position FROM c) d
                        CROSS JOIN LATERAL (
                            SELECT w.transaction_id AS through_tx, w.position AS through_pos, w.n
                              FROM (SELECT l.transaction_id, l.position, count(*) OVER () AS n,
                                           row_number() OVER (ORDER BY l.transaction_id DESC, l.position DESC) AS r
                                      FROM (SELECT e.transaction_id, e.position FROM event_store.events e
                                             WHERE (e.transaction_id, e.position) > (d.transaction_id, d.position)
                                               AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                                             ORDER BY e.transaction_id, e.position LIMIT \(batchSize)) l) w
                             WHERE w.r = 1) x
                        -- The event types of a batch of up to 100 events (a type matches ^[A-Za-z][A-Za-z0-9_.]*$: no
                        -- commas); NULL for a larger one, which is applied whole. The LIMIT keeps the estimate small:
                        -- one that grew with the log made the server compile this query (JIT) on every command.
                        CROSS JOIN LATERAL (
                            SELECT string_agg(DISTINCT y.event_type, ',') AS types
                              FROM (SELECT e.event_type FROM event_store.events e
                                     WHERE x.n <= 100
                                       AND (e.transaction_id, e.position) > (d.transaction_id, d.position)
                                       AND (e.transaction_id, e.position) <= (x.through_tx, x.through_pos)
                                     ORDER BY e.transaction_id, e.position LIMIT 100) y) t)
            SELECT c.name, c.transaction_id::text AS transaction_id, c.position,
                   b.through_tx::text AS through_transaction_id, b.through_pos AS through_position, b.n, b.types
              FROM c LEFT JOIN b ON b.transaction_id = c.transaction_id AND b.position = c.position
            """
    }

    /// One round of `applyTogether`, a statement per round trip: how `applyRound` finds which projection failed.
    private func applyRoundStepByStep(_ active: [any Projection]) throws -> [String: Int] {
        try db.transaction { () throws -> [String: Int] in
            if asynchronousCommit { try db.execute("SET LOCAL synchronous_commit = off") }
            let names = Self.nameList(active.map(\.name))
            var locks: PostgresQuery = "SELECT pg_advisory_xact_lock_shared(\(Self.swapLockSpace), hashtext(n.name)) FROM "
            locks.append(names)
            _ = try db.query(locks)
            var read: PostgresQuery = """
                SELECT c.name, c.transaction_id::text AS transaction_id, c.position FROM projection_meta.checkpoints c
                 WHERE c.name IN (SELECT n.name FROM
                """
            read.append(names)
            read.append(") FOR UPDATE OF c")
            var checkpoints: [String: Checkpoint] = [:]
            for row in try db.query(read) {
                checkpoints[try row.decode("name")] = Checkpoint(transactionID: try row.decode("transaction_id"), position: try row.decode("position"))
            }
            var batches: [Checkpoint: EventBatch?] = [:]
            var moved: [(name: String, batch: EventBatch)] = []
            for p in active {
                guard let checkpoint = checkpoints[p.name] else {
                    throw ProjectionError.inconsistent(p.name, "its checkpoint row disappeared while running; run it again to re-create it")
                }
                let batch: EventBatch?
                if let known = batches[checkpoint] {
                    batch = known
                } else {
                    batch = try nextBatch(after: checkpoint)
                    batches[checkpoint] = batch
                }
                guard let batch else { continue }
                do {
                    try p.apply(batch, in: Self.liveSchema(p.name), db)
                } catch {
                    throw ProjectionError.applyFailed(p.name, batch: batch, error: error)
                }
                moved.append((p.name, batch))
            }
            guard !moved.isEmpty else { return [:] }
            try db.execute(Self.checkpointUpdate(moved))
            return Dictionary(uniqueKeysWithValues: moved.map { ($0.name, $0.batch.count) })
        }
    }

    /// Moves each projection's checkpoint to its batch's last event, adding the batch to its count. Literals
    /// only: names are checked (`isValidName`), the rest are numbers.
    private static func checkpointUpdate(_ moved: [(name: String, batch: EventBatch)]) -> String {
        """
        UPDATE projection_meta.checkpoints c
           SET transaction_id = m.transaction_id, position = m.position,
               events_processed = c.events_processed + m.count, updated_at = now()
          FROM (VALUES \(moved.map { "(\(literal($0.name)), '\($0.batch.through.transactionID)'::xid8, \($0.batch.through.position)::bigint, \($0.batch.count)::bigint)" }.joined(separator: ", "))
               ) AS m(name, transaction_id, position, count)
         WHERE c.name = m.name
        """
    }

    /// A projection name as a SQL literal; names are checked (`isValidName`) to need no escaping.
    private static func literal(_ name: String) -> String { "'\(name)'" }

    /// Ends a failed or unfinished transaction block of this session, if any.
    private func rollBack() {
        if db.inTransaction { try? db.execute("ROLLBACK") }
    }

    /// What a projection's schema is marked with: its name and version. A live schema marked otherwise
    /// (or not at all: made before versions were recorded) is built again.
    static func schemaComment(_ p: any Projection) -> String {
        "muster projection \(p.name) version \(p.version)"
    }

    /// Creates `schema` with the projection's tables, marked with its version, inside the caller's transaction.
    ///
    /// - Parameter deferIndexes: leave out the projection's deferred indexes (`createIndexes`), for a build
    ///   that creates them after loading.
    private func createSchema(_ p: any Projection, _ schema: String, deferIndexes: Bool = false) throws {
        try db.execute("CREATE SCHEMA \(schema); COMMENT ON SCHEMA \(schema) IS '\(Self.schemaComment(p))'")
        try p.createTables(in: schema, db)
        if !deferIndexes { try p.createIndexes(in: schema, db) }
    }

    /// Runs as a long-lived worker: catches up, then applies new events as they arrive.
    ///
    /// A notification on `muster_events` (`EventStore.notifyAppended`, sent after each planning command)
    /// wakes the worker at once; it also polls every `pollInterval`
    /// seconds, which is what guarantees progress (a notification can be missed while reconnecting, and
    /// an event can become readable only when an older transaction ends). Holds every projection's
    /// worker lock until it returns.
    /// - Parameters:
    ///   - pollInterval: seconds between polls when no notification arrives.
    ///   - maxDuration: stop after this many seconds (nil: no limit).
    ///   - until: checked between batches and about every 0.1 s while idle; return true to stop.
    public func run(pollInterval: Double = 1, maxDuration: Double? = nil, until stop: () -> Bool = { false }) throws {
        try validate()
        let deadline = maxDuration.map { Date().addingTimeInterval($0) }
        func finished() -> Bool { stop() || deadline.map { Date() >= $0 } == true }
        var held: [String] = []
        defer { held.forEach(releaseWorkerLock) }
        for p in projections {
            guard try acquireWorkerLock(p.name, until: finished) else { return }
            held.append(p.name)
            try ensureLive(p)
        }
        try db.listen(Self.channel)
        defer { try? db.unlisten(Self.channel) }
        log("projection worker (backend pid \(db.backendPID)) running \(projections.map(\.name).joined(separator: ", "))")
        // While committed events wait behind an open transaction, look again soon rather than at the next poll.
        var retry = 0.05
        while !finished() {
            // One query tells which projections have anything to apply; only those open a transaction.
            let states = try liveStates()
            for p in projections where !finished() && states[p.name]?.state != .upToDate {
                _ = try applyTogether([p], until: finished)
            }
            if finished() { return }
            let waiting = try pendingBehindHorizon()
            var timeout = pollInterval
            if waiting {
                timeout = min(retry, pollInterval)
                retry = min(retry * 2, 1)
            } else {
                retry = 0.05
            }
            let wakeAt = Date().addingTimeInterval(timeout)
            // Wait in short slices so that `until` and the deadline are honoured promptly.
            while !finished() {
                let left = wakeAt.timeIntervalSinceNow
                if left <= 0 { break }
                if !(try db.waitForNotifications(timeout: min(left, 0.1))).isEmpty { break }
            }
        }
    }

    /// The next `batchSize` events after `checkpoint` in global order, below the snapshot's xmin (as
    /// `EventStore.read(after:)` reads them), up to `bound` and the as-of cut; nil when there are none.
    ///
    /// Reads positions only (an index-only scan); the projection reads the events it needs itself.
    private func nextBatch(after checkpoint: Checkpoint, bound: Checkpoint? = nil, asOf: AsOf? = nil) throws -> EventBatch? {
        let shareable = bound == nil && asOf == nil
        if shareable, let known = sharedBounds?.batch(after: checkpoint, size: batchSize) { return known }
        let batch = try readNextBatch(after: checkpoint, bound: bound, asOf: asOf)
        if shareable, let batch { sharedBounds?.record(batch, size: batchSize) }
        return batch
    }

    private func readNextBatch(after checkpoint: Checkpoint, bound: Checkpoint?, asOf: AsOf?) throws -> EventBatch? {
        var q: PostgresQuery = """
            WITH b AS (
                SELECT e.transaction_id, e.position FROM event_store.events e
                 WHERE (e.transaction_id, e.position) > (\(String(checkpoint.transactionID))::xid8, \(checkpoint.position))
                   AND e.transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            """
        if let bound {
            q.append(" AND (e.transaction_id, e.position) <= (\(String(bound.transactionID))::xid8, \(bound.position))")
        }
        switch asOf {
        case nil: break
        case .time(let t): q.append(" AND e.recorded_at <= \(t)")
        case .position(let p): q.append(" AND e.position <= \(p)")
        }
        // Qualified on purpose: a bare `transaction_id` in ORDER BY names the select list's text column
        // of that name, which sorts 10000 before 9999 and would make a reader skip events.
        q.append("""
                 ORDER BY e.transaction_id, e.position LIMIT \(batchSize))
            SELECT b.transaction_id::text AS transaction_id, b.position, (SELECT count(*) FROM b) AS n
              FROM b ORDER BY b.transaction_id DESC, b.position DESC LIMIT 1
            """)
        guard let row = try db.query(q).first else { return nil }
        let through = Checkpoint(transactionID: try row.decode("transaction_id"), position: try row.decode("position"))
        return EventBatch(after: checkpoint, through: through, count: try row.decode("n"), asOf: asOf)
    }

    /// Creates the live schema, tables, views and checkpoint row when any of them is missing.
    ///
    /// - Returns: the number of events applied while building it (0 when it was there).
    @discardableResult
    private func ensureLive(_ p: any Projection) throws -> Int {
        let schema = Self.liveSchema(p.name)
        func present() throws -> Bool {
            let rows = try db.query("""
                SELECT EXISTS (SELECT FROM pg_namespace WHERE nspname = \(schema)
                                  AND obj_description(oid, 'pg_namespace') = \(Self.schemaComment(p)))
                   AND EXISTS (SELECT FROM projection_meta.checkpoints WHERE name = \(p.name)) AS ok
                """)
            return try rows.first?.decode("ok", as: Bool.self) == true
        }
        if try present() { return 0 }
        // A schema without its checkpoint row (or the reverse) has no known position, and one of another
        // version holds other tables: build it from the start of the log, as a rebuild does (in a fresh
        // schema, UNLOGGED until done, then swapped in with its checkpoint), which is also the fastest way
        // to apply a whole log.
        return try holdingRebuildLock(p) {
            if try present() { return 0 }
            // A live schema of another mark (none: made before versions were recorded) is an upgrade's.
            let found = try db.query("""
                SELECT coalesce(obj_description(oid, 'pg_namespace'), 'no version') AS mark FROM pg_namespace WHERE nspname = \(schema)
                """).first?.decode("mark", as: String.self)
            if let found, found != Self.schemaComment(p) { willReplaceVersion(p, found) }
            log("\(p.name): building \(schema) from the start of the log")
            return Int(try rebuildOne(p))
        }
    }

    /// Runs `body` holding the projection's rebuild lock (waiting or failing per `whenBusy`).
    private func holdingRebuildLock<T>(_ p: any Projection, _ body: () throws -> T) throws -> T {
        _ = try acquire(Self.rebuildLockSpace, p.name, what: "being rebuilt", until: { false })
        defer { _ = try? db.query("SELECT pg_advisory_unlock(\(Self.rebuildLockSpace), hashtext(\(p.name)))") }
        return try body()
    }

    private func grantRead(_ schema: String) throws {
        try db.execute("""
            GRANT USAGE ON SCHEMA \(schema) TO muster_planner, muster_auditor;
            GRANT SELECT ON ALL TABLES IN SCHEMA \(schema) TO muster_planner, muster_auditor
            """)
    }

    /// True when committed events wait behind an older open transaction.
    private func pendingBehindHorizon() throws -> Bool {
        let rows = try db.query("""
            SELECT EXISTS (SELECT FROM event_store.events
                            WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) AS waiting
            """)
        return try rows.first?.decode("waiting", as: Bool.self) == true
    }

    // MARK: Locks

    /// Takes a projection's worker lock; false when `until` said stop while waiting.
    private func acquireWorkerLock(_ name: String, until stop: () -> Bool) throws -> Bool {
        try acquire(Self.workerLockSpace, name, what: "being run", until: stop)
    }

    private func releaseWorkerLock(_ name: String) {
        _ = try? db.query("SELECT pg_advisory_unlock(\(Self.workerLockSpace), hashtext(\(name)))")
    }

    private func acquire(_ space: Int32, _ name: String, what: String, until stop: () -> Bool) throws -> Bool {
        var announced = false
        let graceEnds = Date().addingTimeInterval(busyGrace)
        while true {
            let rows = try db.query("SELECT pg_try_advisory_lock(\(space), hashtext(\(name))) AS ok")
            if try rows.first?.decode("ok", as: Bool.self) == true { return true }
            if whenBusy == .fail, Date() < graceEnds {
                if stop() { return false }
                Thread.sleep(forTimeInterval: 0.02)
                continue
            }
            let (pid, info) = try lockHolder(space, name)
            if whenBusy == .fail {
                throw ProjectionError.busy(name, what: what, holder: pid, holderInfo: info)
            }
            if !announced {
                log("\(name): waiting for backend pid \(pid.map(String.init) ?? "?")\(info), which holds its lock")
                announced = true
            }
            if stop() { return false }
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// The session holding an advisory lock of this runner, with a description for messages.
    private func lockHolder(_ space: Int32, _ name: String) throws -> (Int32?, String) {
        let rows = try db.query("""
            SELECT l.pid, a.application_name, a.usename, to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS') AS since
              FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE l.locktype = 'advisory' AND l.granted AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
               AND l.classid = \(space)::oid AND l.objid = hashtext(\(name))::oid AND l.objsubid = 2
             LIMIT 1
            """)
        guard let row = rows.first else { return (nil, "") }
        var info: [String] = []
        if let app = try row.decodeIfPresent("application_name", as: String.self), !app.isEmpty { info.append("application \(app)") }
        if let user = try row.decodeIfPresent("usename", as: String.self) { info.append("user \(user)") }
        if let since = try row.decodeIfPresent("since", as: String.self) { info.append("connected since \(since) UTC") }
        return (try row.decode("pid"), info.isEmpty ? "" : " (\(info.joined(separator: ", ")))")
    }

    private func validate() throws {
        var seen: Set<String> = []
        for p in projections {
            guard Self.isValidName(p.name) else { throw ProjectionError.invalidName(p.name) }
            guard seen.insert(p.name).inserted else {
                throw ProjectionError.inconsistent(p.name, "two registered projections share this name")
            }
        }
    }

    static func isValidName(_ name: String) -> Bool {
        guard (1...40).contains(name.utf8.count), let first = name.utf8.first, (97...122).contains(first),
              name.utf8.last != UInt8(ascii: "_"), !name.contains("__") else { return false }
        return name.utf8.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "_") }
    }

    private func projection(_ name: String) throws -> any Projection {
        guard let p = projections.first(where: { $0.name == name }) else {
            throw ProjectionError.unknown(name, known: projections.map(\.name))
        }
        return p
    }

    // MARK: Rebuild

    /// Rebuilds projections from the start of the log without downtime.
    ///
    /// Builds a fresh copy in `rm_<name>__next` in batches up to the head, then in one short
    /// transaction (which live batches wait for) applies the remainder, drops the old schema and the
    /// views depending on it, renames the new one to `rm_<name>`, re-creates the views and moves the
    /// checkpoint. Readers see the old tables or the new ones, never a half-built view. A live worker
    /// may keep running meanwhile: it continues from the new checkpoint.
    /// - Parameter name: the projection to rebuild, or nil for every registered projection.
    /// - Returns: per projection, the events the new generation applied.
    @discardableResult
    public func rebuild(_ name: String? = nil) throws -> [String: Int64] {
        try validate()
        let targets = try name.map { [try projection($0)] } ?? projections
        var out: [String: Int64] = [:]
        for p in targets {
            out[p.name] = try holdingRebuildLock(p) { try rebuildOne(p) }
        }
        return out
    }

    private func rebuildOne(_ p: any Projection) throws -> Int64 {
        let next = Self.nextSchema(p.name)
        let live = Self.liveSchema(p.name)
        let started = Date()
        // A leftover from an interrupted rebuild is useless: its checkpoint was only in memory.
        try db.execute("DROP SCHEMA IF EXISTS \(next) CASCADE")
        // The tables are built UNLOGGED (no WAL for each row and index entry; a crash truncates them, and a
        // crash ends the rebuild anyway) and without their deferred indexes; the indexes are built and the
        // tables made LOGGED, each in one pass, before the swap.
        try db.transaction {
            try createSchema(p, next, deferIndexes: true)
            try setLogged(false, schema: next)
        }
        var built = Checkpoint.start
        var applied: Int64 = 0
        while true {
            let n = try db.transaction { try applyBatch(p, into: next, after: &built, bound: nil) }
            applied += Int64(n)
            if n < batchSize { break }
        }
        try db.transaction {
            try p.createIndexes(in: next, db)
            try setLogged(true, schema: next)
        }
        log("\(p.name): built \(applied) event(s) into \(next); swapping")
        var attempt = 0
        while true {
            attempt += 1
            var checkpoint = built
            var count = applied
            do {
                try db.transaction {
                    try db.query("SELECT pg_advisory_xact_lock(\(Self.swapLockSpace), hashtext(\(p.name)))")
                    while true {
                        let n = try applyBatch(p, into: next, after: &checkpoint, bound: nil)
                        count += Int64(n)
                        if n < batchSize { break }
                    }
                    let current = try db.query("""
                        SELECT transaction_id::text AS transaction_id, position FROM projection_meta.checkpoints WHERE name = \(p.name)
                        """).first.map { Checkpoint(transactionID: try $0.decode("transaction_id"), position: try $0.decode("position")) }
                    if let current, current > checkpoint {
                        throw ProjectionError.inconsistent(p.name, "the rebuild reached \(checkpoint) but the live tables are at \(current); run the rebuild again")
                    }
                    // Readers wait for these locks; do not let one slow reader queue every other reader behind us.
                    try db.execute("SET LOCAL lock_timeout = '\(Int(swapLockTimeout * 1000))ms'")
                    // Lock the views that read the old tables before the tables, the order readers of a view take.
                    for view in try dependentViews(of: live) {
                        try db.execute("LOCK TABLE \(view) IN ACCESS EXCLUSIVE MODE")
                    }
                    try db.execute("""
                        DROP SCHEMA IF EXISTS \(live) CASCADE;
                        ALTER SCHEMA \(next) RENAME TO \(live)
                        """)
                    try grantRead(live)
                    try p.createViews(liveSchema: live, db)
                    try db.query("""
                        INSERT INTO projection_meta.checkpoints AS c (name, transaction_id, position, events_processed, rebuilt_at)
                        VALUES (\(p.name), \(String(checkpoint.transactionID))::xid8, \(checkpoint.position), \(count), now())
                        ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id, position = excluded.position,
                            events_processed = excluded.events_processed, generation = c.generation + 1,
                            rebuilt_at = now(), updated_at = now()
                        """)
                }
            } catch let error as PostgresError where error.sqlState == "55P03" && attempt < 3 {
                log("\(p.name): readers held the old tables for more than \(swapLockTimeout) s; retrying the swap")
                continue
            }
            log("\(p.name): swapped in the rebuilt tables at \(checkpoint) (\(count) event(s), \(String(format: "%.1f", -started.timeIntervalSinceNow)) s)")
            return count
        }
    }

    /// Makes every table of `schema` LOGGED or UNLOGGED, inside the caller's transaction.
    private func setLogged(_ logged: Bool, schema: String) throws {
        let tables = try db.query("""
            SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = \(schema) AND c.relkind = 'r' AND c.relpersistence = \(logged ? "u" : "p")
            """).map { try $0.decode("name", as: String.self) }
        for table in tables {
            try db.execute("ALTER TABLE \(table) SET \(logged ? "LOGGED" : "UNLOGGED")")
        }
    }

    /// Applies the events after `checkpoint` (up to `bound`) into `schema`, inside the caller's transaction,
    /// and moves `checkpoint` to the last of them.
    ///
    /// - Returns: the number of events applied (a full batch means there may be more).
    private func applyBatch(_ p: any Projection, into schema: String, after checkpoint: inout Checkpoint,
                            bound: Checkpoint?, asOf: AsOf? = nil) throws -> Int {
        guard let batch = try nextBatch(after: checkpoint, bound: bound, asOf: asOf) else { return 0 }
        do {
            try p.apply(batch, in: schema, db)
        } catch {
            throw ProjectionError.applyFailed(p.name, batch: batch, error: error)
        }
        checkpoint = batch.through
        return batch.count
    }

    /// Views (in any schema) whose definition reads a table or view of `schema`.
    private func dependentViews(of schema: String) throws -> [String] {
        try db.query("""
            SELECT DISTINCT v.oid::regclass::text AS view
              FROM pg_depend d
              JOIN pg_rewrite r ON r.oid = d.objid AND d.classid = 'pg_rewrite'::regclass
              JOIN pg_class v ON v.oid = r.ev_class
              JOIN pg_class t ON t.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
              JOIN pg_namespace n ON n.oid = t.relnamespace
             WHERE n.nspname = \(schema) AND v.oid <> t.oid AND v.relnamespace <> n.oid
            """).map { try $0.decode("view", as: String.self) }
    }

    // MARK: Audit

    /// Builds a projection from the start of the log into a new throwaway schema, leaving the live tables
    /// and views alone. Drop it with `dropScratch` when done.
    ///
    /// - Parameters:
    ///   - name: the projection.
    ///   - asOf: stop at a recorded time or position (nil: every visible event).
    ///   - through: stop after this checkpoint (nil: no bound).
    /// - Returns: the schema holding the tables, `rm_<name>__scratch_<hex>`.
    public func buildScratch(_ name: String, asOf: AsOf? = nil, through: Checkpoint? = nil) throws -> String {
        try validate()
        let p = try projection(name)
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(8)
        let schema = "rm_\(name)__scratch_\(suffix)"
        try db.transaction { try createSchema(p, schema) }
        do {
            var at = Checkpoint.start
            while true {
                let n = try db.transaction { try applyBatch(p, into: schema, after: &at, bound: through, asOf: asOf) }
                if n < batchSize { break }
            }
        } catch {
            try? dropScratch(schema)
            throw error
        }
        return schema
    }

    /// Drops a schema made by `buildScratch` (refuses any other).
    public func dropScratch(_ schema: String) throws {
        let parts = schema.components(separatedBy: "__scratch_")
        guard parts.count == 2, parts[0].hasPrefix("rm_"), Self.isValidName(String(parts[0].dropFirst(3))),
              parts[1].count == 8, parts[1].allSatisfy(\.isHexDigit) else {
            throw ProjectionError.inconsistent(schema, "\(schema) is not a scratch schema of the projection runner; not dropping it")
        }
        try db.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
    }

    /// Compares a projection's live tables with a fresh rebuild at the same checkpoint, row for row.
    ///
    /// Live workers keep running: the rebuild is brought to the live checkpoint and both are read in one
    /// repeatable-read snapshot, in which the live rows and their checkpoint are consistent.
    /// - Returns: one sentence per difference (missing or extra table, rows only on one side, with
    ///   samples); empty when the live tables equal the rebuild.
    public func compareWithRebuild(_ name: String) throws -> [String] {
        let p = try projection(name)
        let live = Self.liveSchema(name)
        func liveCheckpoint() throws -> Checkpoint? {
            try db.query("SELECT transaction_id::text AS transaction_id, position FROM projection_meta.checkpoints WHERE name = \(name)")
                .first.map { Checkpoint(transactionID: try $0.decode("transaction_id"), position: try $0.decode("position")) }
        }
        guard let start = try liveCheckpoint() else {
            return ["projection \(name) has no live tables yet (it never ran)"]
        }
        let scratch = try buildScratch(name, through: start)
        defer { try? dropScratch(scratch) }
        return try db.transaction(isolation: .repeatableRead) {
            // The first statement fixes the snapshot: the checkpoint and the live rows are read in it.
            guard let target = try liveCheckpoint() else { return ["projection \(name) disappeared during the comparison"] }
            // The scratch copy stands at `start` (a checkpoint is always an event's); bring it to the live one.
            var at = start
            while true {
                let n = try applyBatch(p, into: scratch, after: &at, bound: target)
                if n < batchSize { break }
            }
            return try differences(live: live, rebuilt: scratch, projection: name, at: target)
        }
    }

    private func differences(live: String, rebuilt: String, projection: String, at: Checkpoint) throws -> [String] {
        func tables(_ schema: String) throws -> [String] {
            try db.query("""
                SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                 WHERE n.nspname = \(schema) AND c.relkind IN ('r', 'p') ORDER BY c.relname
                """).map { try $0.decode("relname", as: String.self) }
        }
        let liveTables = try tables(live)
        let rebuiltTables = try tables(rebuilt)
        var out: [String] = []
        for t in rebuiltTables where !liveTables.contains(t) {
            out.append("table \(live).\(t) is missing (a fresh rebuild of \(projection) has it)")
        }
        for t in liveTables where !rebuiltTables.contains(t) {
            out.append("table \(live).\(t) is not made by a fresh rebuild of \(projection)")
        }
        for t in liveTables where rebuiltTables.contains(t) {
            let a = try quote(live, t), b = try quote(rebuilt, t)
            // Rows compared as text: works for every column type, including json without an equality operator.
            for (from, to, what) in [(a, b, "in the live table but not in a fresh rebuild"), (b, a, "in a fresh rebuild but not in the live table")] {
                let rows = try db.query("""
                    WITH d AS (SELECT x::text AS r FROM \(unescaped: from) x EXCEPT ALL SELECT y::text FROM \(unescaped: to) y)
                    SELECT (SELECT count(*) FROM d) AS n, (SELECT array_agg(r) FROM (SELECT r FROM d ORDER BY r LIMIT 3) s)::text AS sample
                    """)
                let n: Int = try rows.first?.decode("n") ?? 0
                if n > 0 {
                    let sample = try rows.first?.decodeIfPresent("sample", as: String.self) ?? ""
                    out.append("table \(live).\(t) at checkpoint \(at): \(n) row(s) \(what), e.g. \(sample)")
                }
            }
        }
        return out
    }

    private func quote(_ schema: String, _ table: String) throws -> String {
        "\(try db.quoteIdentifier(schema)).\(try db.quoteIdentifier(table))"
    }

    // MARK: Status

    /// Progress and lag of every registered projection.
    public func status() throws -> [ProjectionStatus] {
        try validate()
        // Committed events that no reader may pass yet: then name the transaction holding them back.
        let pending: Int64 = try db.query("""
            SELECT count(*) AS pending FROM event_store.events WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())
            """).first?.decode("pending") ?? 0
        let holder = pending > 0 ? try horizonHolder() : nil
        var out: [ProjectionStatus] = []
        for p in projections {
            let row = try db.query("""
                SELECT transaction_id::text AS transaction_id, position, events_processed, generation, updated_at,
                       EXISTS (SELECT FROM pg_namespace WHERE nspname = \(Self.liveSchema(p.name))) AS has_schema
                  FROM projection_meta.checkpoints WHERE name = \(p.name)
                """).first
            let checkpoint = try row.map { Checkpoint(transactionID: try $0.decode("transaction_id"), position: try $0.decode("position")) } ?? .start
            let lag = try db.query("""
                SELECT count(*) FILTER (WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())) AS visible,
                       count(*) FILTER (WHERE transaction_id >= pg_snapshot_xmin(pg_current_snapshot())) AS pending,
                       coalesce(extract(epoch FROM clock_timestamp() - min(recorded_at))::float8, 0) AS seconds
                  FROM event_store.events
                 WHERE (transaction_id, position) > (\(String(checkpoint.transactionID))::xid8, \(checkpoint.position))
                """).first
            let (pid, _) = try lockHolder(Self.workerLockSpace, p.name)
            let pendingLag: Int64 = try lag?.decode("pending") ?? 0
            out.append(ProjectionStatus(
                name: p.name, schema: Self.liveSchema(p.name),
                exists: try row?.decode("has_schema", as: Bool.self) ?? false,
                checkpoint: checkpoint,
                eventsProcessed: try row?.decode("events_processed") ?? 0,
                generation: try row?.decode("generation") ?? 0,
                updatedAt: try row?.decodeIfPresent("updated_at"),
                visibleLag: try lag?.decode("visible") ?? 0,
                pendingLag: pendingLag,
                lagSeconds: max(0, try lag?.decode("seconds") ?? 0),
                workerPID: pid,
                horizonHolder: pendingLag > 0 ? holder : nil))
        }
        return out
    }

    /// The oldest running transaction with an id: the one `pg_snapshot_xmin` waits for.
    ///
    /// Matches the horizon's 32-bit form against `backend_xid` (and prepared transactions); falls back
    /// to the oldest xid holder when the horizon transaction ended in between.
    public func horizonHolder() throws -> HorizonHolder? {
        let rows = try db.query("""
            WITH h AS (SELECT (pg_snapshot_xmin(pg_current_snapshot())::text::numeric % 4294967296)::bigint::text AS xid),
            holders AS (
                SELECT a.pid, a.backend_xid::text AS xid, age(a.backend_xid)::bigint AS xid_age,
                       extract(epoch FROM clock_timestamp() - a.xact_start)::float8 AS seconds,
                       a.state, a.usename::text AS usename, a.application_name, a.datname::text AS datname, a.query
                  FROM pg_stat_activity a WHERE a.backend_xid IS NOT NULL AND a.pid <> pg_backend_pid()
                UNION ALL
                SELECT 0, p.transaction::text, age(p.transaction)::bigint,
                       extract(epoch FROM clock_timestamp() - p.prepared)::float8,
                       'prepared', p.owner::text, NULL, p.database::text, 'PREPARE TRANSACTION ' || quote_literal(p.gid)
                  FROM pg_prepared_xacts p)
            SELECT holders.* FROM holders, h ORDER BY (holders.xid = h.xid) DESC, xid_age DESC LIMIT 1
            """)
        guard let r = rows.first else { return nil }
        return HorizonHolder(pid: try r.decode("pid"), transactionID: try r.decode("xid"), transactionAge: try r.decode("xid_age"),
                             seconds: try r.decodeIfPresent("seconds") ?? 0, state: try r.decodeIfPresent("state"),
                             user: try r.decodeIfPresent("usename"), application: try r.decodeIfPresent("application_name"),
                             database: try r.decodeIfPresent("datname"), query: try r.decodeIfPresent("query"))
    }
}

@available(*, unavailable)
extension ProjectionRunner: Sendable {}

/// The bounds of full batches, found once and shared by runners that read the same log from the same
/// checkpoints, typically several projections built at once on several connections.
///
/// Only full batches are kept: every event up to a full batch's last one lies below the snapshot horizon
/// of whoever found it, so the batch after the same checkpoint is the same for anyone reading later. A
/// shorter batch could grow as transactions finish, and is found again by each reader.
public final class BatchBounds: @unchecked Sendable {
    private let lock = NSLock()
    private var batches: [Checkpoint: EventBatch] = [:]

    public init() {}

    /// How many batches' bounds it holds.
    public var count: Int { lock.withLock { batches.count } }

    func batch(after checkpoint: Checkpoint, size: Int) -> EventBatch? {
        lock.withLock { batches[checkpoint].flatMap { $0.count == size ? $0 : nil } }
    }

    func record(_ batch: EventBatch, size: Int) {
        guard batch.count == size, batch.asOf == nil else { return }
        lock.withLock { batches[batch.after] = batch }
    }
}
