public import EventSourcing
public import Foundation
public import Planning
import Postgres

/// Runs planner commands: validates against the current state, decides, and appends the events
/// atomically with each stream's expected version, retrying on a concurrency conflict by deciding again.
public final class PlanningService {
    public let store: EventStore

    public init(_ store: EventStore) {
        self.store = store
    }

    /// Who issued a command and why: stored as every event's metadata.
    public struct Context: Sendable {
        public var actor: String
        public var reason: String?
        /// Setting it marks the id as given (`commandIDIsNew` false).
        public var commandID: UUID { didSet { commandIDIsNew = false } }
        /// The command id was made here (none was given or set): it cannot have been applied before, so
        /// `handle` skips the look-up of an earlier result.
        public private(set) var commandIDIsNew: Bool
        public var correlationID: UUID?
        public var causationID: UUID?
        /// The decision time the domain rules use (freshness, dates); defaults to now.
        public var now: Date

        /// - Parameter commandID: the id a retry must repeat to apply the command once; nil makes a new one.
        public init(actor: String, reason: String? = nil, commandID: UUID? = nil, correlationID: UUID? = nil,
                    causationID: UUID? = nil, now: Date = Date()) {
            self.actor = actor
            self.reason = reason
            self.commandID = commandID ?? .random()
            self.commandIDIsNew = commandID == nil
            self.correlationID = correlationID
            self.causationID = causationID
            self.now = now
        }
    }

    /// What a command did.
    public struct Outcome: Sendable {
        public let command: String
        public let commandID: UUID
        /// Events written, per stream, in order.
        public let written: [(stream: String, types: [String])]
        public let result: AppendResult?
        /// True when the command id had been applied before: nothing new was written.
        public var duplicate: Bool { result?.duplicate ?? false }
        public let attempts: Int
    }

    /// A command that was not applied.
    public enum Failure: Error, Sendable, CustomStringConvertible {
        case rejected(PlanningRejection)
        case store(EventStoreError)
        case unreadableHistory(stream: String, version: Int64, reason: String)
        case conflictsExhausted(attempts: Int, last: EventStoreError)

        public var description: String {
            switch self {
            case .rejected(let r): r.description
            case .store(let e): e.description
            case .unreadableHistory(let s, let v, let reason): "stream \(s) version \(v) cannot be read: \(reason)"
            case .conflictsExhausted(let n, let last): "gave up after \(n) attempts because other planners kept changing the same records (\(last.description)); try again"
            }
        }
    }

    /// Reads a stream's events and decodes them (upcasting older payloads).
    public func load(_ stream: StreamName) throws(Failure) -> StreamSnapshot {
        var events: [PlanningEvent] = []
        var version: Int64 = 0
        do {
            try store.forEachPayload(inStream: stream.rawValue) { recorded in
                do {
                    events.append(try PlanningEvent.decode(EventRecord(type: recorded.type, schemaVersion: recorded.schemaVersion, payload: recorded.payload)))
                } catch {
                    throw Failure.unreadableHistory(stream: stream.rawValue, version: recorded.version, reason: "\(error)")
                }
                version = recorded.version
            }
        } catch let failure as Failure {
            throw failure
        } catch let error as EventStoreError {
            throw .store(error)
        } catch {
            throw .store(EventStoreError(PostgresError.server(sqlState: nil, message: "\(error)", detail: nil, hint: nil, statement: nil, parameters: [])))
        }
        return StreamSnapshot(version: version, events: events)
    }

    /// Decides and appends `command`.
    ///
    /// - Throws: `Failure.rejected` naming the entity, field and rule when the command breaks a rule;
    ///   nothing is written on any failure.
    public func handle(_ command: PlanningCommand, context: Context, maxAttempts: Int = 8) throws(Failure) -> Outcome {
        let commandJSON = command.jsonObject()
        // A given id may have been applied already, perhaps before the state changed so that deciding again
        // would refuse the command: its recorded result is the answer. A new id saves the round trip.
        do {
            if !context.commandIDIsNew, let earlier = try store.appliedResult(commandID: context.commandID, command: commandJSON) {
                return Outcome(command: command.name, commandID: context.commandID,
                               written: earlier.streams.map { ($0.stream, []) }, result: earlier, attempts: 0)
            }
        } catch {
            throw .store(error)
        }
        var attempt = 0
        while true {
            attempt += 1
            let decision: Decision
            do {
                decision = try Planner.decide(command, now: context.now) { stream in
                    try self.load(stream)
                }
            } catch let rejection as PlanningRejection {
                throw .rejected(rejection)
            } catch let failure as Failure {
                throw failure
            } catch {
                throw .rejected(PlanningRejection(entity: command.name, field: "command", message: "\(error)"))
            }
            let writes = decision.writes.filter { !$0.events.isEmpty }
            guard !writes.isEmpty else {
                return Outcome(command: command.name, commandID: context.commandID, written: [], result: nil, attempts: attempt)
            }
            let metadata = EventMetadata(actor: context.actor, commandID: context.commandID, correlationID: context.correlationID ?? context.commandID,
                                         causationID: context.causationID, reason: context.reason, command: command.name)
            let appends = writes.map { write in
                StreamAppend(stream: write.stream.rawValue, expected: .exact(write.expectedVersion), events: write.events.map { event in
                    let record = event.record
                    return NewEvent(type: record.type, schemaVersion: record.schemaVersion, payload: record.payload, metadata: metadata)
                })
            }
            do {
                let result = try store.append(appends, commandID: context.commandID, command: commandJSON)
                // A wake-up for projection workers, after the commit; losing it only delays them to their next poll.
                try? store.notifyAppended(streams: appends.map(\.stream))
                return Outcome(command: command.name, commandID: context.commandID,
                               written: writes.map { ($0.stream.rawValue, $0.events.map(\.record.type)) }, result: result, attempts: attempt)
            } catch where error.isConcurrencyConflict {
                if attempt >= maxAttempts { throw .conflictsExhausted(attempts: attempt, last: error) }
                // Someone else changed a stream we decided on: read again and decide again.
                continue
            } catch {
                throw .store(error)
            }
        }
    }
}
