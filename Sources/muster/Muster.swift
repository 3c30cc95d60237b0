import ArgumentParser
import Foundation

@main
struct Muster: ParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "muster",
        abstract: "Plan joint and multinational exercises on an event-sourced PostgreSQL log.",
        discussion: """
            With no connection configured (--database, DATABASE_URL or libpq's PG* variables), muster runs \
            against a private PostgreSQL cluster it starts under $XDG_DATA_HOME/muster (or ~/.local/share/muster).

            For many planner commands in a row, 'muster server start' keeps a muster running that they hand \
            themselves to: about twice as fast, with the same output.

            Example:
              muster demo
              muster exercise plan --exercise ts25 --name "TALISMAN SABRE 25" ...
              muster report readiness --exercise ts25 --format html > readiness.html
            """,
        version: version,
        subcommands: [
            Demo.self, Submit.self, Import.self,
            Report.self, Audit.self, Projections.self, DB.self, Server.self,
        ] + PlannerCommands.groups
    )

    static func main() {
        if let status = CommandServer.handOver(CommandLine.arguments) { Foundation.exit(status) }
        EarlyConnection.start(CommandLine.arguments)
        main(nil)
    }
}
