import EventSourcing
import Foundation
import Postgres
import Projections

/// An open connection to Muster's database, resolved from the options or the embedded default.
struct Session {
    let db: PostgresConnection
    let store: EventStore
    /// The embedded cluster, when no connection was configured.
    let cluster: LocalCluster?

    enum Target {
        case conninfo(String)
        /// libpq's own PG* environment.
        case environment
        case embedded(LocalCluster)
    }

    /// Told of every session opened, with its target: the command server keeps their connections for the
    /// commands after.
    nonisolated(unsafe) static var opened: ((EarlyConnection.Target, PostgresConnection) -> Void)?

    /// Set once a session on the embedded cluster was opened in this process.
    nonisolated(unsafe) static var openedEmbedded = false

    static func target(_ options: ConnectionOptions) -> Target {
        target(database: options.database)
    }

    /// The target for a `--database` value (nil when not given).
    static func target(database: String?) -> Target {
        let env = ProcessInfo.processInfo.environment
        if let database, !database.isEmpty { return .conninfo(database) }
        if let url = env["DATABASE_URL"], !url.isEmpty { return .conninfo(url) }
        let pgVariables = ["PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER", "PGSERVICE", "PGSERVICEFILE", "PGPASSFILE"]
        if pgVariables.contains(where: { env[$0].map { !$0.isEmpty } ?? false }) { return .environment }
        return .embedded(LocalCluster(directory: LocalCluster.defaultDirectory()))
    }

    /// Connects; starts and migrates the embedded cluster when it is the target.
    /// An external database must be migrated explicitly (`muster db migrate`).
    ///
    /// - Throws: `Failure` starting with "database unavailable:" when the server cannot be reached
    ///   or drops the connection while the session is being set up.
    static func open(_ options: ConnectionOptions, requireMigrated: Bool = true) throws -> Session {
        do {
            let session = try openUnclassified(options, requireMigrated: requireMigrated)
            if session.cluster != nil { openedEmbedded = true }
            Self.opened?(EarlyConnection.Target(target(options)), session.db)
            return session
        } catch let error as Failure {
            throw error
        } catch where isUnavailable(error, nil) {
            throw Failure("database unavailable: \(oneLine(error))")
        }
    }

    /// Connects again after the database went away, for long-lived workers: like `open`, but never
    /// starts the embedded cluster's server (whoever stopped it meant it) and applies no migrations.
    static func reopen(_ options: ConnectionOptions) throws -> Session {
        if case .embedded(let cluster) = target(options) {
            guard case .running = cluster.state() else {
                throw Failure("database unavailable: the embedded cluster in \(cluster.directory.path) is stopped")
            }
            return try connect(cluster.conninfo, cluster: cluster)
        }
        return try open(options)
    }

    /// True when `error` means the database could not be reached or the connection dropped (the
    /// server stopped, restarted or terminated the session), as opposed to a rejected request.
    ///
    /// - Parameter db: the connection the error came from, if any: a closed connection settles it
    ///   whatever wrapped the error on its way up.
    static func isUnavailable(_ error: any Error, _ db: PostgresConnection?) -> Bool {
        switch error {
        case let e as PostgresError where e.isConnectionFailure: return true
        case let e as EventStoreError where e.isUnavailable: return true
        case let e as PlanningService.Failure:
            if case .store(let store) = e, store.isUnavailable { return true }
        case let e as Failure where e.description.hasPrefix("database unavailable"): return true
        default: break
        }
        if let db, !db.isOpen { return true }
        return false
    }

    private static func openUnclassified(_ options: ConnectionOptions, requireMigrated: Bool) throws -> Session {
        let target = target(options)
        // A planner command's connection opened while its arguments were parsed, with the migrations the
        // database lacks (`EarlyConnection`): then the schema files need not be read here.
        let early: EarlyConnection.Opened? = switch target {
        case .conninfo(let info): EarlyConnection.take(.conninfo(info))
        case .environment: EarlyConnection.take(.environment)
        case .embedded: nil
        }
        if let early, let pending = early.pending {
            return try checked(Session(early.db, cluster: nil), requireMigrated: requireMigrated) { _ in pending }
        }
        early?.db.close()
        let migrator = try Migrator(directory: Migrator.locateSchemaDirectory())
        switch target {
        case .conninfo(let info):
            return try checked(connect(info, cluster: nil), requireMigrated: requireMigrated) { try migrator.pending($0) }
        case .environment:
            return try checked(connect(nil, cluster: nil), requireMigrated: requireMigrated) { try migrator.pending($0) }
        case .embedded(let cluster):
            if try cluster.start() {
                printError("started the embedded PostgreSQL cluster in \(cluster.directory.path)")
            }
            if let early = EarlyConnection.take(.conninfo(cluster.conninfo)) {
                if early.pending?.isEmpty == true { return Session(early.db, cluster: cluster) }
                early.db.close()
            }
            let embedded = try connect(cluster.conninfo, cluster: cluster)
            let applied = try migrator.migrate(embedded.db)
            if !applied.isEmpty {
                printError("applied \(applied.count) migration(s) to the embedded database")
            }
            return embedded
        }
    }

    /// - Parameter pending: the migrations the database lacks.
    private static func checked(_ session: Session, requireMigrated: Bool, pending: (PostgresConnection) throws -> [Migrator.Migration]) throws -> Session {
        if requireMigrated {
            let pending = try pending(session.db)
            if !pending.isEmpty {
                throw Failure("\(session.db.target) is missing \(pending.count) migration(s) (\(pending.map(\.name).joined(separator: ", "))): run 'muster db migrate' first")
            }
        }
        return session
    }

    private static func connect(_ conninfo: String?, cluster: LocalCluster?) throws -> Session {
        let db: PostgresConnection
        do {
            db = try PostgresConnection(conninfo: conninfo)
        } catch {
            throw Failure(error.isConnectionFailure ? "database unavailable: \(error.description)" : error.description)
        }
        return Session(db, cluster: cluster)
    }

    init(_ db: PostgresConnection, cluster: LocalCluster?) {
        self.db = db
        self.store = EventStore(db)
        self.cluster = cluster
    }
}
