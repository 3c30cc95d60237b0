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

            Planner commands hand themselves to a muster kept running in the background (about twice as fast, \
            with the same output): on the embedded cluster the first one starts it; with a configured database, \
            'muster server start' does. MUSTER_SERVER=off keeps a command from using or starting one.

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
        // main returns only when the command succeeded.
        CommandServer.startForLaterCommands()
    }
}
