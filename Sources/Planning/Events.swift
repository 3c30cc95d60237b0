public import Foundation

/// What the store persists for one event.
public struct EventRecord: Sendable, Equatable {
    /// Past tense: `ExercisePlanned`, `UnitCommitted`, `ReadinessReported`.
    public var type: String
    public var schemaVersion: Int
    /// A JSON object.
    public var payload: Data

    public init(type: String, schemaVersion: Int, payload: Data) {
        self.type = type
        self.schemaVersion = schemaVersion
        self.payload = payload
    }
}

public enum AllianceEvent: Sendable, Equatable {
    case formed(AllianceProfile)
    case memberAdmitted(AllianceAdmission)
    case memberLeft(AllianceDeparture)
    case dissolved(AllianceDissolution)
}

public enum NationEvent: Sendable, Equatable {
    case registered(NationProfile)
}

public enum UnitEvent: Sendable, Equatable {
    case registered(UnitProfile)
    case capabilityAdded(CapabilityAddition)
    case capabilityWithdrawn(CapabilityWithdrawal)
    case readinessReported(ReadinessReported)
    case readinessOverridden(ReadinessOverride)
    case readinessCorrected(ReadinessCorrected)
    case committed(UnitCommitted)
    case commitmentMoved(CommitmentMoved)
    case released(UnitRelease)
}

public enum AreaEvent: Sendable, Equatable {
    case registered(AreaProfile)
    case booked(AreaBooked)
    case bookingMoved(AreaBookingMoved)
    case bookingReleased(AreaRelease)
}

public enum ExerciseEvent: Sendable, Equatable {
    case planned(ExercisePlan)
    case advanced(ExerciseAdvanced)
    case paused(ExerciseReason)
    case resumed(ExerciseRef)
    case cancelled(ExerciseReason)
    case postponed(ExercisePostponed)
    case milestoneHeld(MilestoneRecord)
    case workshopHeld(WorkshopRecord)
    case nationInvited(Invitation)
    case invitationAccepted(NationRef)
    case invitationDeclined(NationReason)
    case nationWithdrew(NationReason)
    case objectiveAdded(ObjectiveRecord)
    case forceCommitted(ForceCommitted)
    case forceReleased(UnitRelease)
    case areaReserved(AreaReserved)
    case areaReservationReleased(AreaRelease)
    case injectScripted(InjectRecord)
    case injectStatusChanged(InjectStatusChanged)
    case observationRecorded(ObservationRecord)
    case lessonAdvanced(LessonStep)
}

/// Every event of every aggregate.
public enum PlanningEvent: Sendable, Equatable {
    case alliance(AllianceEvent)
    case nation(NationEvent)
    case unit(UnitEvent)
    case area(AreaEvent)
    case exercise(ExerciseEvent)
}

/// A stored event that cannot be read: unknown type, newer schema, or a payload that does not match.
public struct EventDecodingError: Error, Sendable, CustomStringConvertible, Equatable {
    public let type: String
    public let schemaVersion: Int
    public let message: String
    public var description: String { "cannot decode event \(type) (schema \(schemaVersion)): \(message)" }
}

extension PlanningEvent {
    /// Current schema version per event type; types not listed are at version 1.
    public static let currentSchemaVersions: [String: Int] = ["ReadinessReported": 2, "ExercisePlanned": 2]

    /// All event type names.
    public static var typeNames: [String] { decoders.keys.sorted() }

    /// The event type, past tense.
    public var type: String { parts.type }

    /// Encodes the event for the store (JSON with sorted keys, current schema version).
    public var record: EventRecord {
        let (type, payload) = parts
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        // Encoding our own value types cannot fail; the fallback keeps `record` total.
        let data = (try? encoder.encode(payload)) ?? Data("{}".utf8)
        return EventRecord(type: type, schemaVersion: PlanningEvent.currentSchemaVersions[type] ?? 1, payload: data)
    }

    /// Decodes a stored event, upcasting older schema versions.
    ///
    /// - Throws: `EventDecodingError` for an unknown type, a newer schema or a payload that does not match.
    public static func decode(_ record: EventRecord) throws -> PlanningEvent {
        guard let decode = decoders[record.type] else {
            throw EventDecodingError(type: record.type, schemaVersion: record.schemaVersion, message: "unknown event type")
        }
        let current = currentSchemaVersions[record.type] ?? 1
        guard (1...current).contains(record.schemaVersion) else {
            throw EventDecodingError(
                type: record.type, schemaVersion: record.schemaVersion,
                message: "schema versions 1 to \(current) are supported")
        }
        var payload = record.payload
        if record.schemaVersion < current {
            payload = try upcast(type: record.type, from: record.schemaVersion, payload: payload)
        }
        do {
            return try decode(payload)
        } catch {
            throw EventDecodingError(
                type: record.type, schemaVersion: record.schemaVersion, message: describe(decodingError: error))
        }
    }

    /// Rewrites an old payload into the current shape, one version at a time.
    static func upcast(type: String, from version: Int, payload: Data) throws -> Data {
        guard var object = (try? JSONSerialization.jsonObject(with: payload)) as? [String: Any] else {
            throw EventDecodingError(type: type, schemaVersion: version, message: "payload is not a JSON object")
        }
        switch (type, version) {
        case ("ReadinessReported", 1):
            // v1: {"unit", "asOf", "level"}: one overall C-level, no area ratings.
            object["cLevel"] = object.removeValue(forKey: "level")
        case ("ExercisePlanned", 1):
            // v1: {"start", "end", ...} instead of {"window": {"start", "end"}}; no phases or standards.
            var window: [String: Any] = [:]
            window["start"] = object.removeValue(forKey: "start")
            window["end"] = object.removeValue(forKey: "end")
            object["window"] = window
            if object["phases"] == nil { object["phases"] = [Any]() }
            if object["requiredStandards"] == nil { object["requiredStandards"] = [Any]() }
        default:
            break
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else {
            throw EventDecodingError(type: type, schemaVersion: version, message: "upcast payload is not JSON")
        }
        return data
    }

    var parts: (type: String, payload: any Encodable & Sendable) {
        switch self {
        case .alliance(let e):
            switch e {
            case .formed(let p): ("AllianceFormed", p)
            case .memberAdmitted(let p): ("AllianceMemberAdmitted", p)
            case .memberLeft(let p): ("AllianceMemberLeft", p)
            case .dissolved(let p): ("AllianceDissolved", p)
            }
        case .nation(let e):
            switch e {
            case .registered(let p): ("NationRegistered", p)
            }
        case .unit(let e):
            switch e {
            case .registered(let p): ("UnitRegistered", p)
            case .capabilityAdded(let p): ("CapabilityAdded", p)
            case .capabilityWithdrawn(let p): ("CapabilityWithdrawn", p)
            case .readinessReported(let p): ("ReadinessReported", p)
            case .readinessOverridden(let p): ("ReadinessOverridden", p)
            case .readinessCorrected(let p): ("ReadinessCorrected", p)
            case .committed(let p): ("UnitCommitted", p)
            case .commitmentMoved(let p): ("UnitCommitmentMoved", p)
            case .released(let p): ("UnitReleased", p)
            }
        case .area(let e):
            switch e {
            case .registered(let p): ("TrainingAreaRegistered", p)
            case .booked(let p): ("TrainingAreaBooked", p)
            case .bookingMoved(let p): ("TrainingAreaBookingMoved", p)
            case .bookingReleased(let p): ("TrainingAreaBookingReleased", p)
            }
        case .exercise(let e):
            switch e {
            case .planned(let p): ("ExercisePlanned", p)
            case .advanced(let p): ("ExerciseAdvanced", p)
            case .paused(let p): ("ExercisePaused", p)
            case .resumed(let p): ("ExerciseResumed", p)
            case .cancelled(let p): ("ExerciseCancelled", p)
            case .postponed(let p): ("ExercisePostponed", p)
            case .milestoneHeld(let p): ("MilestoneHeld", p)
            case .workshopHeld(let p): ("ScenarioWorkshopHeld", p)
            case .nationInvited(let p): ("NationInvited", p)
            case .invitationAccepted(let p): ("InvitationAccepted", p)
            case .invitationDeclined(let p): ("InvitationDeclined", p)
            case .nationWithdrew(let p): ("NationWithdrew", p)
            case .objectiveAdded(let p): ("ObjectiveAdded", p)
            case .forceCommitted(let p): ("ForceCommitted", p)
            case .forceReleased(let p): ("ForceReleased", p)
            case .areaReserved(let p): ("AreaReserved", p)
            case .areaReservationReleased(let p): ("AreaReservationReleased", p)
            case .injectScripted(let p): ("InjectScripted", p)
            case .injectStatusChanged(let p): ("InjectStatusChanged", p)
            case .observationRecorded(let p): ("ObservationRecorded", p)
            case .lessonAdvanced(let p): ("LessonAdvanced", p)
            }
        }
    }

    typealias Decode = @Sendable (Data) throws -> PlanningEvent

    static func entry<P: Decodable & Sendable>(_ type: String, _ make: @escaping @Sendable (P) -> PlanningEvent) -> (String, Decode) {
        (type, { data in make(try JSONDecoder().decode(P.self, from: data)) })
    }

    static let decoders: [String: Decode] = Dictionary(uniqueKeysWithValues: [
        entry("AllianceFormed") { .alliance(.formed($0)) },
        entry("AllianceMemberAdmitted") { .alliance(.memberAdmitted($0)) },
        entry("AllianceMemberLeft") { .alliance(.memberLeft($0)) },
        entry("AllianceDissolved") { .alliance(.dissolved($0)) },
        entry("NationRegistered") { .nation(.registered($0)) },
        entry("UnitRegistered") { .unit(.registered($0)) },
        entry("CapabilityAdded") { .unit(.capabilityAdded($0)) },
        entry("CapabilityWithdrawn") { .unit(.capabilityWithdrawn($0)) },
        entry("ReadinessReported") { .unit(.readinessReported($0)) },
        entry("ReadinessOverridden") { .unit(.readinessOverridden($0)) },
        entry("ReadinessCorrected") { .unit(.readinessCorrected($0)) },
        entry("UnitCommitted") { .unit(.committed($0)) },
        entry("UnitCommitmentMoved") { .unit(.commitmentMoved($0)) },
        entry("UnitReleased") { .unit(.released($0)) },
        entry("TrainingAreaRegistered") { .area(.registered($0)) },
        entry("TrainingAreaBooked") { .area(.booked($0)) },
        entry("TrainingAreaBookingMoved") { .area(.bookingMoved($0)) },
        entry("TrainingAreaBookingReleased") { .area(.bookingReleased($0)) },
        entry("ExercisePlanned") { .exercise(.planned($0)) },
        entry("ExerciseAdvanced") { .exercise(.advanced($0)) },
        entry("ExercisePaused") { .exercise(.paused($0)) },
        entry("ExerciseResumed") { .exercise(.resumed($0)) },
        entry("ExerciseCancelled") { .exercise(.cancelled($0)) },
        entry("ExercisePostponed") { .exercise(.postponed($0)) },
        entry("MilestoneHeld") { .exercise(.milestoneHeld($0)) },
        entry("ScenarioWorkshopHeld") { .exercise(.workshopHeld($0)) },
        entry("NationInvited") { .exercise(.nationInvited($0)) },
        entry("InvitationAccepted") { .exercise(.invitationAccepted($0)) },
        entry("InvitationDeclined") { .exercise(.invitationDeclined($0)) },
        entry("NationWithdrew") { .exercise(.nationWithdrew($0)) },
        entry("ObjectiveAdded") { .exercise(.objectiveAdded($0)) },
        entry("ForceCommitted") { .exercise(.forceCommitted($0)) },
        entry("ForceReleased") { .exercise(.forceReleased($0)) },
        entry("AreaReserved") { .exercise(.areaReserved($0)) },
        entry("AreaReservationReleased") { .exercise(.areaReservationReleased($0)) },
        entry("InjectScripted") { .exercise(.injectScripted($0)) },
        entry("InjectStatusChanged") { .exercise(.injectStatusChanged($0)) },
        entry("ObservationRecorded") { .exercise(.observationRecorded($0)) },
        entry("LessonAdvanced") { .exercise(.lessonAdvanced($0)) },
    ])
}

/// Renders a `DecodingError` as "field 'a.b[2]': problem".
func describe(decodingError error: any Error) -> String {
    guard let error = error as? DecodingError else { return String(describing: error) }
    func path(_ keys: [any CodingKey]) -> String {
        var out = ""
        for key in keys {
            if let index = key.intValue {
                out += "[\(index)]"
            } else {
                out += out.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return out
    }
    func field(_ keys: [any CodingKey]) -> String {
        let p = path(keys)
        return p.isEmpty ? "the object" : "field '\(p)'"
    }
    switch error {
    case .keyNotFound(let key, let context):
        return "\(field(context.codingPath + [key])) is missing"
    case .valueNotFound(_, let context):
        return "\(field(context.codingPath)): null is not allowed"
    case .typeMismatch(let type, let context):
        return "\(field(context.codingPath)): expected \(typeName(type))"
    case .dataCorrupted(let context):
        return "\(field(context.codingPath)): \(context.debugDescription)"
    @unknown default:
        return String(describing: error)
    }
}

private func typeName(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: "a string"
    case is Int.Type, is Int64.Type: "an integer"
    case is Bool.Type: "true or false"
    case is [Any].Type: "an array"
    case is [String: Any].Type: "an object"
    default:
        String(describing: type).hasPrefix("Array") ? "an array" : String(describing: type).hasPrefix("Dictionary") ? "an object" : "a \(type)"
    }
}
