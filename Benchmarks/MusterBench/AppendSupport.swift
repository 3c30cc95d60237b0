import EventSourcing
import Foundation
import Postgres

/// Helpers shared by the append measures (bulk-append, concurrent): the baseline table and sample events.
enum AppendBench {
    /// The columns a baseline row fills, as `event_store.append` fills them (position, transaction_id
    /// and recorded_at come from the defaults there too).
    static let columns = "stream_name, category, stream_version, event_id, event_type, schema_version, payload, metadata, command_id, previous_hash, hash"

    /// A copy of event_store.events' shape: same columns, types, defaults, identity, checks and indexes;
    /// no triggers, no foreign key, written without the append function.
    static func createBaselineTable(_ db: PostgresConnection, _ name: String) throws {
        try db.execute("""
            CREATE SCHEMA IF NOT EXISTS bench;
            DROP TABLE IF EXISTS bench.\(name);
            CREATE TABLE bench.\(name) (LIKE event_store.events INCLUDING ALL);
            """)
    }

    /// A readiness-report-like event (about 150 bytes of payload) with planner metadata.
    static func event(_ i: Int, metadata: EventMetadata) -> NewEvent {
        let payload = #"{"unit": "bench-\#(i % 97)", "asOf": "2025-06-\#(10 + i % 20)", "cLevel": \#(1 + i % 4), "ratings": {"personnel": \#(1 + i % 4), "supplies": \#(1 + (i / 4) % 4), "equipment": 1, "training": 2}}"#
        return NewEvent(type: "ReadinessReported", schemaVersion: 2, payload: Data(payload.utf8), metadata: metadata)
    }

    static func metadata(_ commandID: UUID) -> EventMetadata {
        EventMetadata(actor: "bench.import", commandID: commandID, correlationID: commandID, reason: "bulk import benchmark", command: "import")
    }

    /// A random 32-byte value in bytea hex text form.
    static func randomHash() -> String {
        var generator = SystemRandomNumberGenerator()
        var text = "\\x"
        text.reserveCapacity(66)
        for _ in 0..<4 {
            let word = generator.next()
            for shift in stride(from: 56, through: 0, by: -8) { text += hex[Int((word >> UInt64(shift)) & 0xFF)] }
        }
        return text
    }

    static let hex: [String] = (0..<256).map { String(format: "%02x", $0) }

    /// The metadata JSON text the store would record (JSONEncoder, sorted keys).
    static func metadataJSON(_ metadata: EventMetadata) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(metadata)) ?? Data("{}".utf8), as: UTF8.self)
    }
}

/// A value shared between benchmark threads; every access goes through `lock`.
final class AppendShared<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func mutate<R>(_ f: (inout T) -> R) -> R { lock.lock(); defer { lock.unlock() }; return f(&value) }
    var get: T { lock.lock(); defer { lock.unlock() }; return value }
}

/// Runs `body` on `count` threads at once and waits for all of them.
func appendThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = 1 << 22
        thread.start()
    }
    group.wait()
}
