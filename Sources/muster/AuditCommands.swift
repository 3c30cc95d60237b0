import ArgumentParser
import EventSourcing
import Foundation
import Postgres

extension Muster {
    struct Audit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "audit",
            abstract: "For auditors: the log, tamper evidence, and the views as they were at any moment.",
            subcommands: [Log.self, Verify.self, Head.self, Replay.self])
    }
}

extension Muster.Audit {
    struct Log: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "log",
            abstract: "List events in global order with who, what, why and when.",
            discussion: """
                Example:
                  muster audit log --stream exercise-ts25
                  muster audit log --category unit --actor j3.plans --since 2025-01-01 --format csv
                """)

        @Option(help: "Only this stream, e.g. exercise-ts25.") var stream: String?
        @Option(help: "Only this category: alliance, nation, unit, area, exercise.") var category: String?
        @Option(help: "Only events recorded by this actor.") var actor: String?
        @Option(help: "Only events of this command id.") var commandID: String?
        @Option(help: "Recorded at or after (YYYY-MM-DD or ISO time).") var since: String?
        @Option(help: "Recorded before (YYYY-MM-DD or ISO time).") var until: String?
        @Option(help: "At most this many events (newest are last).") var limit: Int = 1000
        @Option(help: "table, json, csv or html.") var format: OutputFormat = .table
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if let since, Time.parse(since) == nil { throw ValidationError("--since: '\(since)' is not a date or time (expected YYYY-MM-DD)") }
            if let until, Time.parse(until) == nil { throw ValidationError("--until: '\(until)' is not a date or time (expected YYYY-MM-DD)") }
            if let commandID, UUID(uuidString: commandID) == nil { throw ValidationError("--command-id: '\(commandID)' is not a UUID") }
            if limit < 1 || limit > 1_000_000 { throw ValidationError("--limit: must be between 1 and 1000000") }
        }

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                var q: PostgresQuery = """
                    SELECT position, stream_name, stream_version, event_type, recorded_at,
                           coalesce(metadata->>'actor', '') AS actor, coalesce(metadata->>'command', '') AS command,
                           coalesce(metadata->>'command_id', '') AS command_id, coalesce(metadata->>'correlation_id', '') AS correlation_id,
                           coalesce(metadata->>'causation_id', '') AS causation_id, coalesce(metadata->>'reason', '') AS reason
                      FROM event_store.events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
                    """
                if let stream { q.append(" AND stream_name = \(stream)") }
                if let category { q.append(" AND category = \(category)") }
                if let actor { q.append(" AND metadata->>'actor' = \(actor)") }
                if let commandID { q.append(" AND command_id = \(UUID(uuidString: commandID))") }
                if let since { q.append(" AND recorded_at >= \(Time.parse(since))") }
                if let until { q.append(" AND recorded_at < \(Time.parse(until))") }
                q.append(" ORDER BY events.transaction_id DESC, events.position DESC LIMIT \(limit)")
                let rows = try session.db.query(q).reversed().map { row in
                    try ["position", "stream_name", "stream_version", "event_type", "recorded_at", "actor", "command", "command_id", "correlation_id", "causation_id", "reason"]
                        .map { try row.text($0) ?? "" }
                }
                print(TableOutput(title: "Audit log", columns: ["position", "stream", "version", "type", "recorded_at", "actor", "command", "command_id", "correlation_id", "causation_id", "reason"], rows: rows).render(format))
            }
        }
    }

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "head",
            abstract: "Print a digest of every stream head for an auditor to keep; `audit verify --against` checks it later.",
            discussion: "Example: muster audit head > ts25-head.txt")
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let digest = try HeadDigest.compute(session.db)
                print(digest.description)
                printError("covers \(digest.streams) stream(s) up to checkpoint \(digest.checkpoint)")
            }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify",
            abstract: "Check hash chains, immutability triggers, and that every projection equals a fresh rebuild.",
            discussion: """
                Exits 1 on any finding, naming the exact stream and version.
                Example:
                  muster audit verify
                  muster audit verify --against "$(cat ts25-head.txt)"
                """)
        @Option(help: "A digest printed earlier by `muster audit head`: proves no event up to it changed.") var against: String?
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if let against, HeadDigest(parsing: against) == nil {
                throw ValidationError("--against: not a digest printed by 'muster audit head' (muster-head:1:…)")
            }
        }

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let report = try ChainVerifier(session.db).verify()
                var findings = report.findings.map(\.description)
                print("hash chains: \(report.streams) stream(s), \(report.events) event(s) checked")
                if let against, let kept = HeadDigest(parsing: against) {
                    let now = try HeadDigest.compute(session.db, at: kept.checkpoint)
                    if now.digest == kept.digest {
                        print("digest: matches the kept digest at checkpoint \(kept.checkpoint)")
                    } else {
                        findings.append("the stream heads at checkpoint \(kept.checkpoint) no longer match the kept digest: an event up to that point was changed, removed or re-chained")
                    }
                }
                findings += try ProjectionUpdates.verifyAgainstRebuild(session)
                if findings.isEmpty {
                    print("verified: no findings")
                } else {
                    for f in findings { print("FINDING: \(f)") }
                    throw ExitCode.failure
                }
            }
        }
    }
}
