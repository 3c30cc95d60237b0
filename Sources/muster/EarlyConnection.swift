import ArgumentParser
import EventSourcing
import Foundation
import Postgres

/// Opens a planner command's database connection on a second thread while the main thread parses the
/// command line, and asks which migrations the database lacks: the server forks its backend and answers
/// while the client is busy parsing, instead of after. A command that ends up with another target (its
/// options parsed otherwise than `target(arguments:)` guessed) closes this connection and opens its own,
/// so a wrong guess costs time, never correctness.
enum EarlyConnection {
    /// Where a connection goes: a conninfo, or libpq's PG* environment.
    enum Target: Equatable, Sendable {
        case conninfo(String)
        case environment

        /// Where a session's target connects: the embedded cluster through its conninfo.
        init(_ target: Session.Target) {
            switch target {
            case .conninfo(let info): self = .conninfo(info)
            case .environment: self = .environment
            case .embedded(let cluster): self = .conninfo(cluster.conninfo)
            }
        }
    }

    struct Opened {
        let target: Target
        let db: PostgresConnection
        /// The migrations the database lacks; nil when that could not be told. For the embedded cluster, empty
        /// only when every file is applied with the checksum it has now (what `Migrator.migrate` checks there).
        let pending: [Migrator.Migration]?
    }

    private final class Slot: @unchecked Sendable {
        var opened: Opened?
        let done = DispatchSemaphore(value: 0)
    }

    nonisolated(unsafe) private static var slot: Slot?

    /// Starts connecting when `arguments` name a planner command (not its help) and its target can be told
    /// without parsing them: `--database`, else `DATABASE_URL` or the PG* variables (as `Session.target`
    /// decides), else the embedded cluster when its server is running. Other commands connect as they always do.
    static func start(_ arguments: [String]) {
        guard isPlannerCommand(arguments), let (target, embedded) = target(arguments) else { return }
        let slot = Slot()
        Self.slot = slot
        Thread {
            defer { slot.done.signal() }
            let info: String? = if case .conninfo(let s) = target { s } else { nil }
            guard let db = try? PostgresConnection(conninfo: info) else { return }
            slot.opened = Opened(target: target, db: db, pending: pending(db, embedded: embedded))
        }.start()
    }

    /// True when `arguments` run a planner command (not its help).
    static func isPlannerCommand(_ arguments: [String]) -> Bool {
        arguments.count > 2 && plannerCommandNames.contains(arguments[1])
            && !arguments.contains(where: { $0 == "--help" || $0 == "-h" || $0 == "help" })
    }

    /// The migrations `db` lacks, as `Opened.pending` tells them.
    static func pending(_ db: PostgresConnection, embedded: Bool) -> [Migrator.Migration]? {
        embedded
            // The embedded database is migrated by the command itself, which also reports an applied file
            // that changed: it takes this connection only when nothing is left to do.
            ? ((try? Migrator(directory: Migrator.locateSchemaDirectory()).isCurrent(db)) == true ? [] : nil)
            : try? Migrator(directory: Migrator.locateSchemaDirectory(), readingFiles: false).pending(db)
    }

    /// Hands the command about to run a connection already open (the command server's), as `start` would.
    static func provide(_ opened: Opened) {
        let slot = Slot()
        slot.opened = opened
        slot.done.signal()
        Self.slot = slot
    }

    /// The connection no command took, once its thread is done (the command server must not change the
    /// environment under a thread that is still connecting).
    static func leftOver() -> Opened? {
        guard let slot else { return nil }
        Self.slot = nil
        slot.done.wait()
        return slot.opened
    }

    /// Tells connections apart for reuse: the target and every PG* variable, which libpq reads for whatever
    /// a conninfo leaves out.
    static func reuseKey(_ target: Target) -> String {
        let pg = ProcessInfo.processInfo.environment.filter { $0.key.hasPrefix("PG") }.sorted { $0.key < $1.key }
        return "\(target)\u{0}" + pg.map { "\($0.key)=\($0.value)" }.joined(separator: "\u{0}")
    }

    /// The connection opened early for `target`, waiting for it; nil when none was opened or it was for
    /// another target (then it is closed).
    static func take(_ target: Target) -> Opened? {
        guard let slot else { return nil }
        Self.slot = nil
        slot.done.wait()
        guard let opened = slot.opened else { return nil }
        guard opened.target == target else {
            opened.db.close()
            return nil
        }
        return opened
    }

    static let plannerCommandNames: Set<String> = Set(PlannerCommands.groups.compactMap { $0.configuration.commandName })

    /// The target `Session.target` will choose, guessed from the raw arguments, and whether it is the embedded
    /// cluster; nil for the embedded cluster when its server is not running (starting it is `Session.open`'s
    /// business).
    static func target(_ arguments: [String]) -> (target: Target, embedded: Bool)? {
        var database: String?
        var index = 1
        while index < arguments.count, arguments[index] != "--" {
            let argument = arguments[index]
            if argument == "--database", index + 1 < arguments.count {
                database = arguments[index + 1]
                index += 1
            } else if argument.hasPrefix("--database=") {
                database = String(argument.dropFirst("--database=".count))
            }
            index += 1
        }
        let target = Session.target(database: database)
        guard case .embedded(let cluster) = target else { return (Target(target), false) }
        guard case .running = cluster.state() else { return nil }
        return (Target(target), true)
    }
}
