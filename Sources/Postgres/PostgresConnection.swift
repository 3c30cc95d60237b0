internal import CLibPQ
import Foundation
import Synchronization

/// One connection to PostgreSQL through libpq.
///
/// The class owns the `PGconn*` and closes it in `deinit`. It is deliberately not `Sendable`:
/// a connection serves one thread at a time. Calls block; run them off the shared concurrency pool.
public final class PostgresConnection {
    private var conn: OpaquePointer?
    /// Statements prepared on this connection by `query(_:reusing:)`: name → SQL; and names used once.
    private var prepared: [String: String] = [:]
    private var usedOnce: Set<String> = []
    /// A password-free description of where this connection goes, e.g. `database "muster" on /tmp/x:5432 as postgres`.
    public let target: String
    /// Set from another thread by a `PostgresInterrupter`: every statement after it fails as a cancelled one.
    private let interruption = Interruption()

    /// Opens a connection.
    ///
    /// - Parameter conninfo: a libpq keyword/value string or a `postgresql://` URL. When nil or empty,
    ///   libpq reads its own environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD, PGSERVICE, .pgpass).
    /// - Throws: `PostgresError` naming the target (never the password) when the connection fails.
    public init(conninfo: String? = nil, applicationName: String = "muster") throws(PostgresError) {
        let info = conninfo ?? ""
        let options = Self.startupOptions(conninfo: info)
        var c = Self.connect(info, applicationName: applicationName, options: options)
        var settingsSent = options != nil
        // A pooler that accepts only some startup parameters (PgBouncer) refuses the connection: connect again
        // without them and set them with SET, as when the settings are not in the startup packet.
        if settingsSent, let refused = c, PQstatus(refused) != CONNECTION_OK,
            String(cString: PQerrorMessage(refused)).contains("unsupported startup parameter") {
            PQfinish(refused)
            c = Self.connect(info, applicationName: applicationName, options: nil)
            settingsSent = false
        }
        self.conn = c
        // A malformed string can put part of the password where the host or port go: never say it.
        self.target = ConnectionSecrets.redact(Self.describe(c), conninfo: info)
        guard let c, PQstatus(c) == CONNECTION_OK else {
            let message = c.map { String(cString: PQerrorMessage($0)).trimmingWhitespace } ?? "out of memory"
            throw .connectionFailed(target: target, message: ConnectionSecrets.redact(message, conninfo: info))
        }
        // The server reports these settings as a session starts: a pooler may have dropped the startup options.
        let applied = settingsSent && Self.sessionSettings.allSatisfy { setting in
            setting.reported.map { PQparameterStatus(c, setting.name).map { String(cString: $0) } == $0 } ?? true
        }
        if !applied {
            _ = PQsetClientEncoding(c, "UTF8")
            let sql = Self.sessionSettings.filter { $0.name != "client_encoding" }.map { "SET \($0.name) = '\($0.value)'" }
            PQclear(PQexec(c, sql.joined(separator: "; ")))
        }
    }

    /// The session settings this layer's text parsers rely on: UTF-8, ISO dates in UTC.
    ///
    /// They travel in the startup packet (libpq's `client_encoding` and `options` keywords), which costs
    /// no round trip. `reported` is the value the server reports when it applied the setting (nil: not reported).
    private static let sessionSettings: [(name: String, value: String, reported: String?)] = [
        ("client_encoding", "UTF8", "UTF8"),
        ("DateStyle", "ISO, YMD", "ISO, YMD"),
        ("TimeZone", "UTC", "UTC"),
        ("IntervalStyle", "iso_8601", "iso_8601"),
        ("client_min_messages", "warning", nil),
    ]

    private static func connect(_ info: String, applicationName: String, options: String?) -> OpaquePointer? {
        // Expand the dbname so that URLs and keyword strings both work, and set the application name
        // without overriding one the user gave. Keywords after dbname override the connection string's.
        var keywords = ["dbname", "fallback_application_name"]
        var values = [info, applicationName]
        if let options {
            keywords += ["client_encoding", "options"]
            values += ["UTF8", options]
        }
        return withCStrings(keywords) { kw in
            withCStrings(values) { vals in
                PQconnectdbParams(kw, vals, 1)
            }
        }
    }

    /// The `options` startup parameter: the user's own (from the connection string, else `PGOPTIONS`)
    /// followed by the session settings, so that ours win, as the SET statements they replace did.
    ///
    /// - Returns: nil when a service file may supply options, which libpq reads only while connecting:
    ///   then the settings are set with SET after connecting, leaving the user's options untouched.
    static func startupOptions(conninfo: String) -> String? {
        var given: String?
        var service = getenv("PGSERVICE").map { String(cString: $0) }
        // libpq's rule for a connection string rather than a bare database name.
        if conninfo.hasPrefix("postgresql://") || conninfo.hasPrefix("postgres://") || conninfo.contains("=") {
            // A malformed string: libpq reports it when connecting.
            guard let parsed = PQconninfoParse(conninfo, nil) else { return nil }
            defer { PQconninfoFree(parsed) }
            var option = parsed
            while let keyword = option.pointee.keyword {
                let value = option.pointee.val.map { String(cString: $0) }
                switch String(cString: keyword) {
                case "options": given = value
                case "service": if value?.isEmpty == false { service = value }
                default: break
                }
                option += 1
            }
        }
        if given?.isEmpty ?? true {
            if let service, !service.isEmpty { return nil }
            given = getenv("PGOPTIONS").map { String(cString: $0) }
        }
        // Spaces separate options; a backslash escapes one inside a value.
        let ours = sessionSettings.filter { $0.name != "client_encoding" }.map {
            "-c \($0.name)=" + $0.value.split(separator: " ", omittingEmptySubsequences: false).joined(separator: "\\ ")
        }
        return ([given ?? ""].filter { !$0.isEmpty } + ours).joined(separator: " ")
    }

    deinit {
        if let conn { PQfinish(conn) }
    }

    private static func describe(_ c: OpaquePointer?) -> String {
        guard let c else { return "PostgreSQL" }
        func field(_ f: (OpaquePointer?) -> UnsafeMutablePointer<CChar>?) -> String? {
            f(c).map { String(cString: $0) }.flatMap { $0.isEmpty ? nil : $0 }
        }
        let db = field(PQdb) ?? "?"
        let host = field(PQhost) ?? "localhost"
        let port = field(PQport) ?? "5432"
        let user = field(PQuser) ?? "?"
        return "database \"\(db)\" on \(host):\(port) as \(user)"
    }

    /// Closes the connection now.
    public func close() {
        if let conn { PQfinish(conn) }
        conn = nil
    }

    /// The server's process id for this session.
    public var backendPID: Int32 { conn.map { PQbackendPID($0) } ?? 0 }

    /// The server version as an integer, e.g. 150018.
    public var serverVersion: Int { conn.map { Int(PQserverVersion($0)) } ?? 0 }

    /// True while the connection is usable.
    public var isOpen: Bool { conn.map { PQstatus($0) == CONNECTION_OK } ?? false }

    /// True when the connection is open, outside any transaction, and the server has sent nothing unasked:
    /// a session the server ended (shutdown, restart, `pg_terminate_backend`) sends its reason or closes the
    /// socket, which makes it readable. A connection kept for later use is checked with this first.
    public var isIdleAndQuiet: Bool {
        guard let conn, PQstatus(conn) == CONNECTION_OK, PQtransactionStatus(conn) == PQTRANS_IDLE else { return false }
        let socket = PQsocket(conn)
        guard socket >= 0 else { return false }
        var fds = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&fds, 1, 0) == 0
    }

    private func handle(_ statement: String?) throws(PostgresError) -> OpaquePointer {
        guard let conn else { throw .connectionLost("the connection is closed", statement: statement) }
        if interruption.isSet { throw .interrupted(statement: statement) }
        return conn
    }

    /// True once an interrupter of this connection was used.
    public var wasInterrupted: Bool { interruption.isSet }

    /// Something another thread can use to stop what this connection does. Make it on the thread that uses the
    /// connection, before handing it over.
    public func interrupter() -> PostgresInterrupter {
        PostgresInterrupter(cancel: conn.map { PQgetCancel($0) } ?? nil, interruption: interruption)
    }

    // MARK: Queries

    /// Runs one statement with bound parameters and returns its rows.
    @discardableResult
    public func query(_ query: PostgresQuery) throws(PostgresError) -> PostgresRows {
        let conn = try handle(query.sql)
        let result: OpaquePointer? = withOptionalCStrings(query.binds) { params in
            PQexecParams(conn, query.sql, Int32(params.count), nil, params, nil, nil, 0)
        }
        return try consume(result, statement: query.sql, parameters: query.binds)
    }

    /// Runs `query` as `query(_:)` does the first time, and from its second use on this connection as the
    /// named prepared statement `name`: the server then parses and plans it once per connection, not on
    /// every call. A connection that runs it once (a command-line process) pays no extra round trip. A
    /// name already prepared with other SQL, here or in the session before this object, runs unprepared.
    @discardableResult
    public func query(_ query: PostgresQuery, reusing name: String) throws(PostgresError) -> PostgresRows {
        let conn = try handle(query.sql)
        if prepared[name] == nil {
            guard usedOnce.contains(name) else {
                usedOnce.insert(name)
                return try self.query(query)
            }
            do {
                _ = try consume(PQprepare(conn, name, query.sql, Int32(query.binds.count), nil), statement: query.sql, parameters: [])
                prepared[name] = query.sql
            } catch where error.sqlState == "42P05" {
                // The session has a statement of that name already (a pooler's server connection kept from
                // an earlier client, or the caller's own PREPARE): it may be other SQL, so never use it.
                prepared[name] = ""
            }
        }
        guard prepared[name] == query.sql else { return try self.query(query) }
        let result: OpaquePointer? = withOptionalCStrings(query.binds) { params in
            PQexecPrepared(conn, name, Int32(params.count), params, nil, nil, 0)
        }
        return try consume(result, statement: query.sql, parameters: query.binds)
    }

    /// Runs one or more statements without parameters (DDL, migrations, transaction control).
    public func execute(_ sql: String) throws(PostgresError) {
        let conn = try handle(sql)
        let result = PQexec(conn, sql)
        _ = try consume(result, statement: sql, parameters: [])
    }

    /// Runs one or more statements without parameters in one message (the simple query protocol) and
    /// returns the rows of the last. The first statement that fails stops the rest and is thrown; inside
    /// a transaction block opened by the text, the block is then left failed (`inTransaction` stays
    /// true) until the caller rolls it back.
    @discardableResult
    public func simpleQuery(_ sql: String) throws(PostgresError) -> PostgresRows {
        let conn = try handle(sql)
        return try consume(PQexec(conn, sql), statement: sql, parameters: [])
    }

    /// True when the session is inside a transaction block, failed or not.
    public var inTransaction: Bool {
        guard let conn else { return false }
        let status = PQtransactionStatus(conn)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    private func consume(_ result: OpaquePointer?, statement: String, parameters: [String?]) throws(PostgresError) -> PostgresRows {
        defer { PQclear(result) }
        guard let result else {
            throw .connectionLost(lastErrorMessage ?? "the server did not answer", statement: statement)
        }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return Self.rows(result)
        case PGRES_COPY_IN, PGRES_COPY_OUT:
            throw .protocolError("COPY must go through copyIn/copyOut", statement: statement)
        default:
            throw error(from: result, statement: statement, parameters: parameters)
        }
    }

    private var lastErrorMessage: String? {
        conn.map { String(cString: PQerrorMessage($0)).trimmingWhitespace }.flatMap { $0.isEmpty ? nil : $0 }
    }

    private func error(from result: OpaquePointer, statement: String?, parameters: [String?]) -> PostgresError {
        func field(_ code: Int32) -> String? {
            PQresultErrorField(result, code).map { String(cString: $0) }
        }
        let sqlState = field(CLibPQ_DIAG_SQLSTATE)
        let message = field(CLibPQ_DIAG_MESSAGE_PRIMARY) ?? String(cString: PQresultErrorMessage(result)).trimmingWhitespace
        if sqlState == nil, let conn, PQstatus(conn) != CONNECTION_OK {
            return .connectionLost("the connection to \(target) was lost: \(message)", statement: statement)
        }
        return .server(sqlState: sqlState, message: message, detail: field(CLibPQ_DIAG_MESSAGE_DETAIL),
                       hint: field(CLibPQ_DIAG_MESSAGE_HINT), statement: statement, parameters: parameters)
    }

    private static func rows(_ result: OpaquePointer) -> PostgresRows {
        let nFields = Int(PQnfields(result))
        let nRows = Int(PQntuples(result))
        var columns: [String] = []
        columns.reserveCapacity(nFields)
        for f in 0..<nFields { columns.append(String(cString: PQfname(result, Int32(f)))) }
        var values: [[String?]] = []
        values.reserveCapacity(nRows)
        for r in 0..<nRows {
            var row: [String?] = []
            row.reserveCapacity(nFields)
            for f in 0..<nFields {
                if PQgetisnull(result, Int32(r), Int32(f)) == 1 {
                    row.append(nil)
                } else {
                    let length = Int(PQgetlength(result, Int32(r), Int32(f)))
                    let pointer = UnsafeRawPointer(PQgetvalue(result, Int32(r), Int32(f))!)
                    row.append(String(decoding: UnsafeRawBufferPointer(start: pointer, count: length), as: UTF8.self))
                }
            }
            values.append(row)
        }
        let tuples = String(cString: PQcmdTuples(result))
        return PostgresRows(columns: columns, values: values, affectedRows: Int(tuples) ?? nRows)
    }

    // MARK: Transactions

    /// Runs `body` inside BEGIN … COMMIT; any error rolls back and is rethrown.
    @discardableResult
    public func transaction<T>(isolation: IsolationLevel = .readCommitted, _ body: () throws -> T) throws -> T {
        try execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            if isOpen { try? execute("ROLLBACK") }
            throw error
        }
    }

    public enum IsolationLevel: String, Sendable {
        case readCommitted = "READ COMMITTED"
        case repeatableRead = "REPEATABLE READ"
        case serializable = "SERIALIZABLE"
    }

    // MARK: COPY

    /// Streams rows into `COPY … FROM STDIN` (text format). Each element is one line without its newline;
    /// use `PostgresCopy.escape` for field values.
    ///
    /// - Returns: the number of rows the server copied.
    @discardableResult
    public func copyIn(_ sql: String, lines: some Sequence<String>) throws(PostgresError) -> Int {
        let conn = try handle(sql)
        let start = PQexec(conn, sql)
        guard let start, PQresultStatus(start) == PGRES_COPY_IN else {
            if let start { let e = error(from: start, statement: sql, parameters: []); PQclear(start); throw e }
            throw .connectionLost(lastErrorMessage ?? "COPY could not start", statement: sql)
        }
        PQclear(start)
        var buffer = [UInt8]()
        buffer.reserveCapacity(1 << 16)
        func flush() -> Bool {
            defer { buffer.removeAll(keepingCapacity: true) }
            return buffer.withUnsafeBufferPointer { b in
                b.baseAddress!.withMemoryRebound(to: CChar.self, capacity: b.count) { PQputCopyData(conn, $0, Int32(b.count)) } == 1
            }
        }
        var failed = false
        for line in lines {
            buffer.append(contentsOf: line.utf8)
            buffer.append(10)
            if buffer.count >= 1 << 16, !flush() { failed = true; break }
        }
        if !failed, !buffer.isEmpty, !flush() { failed = true }
        _ = PQputCopyEnd(conn, failed ? "client failed to send data" : nil)
        var count = 0
        var firstError: PostgresError?
        while let r = PQgetResult(conn) {
            if PQresultStatus(r) == PGRES_COMMAND_OK {
                count = Int(String(cString: PQcmdTuples(r))) ?? 0
            } else if firstError == nil {
                firstError = error(from: r, statement: sql, parameters: [])
            }
            PQclear(r)
        }
        if let firstError { throw firstError }
        return count
    }

    /// Runs `COPY … TO STDOUT` and hands each data chunk (one row in text format) to `body`.
    ///
    /// - Returns: the number of bytes received.
    @discardableResult
    public func copyOut(_ sql: String, _ body: (UnsafeRawBufferPointer) -> Void) throws(PostgresError) -> Int {
        let conn = try handle(sql)
        let start = PQexec(conn, sql)
        guard let start, PQresultStatus(start) == PGRES_COPY_OUT else {
            if let start { let e = error(from: start, statement: sql, parameters: []); PQclear(start); throw e }
            throw .connectionLost(lastErrorMessage ?? "COPY could not start", statement: sql)
        }
        PQclear(start)
        var total = 0
        while true {
            var buffer: UnsafeMutablePointer<CChar>?
            let n = PQgetCopyData(conn, &buffer, 0)
            if n > 0, let buffer {
                body(UnsafeRawBufferPointer(start: buffer, count: Int(n)))
                total += Int(n)
                PQfreemem(buffer)
            } else {
                break
            }
        }
        var firstError: PostgresError?
        while let r = PQgetResult(conn) {
            if PQresultStatus(r) != PGRES_COMMAND_OK, firstError == nil {
                firstError = error(from: r, statement: sql, parameters: [])
            }
            PQclear(r)
        }
        if let firstError { throw firstError }
        return total
    }

    // MARK: LISTEN / NOTIFY

    /// A notification delivered by the server.
    public struct Notification: Sendable, Equatable {
        public let channel: String
        public let payload: String
        public let senderPID: Int32
    }

    /// Quotes an identifier chosen by code (channel names, role names).
    public func quoteIdentifier(_ name: String) throws(PostgresError) -> String {
        let conn = try handle(nil)
        guard let p = PQescapeIdentifier(conn, name, name.utf8.count) else {
            throw .protocolError("could not quote identifier \(name)")
        }
        defer { PQfreemem(p) }
        return String(cString: p)
    }

    public func listen(_ channel: String) throws(PostgresError) {
        try execute("LISTEN \(try quoteIdentifier(channel))")
    }

    public func unlisten(_ channel: String) throws(PostgresError) {
        try execute("UNLISTEN \(try quoteIdentifier(channel))")
    }

    public func notify(_ channel: String, payload: String = "") throws(PostgresError) {
        try query("SELECT pg_notify(\(channel), \(payload))", reusing: "muster_notify")
    }

    /// Waits up to `timeout` seconds for notifications and returns those that arrived (possibly none).
    public func waitForNotifications(timeout: Double) throws(PostgresError) -> [Notification] {
        let conn = try handle(nil)
        var out = drainNotifications(conn)
        if !out.isEmpty { return out }
        let socket = PQsocket(conn)
        guard socket >= 0 else { throw .connectionLost("the connection to \(target) has no socket", statement: nil) }
        var fds = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ms = Int32(max(0, min(timeout, 86_400)) * 1000)
        let ready = poll(&fds, 1, ms)
        if ready > 0 {
            guard PQconsumeInput(conn) == 1 else {
                throw .connectionLost("the connection to \(target) was lost: \(lastErrorMessage ?? "")", statement: nil)
            }
            out = drainNotifications(conn)
        }
        return out
    }

    private func drainNotifications(_ conn: OpaquePointer) -> [Notification] {
        _ = PQconsumeInput(conn)
        var out: [Notification] = []
        while let n = PQnotifies(conn) {
            out.append(Notification(channel: String(cString: n.pointee.relname),
                                    payload: String(cString: n.pointee.extra),
                                    senderPID: n.pointee.be_pid))
            PQfreemem(n)
        }
        return out
    }
}

@available(*, unavailable)
extension PostgresConnection: Sendable {}

/// Helpers for COPY's text format.
public enum PostgresCopy {
    /// Escapes one field for COPY text format; nil becomes `\N`.
    public static func escape(_ value: String?) -> String {
        guard let value else { return "\\N" }
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for ch in value.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }
}

private func withCStrings<R>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    return body(pointers.map { UnsafePointer($0) } + [nil])
}

private func withOptionalCStrings<R>(_ strings: [String?], _ body: ([UnsafePointer<CChar>?]) -> R) -> R {
    let pointers = strings.map { $0.flatMap { strdup($0) } }
    defer { pointers.forEach { free($0) } }
    return body(pointers.map { UnsafePointer($0) })
}

/// Stops what a connection does, from another thread: it asks the server to cancel the running statement
/// (`PQcancel`, which libpq makes safe to call from any thread), and makes every later statement on the
/// connection fail at once as a cancelled one does, so work caught between two statements stops at the next.
public final class PostgresInterrupter: @unchecked Sendable {
    // @unchecked: `cancel` is written once, in init; PQcancel is thread-safe; `interruption` is atomic.
    private let cancel: OpaquePointer?
    private let interruption: Interruption

    fileprivate init(cancel: OpaquePointer?, interruption: Interruption) {
        self.cancel = cancel
        self.interruption = interruption
    }

    deinit {
        if let cancel { PQfreeCancel(cancel) }
    }

    public func interrupt() {
        interruption.set()
        guard let cancel else { return }
        var message = [CChar](repeating: 0, count: 256)
        _ = PQcancel(cancel, &message, Int32(message.count))
    }
}

fileprivate final class Interruption: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .acquiring) }
    func set() { flag.store(true, ordering: .releasing) }
}
