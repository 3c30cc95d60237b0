public import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private PostgreSQL cluster that Muster initialises and starts itself: the embedded default
/// when no connection is configured. It listens only on a Unix socket inside its own directory,
/// with fsync on (this is where a newcomer's real data lives).
///
/// When the current user is root, the server runs as the `postgres` user (initdb refuses root).
public struct LocalCluster: Sendable {
    /// `<data home>/muster`: holds `pgdata/`, the socket directory `run/` and `server.log`.
    public let directory: URL
    public let databaseName = "muster"

    public init(directory: URL) {
        self.directory = directory
    }

    /// `$XDG_DATA_HOME/muster`, or `~/.local/share/muster`.
    public static func defaultDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> URL {
        if let xdg = environment["XDG_DATA_HOME"], xdg.hasPrefix("/") {
            return URL(fileURLWithPath: xdg).appendingPathComponent("muster")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return URL(fileURLWithPath: home).appendingPathComponent(".local/share/muster")
    }

    public var dataDirectory: URL { directory.appendingPathComponent("pgdata") }
    public var socketDirectory: URL { directory.appendingPathComponent("run") }
    public var logFile: URL { directory.appendingPathComponent("server.log") }

    static var isRoot: Bool { geteuid() == 0 }

    /// The database superuser: `postgres` when run as root, else the current OS user.
    public var superuser: String {
        Self.isRoot ? "postgres" : (ProcessInfo.processInfo.environment["USER"].flatMap { $0.isEmpty ? nil : $0 } ?? NSUserName())
    }

    /// libpq conninfo for the cluster's `muster` database.
    public var conninfo: String { conninfo(database: databaseName) }

    public func conninfo(database: String) -> String {
        "host='\(socketDirectory.path)' port=5432 dbname=\(database) user=\(superuser)"
    }

    public enum State: Sendable, Equatable {
        case notInitialised
        case stopped
        case running(pid: Int32)
    }

    /// Whether the cluster exists and whether its server is running.
    public func state() -> State {
        let fm = FileManager.default
        guard fm.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path) else { return .notInitialised }
        let pidFile = dataDirectory.appendingPathComponent("postmaster.pid")
        guard let text = try? String(contentsOf: pidFile, encoding: .utf8),
              let pid = Int32(text.split(separator: "\n").first ?? "") else { return .stopped }
        // kill(pid, 0) asks whether the process exists without signalling it.
        if kill(pid, 0) == 0 || errno == EPERM {
            return fm.fileExists(atPath: socketDirectory.appendingPathComponent(".s.PGSQL.5432").path) ? .running(pid: pid) : .stopped
        }
        return .stopped
    }

    /// Initialises the cluster when needed, starts the server when it is not running, and creates
    /// the `muster` database. Safe to call from several processes at once.
    ///
    /// - Returns: true when this call started the server.
    @discardableResult
    public func start() throws(LocalClusterError) -> Bool {
        try createDirectories()
        let lock = try FileLock(directory.appendingPathComponent(".lock"))
        defer { lock.unlock() }
        let bin = try Self.binDirectory()
        var started = false
        if state() == .notInitialised {
            try initialise(bin)
        }
        if case .running = state() {} else {
            try run(bin.appendingPathComponent("pg_ctl"), ["-D", dataDirectory.path, "-l", logFile.path, "-w", "-t", "60",
                                                             "-o", Self.serverOptions, "start"],
                    what: "start the PostgreSQL server")
            started = true
        }
        try createDatabase()
        return started
    }

    /// Stops the server (fast shutdown). Does nothing when it is not running.
    public func stop() throws(LocalClusterError) {
        guard case .running = state() else { return }
        let bin = try Self.binDirectory()
        try run(bin.appendingPathComponent("pg_ctl"), ["-D", dataDirectory.path, "-m", "fast", "-w", "stop"], what: "stop the PostgreSQL server")
    }

    private func createDirectories() throws(LocalClusterError) {
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
            try fm.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        } catch {
            throw LocalClusterError("cannot create \(directory.path): \(error.localizedDescription)")
        }
        if Self.isRoot {
            // The server runs as 'postgres': it must reach its directories through every ancestor.
            var dir = directory
            while dir.path != "/" {
                var st = stat()
                if stat(dir.path, &st) == 0, st.st_mode & S_IXOTH == 0 {
                    _ = chmod(dir.path, st.st_mode | S_IXOTH)
                }
                dir = dir.deletingLastPathComponent()
            }
            try run(URL(fileURLWithPath: "/bin/chown"), ["postgres:", directory.path, socketDirectory.path], what: "hand the cluster directory to the postgres user", asOwner: false)
        }
        _ = chmod(socketDirectory.path, 0o700)
    }

    private func initialise(_ bin: URL) throws(LocalClusterError) {
        try? FileManager.default.removeItem(at: dataDirectory)
        try run(bin.appendingPathComponent("initdb"),
                ["-D", dataDirectory.path, "-U", superuser, "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
                what: "initialise a PostgreSQL cluster")
        // Only the private socket; fsync stays on (the default).
        let settings = """

            # Added by muster: a private cluster reachable only through its own socket directory.
            listen_addresses = ''
            unix_socket_directories = '\(socketDirectory.path)'
            unix_socket_permissions = 0700
            port = 5432
            """
        do {
            let conf = dataDirectory.appendingPathComponent("postgresql.conf")
            let handle = try FileHandle(forWritingTo: conf)
            handle.seekToEndOfFile()
            handle.write(Data(settings.utf8))
            try handle.close()
        } catch {
            throw LocalClusterError("cannot configure \(dataDirectory.path)/postgresql.conf: \(error.localizedDescription)")
        }
    }

    private func createDatabase() throws(LocalClusterError) {
        do {
            let admin = try PostgresConnection(conninfo: conninfo(database: "postgres"))
            if try admin.query("SELECT 1 FROM pg_database WHERE datname = \(databaseName)").isEmpty {
                do {
                    try admin.execute("CREATE DATABASE \(databaseName)")
                } catch where error.sqlState == "42P04" {
                    // created concurrently
                }
            }
        } catch {
            throw LocalClusterError("cannot create the muster database in \(directory.path): \(error)")
        }
    }

    /// Options for every start, so clusters initialised by an earlier version get them too. Muster's
    /// server-side functions are PL/pgSQL: preloaded, each new backend (one per command) skips loading the
    /// library, about 1 ms of a command's first append.
    static let serverOptions = "-c shared_preload_libraries=plpgsql"

    /// The directory holding initdb and pg_ctl: `$MUSTER_PG_BINDIR`, else the newest /usr/lib/postgresql/N/bin.
    public static func binDirectory() throws(LocalClusterError) -> URL {
        let fm = FileManager.default
        if let env = ProcessInfo.processInfo.environment["MUSTER_PG_BINDIR"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).compactMap(Int.init).sorted(by: >)
        for v in versions {
            let bin = URL(fileURLWithPath: "\(root)/\(v)/bin")
            if fm.isExecutableFile(atPath: bin.appendingPathComponent("initdb").path) { return bin }
        }
        throw LocalClusterError("PostgreSQL server binaries (initdb, pg_ctl) were not found: install Debian's 'postgresql' package (apt-get install postgresql) or set MUSTER_PG_BINDIR, or point muster at an existing database with --database or DATABASE_URL")
    }

    private func run(_ tool: URL, _ arguments: [String], what: String, asOwner: Bool = true) throws(LocalClusterError) {
        let argv: [String]
        if asOwner && Self.isRoot {
            argv = ["/sbin/runuser", "-u", "postgres", "--", tool.path] + arguments
        } else {
            argv = [tool.path] + arguments
        }
        // Output goes to a file, not a pipe: the server that pg_ctl forks must not hold our pipe open.
        // posix_spawn + waitpid rather than Foundation.Process, whose exit detection waits for every
        // inherited descriptor to close, which a daemonised server never does.
        let output = directory.appendingPathComponent("last-command.log")
        let status: Int32
        do {
            status = try spawnAndWait(argv, output: output.path)
        } catch {
            throw LocalClusterError("cannot \(what): \(argv[0]) could not be run (\(error.description))")
        }
        guard status == 0 else {
            let log = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
            let serverLog = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            let tail = (log + "\n" + serverLog.split(separator: "\n").suffix(5).joined(separator: "\n"))
                .trimmingCharacters(in: .whitespacesAndNewlines)
            throw LocalClusterError("cannot \(what) in \(directory.path) (exit status \(status)): \(tail)")
        }
    }
}

/// Runs a program with stdin from /dev/null and stdout+stderr appended to `output`; returns its exit status.
func spawnAndWait(_ argv: [String], output: String) throws(LocalClusterError) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Descriptors this process inherited (a caller's pipes) must not reach a daemonised server,
    // or whoever reads those pipes would wait for the server to exit.
    if let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
        for fd in fds.compactMap(Int32.init) where fd > 2 {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
    }
    var pid: pid_t = 0
    let cArgs = argv.map { strdup($0) } + [nil]
    defer { cArgs.forEach { free($0) } }
    let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
    guard rc == 0 else { throw LocalClusterError(String(cString: strerror(rc))) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw LocalClusterError("waitpid failed: \(String(cString: strerror(errno)))") }
    }
    // WIFEXITED / WEXITSTATUS by hand: the macros are not imported.
    if status & 0x7f == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
}

/// The embedded cluster could not be set up or controlled.
public struct LocalClusterError: Error, Sendable, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// An exclusive advisory file lock (flock), held until `unlock`.
struct FileLock {
    let fd: Int32

    init(_ url: URL) throws(LocalClusterError) {
        fd = open(url.path, O_CREAT | O_RDWR, 0o600)
        guard fd >= 0 else { throw LocalClusterError("cannot open lock file \(url.path)") }
        guard flock(fd, LOCK_EX) == 0 else {
            close(fd)
            throw LocalClusterError("cannot lock \(url.path)")
        }
    }

    func unlock() {
        _ = flock(fd, LOCK_UN)
        close(fd)
    }
}
