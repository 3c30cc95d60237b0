import Foundation
import Postgres
import TestSupport
import Testing

/// `muster server`: planner commands handed to a long-lived muster behave as they do on their own.
@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct CommandServerTests {
    /// A data directory of its own (short, for the socket's path), so the test's server is the test's alone.
    struct Home {
        let url = URL(fileURLWithPath: "/tmp/muster-srv-\(UUID().uuidString.prefix(8))")
        var environment: [String: String?] { ["XDG_DATA_HOME": url.path, "MUSTER_SERVER": nil] }

        init() throws {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        }

        func run(_ arguments: [String], _ extra: [String: String?] = [:], stdin: Data? = nil) throws -> Muster.Result {
            try Muster.run(arguments, environment: environment.merging(extra) { $1 }, stdin: stdin)
        }

        /// Commands the server has run, from `muster server status`; nil when it is not running.
        func served() throws -> Int? {
            Muster.served(try run(["server", "status"]).stdout)
        }

        func pid() throws -> Int32? {
            let status = try run(["server", "status"]).stdout
            guard let range = status.range(of: #"pid (\d+)"#, options: .regularExpression) else { return nil }
            return Int32(status[range].dropFirst(4))
        }

        /// Starts the server and has it run one command on `database`, whose connection it then keeps.
        func startServingOneCommand(on database: TestDatabase) throws {
            #expect(try run(["server", "start"]).status == 0)
            #expect(try run(["nation", "register", "--nation", "SWE", "--name", "Sweden", "--database", database.conninfo]).status == 0)
        }

        func tearDown() {
            _ = try? run(["server", "stop"])
            try? FileManager.default.removeItem(at: url)
        }
    }

    @Test func commandsHandedToTheServerActAsTheyDoAlone() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        let db = ["--database", database.conninfo]

        #expect(try home.run(["server", "status"]).stdout.contains("not running"))
        let start = try home.run(["server", "start"])
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.contains("command server running (pid"), "\(start.stdout)")
        #expect(try home.served() == 0)

        // An accepted command: written, reported, and counted by the server.
        let register = try home.run(["nation", "register", "--nation", "SWE", "--name", "Sweden"] + db)
        #expect(register.status == 0, "\(register.stderr)")
        #expect(register.stdout.contains("accepted: registerNation"), "\(register.stdout)")
        #expect(try home.served() == 1)
        #expect(try eventCount(database) == 1)

        // Refused commands give the same message and status with or without the server, and write nothing.
        let refusals: [[String]] = [
            ["nation", "register", "--nation", "SWE", "--name", "Sweden again"],
            ["unit", "readiness", "report", "--unit", "nope", "--as-of", "2025-01-01", "--personnel", "9",
             "--supplies", "1", "--equipment", "1", "--training", "1"],
            ["nation", "register", "--nation", "NOR"],
            ["nation", "frobnicate"],
        ]
        for arguments in refusals {
            let served = try home.run(arguments + db)
            let alone = try home.run(arguments + db, ["MUSTER_SERVER": "off"])
            #expect(served.status != 0, "\(arguments)")
            #expect(served.status == alone.status, "\(arguments)")
            #expect(served.stdout == alone.stdout, "\(arguments)")
            #expect(served.stderr == alone.stderr, "\(arguments)")
            #expect(!served.stderr.isEmpty, "\(arguments)")
        }
        #expect(try home.served() == 1 + refusals.count)
        #expect(try eventCount(database) == 1)

        // Arguments reach the server byte for byte: one that is not UTF-8 is refused as it is without the server.
        let invalid = ["/bin/sh", "-c", #""$MUSTER" nation register --nation NZL --name "$(printf 'x\377\376y')" --database \#(database.conninfo)"#]
        let notUTF8 = try Tool.run(invalid[0], Array(invalid.dropFirst()), environment: home.environment.merging(["MUSTER": Muster.binary]) { $1 })
        #expect(notUTF8.status != 0)
        #expect(notUTF8.stderr.contains("--name: the value is not valid UTF-8"), "\(notUTF8.stderr)")
        #expect(try home.served() == 2 + refusals.count)

        // The command runs in the client's working directory, even one that was deleted under it.
        let deleted = ["/bin/sh", "-c", #"mkdir "$HOME_DIR/gone" && cd "$HOME_DIR/gone" && rmdir "$HOME_DIR/gone" && "$MUSTER" nation register --nation NZL --name "New Zealand" --database \#(database.conninfo)"#]
        let inDeleted = try Tool.run(deleted[0], Array(deleted.dropFirst()),
                                     environment: home.environment.merging(["MUSTER": Muster.binary, "HOME_DIR": home.url.path]) { $1 })
        #expect(inDeleted.status == 0, "\(inDeleted.stderr)")
        #expect(try home.served() == 3 + refusals.count)

        // The client's environment, not the server's, decides the target: PGDATABASE names the database.
        let other = try TestDatabase()
        let viaEnvironment = try home.run(["nation", "register", "--nation", "DNK", "--name", "Denmark"], ["PGDATABASE": other.name])
        #expect(viaEnvironment.status == 0, "\(viaEnvironment.stderr)")
        #expect(try eventCount(other) == 1)
        #expect(try eventCount(database) == 2)

        // A kept connection the server ended is not used again: the next command opens a new one.
        let admin = try database.connect()
        let ended = try admin.query("""
            SELECT count(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
            """).first?.decode("n", as: Int.self) ?? 0
        admin.close()
        #expect(ended >= 1, "the server keeps its connection between commands")
        let afterRestart = try home.run(["nation", "register", "--nation", "ISL", "--name", "Iceland"] + db)
        #expect(afterRestart.status == 0, "\(afterRestart.stderr)")
        #expect(try eventCount(database) == 3)

        // Stopped, the server answers no more, and commands run on their own.
        let served = try home.served() ?? -1
        #expect(served == 5 + refusals.count)
        #expect(try home.run(["server", "stop"]).stdout.contains("command server stopped"))
        #expect(try home.run(["server", "status"]).stdout.contains("not running"))
        let alone = try home.run(["nation", "register", "--nation", "EST", "--name", "Estonia"] + db)
        #expect(alone.status == 0, "\(alone.stderr)")
        #expect(try eventCount(database) == 4)
    }

    @Test func commandsThatFindTheServerBusyRunOnTheirOwn() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        #expect(try home.run(["server", "start"]).status == 0)

        // Eight planners at once: the server runs one command at a time, the others run on their own.
        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var statuses: [Int32] = []
        }
        let outcomes = Outcomes()
        DispatchQueue.concurrentPerform(iterations: 8) { index in
            let status = (try? home.run(["nation", "register", "--nation", "N\(Character(UnicodeScalar(65 + index)!))X",
                                         "--name", "Nation \(index)", "--database", database.conninfo]).status) ?? -1
            outcomes.lock.lock()
            outcomes.statuses.append(status)
            outcomes.lock.unlock()
        }
        #expect(outcomes.statuses == Array(repeating: 0, count: 8))
        #expect(try eventCount(database) == 8)
        let served = try home.served() ?? -1
        #expect((1...8).contains(served), "the server ran \(served)")
    }

    @Test func aServerKilledMidCommandLeavesAClearOutcome() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        try home.startServingOneCommand(on: database)

        /// Starts a command that the server takes and that waits on a lock held here, then kills the server.
        func killedMidCommand(_ arguments: [String]) throws -> Muster.Result {
            let admin = try database.connect()
            try admin.simpleQuery("BEGIN; LOCK TABLE event_store.streams IN ACCESS EXCLUSIVE MODE")
            let pid = try home.pid()
            let client = try Background(Muster.binary, arguments + ["--database", database.conninfo], environment: home.environment)
            // The server's session waits on the lock: the command is in the server's hands.
            #expect(try eventually(timeout: 20) { try someoneWaitsOnALock(database) })
            kill(pid ?? 0, SIGKILL)
            try admin.simpleQuery("ROLLBACK")
            admin.close()
            return client.finish()
        }

        // With a command id, the command line runs the command again itself: applied exactly once.
        let id = UUID().uuidString.lowercased()
        let withID = try killedMidCommand(["nation", "register", "--nation", "NOR", "--name", "Norway", "--command-id", id])
        #expect(withID.status == 0, "\(withID.stderr)")
        #expect(withID.stderr.contains("the muster command server stopped while running this command; running it here with the same command id"), "\(withID.stderr)")
        #expect(withID.stdout.contains("accepted: registerNation") || withID.stdout.contains("already applied"), "\(withID.stdout)")
        #expect(try eventCount(database) == 2)

        // Without one, it says the outcome is unknown, and does not run it a second time.
        #expect(try home.run(["server", "start"]).status == 0)
        let withoutID = try killedMidCommand(["nation", "register", "--nation", "DNK", "--name", "Denmark"])
        #expect(withoutID.status == 1, "\(withoutID.stdout) \(withoutID.stderr)")
        #expect(withoutID.stderr.contains("may or may not have been applied"), "\(withoutID.stderr)")
        // Its session, left waiting on the lock, may still have run the append once the lock was released.
        #expect((2...3).contains(try eventCount(database)))
    }

    @Test func anInterruptedCommandLineStopsItsCommandInTheServer() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        try home.startServingOneCommand(on: database)
        let pid = try home.pid()

        /// Starts a command that the server takes and that waits on a lock held here, and ends its command line
        /// with `signal`; checks that the server's session stops waiting while the lock is still held, then
        /// releases it and returns the command line's outcome.
        func ended(by signal: Int32, nation: String) throws -> (Muster.Result, endedBy: Int32) {
            let admin = try database.connect()
            defer { admin.close() }
            try admin.simpleQuery("BEGIN; LOCK TABLE event_store.streams IN ACCESS EXCLUSIVE MODE")
            let client = try Spawned(Muster.binary, ["nation", "register", "--nation", nation, "--name", nation, "--database", database.conninfo],
                                     environment: home.environment)
            #expect(try eventually(timeout: 20) { try someoneWaitsOnALock(database) })
            kill(client.pid, signal)
            #expect(try eventually(timeout: 10) { try !someoneWaitsOnALock(database) }, "the server's session still waits")
            try admin.simpleQuery("ROLLBACK")
            return client.finish()
        }

        // Ctrl-C: the server stops the command, and the command line then dies of SIGINT, as on its own.
        let (interrupted, endedBy) = try ended(by: SIGINT, nation: "NOR")
        #expect(endedBy == SIGINT, "\(interrupted.status) \(interrupted.stderr)")
        #expect(interrupted.stderr.contains("canceling statement due to user request"), "\(interrupted.stderr)")
        // kill -9: the server sees its client's end and stops the command as well.
        _ = try ended(by: SIGKILL, nation: "DNK")
        // Neither was applied, though the lock is gone now.
        usleep(300_000)
        #expect(try eventCount(database) == 1)

        // The server lives on, and runs the next command on a connection that was not interrupted.
        #expect(try home.pid() == pid)
        let next = try home.run(["nation", "register", "--nation", "FIN", "--name", "Finland", "--database", database.conninfo])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try home.served() == 4)
        #expect(try eventCount(database) == 2)
    }

    @Test func aLongCommandPastTheIdleTimeHoldsNoOneElseUp() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase(), other = try TestDatabase()
        #expect(try home.run(["server", "start", "--idle-timeout", "1"]).status == 0)

        // A command that waits on a lock held here, in the server, past the server's idle time.
        let admin = try database.connect()
        try admin.simpleQuery("BEGIN; LOCK TABLE event_store.streams IN ACCESS EXCLUSIVE MODE")
        let long = try Background(Muster.binary, ["nation", "register", "--nation", "SWE", "--name", "Sweden", "--database", database.conninfo],
                                  environment: home.environment)
        #expect(try eventually(timeout: 20) { try someoneWaitsOnALock(database) })
        usleep(1_500_000)

        // Another planner is answered at once (it runs on its own), while the first still waits.
        let other1 = try Background(Muster.binary, ["nation", "register", "--nation", "NOR", "--name", "Norway", "--database", other.conninfo],
                                    environment: home.environment)
        #expect(eventually(timeout: 20) { !other1.process.isRunning }, "a second command waited for the first")
        if other1.process.isRunning { other1.process.terminate() }
        #expect(other1.finish().status == 0)
        #expect(long.process.isRunning)

        try admin.simpleQuery("ROLLBACK")
        admin.close()
        let first = long.finish()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try eventCount(database) == 1)
        #expect(try eventCount(other) == 1)
        // Idle since, the server stops.
        #expect(eventually(timeout: 10) { (try? home.pid()) == nil })
    }

    @Test func aClientWhoseOutputIsClosedDoesNotStopTheServer() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        try home.startServingOneCommand(on: database)

        // A refused command writes its error to a pipe no one reads any more, and its outcome to another.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Muster.binary)
        process.arguments = ["nation", "register", "--nation", "SWE", "--name", "Sweden again", "--database", database.conninfo]
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_DATA_HOME"] = home.url.path
        environment["MUSTER_SERVER"] = nil
        process.environment = environment
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try out.fileHandleForReading.close()
        try err.fileHandleForReading.close()
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 1)

        // The server ran it, and runs the next command as before.
        #expect(try home.served() == 2)
        let next = try home.run(["nation", "register", "--nation", "NOR", "--name", "Norway", "--database", database.conninfo])
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stdout.contains("accepted: registerNation"))
        #expect(try home.served() == 3)
    }

    @Test func anotherBuildOfMusterRunsItsCommandsItself() throws {
        let home = try Home()
        defer { home.tearDown() }
        let database = try TestDatabase()
        #expect(try home.run(["server", "start"]).status == 0)

        // A copy of the binary is another file: its commands do not go to this build's server.
        let copy = home.url.appendingPathComponent("muster-copy")
        try FileManager.default.copyItem(atPath: Muster.binary, toPath: copy.path)
        let copied = try Tool.run(copy.path, ["nation", "register", "--nation", "SWE", "--name", "Sweden", "--database", database.conninfo],
                                          environment: home.environment.merging(["MUSTER_SCHEMA_DIR": try schemaDirectory()]) { $1 })
        #expect(copied.status == 0, "\(copied.stderr)")
        #expect(try eventCount(database) == 1)
        #expect(try home.served() == 0, "the server ran nothing")
        #expect(try Tool.run(copy.path, ["server", "status"], environment: home.environment).stdout.contains("another build"))
    }

    @Test func theServerStopsWhenIdleOrWhenItsSocketIsRemoved() throws {
        let home = try Home()
        defer { home.tearDown() }

        #expect(try home.run(["server", "start", "--idle-timeout", "1"]).status == 0)
        let idle = try home.pid()
        #expect(idle != nil)
        #expect(eventually(timeout: 10) { !isRunning(idle) }, "stopped after a second without a command")
        #expect(try home.run(["server", "status"]).stdout.contains("not running"))

        #expect(try home.run(["server", "start"]).status == 0)
        let removed = try home.pid()
        #expect(removed != nil)
        try FileManager.default.removeItem(at: home.url.appendingPathComponent("muster/command-server/socket"))
        #expect(eventually(timeout: 10) { !isRunning(removed) }, "a server whose socket is gone stops")

        // A data directory others can write to could hold someone else's socket: the server refuses it.
        chmod(home.url.appendingPathComponent("muster/command-server").path, 0o777)
        let open = try home.run(["server", "start"])
        #expect(open.status != 0)
        #expect(open.stderr.contains("no one else can write to"), "\(open.stderr)")
        chmod(home.url.appendingPathComponent("muster/command-server").path, 0o700)

        let refused = try home.run(["server", "start", "--idle-timeout", "0"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("--idle-timeout"), "\(refused.stderr)")
    }

    /// True when a session of `database` waits on a lock. Asked on a connection of its own each time: inside a
    /// transaction, pg_stat_activity keeps its first answer.
    private func someoneWaitsOnALock(_ database: TestDatabase) throws -> Bool {
        let observer = try database.connect()
        defer { observer.close() }
        return try observer.query("""
            SELECT count(*) AS n FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()
            """).first?.decode("n", as: Int.self) ?? 0 > 0
    }

    /// True while the process runs (a zombie no one has reaped yet counts as stopped).
    private func isRunning(_ pid: Int32?) -> Bool {
        guard let pid, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        return !stat[close...].hasPrefix(") Z")
    }

    private func schemaDirectory() throws -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schema").path
    }
}

/// A program started as a shell starts one, with no signal blocked: Foundation's `Process` passes on the
/// calling thread's signal mask, and the tests run on Dispatch's threads, which block SIGINT and SIGTERM.
final class Spawned {
    let pid: pid_t
    private let directory: URL

    init(_ executable: String, _ arguments: [String], environment: [String: String?]) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("muster-spawned-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, directory.appendingPathComponent("out").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, directory.appendingPathComponent("err").path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var merged = ProcessInfo.processInfo.environment
        for (name, value) in environment { merged[name] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid = pid_t()
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard result == 0 else { throw POSIXError(POSIXErrorCode(rawValue: result) ?? .EINVAL) }
        self.pid = pid
    }

    /// Waits for the program; returns what it printed, and the signal that ended it (0 when it exited).
    func finish() -> (Muster.Result, endedBy: Int32) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0, errno == EINTR {}
        defer { try? FileManager.default.removeItem(at: directory) }
        let read = { (name: String) in (try? String(contentsOf: self.directory.appendingPathComponent(name), encoding: .utf8)) ?? "" }
        let signal = status & 0x7f
        return (Muster.Result(status: signal == 0 ? (status >> 8) & 0xff : 128 + signal, stdout: read("out"), stderr: read("err")), signal)
    }
}
