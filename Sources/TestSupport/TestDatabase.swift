import EventSourcing
import Foundation
public import Postgres

/// The private PostgreSQL cluster that `tools/test` starts (PGHOST points at its socket directory).
public enum TestCluster {
    /// True when a cluster was configured for the tests.
    public static var isAvailable: Bool {
        let env = ProcessInfo.processInfo.environment
        return env["MUSTER_TEST_CLUSTER"] != nil || env["PGHOST"] != nil
    }

    static let lock = NSLock()
    nonisolated(unsafe) static var template: String?  // guarded by `lock`

    /// Creates (once per process) a database with every migration applied, to copy for each test.
    static func migratedTemplate() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let template { return template }
        let migrator = try Migrator(directory: Migrator.locateSchemaDirectory())
        let digest = SHA256.hex(Data(migrator.migrations.map(\.checksum).joined().utf8)).prefix(12)
        let name = "muster_template_\(digest)"
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        let exists = try admin.query("SELECT 1 FROM pg_database WHERE datname = \(name)")
        if exists.isEmpty {
            let building = "\(name)_build_\(ProcessInfo.processInfo.processIdentifier)"
            try admin.execute("DROP DATABASE IF EXISTS \(building)")
            try admin.execute("CREATE DATABASE \(building)")
            do {
                let db = try PostgresConnection(conninfo: "dbname=\(building)")
                try migrator.migrate(db)
                db.close()
                try admin.execute("ALTER DATABASE \(building) RENAME TO \(name)")
            } catch {
                try? admin.execute("DROP DATABASE IF EXISTS \(building)")
                throw error
            }
        }
        template = name
        return name
    }

    /// Test databases live until the cluster goes (tools/test removes it); against a long-lived
    /// cluster, each test process first drops those an earlier run left behind.
    nonisolated(unsafe) static var prepared = false  // guarded by `lock`

    static func prepareOnce() throws {
        lock.lock()
        defer { lock.unlock() }
        if prepared { return }
        try dropLeftoverTestDatabases()
        prepared = true
    }

    static func dropLeftoverTestDatabases() throws {
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        for row in try admin.query("SELECT datname FROM pg_database WHERE datname LIKE 'muster\\_test\\_%'") {
            try admin.execute("DROP DATABASE IF EXISTS \(try row.decode("datname", as: String.self)) WITH (FORCE)")
        }
    }
}

/// A private database for one test (see `TestCluster.dropLeftoverTestDatabases` for its removal).
public final class TestDatabase: @unchecked Sendable {
    // @unchecked: immutable after init.
    public let name: String

    /// libpq conninfo for this database (host, port and user come from the PG* environment).
    public var conninfo: String { "dbname=\(name)" }

    /// Creates a fresh database: a copy of the migrated template, or empty when `migrated` is false.
    public init(migrated: Bool = true) throws {
        let suffix = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        name = "muster_test_\(suffix)"
        try TestCluster.prepareOnce()
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        if migrated {
            let template = try TestCluster.migratedTemplate()
            try admin.execute("CREATE DATABASE \(name) TEMPLATE \(template)")
        } else {
            try admin.execute("CREATE DATABASE \(name)")
        }
    }

    /// A new connection to this database.
    public func connect() throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo)
    }
}
