import Foundation

/// One command of the synthetic programme: the events it appends, per stream, in order.
public struct SyntheticCommand: Sendable {
    public let name: String
    public let actor: String
    public let reason: String?
    public let writes: [(stream: String, events: [EventRecord])]

    public var eventCount: Int { writes.reduce(0) { $0 + $1.events.count } }
}

/// A deterministic, SYNTHETIC programme of exercises for benchmarks and tests: about `targetEvents`
/// events of every planning event type, in the proportions a multi-year programme would have.
///
/// Weekly readiness reports of every unit make about half of the log; each exercise (about 870
/// events on its stream) is planned, invited to, staffed with units and a training area, scripted
/// (a MSEL of 250 injects), conducted, observed and closed over 31 weeks. Some exercises are postponed,
/// paused or cancelled; some units withdraw capabilities, some commitments are released; the oldest
/// readiness reports and exercise plans are stored in schema version 1, as an older release wrote them.
/// Nations are real trigraphs; units, areas, exercises and every figure are invented and say so.
public enum SyntheticProgramme {
    /// The nations taking part (public STANAG 1059 trigraphs).
    static let nations = ["AUS", "USA", "JPN", "IND", "NZL", "GBR", "CAN", "FRA", "DEU", "ITA", "ESP", "NLD", "NOR", "DNK",
                          "POL", "KOR", "PHL", "IDN", "MYS", "SGP", "THA", "FJI", "TON", "PNG", "BRA", "CHL", "MEX", "PER", "ISR", "ZAF"]
    static let capabilities = [("data-link", "Link 16"), ("fmn", "FMN Spiral 4"), ("stanag", "STANAG 4609"),
                               ("language", "English SLP 3333"), ("data-link", "JREAP-C")]
    static let services = ["land", "maritime", "air", "land", "sof", "cyber"]
    static let echelons = ["land": "battalion", "maritime": "ship", "air": "squadron", "sof": "company", "cyber": "team"]
    static let areaKinds = ["land-range", "sea-area", "airspace", "port"]
    static let start: Day = "2021-01-04"
    /// Weeks the programme spans.
    static let weeks = 260
    /// Weeks an exercise is active, from planning to closure.
    static let exerciseWeeks = 31
    static let injectsPerExercise = 250

    /// Sizes for about `targetEvents` events.
    public struct Size: Sendable, Equatable {
        public let units: Int
        public let exercises: Int
        public let areas: Int

        public init(targetEvents: Int) {
            // Per unit: 260 weekly reports (plus overrides and corrections) and 3 registrations; per exercise about 870 events.
            let n = max(targetEvents, 2_000)
            units = max(4, n * 53 / 100 / 270)
            exercises = max(1, n * 47 / 100 / 870)
            areas = max(2, min(40, exercises))
        }
    }

    /// Generates the programme in order, calling `body` once per command.
    ///
    /// - Returns: the number of events generated.
    @discardableResult
    public static func generate(targetEvents: Int, _ body: (SyntheticCommand) throws -> Void) rethrows -> Int {
        try withoutActuallyEscaping(body) { body in
            var g = Generator(size: Size(targetEvents: targetEvents), body: body)
            try g.run()
            return g.events
        }
    }

    struct Generator {
        let size: Size
        let body: (SyntheticCommand) throws -> Void
        var events = 0
        var rng = SplitMix64(seed: 0x6D75_7374_6572)
        var ratings: [[Int]] = []

        init(size: Size, body: @escaping (SyntheticCommand) throws -> Void) {
            self.size = size
            self.body = body
        }

        mutating func emit(_ name: String, _ actor: String, reason: String? = nil, _ writes: [(String, String, Int, String)]) throws {
            var grouped: [(stream: String, events: [EventRecord])] = []
            for (stream, type, version, json) in writes {
                let record = EventRecord(type: type, schemaVersion: version, payload: Data(json.utf8))
                if let i = grouped.firstIndex(where: { $0.stream == stream }) {
                    grouped[i].events.append(record)
                } else {
                    grouped.append((stream, [record]))
                }
            }
            events += writes.count
            try body(SyntheticCommand(name: name, actor: actor, reason: reason, writes: grouped))
        }

        mutating func one(_ name: String, _ actor: String, reason: String? = nil, _ stream: String, _ type: String, _ json: String, version: Int = 1) throws {
            try emit(name, actor, reason: reason, [(stream, type, version, json)])
        }

        func day(_ week: Int, _ offset: Int = 0) -> String { Day(ordinal: start.ordinal + week * 7 + offset).description }
        func unit(_ i: Int) -> String { "syn-\(nation(i).lowercased())-\(i)" }
        func nation(_ i: Int) -> String { SyntheticProgramme.nations[i % SyntheticProgramme.nations.count] }
        func exercise(_ i: Int) -> String { "syn-ex-\(i)" }
        func area(_ i: Int) -> String { "syn-area-\(i)" }
        func window(_ a: String, _ b: String) -> String { "{\"end\": \"\(b)\", \"start\": \"\(a)\"}" }
        /// The week exercise `i` starts planning; its conduct is 26 weeks later.
        func firstWeek(_ i: Int) -> Int { i * (SyntheticProgramme.weeks - SyntheticProgramme.exerciseWeeks) / max(1, size.exercises) }

        mutating func run() throws {
            try setup()
            for week in 0..<SyntheticProgramme.weeks {
                for u in 0..<size.units { try readiness(u, week) }
                for x in 0..<size.exercises {
                    let w = week - firstWeek(x)
                    if (0..<SyntheticProgramme.exerciseWeeks).contains(w) { try exerciseWeek(x, w) }
                }
                try alliancesWeek(week)
                for u in stride(from: 0, to: size.units, by: 50) where week == 150 {
                    let (kind, name) = SyntheticProgramme.capabilities[u % SyntheticProgramme.capabilities.count]
                    try one("withdrawCapability", "force-registry", "unit-\(unit(u))", "CapabilityWithdrawn",
                            "{\"unit\": \"\(unit(u))\", \"reason\": \"SYNTHETIC: terminals returned for upgrade\", \"capability\": {\"kind\": \"\(kind)\", \"name\": \"\(name)\"}}")
                }
            }
        }

        mutating func setup() throws {
            for n in SyntheticProgramme.nations {
                try one("registerNation", "programme-office", "nation-\(n.lowercased())", "NationRegistered",
                        "{\"name\": \"Nation \(n)\", \"nation\": \"\(n)\", \"fictional\": false}")
            }
            try one("formAlliance", "programme-office", "alliance-syn-coalition", "AllianceFormed",
                    "{\"kind\": \"multinational-collaboration\", \"name\": \"Synthetic Coalition\", \"founded\": \"2020-01-01\", \"alliance\": \"syn-coalition\"}")
            for (i, n) in SyntheticProgramme.nations.prefix(12).enumerated() {
                try one("admitMember", "programme-office", "alliance-syn-coalition", "AllianceMemberAdmitted",
                        "{\"role\": \"\(i < 8 ? "member" : i < 11 ? "partner" : "observer")\", \"joined\": \"2020-01-01\", \"nation\": \"\(n)\", \"alliance\": \"syn-coalition\"}")
            }
            try one("formAlliance", "programme-office", "alliance-syn-pact", "AllianceFormed",
                    "{\"kind\": \"defence-pact\", \"name\": \"Synthetic Pact\", \"founded\": \"2020-06-01\", \"alliance\": \"syn-pact\"}")
            for n in SyntheticProgramme.nations.suffix(6) {
                try one("admitMember", "programme-office", "alliance-syn-pact", "AllianceMemberAdmitted",
                        "{\"role\": \"member\", \"joined\": \"2020-06-01\", \"nation\": \"\(n)\", \"alliance\": \"syn-pact\"}")
            }
            for u in 0..<size.units {
                let service = SyntheticProgramme.services[u % SyntheticProgramme.services.count]
                try one("registerUnit", "force-registry", "unit-\(unit(u))", "UnitRegistered",
                        "{\"name\": \"Synthetic \(service) unit \(u) (\(nation(u)))\", \"unit\": \"\(unit(u))\", \"nation\": \"\(nation(u))\", \"echelon\": \"\(SyntheticProgramme.echelons[service] ?? "company")\", \"service\": \"\(service)\"}")
                for k in 0..<2 {
                    let (kind, name) = SyntheticProgramme.capabilities[(u + k * 2) % SyntheticProgramme.capabilities.count]
                    try one("addCapability", "force-registry", "unit-\(unit(u))", "CapabilityAdded",
                            "{\"unit\": \"\(unit(u))\", \"capability\": {\"kind\": \"\(kind)\", \"name\": \"\(name)\"}}")
                }
                ratings.append([1 + u % 2, 1 + u % 3, 1, 2])
            }
            for a in 0..<size.areas {
                try one("registerArea", "range-control", "area-\(area(a))", "TrainingAreaRegistered",
                        "{\"area\": \"\(area(a))\", \"kind\": \"\(SyntheticProgramme.areaKinds[a % 4])\", \"name\": \"Synthetic training area \(a)\", \"hostNation\": \"\(nation(a))\"}")
            }
        }

        mutating func alliancesWeek(_ week: Int) throws {
            if week == 100 {
                try one("recordDeparture", "programme-office", "alliance-syn-coalition", "AllianceMemberLeft",
                        "{\"left\": \"\(day(week))\", \"nation\": \"\(SyntheticProgramme.nations[7])\", \"alliance\": \"syn-coalition\"}")
            }
            if week == 200 {
                try one("dissolveAlliance", "programme-office", "alliance-syn-pact", "AllianceDissolved",
                        "{\"reason\": \"SYNTHETIC: pact superseded\", \"alliance\": \"syn-pact\", \"dissolved\": \"\(day(week))\"}")
            }
        }

        mutating func readiness(_ u: Int, _ week: Int) throws {
            // Ratings drift by one step now and then, between 1 and 4.
            for k in 0..<4 where rng.next() % 8 == 0 {
                ratings[u][k] = min(4, max(1, ratings[u][k] + (rng.next() % 2 == 0 ? 1 : -1)))
            }
            let r = ratings[u]
            let level = r.max() ?? 1
            let stream = "unit-\(unit(u))", asOf = day(week)
            let reason = "SYNTHETIC benchmark figure"
            if week < 26 {
                try one("reportReadiness", "readiness-officer", reason: reason, stream, "ReadinessReported",
                        "{\"asOf\": \"\(asOf)\", \"unit\": \"\(unit(u))\", \"level\": \(level)}", version: 1)
                return
            }
            let ratingsJSON = "{\"supplies\": \(r[1]), \"training\": \(r[3]), \"equipment\": \(r[2]), \"personnel\": \(r[0])}"
            try one("reportReadiness", "readiness-officer", reason: reason, stream, "ReadinessReported",
                    "{\"asOf\": \"\(asOf)\", \"unit\": \"\(unit(u))\", \"cLevel\": \(level), \"ratings\": \(ratingsJSON)}", version: 2)
            if (u + week) % 40 == 0 {
                try one("overrideReadiness", "unit-commander", stream, "ReadinessOverridden",
                        "{\"asOf\": \"\(asOf)\", \"unit\": \"\(unit(u))\", \"cLevel\": \(max(1, level - 1)), \"remark\": \"SYNTHETIC commander's assessment\"}")
            }
            if (u * 7 + week) % 97 == 0 {
                let c = [r[0], min(4, r[1] + 1), r[2], r[3]]
                try one("correctReadiness", "readiness-officer", stream, "ReadinessCorrected",
                        "{\"asOf\": \"\(asOf)\", \"unit\": \"\(unit(u))\", \"cLevel\": \(c.max() ?? 1), \"reason\": \"SYNTHETIC corrected return\", \"ratings\": {\"supplies\": \(c[1]), \"training\": \(c[3]), \"equipment\": \(c[2]), \"personnel\": \(c[0])}}")
            }
        }

        /// The units exercise `x` commits: ten, from its participating nations' units.
        func committedUnits(_ x: Int) -> [Int] {
            (0..<10).map { k in (x * 13 + k * 7) % size.units }
        }

        mutating func exerciseWeek(_ x: Int, _ w: Int) throws {
            let id = exercise(x), stream = "exercise-\(id)"
            let first = firstWeek(x)
            let startEx = day(first + 26), endEx = day(first + 27, 6), split = day(first + 26, 6), phase2 = day(first + 27)
            let cancelled = x % 40 == 5, postponed = x % 20 == 3, paused = x % 25 == 2
            let shift = postponed && w >= 22 ? 7 : 0
            func shifted(_ d: String) -> String { Day(ordinal: Day(stringLiteral: d).ordinal + shift).description }
            let participants = (0..<6).map { nation(x + $0 * 5) }
            if cancelled && w > 15 { return }
            switch w {
            case 0:
                let lead = participants[0], host = participants[1]
                if x % 10 == 0 {
                    try one("planExercise", "exercise-planner", stream, "ExercisePlanned", """
                        {"end": "\(endEx)", "name": "SYNTHETIC EXERCISE \(x)", "joint": true, "types": ["cpx"], "start": "\(startEx)", "ceiling": "UNCLASSIFIED", "combined": true, "exercise": "\(id)", "leadNations": ["\(lead)"], "minimumReadiness": 2, "strategicObjectives": ["interoperability"]}
                        """, version: 1)
                } else {
                    try one("planExercise", "exercise-planner", stream, "ExercisePlanned", """
                        {"name": "SYNTHETIC EXERCISE \(x)", "joint": \(x % 3 != 0), "types": ["livex", "cpx"], "phases": [{"id": "phase-1", "name": "Phase 1", "window": \(window(startEx, split))}, {"id": "phase-2", "name": "Phase 2", "window": \(window(phase2, endEx))}], "series": "Synthetic series \(x % 7)", "window": \(window(startEx, endEx)), "ceiling": "UNCLASSIFIED", "alliance": "syn-coalition", "combined": true, "exercise": "\(id)", "hostNations": ["\(host)"], "leadNations": ["\(lead)"], "releasableTo": [], "minimumReadiness": \(2 + x % 2), "requiredStandards": [{"kind": "data-link", "name": "Link 16"}, {"kind": "fmn", "name": "FMN Spiral 4"}], "strategicObjectives": ["interoperability", "deterrence"]}
                        """, version: 2)
                }
                for n in participants.dropFirst(2) {
                    try one("inviteNation", "exercise-planner", stream, "NationInvited", "{\"role\": \"participant\", \"nation\": \"\(n)\", \"exercise\": \"\(id)\"}")
                }
            case 1:
                try advance(x, "programmed", "initiation")
                for (k, n) in participants.dropFirst(2).enumerated() {
                    if k == 3 {
                        try one("declineInvitation", "exercise-planner", stream, "InvitationDeclined", "{\"nation\": \"\(n)\", \"reason\": \"SYNTHETIC: other commitments\", \"exercise\": \"\(id)\"}")
                    } else {
                        try one("acceptInvitation", "exercise-planner", stream, "InvitationAccepted", "{\"nation\": \"\(n)\", \"exercise\": \"\(id)\"}")
                    }
                }
            case 2:
                try milestone(x, "cdc", day(first + 2))
                for k in 1...3 {
                    try one("addObjective", "exercise-planner", stream, "ObjectiveAdded",
                            "{\"exercise\": \"\(id)\", \"objective\": {\"id\": \"obj-\(k)\", \"text\": \"SYNTHETIC training objective \(k)\", \"tasks\": [\"Task \(k).1\"], \"priority\": \(k), \"strategicObjective\": \"interoperability\"}}")
                }
            case 6: try advance(x, "initiation", "specification")
            case 8: try milestone(x, "ipc", day(first + 8))
            case 10:
                try advance(x, "specification", "planning")
                for (k, u) in committedUnits(x).enumerated() {
                    let phase = k % 3 == 0 ? "phase-1" : nil
                    let phaseJSON = phase.map { "\"phase\": \"\($0)\", " } ?? ""
                    let win = phase == nil ? window(startEx, endEx) : window(startEx, split)
                    try emit("commitUnit", "exercise-planner", [
                        ("unit-\(unit(u))", "UnitCommitted", 1, "{\"role\": \"Synthetic role \(k)\", \"unit\": \"\(unit(u))\", \(phaseJSON)\"window\": \(win), \"exercise\": \"\(id)\", \"exerciseName\": \"SYNTHETIC EXERCISE \(x)\"}"),
                        (stream, "ForceCommitted", 1, "{\"role\": \"Synthetic role \(k)\", \"unit\": \"\(unit(u))\", \(phaseJSON)\"nation\": \"\(nation(u))\", \"window\": \(win), \"exercise\": \"\(id)\"}"),
                    ])
                }
                let a = area(x % size.areas)
                try emit("reserveArea", "range-control", [
                    ("area-\(a)", "TrainingAreaBooked", 1, "{\"area\": \"\(a)\", \"window\": \(window(startEx, endEx)), \"exercise\": \"\(id)\", \"exerciseName\": \"SYNTHETIC EXERCISE \(x)\"}"),
                    (stream, "AreaReserved", 1, "{\"area\": \"\(a)\", \"window\": \(window(startEx, endEx)), \"exercise\": \"\(id)\"}"),
                ])
            case 11...24:
                let per = SyntheticProgramme.injectsPerExercise / 14
                let extra = w == 24 ? SyntheticProgramme.injectsPerExercise - per * 14 : 0
                for k in 0..<(per + extra) {
                    let number = (w - 11) * per + k + 1
                    try one("scriptInject", "excon", stream, "InjectScripted",
                            "{\"inject\": {\"to\": [\"\(participants[2])\", \"\(participants[3])\"], \"from\": \"\(participants[0])\", \"kind\": \"inject\", \"method\": \"message\", \"number\": \(number), \"marking\": {\"noforn\": false, \"releasableTo\": [], \"classification\": \"UNCLASSIFIED\"}, \"controller\": \"EXCON cell \(number % 4)\", \"objectives\": [\"obj-\(1 + number % 3)\"], \"scenarioTime\": \"H+\(number)\", \"expectedAction\": \"SYNTHETIC expected action for inject \(number)\"}, \"exercise\": \"\(id)\"}")
                }
                if w == 14 { try milestone(x, "mpc", day(first + 14)) }
                if w == 15 {
                    if cancelled {
                        try one("cancelExercise", "exercise-planner", stream, "ExerciseCancelled", "{\"reason\": \"SYNTHETIC: cancelled\", \"exercise\": \"\(id)\"}")
                        for u in committedUnits(x) where u % 2 == 0 {
                            try emit("releaseUnit", "exercise-planner", [
                                ("unit-\(unit(u))", "UnitReleased", 1, "{\"unit\": \"\(unit(u))\", \"reason\": \"SYNTHETIC: exercise cancelled\", \"exercise\": \"\(id)\"}"),
                                (stream, "ForceReleased", 1, "{\"unit\": \"\(unit(u))\", \"reason\": \"SYNTHETIC: exercise cancelled\", \"exercise\": \"\(id)\"}"),
                            ])
                        }
                        let a = area(x % size.areas)
                        try emit("releaseArea", "range-control", [
                            ("area-\(a)", "TrainingAreaBookingReleased", 1, "{\"area\": \"\(a)\", \"reason\": \"SYNTHETIC: exercise cancelled\", \"exercise\": \"\(id)\"}"),
                            (stream, "AreaReservationReleased", 1, "{\"area\": \"\(a)\", \"reason\": \"SYNTHETIC: exercise cancelled\", \"exercise\": \"\(id)\"}"),
                        ])
                    }
                }
                if w == 16 { try one("holdWorkshop", "exercise-planner", stream, "ScenarioWorkshopHeld", "{\"on\": \"\(day(first + 16))\", \"exercise\": \"\(id)\", \"workshop\": \"mel-mil\"}") }
                if w == 20 {
                    try milestone(x, "fpc", day(first + 20))
                    try one("withdrawNation", "exercise-planner", stream, "NationWithdrew", "{\"nation\": \"\(participants[5])\", \"reason\": \"SYNTHETIC: forces redeployed\", \"exercise\": \"\(id)\"}")
                    if let u = committedUnits(x).first(where: { $0 % 15 == 0 }), !cancelled {
                        try emit("releaseUnit", "exercise-planner", [
                            ("unit-\(unit(u))", "UnitReleased", 1, "{\"unit\": \"\(unit(u))\", \"reason\": \"SYNTHETIC: unit retasked\", \"exercise\": \"\(id)\"}"),
                            (stream, "ForceReleased", 1, "{\"unit\": \"\(unit(u))\", \"reason\": \"SYNTHETIC: unit retasked\", \"exercise\": \"\(id)\"}"),
                        ])
                    }
                }
                if w == 22 && postponed {
                    let newStart = shifted(startEx), newEnd = shifted(endEx)
                    var writes = [(stream, "ExercisePostponed", 1, "{\"reason\": \"SYNTHETIC: host nation request\", \"window\": \(window(newStart, newEnd)), \"exercise\": \"\(id)\", \"previous\": \(window(startEx, endEx)), \"shiftDays\": 7}")]
                    for (k, u) in committedUnits(x).enumerated() where u % 15 != 0 {
                        let phaseJSON = k % 3 == 0 ? "\"phase\": \"phase-1\", " : ""
                        let win = k % 3 == 0 ? window(newStart, shifted(split)) : window(newStart, newEnd)
                        writes.append(("unit-\(unit(u))", "UnitCommitmentMoved", 1, "{\"unit\": \"\(unit(u))\", \(phaseJSON)\"reason\": \"SYNTHETIC: exercise postponed\", \"window\": \(win), \"exercise\": \"\(id)\"}"))
                    }
                    let a = area(x % size.areas)
                    writes.append(("area-\(a)", "TrainingAreaBookingMoved", 1, "{\"area\": \"\(a)\", \"reason\": \"SYNTHETIC: exercise postponed\", \"window\": \(window(newStart, newEnd)), \"exercise\": \"\(id)\"}"))
                    try emit("postponeExercise", "exercise-planner", writes)
                }
            case 26:
                try milestone(x, "startex", shifted(startEx))
                if paused {
                    try one("pauseExercise", "exercise-director", stream, "ExercisePaused", "{\"reason\": \"SYNTHETIC: weather\", \"exercise\": \"\(id)\"}")
                    try one("resumeExercise", "exercise-director", stream, "ExerciseResumed", "{\"exercise\": \"\(id)\"}")
                }
                for number in 1...SyntheticProgramme.injectsPerExercise {
                    try one("setInjectStatus", "excon", stream, "InjectStatusChanged", "{\"number\": \(number), \"status\": \"in-progress\", \"exercise\": \"\(id)\"}")
                }
            case 27:
                for number in 1...SyntheticProgramme.injectsPerExercise {
                    try one("setInjectStatus", "excon", stream, "InjectStatusChanged", "{\"number\": \(number), \"status\": \"executed\", \"exercise\": \"\(id)\"}")
                }
                try milestone(x, "endex", shifted(endEx))
            case 28:
                for k in 1...30 {
                    let a = participants[k % 4], b = participants[(k + 1) % 4]
                    let level = k % 3 == 0 ? ", \"observedLevel\": \(k % 4)" : ""
                    try one("recordObservation", "lessons-cell", stream, "ObservationRecorded",
                            "{\"exercise\": \"\(id)\", \"observation\": {\"id\": \"obs-\(k)\", \"text\": \"SYNTHETIC observation \(k)\", \"marking\": {\"noforn\": false, \"releasableTo\": [], \"classification\": \"UNCLASSIFIED\"}, \"nations\": [\"\(min(a, b))\", \"\(max(a, b))\"], \"severity\": \"\(["minor", "major", "critical"][k % 3])\", \"standard\": {\"kind\": \"data-link\", \"name\": \"Link 16\"}, \"dimension\": \"technical\", \"reportedBy\": \"\(a)\"\(level)}}")
                }
            case 29, 30:
                let stage = w == 29 ? "lesson-identified" : "remedial-action"
                for k in stride(from: w == 29 ? 1 : 2, through: 30, by: w == 29 ? 1 : 3) {
                    try one("advanceLesson", "lessons-cell", stream, "LessonAdvanced",
                            "{\"note\": \"SYNTHETIC note \(k)\", \"stage\": \"\(stage)\", \"exercise\": \"\(id)\", \"observation\": \"obs-\(k)\"}")
                }
                if w == 30 { try advance(x, "assessment", "closed") }
            default:
                break
            }
        }

        mutating func advance(_ x: Int, _ from: String, _ to: String) throws {
            try one("advanceExercise", "exercise-planner", "exercise-\(exercise(x))", "ExerciseAdvanced",
                    "{\"to\": \"\(to)\", \"from\": \"\(from)\", \"exercise\": \"\(exercise(x))\"}")
        }

        mutating func milestone(_ x: Int, _ milestone: String, _ on: String) throws {
            try one("holdMilestone", "exercise-planner", "exercise-\(exercise(x))", "MilestoneHeld",
                    "{\"on\": \"\(on)\", \"exercise\": \"\(exercise(x))\", \"milestone\": \"\(milestone)\"}")
        }
    }
}

/// A small, fast, deterministic pseudo-random generator (SplitMix64): the synthetic programme and the
/// property tests use it, so that a run reproduces from its seed.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
