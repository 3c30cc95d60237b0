import ArgumentParser
import EventSourcing
import Foundation
import Postgres
import Projections

extension Muster {
    struct Projections: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "projections",
            abstract: "The read models behind the reports: status, a long-lived worker, rebuilds.",
            subcommands: [Status.self, Run.self, Rebuild.self])
    }
}

extension Muster.Projections {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Each projection's checkpoint and lag, and which transaction holds the log back, if any.",
            discussion: "Example: muster projections status --format json")
        @Option(help: "table, json, csv or html.") var format: OutputFormat = .table
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let statuses = try ProjectionUpdates.runner(session).status()
                var notes: [String] = []
                let holder = statuses.compactMap(\.horizonHolder).first
                if let holder {
                    notes.append("held back by \(holder.description)")
                }
                let rows = statuses.map { s in
                    [s.name, s.exists ? "yes" : "no", s.checkpoint.description, String(s.eventsProcessed), String(s.generation),
                     String(s.visibleLag), String(s.pendingLag), String(format: "%.1f", s.lagSeconds),
                     s.workerPID.map(String.init) ?? "", s.horizonHolder.map { "pid \($0.pid)" } ?? ""]
                }
                print(TableOutput(title: "Projections", columns: ["projection", "built", "checkpoint", "events", "generation", "lag_visible", "lag_blocked", "lag_seconds", "worker_pid", "blocked_by"], rows: rows, notes: notes).render(format))
            }
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Catch up, then keep the read models live (LISTEN/NOTIFY wakes it; polling keeps it correct).",
            discussion: """
                When the database goes away (restarted, stopped, connection dropped), the worker logs it, reconnects
                with backoff (0.25 s doubling to 5 s) and resumes from each projection's checkpoint.
                Example: muster projections run --for 3600
                         muster projections run --once     (catch up on every event so far, then exit)
                """)
        @Option(name: .customLong("for"), help: "Stop after this many seconds (default: run until interrupted).") var seconds: Double?
        @Flag(help: "Apply every event visible now, then exit (for scheduled jobs).") var once = false
        @Option(help: "Seconds between polls when no notification arrives.") var poll: Double = 1
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if let seconds, !(seconds > 0) { throw ValidationError("--for: must be a positive number of seconds") }
            if once && seconds != nil { throw ValidationError("--once: give either --once or --for, not both") }
            if !(poll > 0 && poll <= 3600) { throw ValidationError("--poll: must be between 0 and 3600 seconds") }
        }

        func run() throws {
            try guarded {
                if once {
                    let session = try Session.open(connection)
                    let started = Date()
                    let applied = try ParallelProjections.run(session, connection) { try $0.catchUp().mapValues(Int64.init) }
                    let total = applied.values.reduce(0, +)
                    print("caught up: \(applied.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")) event(s) applied (\(total) in all) in \(String(format: "%.2f", -started.timeIntervalSinceNow)) s")
                    return
                }
                signal(SIGINT) { _ in Stop.requested = true }
                signal(SIGTERM) { _ in Stop.requested = true }
                // A supervisor may start us with these blocked (the mask is inherited): then SIGTERM
                // would stay pending for ever and the worker could only be killed, not stopped.
                var stopSignals = sigset_t()
                sigemptyset(&stopSignals)
                sigaddset(&stopSignals, SIGINT)
                sigaddset(&stopSignals, SIGTERM)
                pthread_sigmask(SIG_UNBLOCK, &stopSignals, nil)
                let deadline = seconds.map { Date().addingTimeInterval($0) }
                func finished() -> Bool { Stop.requested || deadline.map { Date() >= $0 } == true }
                var session = try Session.open(connection)
                print("projection worker started (pid \(session.db.backendPID)); Ctrl-C stops it")
                // The first start refuses to run beside another worker; after a reconnect, the old
                // session may not have been reaped yet, so wait for its locks instead.
                var whenBusy = WorkerLockPolicy.fail
                while !finished() {
                    let runner = ProjectionUpdates.runner(session, whenBusy: whenBusy)
                    runner.log = { print($0) }
                    // A planner command catching up holds a read model's lock for milliseconds: only a
                    // holder that keeps it for two seconds is another worker.
                    runner.busyGrace = 2
                    do {
                        try runner.run(pollInterval: poll, maxDuration: deadline.map { max(0.001, $0.timeIntervalSinceNow) }) { Stop.requested }
                        break
                    } catch where Session.isUnavailable(error, session.db) {
                        print("database unavailable: \(oneLine(error))")
                    }
                    session.db.close()
                    guard let next = try Reconnection.reconnect(connection, until: finished) else { break }
                    session = next
                    whenBusy = .wait
                }
                print("projection worker stopped")
            }
        }
    }

    /// Reconnects a long-lived worker with exponential backoff.
    enum Reconnection {
        /// Delays between attempts: from 0.25 s, doubling, at most 5 s.
        static func delays() -> some Sequence<Double> {
            sequence(first: 0.25) { min($0 * 2, 5) }
        }

        /// Tries to connect until it succeeds or `stop` says stop, logging a line per attempt that
        /// changes the delay and one when it is back.
        ///
        /// - Returns: the new session, or nil when stopped first.
        static func reconnect(_ connection: ConnectionOptions, until stop: () -> Bool) throws -> Session? {
            let started = Date()
            var attempts = 0
            for delay in delays() {
                if stop() { return nil }
                attempts += 1
                do {
                    let session = try Session.reopen(connection)
                    print("reconnected after \(attempts) attempt(s) in \(String(format: "%.1f", -started.timeIntervalSinceNow)) s (backend pid \(session.db.backendPID)); resuming from each projection's checkpoint")
                    return session
                } catch where Session.isUnavailable(error, nil) {
                    if delay < 5 || attempts % 12 == 0 {
                        print("reconnecting: attempt \(attempts) failed (\(oneLine(error))); next in \(String(format: "%.2f", delay)) s")
                    }
                }
                let until = Date().addingTimeInterval(delay)
                while Date() < until, !stop() { Thread.sleep(forTimeInterval: min(0.05, max(0, until.timeIntervalSinceNow))) }
            }
            return nil
        }
    }

    struct Rebuild: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rebuild",
            abstract: "Rebuild read models from the whole log into fresh tables, then swap them in (readers never see a half-built view).",
            discussion: "Example: muster projections rebuild readiness")
        @Argument(help: "One projection (readiness, readiness_history, interoperability, schedule, audit_trail); all when omitted.") var name: String?
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            let names = ReadModels.all.map(\.name)
            if let name, !names.contains(name) {
                throw ValidationError("'\(name)' is not a projection (one of: \(names.joined(separator: ", ")))")
            }
        }

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let counts = try name.map { try ProjectionUpdates.runner(session, whenBusy: .wait).rebuild($0) }
                    ?? ParallelProjections.run(session, connection) { try $0.rebuild() }
                for (projection, events) in counts.sorted(by: { $0.key < $1.key }) {
                    print("rebuilt \(projection) from \(events) event(s)")
                }
            }
        }
    }
}

/// Catch-up and rebuild of every read model on two connections at once: the work is PostgreSQL's (each
/// batch is applied by SQL inside the server), so a second session uses a second core.
enum ParallelProjections {
    /// Sessions to use: the one given and one more.
    static let connections = 2

    /// Runs `work` once per read model, each with a runner of that read model alone, on `connections`
    /// threads that take the read models in `ReadModels.all` order (the largest first).
    ///
    /// - Returns: the union of what `work` returned.
    /// - Throws: the first error any thread met; the other threads start no further read model.
    static func run(_ session: Session, _ options: ConnectionOptions,
                    _ work: @escaping (ProjectionRunner) throws -> [String: Int64]) throws -> [String: Int64] {
        let shared = Shared(work)
        var sessions = [session]
        for _ in 1..<connections { sessions.append(try Session.reopen(options)) }
        defer { sessions.dropFirst().forEach { $0.db.close() } }
        let group = DispatchGroup()
        for s in sessions {
            let worker = Worker(db: s.db)
            group.enter()
            let thread = Thread {
                shared.drain(worker)
                group.leave()
            }
            thread.start()
        }
        group.wait()
        return try shared.result()
    }

    /// A connection handed to one thread.
    private final class Worker: @unchecked Sendable {
        let db: PostgresConnection
        init(db: PostgresConnection) { self.db = db }
    }

    /// The queue of read models and the results; every access holds `lock`.
    private final class Shared: @unchecked Sendable {
        private let lock = NSLock()
        private var next = 0
        private var counts: [String: Int64] = [:]
        private var failure: (any Error)?
        private let projections = ReadModels.all
        /// Every read model reads the same batches of the log: each batch's bounds are looked up once.
        private let bounds = BatchBounds()
        private let work: (ProjectionRunner) throws -> [String: Int64]

        init(_ work: @escaping (ProjectionRunner) throws -> [String: Int64]) { self.work = work }

        func drain(_ worker: Worker) {
            while let p = take() {
                do {
                    let runner = ProjectionRunner(worker.db, projections: [p], whenBusy: .wait)
                    runner.sharedBounds = bounds
                    let out = try work(runner)
                    lock.withLock { counts.merge(out) { $1 } }
                } catch {
                    lock.withLock { if failure == nil { failure = error } }
                }
            }
        }

        private func take() -> (any Projection)? {
            lock.withLock {
                guard failure == nil, next < projections.count else { return nil }
                defer { next += 1 }
                return projections[next]
            }
        }

        func result() throws -> [String: Int64] {
            try lock.withLock {
                if let failure { throw failure }
                return counts
            }
        }
    }
}

/// Set by SIGINT/SIGTERM; read by the worker's stop check.
enum Stop {
    nonisolated(unsafe) static var requested = false
}
