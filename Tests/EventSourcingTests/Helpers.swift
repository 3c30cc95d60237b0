import EventSourcing
import Foundation
import Postgres

func event(_ type: String = "ThingHappened", _ payload: String = "{}", actor: String = "tester") -> NewEvent {
    NewEvent(type: type, payload: Data(payload.utf8), metadata: EventMetadata(actor: actor))
}

func events(_ n: Int, _ type: String = "ThingHappened") -> [NewEvent] {
    (0..<n).map { event(type, "{\"n\": \($0)}") }
}

func eventCount(_ db: PostgresConnection) throws -> Int {
    try db.query("SELECT count(*) AS n FROM event_store.events").first?.decode("n") ?? -1
}

/// A stream's stored versions, in order.
func storedVersions(_ db: PostgresConnection, _ stream: String) throws -> [Int64] {
    try db.query("SELECT stream_version FROM event_store.events WHERE stream_name = \(stream) ORDER BY stream_version")
        .map { try $0.decode("stream_version", as: Int64.self) }
}

/// Runs `body` on `count` threads at once and waits for all of them.
func concurrently(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        Thread {
            body(i)
            group.leave()
        }.start()
    }
    group.wait()
}

final class Box<T>: @unchecked Sendable {
    // @unchecked: every access goes through `lock`.
    private let lock = NSLock()
    private var value: T
    init(_ value: T) { self.value = value }
    func mutate(_ f: (inout T) -> Void) { lock.lock(); f(&value); lock.unlock() }
    var get: T { lock.lock(); defer { lock.unlock() }; return value }
}
