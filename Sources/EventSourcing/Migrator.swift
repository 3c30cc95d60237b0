public import Foundation
public import Postgres

/// Applies the numbered SQL files in `schema/` in order, once each, and records them.
///
/// Files are forward-only: an applied file whose text changed is reported, never re-run.
public struct Migrator: Sendable {
    public struct Migration: Sendable, Equatable {
        public let version: Int
        public let name: String
        public let sql: String
        /// SHA-256 of the file's text, computed when asked: checking for pending files needs only the versions.
        public var checksum: String { SHA256.hex(Data(sql.utf8)) }
    }

    public let migrations: [Migration]

    /// Loads `NNNN-verb-object.sql` files from a directory.
    ///
    /// - Parameter readingFiles: false to list the files without reading them (`sql` is empty): enough for
    ///   `pending`, which compares versions only, and a planner command's check costs no file reads.
    public init(directory: URL, readingFiles: Bool = true) throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".sql") }
            .sorted()
        var list: [Migration] = []
        for name in names {
            guard let number = Int(name.prefix { $0.isNumber }), name.first?.isNumber == true else {
                throw MigrationError("schema file \(name) does not start with a migration number (NNNN-verb-object.sql)")
            }
            if list.contains(where: { $0.version == number }) {
                throw MigrationError("two schema files share migration number \(number)")
            }
            let sql = readingFiles ? try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8) : ""
            list.append(Migration(version: number, name: String(name.dropLast(4)), sql: sql))
        }
        guard !list.isEmpty else { throw MigrationError("no schema files in \(directory.path)") }
        migrations = list
    }

    /// Finds the `schema/` directory: `$MUSTER_SCHEMA_DIR`, next to the executable
    /// (`../share/muster/schema` when installed, or the checkout it was built in), or the source tree.
    /// The executable is this process's file (`/proc/self/exe`), not `argv[0]`: a name found through PATH
    /// would otherwise be looked for in the working directory.
    public static func locateSchemaDirectory(executable: String = runningExecutable) throws -> URL {
        let fm = FileManager.default
        func valid(_ url: URL) -> Bool { fm.fileExists(atPath: url.appendingPathComponent("0001-create-event-store.sql").path) }
        if let env = ProcessInfo.processInfo.environment["MUSTER_SCHEMA_DIR"], !env.isEmpty {
            let url = URL(fileURLWithPath: env)
            if valid(url) { return url }
            throw MigrationError("MUSTER_SCHEMA_DIR=\(env) holds no Muster schema files")
        }
        var candidates: [URL] = []
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var dir = exe.deletingLastPathComponent()
        candidates.append(dir.appendingPathComponent("../share/muster/schema").standardized)
        for _ in 0..<6 {
            candidates.append(dir.appendingPathComponent("schema"))
            dir = dir.deletingLastPathComponent()
        }
        // The source tree this binary was built from.
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(source.appendingPathComponent("schema"))
        if let found = candidates.first(where: valid) { return found }
        throw MigrationError("cannot find Muster's schema/ directory; set MUSTER_SCHEMA_DIR to it")
    }

    /// The path of this process's executable file.
    public static var runningExecutable: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments.first ?? ""
    }

    /// Applies every migration not yet applied, each in its own transaction, under an advisory lock
    /// so that two processes migrating at once apply each file once.
    ///
    /// - Returns: the migrations applied by this call (empty when the database was up to date).
    @discardableResult
    public func migrate(_ db: PostgresConnection) throws -> [Migration] {
        // Nearly always every file is applied already: one query settles that, without DDL or the lock.
        if try isCurrent(db) { return [] }
        try db.execute("""
            CREATE SCHEMA IF NOT EXISTS muster_meta;
            CREATE TABLE IF NOT EXISTS muster_meta.migrations (
                version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now())
            """)
        try db.query("SELECT pg_advisory_lock(\(Self.lockKey))")
        defer { _ = try? db.query("SELECT pg_advisory_unlock(\(Self.lockKey))") }
        let applied = try appliedChecksums(db)
        var done: [Migration] = []
        for m in migrations {
            if let checksum = applied[m.version] {
                if checksum != m.checksum {
                    throw MigrationError("migration \(m.name) was changed after it was applied; schema files are forward-only: add a new file instead")
                }
                continue
            }
            do {
                try db.transaction {
                    try db.execute(m.sql)
                    try db.query("INSERT INTO muster_meta.migrations (version, name, checksum) VALUES (\(m.version), \(m.name), \(m.checksum))")
                }
            } catch let error as PostgresError {
                throw MigrationError("migration \(m.name) failed: \(error)")
            }
            done.append(m)
        }
        return done
    }

    /// Migrations not yet applied to `db`. Call it outside a transaction: on a database without the
    /// migrations table its one query fails, which settles the answer but would abort a transaction.
    /// True when every file is applied, each with the checksum it has now: what `migrate` would leave as it
    /// is, without writing or locking anything.
    public func isCurrent(_ db: PostgresConnection) throws -> Bool {
        guard let applied = try appliedChecksumsIfPresent(db) else { return false }
        return migrations.allSatisfy { applied[$0.version] == $0.checksum }
    }

    public func pending(_ db: PostgresConnection) throws -> [Migration] {
        guard let applied = try appliedChecksumsIfPresent(db) else { return migrations }
        return migrations.filter { applied[$0.version] == nil }
    }

    /// The applied migrations' checksums, or nil when the database has no migrations table yet: told by
    /// the error's SQLSTATE (undefined table or schema), which saves asking first on every command.
    private func appliedChecksumsIfPresent(_ db: PostgresConnection) throws -> [Int: String]? {
        do {
            return try appliedChecksums(db)
        } catch let error as PostgresError where error.sqlState == "42P01" || error.sqlState == "3F000" {
            return nil
        }
    }

    private func appliedChecksums(_ db: PostgresConnection) throws -> [Int: String] {
        var out: [Int: String] = [:]
        for row in try db.query("SELECT version, checksum FROM muster_meta.migrations") {
            out[try row.decode("version")] = try row.decode("checksum", as: String.self)
        }
        return out
    }

    static let lockKey: Int64 = 0x6D75_7374_6572 // "muster"
}

/// A migration could not be loaded or applied.
public struct MigrationError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
