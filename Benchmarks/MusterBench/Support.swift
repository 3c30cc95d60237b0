import Foundation
import Postgres
import EventSourcing

/// Seconds since an arbitrary start, monotonic.
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Runs `body` and returns its result and the seconds it took.
func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
    let start = now()
    let value = try body()
    return (value, now() - start)
}

/// The q-quantile (0...1) of `values`, nearest rank.
func percentile(_ values: [Double], _ q: Double) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted()
    let rank = Int((q * Double(sorted.count)).rounded(.up)) - 1
    return sorted[min(max(rank, 0), sorted.count - 1)]
}

/// The middle value; with an even count, the mean of the two middle ones.
func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return .nan }
    let sorted = values.sorted(), middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

/// Peak resident set size of this process so far, in MiB (VmHWM).
func peakRSSMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return .nan }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kb = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Double($0) } ?? .nan
        return kb / 1024
    }
    return .nan
}

/// A plain-text table: a header row, then rows; columns padded to their widest cell.
struct Table {
    var header: [String]
    var rows: [[String]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: String...) { rows.append(cells) }

    func print() {
        let all = [header] + rows
        let widths = header.indices.map { i in all.map { i < $0.count ? $0[i].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { i, c in i == 0 ? c.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                                                     : String(repeating: " ", count: widths[i] - c.count) + c }
                .joined(separator: "  ")
        }
        Swift.print(line(header))
        Swift.print(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "))
        rows.forEach { Swift.print(line($0)) }
        Swift.print()
    }
}

func fmt(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
func rate(_ n: Int, _ seconds: Double) -> String { String(format: "%.0f", Double(n) / seconds) }
func ratio(_ a: Double, _ b: Double) -> String { String(format: "%.2f×", a / b) }

/// A fresh, migrated database in the cluster the PG* variables name; dropped by `drop()`.
final class BenchDatabase {
    let name: String
    var conninfo: String { "dbname=\(name)" }

    init(_ label: String) throws {
        name = "muster_bench_\(label)_\(ProcessInfo.processInfo.processIdentifier)"
        let admin = try PostgresConnection(conninfo: "dbname=postgres")
        try admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
        try admin.execute("CREATE DATABASE \(name)")
        admin.close()
        let db = try connect()
        try Migrator(directory: Migrator.locateSchemaDirectory()).migrate(db)
        db.close()
    }

    func connect(_ application: String = "muster-bench") throws -> PostgresConnection {
        try PostgresConnection(conninfo: conninfo, applicationName: application)
    }

    func drop() {
        if let admin = try? PostgresConnection(conninfo: "dbname=postgres") {
            try? admin.execute("DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            admin.close()
        }
    }
}

/// Runs a program to completion; returns its exit status, wall seconds and peak RSS in MiB (from wait4).
/// Standard output and error go to `log` (a file path), or are inherited when nil.
func spawnMeasured(_ path: String, _ arguments: [String], log: String? = nil) throws -> (status: Int32, seconds: Double, peakRSSMiB: Double) {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    if let log {
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
    }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let start = now()
    let rc = posix_spawn(&pid, path, &actions, nil, argv, environ)
    guard rc == 0 else { throw BenchError("cannot start \(path): \(String(cString: strerror(rc)))") }
    var status: Int32 = 0
    var usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    let seconds = now() - start
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    return (exit, seconds, Double(usage.ru_maxrss) / 1024)
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// The release `muster` binary tools/bench built.
func musterBinary() throws -> String {
    guard let path = ProcessInfo.processInfo.environment["MUSTER_BIN"], FileManager.default.isExecutableFile(atPath: path) else {
        throw BenchError("set MUSTER_BIN to the muster binary (tools/bench does)")
    }
    return path
}
