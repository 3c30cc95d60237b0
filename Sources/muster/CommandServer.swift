import ArgumentParser
import EventSourcing
import Foundation
import Postgres
#if canImport(Glibc)
import Glibc
#endif

/// The socket a client waiting for its command's status tells the server on when it is interrupted.
nonisolated(unsafe) private var interruptSocket: Int32 = -1
/// The signal that interrupted that wait, if any; written by the handler.
nonisolated(unsafe) private var interruptSignal: Int32 = 0

/// The first SIGINT, SIGTERM or SIGHUP asks the server to stop the command (`Request.interrupt`); a second one
/// stops waiting for it.
private func forwardInterrupt(_ number: Int32) {
    if interruptSignal != 0 { _exit(128 + number) }
    interruptSignal = number
    var byte: UInt8 = 0x49 // Request.interrupt
    _ = write(interruptSocket, &byte, 1)
}

/// A long-lived muster that planner commands hand themselves to (`muster server start`, or started by the first
/// planner command on the embedded cluster): it keeps its database connections, and their backends' caches and
/// prepared statements, from one command to the next, and has its code warm, so a command skips the new backend
/// and most of a new process's start.
///
/// A client sends its arguments, environment and working directory over a Unix socket in the data directory,
/// with its standard input, output and error attached (`SCM_RIGHTS`); the server runs the command exactly as
/// the client would have, writing to those descriptors, and answers with the exit status. The server runs one
/// command at a time; a client that finds it busy, finds another build of muster there, or finds no server at
/// all runs the command itself. Only the socket's owner may connect.
enum CommandServer {
    /// Where the server listens: a directory of the user's own in the data directory, beside the embedded
    /// cluster (whose directory the postgres user owns when muster runs as root).
    static func socketPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        LocalCluster.defaultDirectory(environment: environment).appendingPathComponent("command-server/socket").path
    }

    /// `sockaddr_un` holds 108 bytes with the terminating zero.
    static let longestPath = 107

    /// Identifies this build: the executable file's device, inode, size and modification time.
    static func executableIdentity(_ path: String = "/proc/self/exe") -> String {
        var s = stat()
        guard stat(path, &s) == 0 else { return "unknown" }
        return "\(s.st_dev):\(s.st_ino):\(s.st_size):\(s.st_mtim.tv_sec).\(s.st_mtim.tv_nsec)"
    }

    enum Request: UInt8 {
        case command = 0x43 // C
        case status = 0x50 // P
        case stop = 0x51 // Q
        /// Sent by a client while its command runs, when it is interrupted (Ctrl-C, SIGTERM, SIGHUP).
        case interrupt = 0x49 // I
    }

    enum Reply: UInt8 {
        /// The server has started the command: from here the client waits for its status.
        case accepted = 0x41 // A
        /// Running another command: the client runs this one itself.
        case busy = 0x42 // B
        /// Another build of muster: the client runs the command itself.
        case otherBuild = 0x53 // S
        /// The command's exit status follows.
        case exited = 0x52 // R
        case stopped = 0x51 // Q
    }

    // MARK: - Client

    /// Hands a planner command to the server when one runs for this user and this build. Returns the command's
    /// exit status, or nil when this process is to run it itself. Called first thing in `main`, before any
    /// argument parsing.
    static func handOver(_ arguments: [String]) -> Int32? {
        guard EarlyConnection.isPlannerCommand(arguments) else { return nil }
        let environment = ProcessInfo.processInfo.environment
        guard environment["MUSTER_SERVER"] != "off" else { return nil }
        guard let fd = connect(socketPath(environment: environment)) else {
            noneListening = true
            return nil
        }
        defer { close(fd) }
        // The working directory goes as a descriptor: the server enters it with fchdir, whatever its name
        // (or if it was deleted).
        let directory = open(".", openPath | O_DIRECTORY | O_CLOEXEC)
        guard directory >= 0 else { return nil }
        defer { close(directory) }
        var request = Message(.command)
        request.append(Array(executableIdentity().utf8))
        request.append(Invocation.processArguments)
        request.append(environmentBytes())
        guard send(fd, request.bytes, passing: [0, 1, 2, directory]) else { return nil }
        var reply = Replies(fd)
        // Busy, another build, or gone before starting: nothing ran, so running it here is safe.
        guard reply.byte() == Reply.accepted.rawValue else { return nil }
        // Interrupted from here on, the command line asks the server to stop the command, waits for it to
        // stop, and then dies of the signal as it would have on its own.
        let finished = forwardingInterrupts(to: fd) { (reply.byte(), reply.int32()) }
        if interruptSignal != 0 {
            signal(interruptSignal, SIG_DFL)
            raise(interruptSignal)
        }
        guard finished.0 == Reply.exited.rawValue, let status = finished.1 else {
            // With its command id given, running the command again here is safe: applied once, whatever the
            // server got to. Without one, a second run could apply it twice.
            if arguments.contains(where: { $0 == "--command-id" || $0.hasPrefix("--command-id=") }) {
                printError("note: the muster command server stopped while running this command; running it here with the same command id")
                return nil
            }
            printError("error: the muster command server stopped while running this command, which may or may not have been applied: check with 'muster audit log' before running it again, or give --command-id")
            return 1
        }
        return status
    }

    /// Set by `handOver` when no server of this user listened: the command runs on its own, and when it ran on
    /// the embedded cluster it starts a server for the commands after it (`startForLaterCommands`).
    nonisolated(unsafe) static var noneListening = false

    /// After a planner command ran on its own on the embedded cluster, starts a server in the background for
    /// the commands after it, without waiting for it. The embedded cluster is muster's own, started by muster
    /// and left running for the next command; the server is the same kind of helper, private to the user and
    /// stopped after 30 minutes without a command or by `muster db stop`. With a configured database the
    /// server is the user's choice (`muster server start`): it would hold a connection to someone's server.
    static func startForLaterCommands() {
        guard noneListening, Session.openedEmbedded, let path = try? preparedSocketPath(),
              !FileManager.default.fileExists(atPath: stoppedMark(path)) else { return }
        // When another command started one meanwhile, this one finds the lock taken and exits.
        _ = try? launch(idleTimeout: defaultIdleTimeout)
    }

    /// Left by `muster server stop` beside the socket: planner commands start no server until `muster server
    /// start` or `muster db stop` takes it away.
    static func stoppedMark(_ socketPath: String) -> String {
        (socketPath as NSString).deletingLastPathComponent + "/stopped"
    }

    /// How long a server waits for a command before it stops, unless `muster server start` says otherwise.
    static let defaultIdleTimeout: TimeInterval = 1800

    /// Runs `body` (the wait for a command's status) with SIGINT, SIGTERM and SIGHUP sent on to the server as an
    /// interrupt request instead of ending this process; a signal this process ignores stays ignored.
    static func forwardingInterrupts<T>(to fd: Int32, _ body: () -> T) -> T {
        interruptSocket = fd
        let signals = [SIGINT, SIGTERM, SIGHUP]
        let previous = signals.map { signal($0, forwardInterrupt) }
        for (number, handler) in zip(signals, previous) where handler.map({ unsafeBitCast($0, to: Int.self) }) == 1 {
            signal(number, SIG_IGN) // SIG_IGN is 1
        }
        let result = body()
        for (number, handler) in zip(signals, previous) { signal(number, handler) }
        return result
    }

    /// `O_PATH` (the Glibc module leaves it out): a descriptor that names a directory without reading it.
    static let openPath: Int32 = 0o10000000

    /// The user id of the process at the other end of a Unix socket.
    static func peerUser(_ fd: Int32) -> uid_t? {
        // struct ucred: pid, uid, gid (Linux's SO_PEERCRED, 17; the Glibc module leaves both out).
        var credentials: (pid: Int32, uid: UInt32, gid: UInt32) = (0, 0, 0)
        var length = socklen_t(12)
        guard getsockopt(fd, SOL_SOCKET, 17, &credentials, &length) == 0, length == 12 else { return nil }
        return credentials.uid
    }

    /// Connects to the server's socket; nil when none listens there, or when it is not this user's.
    static func connect(_ path: String) -> Int32? {
        guard path.utf8.count <= longestPath else { return nil }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = unixAddress(path)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        // Arguments, environment and descriptors go only to a server of this user.
        guard connected == 0, peerUser(fd) == getuid() else {
            close(fd)
            return nil
        }
        return fd
    }

    /// Asks the server at `path` how it is; nil when none answers.
    static func status(_ path: String) -> (pid: Int32, commands: Int, identity: String)? {
        guard let fd = connect(path) else { return nil }
        defer { close(fd) }
        setReceiveTimeout(fd, seconds: 5)
        guard send(fd, Message(.status).bytes, passing: []) else { return nil }
        var reply = Replies(fd)
        guard let pid = reply.int32(), let commands = reply.int32(), let identity = reply.blob() else { return nil }
        return (pid, Int(commands), String(decoding: identity, as: UTF8.self))
    }

    /// Asks the server at `path` to stop once its current command is done; false when none answered.
    static func stop(_ path: String) -> Bool {
        guard let fd = connect(path) else { return false }
        defer { close(fd) }
        // The server stops once its command is done: a planner command takes well under this.
        setReceiveTimeout(fd, seconds: 60)
        guard send(fd, Message(.stop).bytes, passing: []) else { return false }
        var reply = Replies(fd)
        return reply.byte() == Reply.stopped.rawValue
    }

    static func setReceiveTimeout(_ fd: Int32, seconds: Int) {
        var timeout = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// This process's environment as `NAME=value` byte strings.
    static func environmentBytes() -> [[UInt8]] {
        var out: [[UInt8]] = []
        var entry = environ
        while let pointer = entry.pointee {
            out.append(Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer))))
            entry += 1
        }
        return out
    }

    // MARK: - Server

    /// Runs the server in this process until it has been idle for `idleTimeout` seconds, is asked to stop,
    /// or its socket is removed or taken over.
    static func serve(idleTimeout: TimeInterval) throws -> Never {
        signal(SIGPIPE, SIG_IGN)
        let path = try preparedSocketPath()
        let directory = (path as NSString).deletingLastPathComponent
        // One server per data directory: a second start finds the lock taken.
        let lock = open(directory + "/lock", O_CREAT | O_RDWR | O_CLOEXEC, 0o600)
        guard lock >= 0, flock(lock, LOCK_EX | LOCK_NB) == 0 else {
            throw Failure("a command server is already starting or running for \(directory)")
        }
        unlink(path)
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard listener >= 0 else { throw Failure("cannot open a socket: \(String(cString: strerror(errno)))") }
        var address = unixAddress(path)
        let previous = umask(0o177)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previous)
        guard bound == 0, listen(listener, 64) == 0 else {
            throw Failure("cannot listen on \(path): \(String(cString: strerror(errno)))")
        }
        // The server's own working directory holds nothing up; each command runs in its client's.
        _ = chdir("/")
        let server = Server(path: path, inode: inode(path))
        while true {
            var ready = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&ready, 1, 1000) > 0 {
                let client = accept(listener, nil, nil)
                if client >= 0 {
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    Thread { server.handle(client) }.start()
                } else {
                    usleep(10_000) // out of descriptors, say: do not spin
                }
            }
            // Never waits for a running command here: the clients arriving meanwhile must be answered.
            if server.idleTime > idleTimeout || inode(path) != server.inode {
                server.stopUnlessRunning()
            }
        }
    }

    /// The socket's path, in a data directory that exists, is the user's and no one else can write to.
    static func preparedSocketPath() throws -> String {
        let path = socketPath()
        guard path.utf8.count <= longestPath else {
            throw Failure("the socket path \(path) is longer than \(longestPath) bytes: set XDG_DATA_HOME to a shorter directory")
        }
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var info = stat()
        guard lstat(directory, &info) == 0, info.st_uid == getuid(), info.st_mode & 0o022 == 0 else {
            throw Failure("\(directory) must be a directory of yours that no one else can write to (chmod go-w)")
        }
        return path
    }

    static func inode(_ path: String) -> UInt? {
        var s = stat()
        return lstat(path, &s) == 0 ? UInt(s.st_ino) : nil
    }

    /// The server's state: one command runs at a time; the connections it opened wait for the next.
    private final class Server: @unchecked Sendable {
        let path: String
        let inode: UInt?
        let identity = CommandServer.executableIdentity()
        let executable: String
        /// Held while a command runs.
        let running = NSLock()
        /// Guards `lastActivity`, `commands` and `connections`.
        let state = NSLock()
        var lastActivity = Date()
        var commands: Int32 = 0
        /// Idle connections by `EarlyConnection.reuseKey`.
        var connections: [String: PostgresConnection] = [:]
        /// Guards the running command's interrupters and whether it was interrupted or has answered.
        let interruption = NSLock()
        var interrupters: [PostgresInterrupter] = []
        var interrupted = false
        var answered = true

        init(path: String, inode: UInt?) {
            self.path = path
            self.inode = inode
            executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        }

        var idleTime: TimeInterval {
            state.lock()
            defer { state.unlock() }
            return Date().timeIntervalSince(lastActivity)
        }

        private func touch(counting: Bool = false) {
            state.lock()
            lastActivity = Date()
            if counting { commands &+= 1 }
            state.unlock()
        }

        /// Removes the socket if it is still this server's, and exits; the caller holds `running`.
        private func exitHoldingRunning() -> Never {
            if CommandServer.inode(path) == inode { unlink(path) }
            exit(0)
        }

        /// Stops unless a command is running (then the next check tries again).
        func stopUnlessRunning() {
            if running.try() { exitHoldingRunning() }
        }

        func handle(_ fd: Int32) {
            defer { close(fd) }
            CommandServer.setReceiveTimeout(fd, seconds: 5)
            // Only the user the server runs as may hand it commands.
            guard CommandServer.peerUser(fd) == getuid(), let (payload, descriptors) = CommandServer.receive(fd) else { return }
            // The descriptors are closed once: here, or when a command's answer goes.
            var unclosed = descriptors
            defer { unclosed.forEach { close($0) } }
            var request = Fields(payload)
            switch request.byte().flatMap(Request.init(rawValue:)) {
            case .status:
                state.lock()
                var reply = Message(nil)
                reply.append(getpid())
                reply.append(commands)
                reply.append(Array(identity.utf8))
                state.unlock()
                _ = CommandServer.send(fd, reply.bytes, passing: [], framed: false)
            case .stop:
                running.lock()
                _ = CommandServer.send(fd, [Reply.stopped.rawValue], passing: [], framed: false)
                exitHoldingRunning()
            case .command:
                guard let clientIdentity = request.blob(), let arguments = request.list(), let environment = request.list(),
                      descriptors.count == 4 else { return }
                guard String(decoding: clientIdentity, as: UTF8.self) == identity else {
                    _ = CommandServer.send(fd, [Reply.otherBuild.rawValue], passing: [], framed: false)
                    // The executable this server runs was replaced (a new build): no client will want it again.
                    if CommandServer.executableIdentity(executable) != identity { stopUnlessRunning() }
                    return
                }
                guard running.try() else {
                    _ = CommandServer.send(fd, [Reply.busy.rawValue], passing: [], framed: false)
                    return
                }
                defer { running.unlock() }
                touch()
                guard CommandServer.send(fd, [Reply.accepted.rawValue], passing: [], framed: false) else { return }
                let watcher = watchForInterrupt(fd)
                run(arguments, environment: environment, descriptors: descriptors) { status in
                    // From here the client's end of the socket is no interrupt: it closes it on this answer.
                    commandEnded()
                    // The client's descriptors are let go before it exits, so that whoever reads its output
                    // sees the end of it then.
                    unclosed.forEach { close($0) }
                    unclosed = []
                    var reply = Message(nil)
                    reply.bytes.append(Reply.exited.rawValue)
                    reply.append(status)
                    _ = CommandServer.send(fd, reply.bytes, passing: [], framed: false)
                }
                // Wakes the watcher (the socket reads as ended), which finds the command answered.
                shutdown(fd, Int32(SHUT_RD))
                watcher.wait()
                touch(counting: true)
            case .interrupt, nil:
                // An interrupt only means something while the sender's command runs (`watchForInterrupt`).
                return
            }
        }

        /// Watches the client's socket while its command runs: an interrupt request (the client got Ctrl-C,
        /// SIGTERM or SIGHUP), or the client's end (it was killed), stops the command as ending its process would
        /// have: the statement running is cancelled, and the command's next statement fails.
        private func watchForInterrupt(_ fd: Int32) -> DispatchSemaphore {
            interruption.lock()
            interrupters = []
            interrupted = false
            answered = false
            interruption.unlock()
            let stopped = DispatchSemaphore(value: 0)
            Thread {
                defer { stopped.signal() }
                var ready = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                while poll(&ready, 1, -1) < 0, errno == EINTR {}
                self.interruptCommand()
            }.start()
            return stopped
        }

        private func interruptCommand() {
            interruption.lock()
            guard !answered, !interrupted else { return interruption.unlock() }
            interrupted = true
            let all = interrupters
            interruption.unlock()
            all.forEach { $0.interrupt() }
        }

        /// A connection the running command opened or took: interrupted at once if the command already was.
        private func commandUses(_ db: PostgresConnection) {
            let interrupter = db.interrupter()
            interruption.lock()
            let now = interrupted && !answered
            if !now { interrupters.append(interrupter) }
            interruption.unlock()
            if now { interrupter.interrupt() }
        }

        private func commandEnded() {
            interruption.lock()
            answered = true
            interrupters = []
            interruption.unlock()
        }

        /// Runs one command as the client would have: its descriptors as 0, 1 and 2, its environment, its
        /// working directory (`descriptors[3]`) and its arguments, and calls `answer` with its exit status
        /// once its output is written and the server's own descriptors are back. The environment and working
        /// directory are put back after the connections are sorted out.
        private func run(_ arguments: [[UInt8]], environment: [[UInt8]], descriptors: [Int32], answer: (Int32) -> Void) {
            fflush(nil)
            let saved = (0...2).map { fcntl(Int32($0), F_DUPFD_CLOEXEC, 3) }
            let ownDirectory = open(".", CommandServer.openPath | O_DIRECTORY | O_CLOEXEC)
            guard !saved.contains(where: { $0 < 0 }), ownDirectory >= 0, fchdir(descriptors[3]) == 0 else {
                saved.filter { $0 >= 0 }.forEach { close($0) }
                if ownDirectory >= 0 { close(ownDirectory) }
                let message = "error: the command server could not take the command (\(String(cString: strerror(errno)))); run it with MUSTER_SERVER=off\n"
                _ = message.withCString { write(descriptors[2], $0, strlen($0)) }
                return answer(1)
            }
            for index in 0...2 { dup2(descriptors[index], Int32(index)) }
            let ownEnvironment = CommandServer.environmentBytes()
            Self.replaceEnvironment(with: environment)
            defer {
                Self.replaceEnvironment(with: ownEnvironment)
                _ = fchdir(ownDirectory)
                close(ownDirectory)
            }
            let text = arguments.map { String(decoding: $0, as: UTF8.self) }
            // The connection kept for this command's target, if it is still good, is handed over as the early
            // connection would be; otherwise one is opened while the arguments are parsed.
            if let (target, embedded) = EarlyConnection.target(text) {
                state.lock()
                let key = EarlyConnection.reuseKey(target)
                let db = connections.removeValue(forKey: key)
                state.unlock()
                if let db, db.isIdleAndQuiet {
                    EarlyConnection.provide(.init(target: target, db: db, pending: EarlyConnection.pending(db, embedded: embedded)))
                } else {
                    EarlyConnection.start(text)
                }
            }
            var opened: [(EarlyConnection.Target, PostgresConnection)] = []
            Session.opened = { target, db in
                opened.append((target, db))
                self.commandUses(db)
            }
            let status = Invocation.running(arguments) { Muster.runInProcess(Array(text.dropFirst())) }
            Session.opened = nil
            fflush(nil)
            for (index, descriptor) in saved.enumerated() {
                dup2(descriptor, Int32(index))
                close(descriptor)
            }
            answer(status)
            // The early connection's thread may still be connecting, reading the client's environment: it is
            // waited for before the environment is put back. A connection the command did not take (kept or
            // early) is left over here.
            let early = EarlyConnection.leftOver()
            // Connections go back for the next command only after a command that succeeded (a failed one may
            // have left a lock or a broken prepared statement behind), and only when idle and not ended by
            // the server.
            guard status == 0 else { return }
            let keep = opened + (early.map { [($0.target, $0.db)] } ?? [])
            for (target, db) in keep where db.isIdleAndQuiet && !db.wasInterrupted {
                let key = EarlyConnection.reuseKey(target)
                state.lock()
                if connections.count >= 8, connections[key] == nil { connections.removeAll() }
                connections[key] = db
                state.unlock()
            }
        }

        private static func replaceEnvironment(with entries: [[UInt8]]) {
            // Variable by variable: clearenv() would leave `environ` NULL, which Swift reads as a pointer.
            for entry in CommandServer.environmentBytes() {
                guard let equals = entry.firstIndex(of: UInt8(ascii: "=")) else { continue }
                let name = Array(entry[..<equals]) + [0]
                name.withUnsafeBufferPointer { buffer in
                    buffer.withMemoryRebound(to: CChar.self) { _ = unsetenv($0.baseAddress!) }
                }
            }
            for entry in entries {
                guard let equals = entry.firstIndex(of: UInt8(ascii: "=")), equals > 0 else { continue }
                let name = Array(entry[..<equals]) + [0], value = Array(entry[(equals + 1)...]) + [0]
                name.withUnsafeBufferPointer { nameBuffer in
                    value.withUnsafeBufferPointer { valueBuffer in
                        nameBuffer.withMemoryRebound(to: CChar.self) { namePointer in
                            valueBuffer.withMemoryRebound(to: CChar.self) { _ = setenv(namePointer.baseAddress!, $0.baseAddress!, 1) }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Wire format

    /// A request or reply: a 4-byte length, then the fields (bytes, 4-byte integers, length-prefixed blobs).
    struct Message {
        var bytes: [UInt8] = []

        init(_ request: Request?) {
            if let request { bytes.append(request.rawValue) }
        }

        mutating func append(_ value: Int32) {
            withUnsafeBytes(of: value.bigEndian) { bytes.append(contentsOf: $0) }
        }

        mutating func append(_ blob: [UInt8]) {
            append(Int32(blob.count))
            bytes.append(contentsOf: blob)
        }

        mutating func append(_ list: [[UInt8]]) {
            append(Int32(list.count))
            list.forEach { append($0) }
        }
    }

    /// Reads a request's fields.
    struct Fields {
        let bytes: [UInt8]
        var at = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func byte() -> UInt8? {
            guard at < bytes.count else { return nil }
            defer { at += 1 }
            return bytes[at]
        }

        mutating func int32() -> Int32? {
            guard at + 4 <= bytes.count else { return nil }
            defer { at += 4 }
            return bytes[at..<at + 4].reduce(0) { $0 << 8 | Int32($1) }
        }

        mutating func blob() -> [UInt8]? {
            guard let count = int32(), count >= 0, at + Int(count) <= bytes.count else { return nil }
            defer { at += Int(count) }
            return Array(bytes[at..<at + Int(count)])
        }

        mutating func list() -> [[UInt8]]? {
            guard let count = int32(), count >= 0, count <= 100_000 else { return nil }
            var out: [[UInt8]] = []
            for _ in 0..<count {
                guard let blob = blob() else { return nil }
                out.append(blob)
            }
            return out
        }
    }

    /// Reads a reply as it arrives.
    struct Replies {
        let fd: Int32

        init(_ fd: Int32) { self.fd = fd }

        func read(_ count: Int) -> [UInt8]? {
            var out = [UInt8](repeating: 0, count: count)
            var have = 0
            while have < count {
                let n = out.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + have, count - have) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { return nil }
                have += n
            }
            return out
        }

        mutating func byte() -> UInt8? { read(1)?.first }

        mutating func int32() -> Int32? {
            read(4).map { $0.reduce(0) { $0 << 8 | Int32($1) } }
        }

        mutating func blob() -> [UInt8]? {
            guard let count = int32(), count >= 0, count <= 1 << 20 else { return nil }
            return read(Int(count))
        }
    }

    /// Sends `bytes` (framed with their length unless told otherwise), with `descriptors` attached to the
    /// first part.
    static func send(_ fd: Int32, _ bytes: [UInt8], passing descriptors: [Int32], framed: Bool = true) -> Bool {
        var data: [UInt8] = []
        if framed { withUnsafeBytes(of: Int32(bytes.count).bigEndian) { data.append(contentsOf: $0) } }
        data += bytes
        var sent = 0
        if !descriptors.isEmpty {
            let header = MemoryLayout<cmsghdr>.size
            let length = header + descriptors.count * MemoryLayout<Int32>.size
            var control = [UInt8](repeating: 0, count: (length + 7) & ~7)
            control.withUnsafeMutableBytes { raw in
                var message = cmsghdr()
                message.cmsg_len = length
                message.cmsg_level = SOL_SOCKET
                message.cmsg_type = Int32(SCM_RIGHTS)
                raw.storeBytes(of: message, as: cmsghdr.self)
                for (index, descriptor) in descriptors.enumerated() {
                    raw.storeBytes(of: descriptor, toByteOffset: header + index * 4, as: Int32.self)
                }
            }
            let n = withMessage(&data, &control) { sendmsg(fd, &$0, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent = n
        }
        while sent < data.count {
            let n = data.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, data.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// Calls `body` with a message header whose one vector is `data` and whose control buffer is `control`.
    private static func withMessage(_ data: inout [UInt8], _ control: inout [UInt8], _ body: (inout msghdr) -> Int) -> Int {
        data.withUnsafeMutableBytes { buffer in
            control.withUnsafeMutableBytes { controlBuffer in
                var vector = iovec(iov_base: buffer.baseAddress, iov_len: buffer.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBuffer.baseAddress
                    header.msg_controllen = controlBuffer.count
                    return body(&header)
                }
            }
        }
    }

    /// Receives one framed request and the descriptors attached to it.
    static func receive(_ fd: Int32) -> (payload: [UInt8], descriptors: [Int32])? {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var control = [UInt8](repeating: 0, count: 64)
        let n = withMessage(&buffer, &control) { header in
            let n = recvmsg(fd, &header, Int32(MSG_CMSG_CLOEXEC))
            return n < 0 ? n : (header.msg_flags & Int32(MSG_CTRUNC) != 0 ? -2 : n)
        }
        var descriptors: [Int32] = []
        let header = MemoryLayout<cmsghdr>.size
        control.withUnsafeBytes { raw in
            let message = raw.loadUnaligned(as: cmsghdr.self)
            guard message.cmsg_level == SOL_SOCKET, message.cmsg_type == Int32(SCM_RIGHTS), message.cmsg_len >= header else { return }
            for index in 0..<(message.cmsg_len - header) / 4 {
                descriptors.append(raw.loadUnaligned(fromByteOffset: header + index * 4, as: Int32.self))
            }
        }
        guard n >= 4 else {
            descriptors.forEach { close($0) }
            return nil
        }
        var data = Array(buffer[0..<n])
        let length = Int(data[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        guard length <= 16 << 20 else {
            descriptors.forEach { close($0) }
            return nil
        }
        guard let rest = Replies(fd).read(max(0, 4 + length - data.count)) else {
            descriptors.forEach { close($0) }
            return nil
        }
        data += rest
        return (Array(data[4..<(4 + length)]), descriptors)
    }

    static func unixAddress(_ path: String) -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(longestPath))
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }

    // MARK: - Starting

    /// Starts a server in the background for this user's data directory and waits until it answers.
    static func spawn(idleTimeout: TimeInterval) throws -> Int32 {
        let path = socketPath()
        let pid = try launch(idleTimeout: idleTimeout)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let running = status(path), running.pid == pid { return pid }
            var exitStatus: Int32 = 0
            if waitpid(pid, &exitStatus, WNOHANG) == pid {
                throw Failure("the command server exited at once (status \((exitStatus >> 8) & 0xff)); run 'muster server run' to see why")
            }
            usleep(5_000)
        }
        throw Failure("the command server (pid \(pid)) did not answer on \(path) within 10 s")
    }

    /// Starts `muster server run` in a session of its own, its standard streams on /dev/null; returns its pid.
    static func launch(idleTimeout: TimeInterval) throws -> Int32 {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let arguments = [executable, "server", "run", "--idle-timeout", String(Int(idleTimeout))]
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for descriptor in 0...2 {
            posix_spawn_file_actions_addopen(&actions, Int32(descriptor), "/dev/null", descriptor == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // Nothing else this process holds (a test's pipes, say) stays open in the server.
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for descriptor in open.compactMap(Int32.init) where descriptor > 2 {
            posix_spawn_file_actions_addclose(&actions, descriptor)
        }
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own session, away from the terminal (POSIX_SPAWN_SETSID, 0x80); no signal blocked (SETSIGMASK, 8) or
        // handled otherwise than by default (SETSIGDEF, 4), whatever the starting thread had: Dispatch's threads,
        // say, block SIGTERM, which a plain `kill` and the system's shutdown rely on.
        posix_spawnattr_setflags(&attributes, 0x80 | 0x08 | 0x04)
        var none = sigset_t(), all = sigset_t()
        sigemptyset(&none)
        sigfillset(&all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        var pid: pid_t = 0
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let result = posix_spawn(&pid, executable, &actions, &attributes, argv, environ)
        guard result == 0 else { throw Failure("cannot start \(executable): \(String(cString: strerror(result)))") }
        return pid
    }
}

extension Muster {
    /// Runs a command in this process as `main` would, returning its exit status instead of exiting.
    static func runInProcess(_ arguments: [String]) -> Int32 {
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
            return 0
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code == .success {
                    print(message)
                } else {
                    writeStandardError(message + "\n")
                }
            }
            return code.rawValue
        }
    }

    struct Server: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "server",
            abstract: "Keep a muster running that planner commands hand themselves to, for speed.",
            discussion: """
                A planner command normally starts a new process and a new database session. With the command server \
                running, it hands itself to the server instead, which keeps its database connections and warm code \
                from one command to the next. Output, exit status and effect are the same either way. The server \
                belongs to the user and data directory that started it, runs one command at a time (a command that \
                finds it busy runs on its own), and stops after --idle-timeout seconds without a command. On the \
                embedded cluster, a planner command that finds no server starts one for the commands after it, and \
                'muster db stop' stops it. Set MUSTER_SERVER=off to keep a command from using or starting one.

                Example:
                  muster server start
                  muster server status
                  muster server stop
                """,
            subcommands: [Start.self, Status.self, Stop.self, Run.self])
    }
}

extension Muster.Server {
    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Start the command server in the background.",
            discussion: "Example: muster server start --idle-timeout 3600")

        @Option(help: ArgumentHelp("Stop after this many seconds without a command.", valueName: "seconds"))
        var idleTimeout: Int = Int(CommandServer.defaultIdleTimeout)

        func validate() throws {
            guard (1...604_800).contains(idleTimeout) else {
                throw ValidationError("--idle-timeout: must be 1 to 604800 seconds (a week)")
            }
        }

        func run() throws {
            try guarded {
                let path = try CommandServer.preparedSocketPath()
                if let running = CommandServer.status(path) {
                    guard running.identity != CommandServer.executableIdentity() else {
                        print("command server already running (pid \(running.pid), socket \(path))")
                        return
                    }
                    // Another build's server: this build's commands would not use it.
                    _ = CommandServer.stop(path)
                    print("stopped the command server of another muster build (pid \(running.pid))")
                }
                try? FileManager.default.removeItem(atPath: CommandServer.stoppedMark(path))
                let pid = try CommandServer.spawn(idleTimeout: TimeInterval(idleTimeout))
                print("command server running (pid \(pid), socket \(path)); it stops after \(idleTimeout) s without a command, or with 'muster server stop'")
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "status",
            abstract: "Show whether the command server runs, and how many commands it has run.",
            discussion: "Example: muster server status")

        func run() throws {
            let path = CommandServer.socketPath()
            guard let running = CommandServer.status(path) else {
                print(FileManager.default.fileExists(atPath: CommandServer.stoppedMark(path))
                      ? "command server: not running, stopped with 'muster server stop' (planner commands run on their own and start none until 'muster server start' or 'muster db stop')"
                      : "command server: not running (planner commands run on their own)")
                return
            }
            let build = running.identity == CommandServer.executableIdentity() ? "this build" : "another build (this muster does not use it)"
            print("command server: running (pid \(running.pid), socket \(path), \(build)), \(running.commands) command(s) run")
        }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "stop",
            abstract: "Stop the command server once its current command is done.",
            discussion: """
                On the embedded cluster, planner commands then start no server until 'muster server start' or \
                'muster db stop'.

                Example: muster server stop
                """)

        func run() throws {
            let path = CommandServer.socketPath()
            if (try? CommandServer.preparedSocketPath()) != nil {
                _ = FileManager.default.createFile(atPath: CommandServer.stoppedMark(path), contents: nil, attributes: [.posixPermissions: 0o600])
            }
            print(CommandServer.stop(path) ? "command server stopped" : "command server: not running")
        }
    }

    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "run",
            abstract: "Run the command server in the foreground (what 'start' runs in the background).",
            shouldDisplay: false)

        @Option(help: ArgumentHelp("Stop after this many seconds without a command.", valueName: "seconds"))
        var idleTimeout: Int = Int(CommandServer.defaultIdleTimeout)

        func run() throws {
            try guarded {
                try CommandServer.serve(idleTimeout: TimeInterval(max(1, idleTimeout)))
            }
        }
    }
}
