import ArgumentParser
import EventSourcing
import Foundation
import Postgres
import Projections

extension Muster.Audit {
    struct Replay: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "replay",
            abstract: "Show a report as it was at a past moment, rebuilt from the log (live views are not touched).",
            discussion: """
                Example:
                  muster audit replay readiness --as-of 2025-07-01 --exercise ts25
                  muster audit replay schedule --position 120 --format json
                """)

        @Argument(help: "readiness, interoperability, schedule or conflicts.") var kind: Muster.Report.Kind
        @Option(help: "Events recorded up to this time (YYYY-MM-DD or ISO time, UTC).") var asOf: String?
        @Option(help: "Events up to this global position.") var position: Int64?
        @Option(help: "Only this exercise.") var exercise: String?
        @Option(help: "table, json, csv or html.") var format: OutputFormat = .table
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if (asOf == nil) == (position == nil) { throw ValidationError("give exactly one of --as-of and --position") }
            if let asOf, Time.parse(asOf) == nil { throw ValidationError("--as-of: '\(asOf)' is not a date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") }
            if let position, position < 0 { throw ValidationError("--position: must be 0 or more") }
        }

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let cut: AsOf = asOf.flatMap(Time.parse).map { .time($0) } ?? .position(position ?? 0)
                let runner = ProjectionUpdates.runner(session, whenBusy: .wait)
                let viewSchema = "replay_\(UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(12))"
                var scratches: [String] = []
                defer {
                    try? session.db.execute("DROP SCHEMA IF EXISTS \(viewSchema) CASCADE")
                    for s in scratches { try? runner.dropScratch(s) }
                }
                try session.db.execute("CREATE SCHEMA \(viewSchema)")
                for projection in ReadModels.all {
                    let scratch = try runner.buildScratch(projection.name, asOf: cut)
                    scratches.append(scratch)
                    try ReadModels.createViews(for: projection, in: viewSchema, reading: scratch, session.db)
                }
                var doc = try ReportQueries(db: session.db, schema: viewSchema).document(kind, exercise: exercise)
                doc.title += " — as of " + (asOf ?? "position \(position ?? 0)")
                print(doc.render(format))
            }
        }
    }
}
