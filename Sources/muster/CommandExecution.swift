import ArgumentParser
import EventSourcing
import Foundation
import Planning
import Projections

/// Applies one planner command and prints its outcome: the path every planner command takes.
enum CommandExecution {
    /// Parses the JSON form, decides, appends and updates the projections.
    static func submit(json: Data, metadata: MetadataOptions, connection: ConnectionOptions, quiet: Bool = false) throws {
        let command: PlanningCommand
        do {
            command = try PlanningCommand.parse(json: json)
        } catch {
            throw Failure(error.description)
        }
        try submit(command, metadata: metadata, connection: connection, quiet: quiet)
    }

    /// Decides, appends and updates the projections for a command already parsed.
    static func submit(_ command: PlanningCommand, metadata: MetadataOptions, connection: ConnectionOptions, quiet: Bool = false) throws {
        let session = try Session.open(connection)
        let outcome = try apply(command, metadata: metadata, session: session)
        if !quiet { print(describe(outcome)) }
    }

    static func context(_ metadata: MetadataOptions) -> PlanningService.Context {
        PlanningService.Context(actor: metadata.resolvedActor, reason: metadata.reason,
                                commandID: metadata.commandID.flatMap(UUID.init(uuidString:)),
                                now: metadata.at.flatMap(Time.parse) ?? Date())
    }

    static func apply(_ command: PlanningCommand, metadata: MetadataOptions, session: Session) throws -> PlanningService.Outcome {
        let commandContext = Self.context(metadata)
        let outcome: PlanningService.Outcome
        do {
            outcome = try PlanningService(session.store).handle(command, context: commandContext)
        } catch {
            guard Session.isUnavailable(error, session.db) else { throw Failure(error.description) }
            // The append may have committed before the connection dropped: only a retry with the same id is safe.
            let id = commandContext.commandID.uuidString.lowercased()
            let message = error.description.hasPrefix("database unavailable") ? error.description : "database unavailable: \(error.description)"
            throw Failure("\(message) (command \(command.name) may or may not have been applied: retry with --command-id \(id) to apply it exactly once)")
        }
        if outcome.attempts > 1 {
            printError("note: decided \(outcome.attempts) times: other planners changed the same records meanwhile (concurrency conflicts retried: \(outcome.attempts - 1))")
        }
        do {
            try ProjectionUpdates.catchUp(session)
        } catch where Session.isUnavailable(error, session.db) {
            // The command is in the log; the read models catch up with the next command or worker.
            printError("note: the read models were not updated (database unavailable: \(oneLine(error))); the next command or 'muster projections run' brings them up to date")
        }
        return outcome
    }

    static func describe(_ outcome: PlanningService.Outcome) -> String {
        if outcome.duplicate {
            let streams = outcome.result?.streams.map { "\($0.stream) v\($0.fromVersion)-\($0.toVersion)" }.joined(separator: ", ") ?? ""
            return "already applied: \(outcome.command) (command id \(outcome.commandID.uuidString.lowercased())) \(streams); nothing new was written"
        }
        if outcome.written.isEmpty {
            return "no change: \(outcome.command) left every record as it was"
        }
        var lines = ["accepted: \(outcome.command) (command id \(outcome.commandID.uuidString.lowercased()))"]
        for (i, w) in outcome.written.enumerated() {
            let range = outcome.result?.streams.first { $0.stream == w.stream }
            let versions = range.map { $0.fromVersion == $0.toVersion ? "v\($0.fromVersion)" : "v\($0.fromVersion)-\($0.toVersion)" } ?? ""
            lines.append("  \(i == outcome.written.count - 1 ? "└" : "├") \(w.stream) \(versions): \(w.types.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}

extension Muster {
    struct Submit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "submit",
            abstract: "Apply one planner command given in its JSON form (the same form `muster import` reads).",
            discussion: """
                Every planner command has a JSON form: {"command": NAME, ...fields}. Command names:
                \(PlanningCommand.names.joined(separator: ", ")).

                Example:
                  muster submit '{"command": "registerNation", "nation": "AUS", "name": "Australia"}'
                  echo '{"command": ...}' | muster submit -
                """)

        @Argument(help: ArgumentHelp("The command as a JSON object, or - to read it from standard input.", valueName: "json"))
        var json: String

        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let data = json == "-" ? FileHandle.standardInput.readDataToEndOfFile() : Data(json.utf8)
                try CommandExecution.submit(json: data, metadata: metadata, connection: connection)
            }
        }
    }
}
