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
