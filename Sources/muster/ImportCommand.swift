import ArgumentParser
import EventSourcing
import Foundation
import Planning
import Projections

extension Muster {
    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Load a programme: a JSON Lines file of planner commands, one per line.",
            discussion: """
                Each line is a command's JSON form, optionally with "meta": {"commandId", "actor", "reason", "at"}.
                A line without a commandId gets one derived from its content, so importing the same file twice
                applies nothing the second time. Each line is applied on its own: a rejected line writes nothing
                and is reported with its line number; the exit status is 1 when any line was rejected. When
                the database becomes unavailable the import stops at that line and says so: run it again to
                finish (lines already applied are skipped).

                Example:
                  muster import programme.jsonl
                  {"command": "registerNation", "nation": "FJI", "name": "Fiji", "meta": {"actor": "j5.plans", "reason": "IPC"}}
                """)

        @Argument(help: ArgumentHelp("The JSON Lines file, or - for standard input.", valueName: "file"))
        var file: String

        @Flag(help: "Stop at the first rejected line.")
        var stopOnError = false

        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func run() throws {
            try guarded {
                let data: Data
                if file == "-" {
                    data = FileHandle.standardInput.readDataToEndOfFile()
                } else {
                    guard let d = FileManager.default.contents(atPath: file) else {
                        throw Failure("file '\(file)' cannot be read")
                    }
                    data = d
                }
                let session = try Session.open(connection)
                let service = PlanningService(session.store)
                var applied = 0, duplicates = 0, rejected = 0, lineNumber = 0
                for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
                    lineNumber += 1
                    if line.allSatisfy({ $0 == 32 || $0 == 9 || $0 == 13 }) { continue }
                    do {
                        let (command, context) = try ImportLine.parse(Data(line), defaults: metadata)
                        let outcome = try service.handle(command, context: context)
                        if outcome.duplicate { duplicates += 1 } else { applied += 1 }
                    } catch where Session.isUnavailable(error, session.db) {
                        // Every later line would fail the same way: stop, and say how to finish. Each line's
                        // command id (given, or derived from its content) makes the re-run apply nothing twice.
                        printError("line \(lineNumber): \(oneLine(error))")
                        throw Failure("""
                            import stopped at line \(lineNumber): the database is unavailable. \
                            \(applied) command(s) were applied, \(duplicates) already applied, \(rejected) rejected before it; \
                            line \(lineNumber) may or may not have been applied. Run the same import again: \
                            lines already applied are skipped
                            """)
                    } catch {
                        rejected += 1
                        printError("line \(lineNumber): \(oneLine(error))")
                        if stopOnError { break }
                    }
                }
                try ProjectionUpdates.catchUp(session)
                print("imported \(applied) command(s), \(duplicates) already applied, \(rejected) rejected")
                if rejected > 0 { throw ExitCode.failure }
            }
        }
    }
}

/// One line of an import file: a command plus optional metadata.
enum ImportLine {
    static let maxLineBytes = 1 << 20

    static func parse(_ line: Data, defaults: MetadataOptions) throws -> (PlanningCommand, PlanningService.Context) {
        guard line.count <= maxLineBytes else { throw Failure("the line is longer than 1 MiB") }
        if let problem = PlanningCommand.encodingProblem(line) { throw Failure(problem.description) }
        guard var object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
            throw Failure("the line is not a JSON object")
        }
        // Checked here: re-serialising the line below would keep only one of the values.
        if let problem = PlanningCommand.duplicateKeyProblem(line) { throw Failure(problem.description) }
        var context = CommandExecution.context(defaults)
        var explicitID = defaults.commandID != nil
        if let meta = object.removeValue(forKey: "meta") {
            guard let meta = meta as? [String: Any] else { throw Failure("field 'meta': expected an object") }
            for (key, value) in meta {
                guard let text = value as? String else { throw Failure("field 'meta.\(key)': expected a string") }
                switch key {
                case "commandId":
                    guard let id = UUID(uuidString: text) else { throw Failure("field 'meta.commandId': '\(text.prefix(60))' is not a UUID") }
                    context.commandID = id
                    explicitID = true
                case "actor":
                    if let problem = MetadataOptions.actorProblem(text) { throw Failure("field 'meta.actor': \(problem)") }
                    context.actor = text
                case "reason":
                    if let problem = MetadataOptions.reasonProblem(text) { throw Failure("field 'meta.reason': \(problem)") }
                    context.reason = text
                case "at":
                    guard let at = Time.parse(text) else { throw Failure("field 'meta.at': '\(text.prefix(60))' is not a date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") }
                    context.now = at
                default:
                    throw Failure("field 'meta.\(key)' is not one of commandId, actor, reason, at")
                }
            }
        }
        guard let body = try? JSONSerialization.data(withJSONObject: object) else { throw Failure("the line is not a JSON object") }
        let command: PlanningCommand
        do {
            command = try PlanningCommand.parse(json: body)
        } catch {
            throw Failure(error.description)
        }
        if !explicitID {
            context.commandID = contentID(command.jsonObject())
        }
        return (command, context)
    }

    /// A UUID (version 5 layout) derived from the command's canonical JSON.
    static func contentID(_ json: Data) -> UUID {
        var bytes = Array(SHA256.hash(Array("muster-import:".utf8) + Array(json)).prefix(16))
        bytes[6] = (bytes[6] & 0x0F) | 0x50
        bytes[8] = (bytes[8] & 0x3F) | 0x80
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}
