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
        let session = try Session.open(connection)
        let outcome = try apply(command, metadata: metadata, session: session)
        if !quiet { print(describe(outcome)) }
    }

    static func context(_ metadata: MetadataOptions) -> PlanningService.Context {
        PlanningService.Context(actor: metadata.resolvedActor, reason: metadata.reason,
                                commandID: metadata.commandID.flatMap(UUID.init(uuidString:)) ?? UUID(),
                                now: metadata.at.flatMap(Time.parse) ?? Date())
    }

    static func apply(_ command: PlanningCommand, metadata: MetadataOptions, session: Session) throws -> PlanningService.Outcome {
        let outcome: PlanningService.Outcome
        do {
            outcome = try PlanningService(session.store).handle(command, context: context(metadata))
        } catch {
            throw Failure(error.description)
        }
        try ProjectionUpdates.catchUp(session)
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
