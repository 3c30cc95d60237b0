// Per-aggregate deciders: pure functions from (command, state, context) to events, with typed rejections.

/// A refused command: names the entity, the field and the rule broken.
public protocol DomainRejection: Error, Sendable, CustomStringConvertible {
    /// `exercise ts25`, `unit aus-3rar`.
    var entity: String { get }
    /// The command field concerned: `milestone`, `window.start`.
    var field: String { get }
    /// A full sentence naming the entity and the rule.
    var message: String { get }
}

extension DomainRejection {
    public var description: String { message }
}

public struct AllianceRejection: DomainRejection, Equatable {
    public let entity: String, field: String, message: String
}

public struct NationRejection: DomainRejection, Equatable {
    public let entity: String, field: String, message: String
}

public struct UnitRejection: DomainRejection, Equatable {
    public let entity: String, field: String, message: String
}

public struct AreaRejection: DomainRejection, Equatable {
    public let entity: String, field: String, message: String
}

public struct ExerciseRejection: DomainRejection, Equatable {
    public let entity: String, field: String, message: String
}

// MARK: - Alliance

public enum AllianceDecider {
    static func reject(_ id: Slug, _ field: String, _ rule: String) -> AllianceRejection {
        AllianceRejection(entity: "alliance \(id)", field: field, message: "alliance \(id) \(rule)")
    }

    static func requireOpen(_ id: Slug, _ s: AllianceState) throws(AllianceRejection) {
        guard s.exists else { throw reject(id, "alliance", "does not exist") }
        if let d = s.dissolution {
            throw reject(id, "alliance", "was dissolved on \(d.dissolved); no changes are allowed after dissolution")
        }
    }

    public static func form(_ c: AllianceProfile, _ s: AllianceState) throws(AllianceRejection) -> [AllianceEvent] {
        guard !s.exists else { throw reject(c.alliance, "alliance", "already exists") }
        return [.formed(c)]
    }

    public static func admit(_ c: AllianceAdmission, _ s: AllianceState, nation: NationState) throws(AllianceRejection) -> [AllianceEvent] {
        try requireOpen(c.alliance, s)
        guard nation.exists else { throw reject(c.alliance, "nation", "cannot admit \(c.nation): the nation is not registered") }
        if let m = s.currentMembership(of: c.nation) {
            throw reject(c.alliance, "nation", "already has \(c.nation) as \(m.role) since \(m.joined)")
        }
        if let founded = s.profile?.founded, c.joined < founded {
            throw reject(c.alliance, "joined", "was founded on \(founded); \(c.nation) cannot join on \(c.joined)")
        }
        if let last = s.memberships.last(where: { $0.nation == c.nation }), let left = last.left, c.joined < left {
            throw reject(c.alliance, "joined", "recorded \(c.nation) leaving on \(left); it cannot rejoin earlier, on \(c.joined)")
        }
        return [.memberAdmitted(c)]
    }

    public static func remove(_ c: AllianceDeparture, _ s: AllianceState) throws(AllianceRejection) -> [AllianceEvent] {
        try requireOpen(c.alliance, s)
        guard let m = s.currentMembership(of: c.nation) else {
            throw reject(c.alliance, "nation", "has no current membership of \(c.nation)")
        }
        guard c.left >= m.joined else {
            throw reject(c.alliance, "left", "admitted \(c.nation) on \(m.joined); it cannot leave earlier, on \(c.left)")
        }
        return [.memberLeft(c)]
    }

    public static func dissolve(_ c: AllianceDissolution, _ s: AllianceState) throws(AllianceRejection) -> [AllianceEvent] {
        try requireOpen(c.alliance, s)
        if let founded = s.profile?.founded, c.dissolved < founded {
            throw reject(c.alliance, "dissolved", "was founded on \(founded); it cannot be dissolved earlier, on \(c.dissolved)")
        }
        return [.dissolved(c)]
    }
}

// MARK: - Nation

public enum NationDecider {
    public static func register(_ c: NationProfile, _ s: NationState) throws(NationRejection) -> [NationEvent] {
        guard !s.exists else {
            throw NationRejection(entity: "nation \(c.nation)", field: "nation", message: "nation \(c.nation) is already registered")
        }
        return [.registered(c)]
    }
}

// MARK: - Unit

public enum UnitDecider {
    static func reject(_ id: Slug, _ field: String, _ rule: String) -> UnitRejection {
        UnitRejection(entity: "unit \(id)", field: field, message: "unit \(id) \(rule)")
    }

    static func requireExists(_ id: Slug, _ s: UnitState) throws(UnitRejection) {
        guard s.exists else { throw reject(id, "unit", "is not registered") }
    }

    public static func register(_ c: UnitProfile, _ s: UnitState, nation: NationState) throws(UnitRejection) -> [UnitEvent] {
        guard !s.exists else { throw reject(c.unit, "unit", "is already registered") }
        guard nation.exists else { throw reject(c.unit, "nation", "cannot belong to \(c.nation): the nation is not registered") }
        return [.registered(c)]
    }

    public static func addCapability(_ c: CapabilityAddition, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard !s.capabilities.contains(c.capability) else {
            throw reject(c.unit, "capability", "already implements \(c.capability.kind) \(c.capability)")
        }
        return [.capabilityAdded(c)]
    }

    public static func withdrawCapability(_ c: CapabilityWithdrawal, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard s.capabilities.contains(c.capability) else {
            throw reject(c.unit, "capability", "does not implement \(c.capability.kind) \(c.capability)")
        }
        return [.capabilityWithdrawn(c)]
    }

    public static func report(_ c: ReadinessSubmission, _ s: UnitState, today: Day) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard c.asOf <= today else {
            throw reject(c.unit, "asOf", "cannot report readiness as of \(c.asOf), after the decision date \(today)")
        }
        guard !s.reports.contains(where: { $0.asOf == c.asOf }) else {
            throw reject(c.unit, "asOf", "already has a readiness report as of \(c.asOf); use correctReadiness with a reason")
        }
        return [.readinessReported(ReadinessReported(unit: c.unit, asOf: c.asOf, ratings: c.ratings, cLevel: c.ratings.overall))]
    }

    public static func override(_ c: ReadinessOverride, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard let report = s.reports.last(where: { $0.asOf == c.asOf }) else {
            throw reject(c.unit, "asOf", "has no readiness report as of \(c.asOf) to override")
        }
        guard report.cLevel != c.cLevel else {
            throw reject(c.unit, "cLevel", "is already \(c.cLevel) as of \(c.asOf); an override must change the level")
        }
        return [.readinessOverridden(c)]
    }

    public static func correct(_ c: ReadinessCorrection, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard let report = s.reports.last(where: { $0.asOf == c.asOf }) else {
            throw reject(c.unit, "asOf", "has no readiness report as of \(c.asOf) to correct")
        }
        guard report.ratings != c.ratings else {
            throw reject(c.unit, "ratings", "already has these ratings as of \(c.asOf); a correction must change them")
        }
        return [.readinessCorrected(
            ReadinessCorrected(unit: c.unit, asOf: c.asOf, ratings: c.ratings, cLevel: c.ratings.overall, reason: c.reason))]
    }

    /// Commits the unit; refuses a window that overlaps any other commitment.
    public static func commit(_ c: UnitCommitted, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        if s.commitment(exercise: c.exercise, phase: c.phase) != nil {
            throw reject(c.unit, c.phase == nil ? "unit" : "phase",
                "is already committed to \(c.exerciseName)\(c.phase.map { " (phase \($0))" } ?? "")")
        }
        try checkOverlap(c.unit, c.window, s.commitments, field: "window")
        return [.committed(c)]
    }

    static func checkOverlap(_ id: Slug, _ window: Window, _ others: [UnitCommitment], field: String) throws(UnitRejection) {
        if let other = others.first(where: { $0.window.overlaps(window) }) {
            throw reject(id, field,
                "is already committed to \(other.exerciseName)\(other.phase.map { " (phase \($0))" } ?? "") \(other.window)")
        }
    }

    public static func release(_ c: UnitRelease, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        try requireExists(c.unit, s)
        guard s.commitment(exercise: c.exercise, phase: c.phase) != nil else {
            throw reject(c.unit, "unit", "is not committed to exercise \(c.exercise)\(c.phase.map { " phase \($0)" } ?? "")")
        }
        return [.released(c)]
    }

    /// Moves every commitment of `exercise` by `shiftDays`, re-checking overlaps with the unit's other commitments.
    public static func move(unit id: Slug, exercise: Slug, shiftDays: Int, reason: Text, _ s: UnitState) throws(UnitRejection) -> [UnitEvent] {
        let others = s.commitments.filter { $0.exercise != exercise }
        var events: [UnitEvent] = []
        for commitment in s.commitments where commitment.exercise == exercise {
            guard let moved = commitment.window.shifted(by: shiftDays) else {
                throw reject(id, "window", "cannot be moved \(shiftDays) days")
            }
            try checkOverlap(id, moved, others, field: "window")
            events.append(.commitmentMoved(
                CommitmentMoved(exercise: exercise, unit: id, phase: commitment.phase, window: moved, reason: reason)))
        }
        return events
    }
}

// MARK: - Training area

public enum AreaDecider {
    static func reject(_ id: Slug, _ field: String, _ rule: String) -> AreaRejection {
        AreaRejection(entity: "training area \(id)", field: field, message: "training area \(id) \(rule)")
    }

    public static func register(_ c: AreaProfile, _ s: AreaState, host: NationState) throws(AreaRejection) -> [AreaEvent] {
        guard !s.exists else { throw reject(c.area, "area", "is already registered") }
        guard host.exists else { throw reject(c.area, "hostNation", "cannot be hosted by \(c.hostNation): the nation is not registered") }
        return [.registered(c)]
    }

    static func checkOverlap(_ id: Slug, _ window: Window, _ others: [AreaBooking]) throws(AreaRejection) {
        if let other = others.first(where: { $0.window.overlaps(window) }) {
            throw reject(id, "window",
                "is already booked by \(other.exerciseName)\(other.phase.map { " (phase \($0))" } ?? "") \(other.window)")
        }
    }

    public static func book(_ c: AreaBooked, _ s: AreaState) throws(AreaRejection) -> [AreaEvent] {
        guard s.exists else { throw reject(c.area, "area", "is not registered") }
        if s.bookings.contains(where: { $0.exercise == c.exercise && $0.phase == c.phase }) {
            throw reject(c.area, "area", "is already booked by \(c.exerciseName)\(c.phase.map { " (phase \($0))" } ?? "")")
        }
        try checkOverlap(c.area, c.window, s.bookings)
        return [.booked(c)]
    }

    public static func release(_ c: AreaRelease, _ s: AreaState) throws(AreaRejection) -> [AreaEvent] {
        guard s.exists else { throw reject(c.area, "area", "is not registered") }
        guard s.bookings.contains(where: { $0.exercise == c.exercise && $0.phase == c.phase }) else {
            throw reject(c.area, "area", "is not booked by exercise \(c.exercise)\(c.phase.map { " phase \($0)" } ?? "")")
        }
        return [.bookingReleased(c)]
    }

    /// Moves every booking of `exercise` by `shiftDays`, re-checking overlaps with the area's other bookings.
    public static func move(area id: Slug, exercise: Slug, shiftDays: Int, reason: Text, _ s: AreaState) throws(AreaRejection) -> [AreaEvent] {
        let others = s.bookings.filter { $0.exercise != exercise }
        var events: [AreaEvent] = []
        for booking in s.bookings where booking.exercise == exercise {
            guard let moved = booking.window.shifted(by: shiftDays) else {
                throw reject(id, "window", "cannot be moved \(shiftDays) days")
            }
            try checkOverlap(id, moved, others)
            events.append(.bookingMoved(
                AreaBookingMoved(exercise: exercise, area: id, phase: booking.phase, window: moved, reason: reason)))
        }
        return events
    }
}
