import ArgumentParser
import EventSourcing
import Foundation
import Postgres

/// Where the data lives: shared by every command that touches the database.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .customLong("database"),
            help: ArgumentHelp("A libpq connection string or postgresql:// URL. Default: DATABASE_URL, then libpq's PG* variables, then the embedded cluster.",
                               valueName: "conninfo"))
    var database: String?
}

/// Who issues a command and why: recorded with every event.
struct MetadataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Who issues the command (default: the OS user).", valueName: "name"))
    var actor: String?

    @Option(help: ArgumentHelp("Why: kept in the audit trail.", valueName: "text"))
    var reason: String?

    @Option(help: ArgumentHelp("A UUID for idempotent retries: a command id already applied is not applied again.", valueName: "uuid"))
    var commandID: String?

    @Option(help: ArgumentHelp("The decision time for the planning rules, e.g. 2025-06-01 or 2025-06-01T12:00:00Z (default: now).", valueName: "time"))
    var at: String?

    func validate() throws {
        if let argument = Self.argumentWithInvalidUTF8() {
            throw ValidationError("\(argument): the value is not valid UTF-8")
        }
        if let commandID, UUID(uuidString: commandID) == nil {
            throw ValidationError("--command-id: '\(commandID)' is not a UUID (e.g. 7f1c2a9e-4b1d-4f3a-9c55-0a2b3c4d5e6f)")
        }
        if let at, Time.parse(at) == nil {
            throw ValidationError("--at: '\(at)' is not a date or time (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")
        }
        if let actor, let problem = Self.actorProblem(actor) { throw ValidationError("--actor: \(problem)") }
        if let reason, let problem = Self.reasonProblem(reason) { throw ValidationError("--reason: \(problem)") }
    }

    /// The flag (or `argument N`) whose value is not valid UTF-8, if any. Swift repairs invalid bytes in
    /// `CommandLine.arguments` to U+FFFD, which would record a value the user did not write; refuse it instead.
    static func argumentWithInvalidUTF8() -> String? {
        let argv = Invocation.rawArguments
        for index in argv.indices.dropFirst() where String(validating: argv[index], as: UTF8.self) == nil {
            let argument = String(decoding: argv[index], as: UTF8.self)
            if argument.hasPrefix("--"), let equals = argument.firstIndex(of: "=") { return String(argument[..<equals]) }
            if index > 1, case let previous = String(decoding: argv[index - 1], as: UTF8.self), previous.hasPrefix("--") { return previous }
            return "argument \(index)"
        }
        return nil
    }

    /// The one rule for an actor name, from a flag or an import line: nil when it is acceptable.
    static func actorProblem(_ actor: String) -> String? {
        actor.isEmpty || actor.count > 200 || actor.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            ? "must be 1 to 200 characters without control characters" : nil
    }

    /// The one rule for a reason (line breaks allowed), from a flag or an import line.
    static func reasonProblem(_ reason: String) -> String? {
        reason.count > 2000 || reason.unicodeScalars.contains(where: { $0.value < 0x20 && $0 != "\n" })
            ? "must be at most 2000 characters without control characters" : nil
    }

    var resolvedActor: String {
        if let actor { return actor }
        let env = ProcessInfo.processInfo.environment
        return env["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? env["LOGNAME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSUserName()
    }
}

/// Output format for reports and listings.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table, json, csv, html
}

enum Time {
    /// Parses `YYYY-MM-DD` (midnight UTC) or a UTC timestamp `YYYY-MM-DDTHH:MM[:SS[.ffffff]]Z`;
    /// impossible calendar values (2025-02-30, 24:00) are refused rather than rolled over.
    static func parse(_ text: String) -> Date? {
        var body = text
        if body.count == 10 {
            body += "T00:00:00Z"
        }
        guard body.hasSuffix("Z"), body.count >= 17, body.count <= 27 else { return nil }
        body.removeLast()
        let chars = Array(body)
        guard chars.count >= 16, chars[4] == "-", chars[7] == "-", chars[10] == "T", chars[13] == ":" else { return nil }
        // PostgreSQL has no year 0 (1 BC): refuse it here rather than as an out-of-range server error.
        guard body.prefix(4) != "0000" else { return nil }
        if chars.count == 16 { body += ":00" }
        guard let date = PostgresTimestamp.parse(body.replacingOccurrences(of: "T", with: " ") + "+00") else { return nil }
        // A round trip must give back the same fields.
        return PostgresTimestamp.format(date).hasPrefix(String(body.prefix(19))) ? date : nil
    }

    static func iso(_ date: Date) -> String {
        let text = PostgresTimestamp.format(date)
        return text.hasSuffix(".000000Z") ? String(text.dropLast(8)) + "Z" : text
    }
}

/// A user-facing failure: one line on stderr, exit status 1.
struct Failure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Runs a command body, printing failures as one clear line on stderr with exit status 1.
func guarded(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as ExitCode {
        throw error
    } catch let error as ValidationError {
        throw error
    } catch let error as CleanExit {
        throw error
    } catch {
        printError("error: \(oneLine(error))")
        throw ExitCode.failure
    }
}

func oneLine(_ error: any Error) -> String {
    String(describing: error).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ")
}

func printError(_ text: String) {
    writeStandardError(Secrets.redact(text) + "\n")
}

/// Writes to descriptor 2, ignoring failure: a closed pipe (the command server's client gone) must not
/// stop the process, as `FileHandle.write` would.
func writeStandardError(_ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        if written < 0, errno == EINTR { continue }
        guard written > 0 else { return }
        bytes = bytes.dropFirst(written)
    }
}

/// The passwords this process was given, kept out of everything it prints. `PostgresConnection` already
/// cuts its own connection string's password out of its errors (`ConnectionSecrets`); this also covers
/// whole connection strings, `PGPASSWORD`, and messages from anywhere else.
enum Secrets {
    /// The connection strings this process was given: `--database` (either form) and `DATABASE_URL`.
    static var connectionStrings: [String] {
        var found: [String] = []
        let arguments = Invocation.arguments
        for (index, argument) in arguments.enumerated() {
            if argument == "--database", index + 1 < arguments.count { found.append(arguments[index + 1]) }
            if argument.hasPrefix("--database=") { found.append(String(argument.dropFirst("--database=".count))) }
        }
        if let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty { found.append(url) }
        return found
    }

    /// `text` with every connection string that holds a password, and every such password, replaced by `***`.
    static func redact(_ text: String) -> String {
        var out = text
        var secrets = connectionStrings.filter { !ConnectionSecrets.passwords(in: $0).isEmpty }
        secrets += connectionStrings.flatMap(ConnectionSecrets.passwords(in:))
        if let password = ProcessInfo.processInfo.environment["PGPASSWORD"], !password.isEmpty { secrets.append(password) }
        // Longest first, so a password inside a whole connection string goes with it.
        for secret in Set(secrets).sorted(by: { $0.count > $1.count }) where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: "***")
        }
        return out
    }
}
