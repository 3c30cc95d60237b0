public import Foundation

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

    public init(eventID: UUID = UUID(), type: String, schemaVersion: Int = 1, payload: Data, metadata: EventMetadata) {
        self.eventID = eventID
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
        self.metadata = metadata
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
