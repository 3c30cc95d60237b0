public import Foundation
import Glibc

/// Who did what, why, and how an event may be shared. Stored as the event's `metadata` JSON.
public struct EventMetadata: Codable, Sendable, Equatable {
    public var actor: String
    public var commandID: UUID?
    public var correlationID: UUID?
    public var causationID: UUID?
    public var reason: String?
    public var classification: String?
    public var releasableTo: [String]?
    /// The command's name, e.g. `commitUnit`.
    public var command: String?

    public init(actor: String, commandID: UUID? = nil, correlationID: UUID? = nil, causationID: UUID? = nil,
                reason: String? = nil, classification: String? = nil, releasableTo: [String]? = nil, command: String? = nil) {
        self.actor = actor
        self.commandID = commandID
        self.correlationID = correlationID
        self.causationID = causationID
        self.reason = reason
        self.classification = classification
        self.releasableTo = releasableTo
        self.command = command
    }

    enum CodingKeys: String, CodingKey {
        case actor
        case commandID = "command_id"
        case correlationID = "correlation_id"
        case causationID = "causation_id"
        case reason, classification
        case releasableTo = "releasable_to"
        case command
    }
}

/// An event to append: its id is chosen by the caller, so that a retry can be recognised.
public struct NewEvent: Sendable, Equatable {
    public var eventID: UUID
    public var type: String
    public var schemaVersion: Int
    /// A JSON object.
    public var payload: Data
    public var metadata: EventMetadata

    public init(eventID: UUID = .random(), type: String, schemaVersion: Int = 1, payload: Data, metadata: EventMetadata) {
        self.eventID = eventID
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.metadata = metadata
    }
}

extension UUID {
    /// A random (version 4) UUID, its 16 bytes from the kernel in one call (`arc4random_buf`, getrandom).
    /// Foundation's `UUID()` opens, reads and closes /dev/urandom for each one: three system calls and about
    /// 3 µs, against 0.5 µs (100,000 of each, 2026-11-30). Every event and every command gets one.
    public static func random() -> UUID {
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { arc4random_buf($0.baseAddress!, 16) }
        bytes.6 = (bytes.6 & 0x0F) | 0x40  // version 4
        bytes.8 = (bytes.8 & 0x3F) | 0x80  // RFC 4122 variant
        return UUID(uuid: bytes)
    }
}

/// What the appender expects a stream's version to be.
public enum ExpectedVersion: Sendable, Equatable, CustomStringConvertible {
    /// The stream is at exactly this version (0 means it does not exist yet).
    case exact(Int64)
    case noStream
    case streamExists
    case any

    public var description: String {
        switch self {
        case .exact(let n): "version \(n)"
        case .noStream: "no stream"
        case .streamExists: "an existing stream"
        case .any: "any version"
        }
    }
}

/// Events for one stream within an append.
public struct StreamAppend: Sendable {
    public var stream: String
    public var expected: ExpectedVersion
    public var events: [NewEvent]

    public init(stream: String, expected: ExpectedVersion, events: [NewEvent]) {
        self.stream = stream
        self.expected = expected
        self.events = events
    }
}

/// The outcome of an append.
public struct AppendResult: Sendable, Equatable, Codable {
    public struct StreamRange: Sendable, Equatable, Codable {
        public let stream: String
        public let fromVersion: Int64
        public let toVersion: Int64
        public init(stream: String, fromVersion: Int64, toVersion: Int64) {
            self.stream = stream
            self.fromVersion = fromVersion
            self.toVersion = toVersion
        }
        enum CodingKeys: String, CodingKey { case stream, fromVersion = "from_version", toVersion = "to_version" }
    }

    public let streams: [StreamRange]
    public let firstPosition: Int64?
    public let lastPosition: Int64?
    /// True when the command id had been applied before: nothing new was written.
    public let duplicate: Bool

    enum CodingKeys: String, CodingKey {
        case streams, duplicate
        case firstPosition = "first_position"
        case lastPosition = "last_position"
    }
}

/// A position in the global order: readers resume strictly after it.
public struct Checkpoint: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public let transactionID: UInt64
    public let position: Int64

    public init(transactionID: UInt64, position: Int64) {
        self.transactionID = transactionID
        self.position = position
    }

    /// Before the first event.
    public static let start = Checkpoint(transactionID: 0, position: 0)

    public static func < (a: Checkpoint, b: Checkpoint) -> Bool {
        (a.transactionID, a.position) < (b.transactionID, b.position)
    }

    public var description: String { "\(transactionID)/\(position)" }
}

/// An event as stored.
public struct RecordedEvent: Sendable, Equatable {
    public let position: Int64
    public let transactionID: UInt64
    public let stream: String
    public let category: String
    public let version: Int64
    public let eventID: UUID
    public let type: String
    public let schemaVersion: Int
    /// The payload JSON as PostgreSQL prints jsonb (normalised).
    public let payload: Data
    public let metadataJSON: Data
    public let recordedAt: Date
    public let previousHash: Data
    public let hash: Data

    public var checkpoint: Checkpoint { Checkpoint(transactionID: transactionID, position: position) }

    /// The decoded metadata (actor, command id, reason, ...).
    public var metadata: EventMetadata {
        (try? JSONDecoder().decode(EventMetadata.self, from: metadataJSON)) ?? EventMetadata(actor: "unknown")
    }
}

extension AppendResult {
    /// Reads the result as `event_store.append` prints it (jsonb's text), without JSONDecoder, which took
    /// about 40% of a concurrent writer's CPU in the benchmark (perf). Returns nil for anything else (an
    /// unknown key, an escaped string, a fraction), and the caller falls back to JSONDecoder.
    init?(serverText text: String) {
        var text = text
        guard let parsed = text.withUTF8({ bytes -> AppendResult? in
            var scanner = ResultScanner(bytes: bytes)
            return scanner.result()
        }) else { return nil }
        self = parsed
    }
}

/// A scanner for exactly the shape of an append result: an object of `streams` (objects of `stream`,
/// `from_version`, `to_version`), `first_position`, `last_position` (integers or null) and `duplicate`.
private struct ResultScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var i = 0

    init(bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    mutating func result() -> AppendResult? {
        var streams: [AppendResult.StreamRange]?
        var first: Int64?, last: Int64?, duplicate: Bool?
        let complete = object { key, scanner in
            switch key {
            case "streams": streams = scanner.streamRanges(); return streams != nil
            case "first_position": return scanner.optionalInteger(&first)
            case "last_position": return scanner.optionalInteger(&last)
            case "duplicate": duplicate = scanner.boolean(); return duplicate != nil
            default: return false
            }
        }
        skipSpace()
        guard complete, i == bytes.count, let streams, let duplicate else { return nil }
        return AppendResult(streams: streams, firstPosition: first, lastPosition: last, duplicate: duplicate)
    }

    mutating func streamRanges() -> [AppendResult.StreamRange]? {
        guard consume(UInt8(ascii: "[")) else { return nil }
        var ranges: [AppendResult.StreamRange] = []
        if consume(UInt8(ascii: "]")) { return ranges }
        repeat {
            var stream: String?, from: Int64?, to: Int64?
            let complete = object { key, scanner in
                switch key {
                case "stream": stream = scanner.string(); return stream != nil
                case "from_version": from = scanner.integer(); return from != nil
                case "to_version": to = scanner.integer(); return to != nil
                default: return false
                }
            }
            guard complete, let stream, let from, let to else { return nil }
            ranges.append(AppendResult.StreamRange(stream: stream, fromVersion: from, toVersion: to))
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "]")) ? ranges : nil
    }

    /// Reads `{"key": value, …}`, handing each key to `member`, which reads the value.
    mutating func object(_ member: (String, inout ResultScanner) -> Bool) -> Bool {
        guard consume(UInt8(ascii: "{")) else { return false }
        if consume(UInt8(ascii: "}")) { return true }
        repeat {
            guard let key = string(), consume(UInt8(ascii: ":")), member(key, &self) else { return false }
        } while consume(UInt8(ascii: ","))
        return consume(UInt8(ascii: "}"))
    }

    /// A string without escapes (stream names and keys have none).
    mutating func string() -> String? {
        guard consume(UInt8(ascii: "\"")) else { return nil }
        let start = i
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\") { return nil }
            i += 1
        }
        guard i < bytes.count else { return nil }
        defer { i += 1 }
        return String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<i]), as: UTF8.self)
    }

    mutating func integer() -> Int64? {
        skipSpace()
        let negative = i < bytes.count && bytes[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        var value: Int64 = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let (sum, o2) = times.addingReportingOverflow(Int64(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { return nil }
            value = sum
            digits += 1
            i += 1
        }
        // A fraction or an exponent is not an integer.
        guard digits > 0, i == bytes.count || (bytes[i] != UInt8(ascii: ".") && bytes[i] | 0x20 != UInt8(ascii: "e")) else { return nil }
        return negative ? -value : value
    }

    mutating func optionalInteger(_ value: inout Int64?) -> Bool {
        if literal("null") { value = nil; return true }
        value = integer()
        return value != nil
    }

    mutating func boolean() -> Bool? {
        if literal("true") { return true }
        if literal("false") { return false }
        return nil
    }

    mutating func literal(_ word: StaticString) -> Bool {
        skipSpace()
        let count = word.utf8CodeUnitCount
        guard i + count <= bytes.count else { return false }
        for k in 0..<count where bytes[i + k] != word.utf8Start[k] { return false }
        i += count
        return true
    }

    mutating func consume(_ byte: UInt8) -> Bool {
        skipSpace()
        guard i < bytes.count, bytes[i] == byte else { return false }
        i += 1
        return true
    }

    mutating func skipSpace() {
        while i < bytes.count, bytes[i] == UInt8(ascii: " ") || bytes[i] == UInt8(ascii: "\n") || bytes[i] == UInt8(ascii: "\t") || bytes[i] == UInt8(ascii: "\r") {
            i += 1
        }
    }
}
