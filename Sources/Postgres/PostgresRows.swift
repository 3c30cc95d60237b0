public import Foundation

/// The rows a statement returned, in text format, fully read into memory.
///
/// Readers of large tables page with keyset queries (`WHERE key > $1 ORDER BY key LIMIT n`)
/// so that memory stays bounded by the page size.
public struct PostgresRows: Sendable, RandomAccessCollection {
    public let columns: [String]
    let values: [[String?]]
    /// Rows affected by INSERT/UPDATE/DELETE (from the command tag), or the row count.
    public let affectedRows: Int

    init(columns: [String], values: [[String?]], affectedRows: Int) {
        self.columns = columns
        self.values = values
        self.affectedRows = affectedRows
    }

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> PostgresRow {
        PostgresRow(columns: columns, values: values[position])
    }
}

/// One row: columns by name or index, decoded from PostgreSQL's text format.
public struct PostgresRow: Sendable {
    public let columns: [String]
    public let values: [String?]

    func index(_ column: String) throws(PostgresError) -> Int {
        guard let i = columns.firstIndex(of: column) else {
            throw .protocolError("the result has no column \"\(column)\" (columns: \(columns.joined(separator: ", ")))")
        }
        return i
    }

    /// The raw text of a column, nil for NULL.
    public func text(_ column: String) throws(PostgresError) -> String? {
        values[try index(column)]
    }

    /// Decodes a non-null column.
    public func decode<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T {
        guard let text = try self.text(column) else {
            throw .protocolError("column \"\(column)\" is NULL where a \(T.self) was expected")
        }
        guard let value = T(postgresText: text) else {
            throw .protocolError("column \"\(column)\" holds \"\(text.prefix(40))\", which is not a \(T.self)")
        }
        return value
    }

    /// Decodes a nullable column.
    public func decodeIfPresent<T: PostgresDecodable>(_ column: String, as type: T.Type = T.self) throws(PostgresError) -> T? {
        guard try self.text(column) != nil else { return nil }
        return try decode(column, as: type)
    }
}

/// A value that can be read from PostgreSQL's text format.
public protocol PostgresDecodable {
    init?(postgresText: String)
}

extension String: PostgresDecodable { public init?(postgresText: String) { self = postgresText } }
extension Int: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Int32: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Int64: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension UInt64: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Double: PostgresDecodable { public init?(postgresText: String) { self.init(postgresText) } }
extension Bool: PostgresDecodable {
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}
extension UUID: PostgresDecodable { public init?(postgresText: String) { self.init(uuidString: postgresText) } }
extension Date: PostgresDecodable {
    public init?(postgresText: String) {
        guard let d = PostgresTimestamp.parse(postgresText) else { return nil }
        self = d
    }
}
extension Data: PostgresDecodable {
    /// Decodes bytea in hex form (`\x0a1b…`).
    public init?(postgresText: String) {
        var text = postgresText
        // Into a byte array first: appending to Data one byte at a time cost ~700 instructions a byte.
        let bytes: [UInt8]? = text.withUTF8 { utf8 -> [UInt8]? in
            guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0 else { return nil }
            var out = [UInt8](repeating: 0, count: (utf8.count - 2) / 2)
            var i = 2
            var j = 0
            while i < utf8.count {
                let hi = hexNibble(utf8[i]), lo = hexNibble(utf8[i + 1])
                guard hi < 16, lo < 16 else { return nil }
                out[j] = hi << 4 | lo
                i += 2
                j += 1
            }
            return out
        }
        guard let bytes else { return nil }
        self = Data(bytes)
    }
}

/// The value of a hex digit, or 255 for any other byte.
@inline(__always)
private func hexNibble(_ c: UInt8) -> UInt8 {
    switch c {
    case 48...57: return c - 48
    case 97...102: return c - 87
    case 65...70: return c - 55
    default: return 255
    }
}
