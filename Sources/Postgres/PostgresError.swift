/// An error reported by libpq or by the PostgreSQL server.
///
/// The description is a sentence a user can act on: what failed, the server's message,
/// SQLSTATE, detail, hint and the statement. Bound parameter values never appear in
/// `description`; they are only in `debugDescription`, because they may hold secrets.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    private enum Code: Sendable, Equatable {
        case connectionFailed
        case server
        case connectionLost
        case protocolError
    }

    private let code: Code
    /// Five-character SQLSTATE, when the server sent one.
    public let sqlState: String?
    /// The primary message.
    public let message: String
    public let detail: String?
    public let hint: String?
    /// The statement that failed, if any.
    public let statement: String?
    let parameters: [String?]

    /// True when the connection could not be established.
    public var isConnectionFailure: Bool { code == .connectionFailed || code == .connectionLost || sqlState?.hasPrefix("08") == true || sqlState == "57P01" || sqlState == "57P03" }

    /// True for a serialization failure or deadlock: the transaction may be retried.
    public var isTransient: Bool { sqlState == "40001" || sqlState == "40P01" }

    static func connectionFailed(target: String, message: String) -> PostgresError {
        PostgresError(code: .connectionFailed, sqlState: nil, message: "could not connect to \(target): \(message)",
                      detail: nil, hint: "Start the server or point muster at another one with --database, DATABASE_URL or the PG* environment variables.",
                      statement: nil, parameters: [])
    }

    static func connectionLost(_ message: String, statement: String?) -> PostgresError {
        PostgresError(code: .connectionLost, sqlState: nil, message: message, detail: nil, hint: nil, statement: statement, parameters: [])
    }

    /// What a statement gets once its connection was interrupted: the server's own SQLSTATE for a cancel.
    static func interrupted(statement: String?) -> PostgresError {
        PostgresError(code: .server, sqlState: "57014", message: "interrupted: the command was stopped before this statement",
                      detail: nil, hint: nil, statement: statement, parameters: [])
    }

    static func protocolError(_ message: String, statement: String? = nil) -> PostgresError {
        PostgresError(code: .protocolError, sqlState: nil, message: message, detail: nil, hint: nil, statement: statement, parameters: [])
    }

    public static func server(sqlState: String?, message: String, detail: String?, hint: String?, statement: String?, parameters: [String?]) -> PostgresError {
        PostgresError(code: .server, sqlState: sqlState, message: message, detail: detail, hint: hint, statement: statement, parameters: parameters)
    }

    public var description: String {
        var text = message
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        if let detail, !detail.isEmpty { text += "; detail: \(detail)" }
        if let hint, !hint.isEmpty { text += "; hint: \(hint)" }
        if let statement { text += "; statement: \(statement.trimmingWhitespace)" }
        return text
    }

    public var debugDescription: String {
        parameters.isEmpty ? description : description + "; parameters: \(parameters.map { $0 ?? "NULL" })"
    }
}

extension String {
    var trimmingWhitespace: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
