import ArgumentParser
import EventSourcing
import Foundation
import Planning
import Projections

extension Muster {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "demo",
            abstract: "Load a realistic public scenario and print its readiness, interoperability and conflicts.",
            discussion: """
                The scenario uses published exercise names, dates and nations (Malabar 23, Pitch Black 24,
                RIMPAC 24, Talisman Sabre 25). Readiness figures are SYNTHETIC and labelled so. It shows the
                rules at work: an overlapping commitment, a unit below the readiness threshold and a NOFORN
                inject are refused, and an after-action observation lowers an interoperability level.
                Running it again applies nothing new (each step has a fixed command id).

                Example:
                  muster demo
                  muster demo --format html > demo.html
                """)

        @Option(help: "Format of the reports printed at the end: table, json, csv or html.") var format: OutputFormat = .table
        @Flag(help: "Print every step, not only the refused ones.") var verbose = false
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                let service = PlanningService(session.store)
                let steps = DemoScenario.steps
                var applied = 0, already = 0, refused = 0
                let log: (String) -> Void = { line in
                    // Keep machine-readable output clean: progress goes to stderr for json/csv/html.
                    if format == .table { print(line) } else { printError(line) }
                }
                log("Loading the demo scenario: \(steps.count) planner commands (public facts; SYNTHETIC readiness)")
                for (i, step) in steps.enumerated() {
                    let context = PlanningService.Context(actor: step.actor, reason: step.reason,
                                                          commandID: ImportLine.contentID(Data("demo-step-\(i):".utf8) + step.command.jsonObject()),
                                                          now: step.at)
                    do {
                        let outcome = try service.handle(step.command, context: context)
                        if step.expectRejection {
                            throw Failure("demo step \(i + 1) (\(step.command.name)) should have been refused but was accepted")
                        }
                        if outcome.duplicate { already += 1 } else { applied += 1 }
                        if verbose { log("  [\(i + 1)] \(String(Time.iso(step.at).prefix(10))) \(step.actor): \(step.command.name) accepted") }
                    } catch PlanningService.Failure.rejected(let rejection) where step.expectRejection {
                        refused += 1
                        log("  [\(i + 1)] \(String(Time.iso(step.at).prefix(10))) \(step.actor): \(step.command.name) REFUSED as expected: \(rejection.message)")
                    } catch let failure as PlanningService.Failure {
                        throw Failure("demo step \(i + 1) (\(step.command.name)) failed: \(failure)")
                    }
                }
                log("Applied \(applied) command(s), \(already) already applied earlier, \(refused) refused by the rules.")
                try ProjectionUpdates.catchUp(session)
                let queries = ReportQueries(db: session.db, schema: "reporting")
                let readiness = try queries.readiness(exercise: "ts25")
                let interop = try queries.interoperability(exercise: nil)
                let conflicts = try queries.conflicts(exercise: nil)
                switch format {
                case .table, .csv:
                    for doc in [readiness, interop, conflicts] {
                        print("")
                        print(doc.render(format))
                    }
                case .json:
                    let objects = [readiness, interop, conflicts].compactMap { doc in
                        try? JSONSerialization.jsonObject(with: Data(doc.render(.json).utf8))
                    }
                    let data = try JSONSerialization.data(withJSONObject: ["reports": objects], options: [.prettyPrinted, .sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                case .html:
                    let schedule = try queries.schedule(exercise: nil)
                    let merged = ReportDocument(title: "Muster demo: Malabar 23, Pitch Black 24, RIMPAC 24, Talisman Sabre 25",
                                                sections: readiness.sections + interop.sections + conflicts.sections,
                                                htmlExtras: schedule.htmlExtras + interop.htmlExtras,
                                                notes: readiness.notes + interop.notes + conflicts.notes)
                    print(merged.render(.html))
                }
            }
        }
    }
}
