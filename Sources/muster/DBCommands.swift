import ArgumentParser
import EventSourcing
import Foundation
import Postgres

extension Muster {
    struct DB: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "db",
            abstract: "Manage the database: the embedded cluster's server, and migrations.",
            subcommands: [Status.self, Start.self, Stop.self, Migrate.self])
    }
}

extension Muster.DB {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show which database muster uses, whether it is up, and pending migrations.",
            discussion: "Example: muster db status")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                switch Session.target(connection) {
                case .embedded(let cluster):
                    print("target: embedded cluster in \(cluster.directory.path)")
                    switch cluster.state() {
                    case .notInitialised: print("server: not initialised (the first command initialises and starts it)"); return
                    case .stopped: print("server: stopped (the next command starts it)"); return
                    case .running(let pid): print("server: running (pid \(pid)), socket \(cluster.socketDirectory.path)")
                    }
                case .conninfo, .environment:
                    print("target: configured connection (--database, DATABASE_URL or PG* variables)")
                }
                let session = try Session.open(connection, requireMigrated: false)
                print("database: \(session.db.target), PostgreSQL \(session.db.serverVersion / 10000).\(session.db.serverVersion % 10000)")
                let pending = try Migrator(directory: Migrator.locateSchemaDirectory()).pending(session.db)
                print("migrations: \(pending.isEmpty ? "up to date" : "\(pending.count) pending (\(pending.map(\.name).joined(separator: ", ")))")")
                if pending.isEmpty {
                    print("events: \(try session.store.count())")
                }
            }
        }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Initialise (once) and start the embedded PostgreSQL cluster, and migrate it.",
            discussion: "Example: muster db start")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                guard case .embedded(let cluster) = Session.target(connection) else {
                    throw Failure("a connection is configured (--database, DATABASE_URL or PG* variables): muster does not start a server for it")
                }
                _ = try Session.open(connection)
                print("embedded cluster running in \(cluster.directory.path)")
            }
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop the embedded PostgreSQL cluster's server.",
            discussion: "Example: muster db stop")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                guard case .embedded(let cluster) = Session.target(connection) else {
                    throw Failure("a connection is configured (--database, DATABASE_URL or PG* variables): muster never stops a server it did not start")
                }
                try cluster.stop()
                print("embedded cluster stopped")
                // The command server beside it goes too, after the cluster: a command that succeeded meanwhile
                // may have started one. The next planner command starts both again (even after 'muster server
                // stop').
                let socket = CommandServer.socketPath()
                if CommandServer.stop(socket) { print("command server stopped") }
                try? FileManager.default.removeItem(atPath: CommandServer.stoppedMark(socket))
            }
        }
    }

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Apply the numbered SQL files in schema/ that are not yet applied (re-running is a no-op).",
            discussion: "Example: muster db migrate --database postgresql://planner@db.example/muster")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let session = try Session.open(connection, requireMigrated: false)
                let applied = try Migrator(directory: Migrator.locateSchemaDirectory()).migrate(session.db)
                if applied.isEmpty {
                    print("\(session.db.target): up to date")
                } else {
                    for m in applied { print("applied \(m.name)") }
                }
            }
        }
    }
}
