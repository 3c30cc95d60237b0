public import Foundation

/// A value that can be sent to PostgreSQL as a text-format bound parameter.
public protocol PostgresEncodable {
    /// The parameter's text form, or nil for SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresEncodable { public var postgresText: String? { self } }
extension Substring: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int32: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Int64: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Double: PostgresEncodable { public var postgresText: String? { String(self) } }
extension Bool: PostgresEncodable { public var postgresText: String? { self ? "t" : "f" } }
extension UUID: PostgresEncodable { public var postgresText: String? { uuidString.lowercased() } }
extension Data: PostgresEncodable {
    /// Bytes are sent in bytea hex form; a JSON document is sent as its UTF-8 text when bound to `jsonb`.
    public var postgresText: String? {
        var text = [UInt8]()
        text.reserveCapacity(2 + count * 2)
        text.append(UInt8(ascii: "\\"))
        text.append(UInt8(ascii: "x"))
        for byte in self {
            text.append(hexASCII[Int(byte >> 4)])
            text.append(hexASCII[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
extension Date: PostgresEncodable {
    /// An ISO 8601 timestamp with microseconds in UTC, as `timestamptz` accepts it.
    public var postgresText: String? { PostgresTimestamp.format(self) }
}

private let hexASCII: [UInt8] = Array("0123456789abcdef".utf8)

/// A JSON document bound as text (cast it in SQL: `$1::jsonb`).
public struct JSONText: PostgresEncodable, Sendable {
    public let data: Data
    public init(_ data: Data) { self.data = data }
    public var postgresText: String? { String(decoding: data, as: UTF8.self) }
}

/// A statement with its bound parameters, built by string interpolation:
/// every interpolated value becomes a `$n` placeholder, never spliced text.
///
///     let q: PostgresQuery = "SELECT * FROM t WHERE id = \(id) AND name = \(name)"
public struct PostgresQuery: Sendable, ExpressibleByStringInterpolation, CustomStringConvertible {
    public var sql: String
    public var binds: [String?]

    public init(sql: String, binds: [String?] = []) {
        self.sql = sql
        self.binds = binds
    }

    public init(stringLiteral value: String) {
        self.init(sql: value)
    }

    public init(stringInterpolation: StringInterpolation) {
        self.init(sql: stringInterpolation.sql, binds: stringInterpolation.binds)
    }

    public var description: String { sql }

    /// Appends another fragment, renumbering its `$n` placeholders after this query's binds.
    public mutating func append(_ other: PostgresQuery) {
        let offset = binds.count
        var out = ""
        var digits = ""
        var inPlaceholder = false
        func flush() {
            if inPlaceholder {
                out += digits.isEmpty ? "$" : "$\((Int(digits) ?? 0) + offset)"
            }
            digits = ""
            inPlaceholder = false
        }
        for ch in other.sql {
            if inPlaceholder, ch.isASCII, ch.isNumber {
                digits.append(ch)
                continue
            }
            flush()
            if ch == "$" { inPlaceholder = true } else { out.append(ch) }
        }
        flush()
        sql += out
        binds += other.binds
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [String?] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + interpolationCount * 3)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation(_ value: some PostgresEncodable) {
            binds.append(value.postgresText)
            sql += "$\(binds.count)"
        }

        /// Binds an optional value: nil becomes SQL NULL.
        public mutating func appendInterpolation<T: PostgresEncodable>(_ value: T?) {
            binds.append(value.flatMap { $0.postgresText })
            sql += "$\(binds.count)"
        }

        /// Splices trusted SQL text (identifiers chosen by code, never user input).
        public mutating func appendInterpolation(unescaped text: String) {
            sql += text
        }
    }
}

/// Timestamp text conversion in UTC with microseconds, the form `timestamptz` prints
/// when the session runs with `DateStyle = ISO` and `TimeZone = UTC`.
public enum PostgresTimestamp {
    public static func format(_ date: Date) -> String {
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        var seconds = Int64((micros / 1_000_000).rounded(.down))
        var fraction = Int64(micros) - seconds * 1_000_000
        if fraction < 0 { fraction += 1_000_000; seconds -= 1 }
        let (y, mo, d, h, mi, s) = civil(seconds)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", y, mo, d, h, mi, s, fraction)
    }

    /// Parses `YYYY-MM-DD HH:MM:SS[.ffffff][+00[:00]]` (or with a `T`, or `Z`).
    public static func parse(_ text: String) -> Date? {
        let bytes = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= bytes.count else { return nil }
            var n = 0
            for b in bytes[from..<(from + count)] {
                guard b >= 48, b <= 57 else { return nil }
                n = n * 10 + Int(b - 48)
            }
            return n
        }
        guard bytes.count >= 19, let y = number(0, 4), let mo = number(5, 2), let d = number(8, 2),
              let h = number(11, 2), let mi = number(14, 2), let s = number(17, 2) else { return nil }
        var i = 19
        var micros = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(bytes[i] - 48); digits += 1 }
                i += 1
            }
            while digits < 6 { micros *= 10; digits += 1 }
        }
        var offsetSeconds = 0
        if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") {
            let sign = bytes[i] == UInt8(ascii: "-") ? -1 : 1
            guard let oh = number(i + 1, 2) else { return nil }
            var om = 0
            if i + 3 < bytes.count, bytes[i + 3] == UInt8(ascii: ":"), let m = number(i + 4, 2) { om = m }
            offsetSeconds = sign * (oh * 3600 + om * 60)
        }
        let days = daysFromCivil(y, mo, d)
        let total = Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + s) - Int64(offsetSeconds)
        return Date(timeIntervalSince1970: Double(total) + Double(micros) / 1_000_000)
    }

    // Howard Hinnant's days-from-civil algorithms: exact for the proleptic Gregorian calendar.
    static func daysFromCivil(_ y0: Int, _ m: Int, _ d: Int) -> Int {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civil(_ seconds: Int64) -> (Int, Int, Int, Int, Int, Int) {
        var days = seconds / 86_400
        var rem = seconds % 86_400
        if rem < 0 { rem += 86_400; days -= 1 }
        let z = Int(days) + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        return (y, m, d, Int(rem / 3600), Int(rem % 3600 / 60), Int(rem % 60))
    }
}
