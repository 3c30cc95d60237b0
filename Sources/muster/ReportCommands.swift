import ArgumentParser
import EventSourcing
import Foundation
import Postgres

/// A report: titled sections of rows, and for HTML an optional picture.
struct ReportDocument {
    var title: String
    var sections: [TableOutput]
    var htmlExtras: [String] = []
    var notes: [String] = []

    func render(_ format: OutputFormat) -> String {
        switch format {
        case .table:
            return ([title, String(repeating: "=", count: title.count)] + sections.map { $0.text() + "\n" } + notes.map { "note: \($0)" })
                .joined(separator: "\n")
        case .json:
            let object: [String: Any] = ["title": title, "sections": sections.map { $0.jsonValue() }, "notes": notes]
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        case .csv:
            // One table per CSV file: the report's main section.
            return sections.first?.csv() ?? ""
        case .html:
            let body = htmlExtras.joined(separator: "\n") + sections.map { $0.html() }.joined(separator: "\n")
                + notes.map { "<p class=\"note\">\(HTMLPage.escape($0))</p>" }.joined(separator: "\n")
            return HTMLPage.document(title: title, body: body)
        }
    }
}

/// Reads the `reporting` views (or the same views over a replayed past, for auditors).
struct ReportQueries {
    let db: PostgresConnection
    /// `reporting`, or a scratch schema holding the same views over an as-of rebuild.
    let schema: String

    func table(_ title: String, _ columns: [String], from view: String, exercise: String?, exerciseColumn: String = "exercise",
               orderBy: String, notes: [String] = []) throws -> TableOutput {
        var q: PostgresQuery = "SELECT \(unescaped: columns.map { "\($0)::text AS \($0)" }.joined(separator: ", ")) FROM \(unescaped: schema).\(unescaped: view)"
        if let exercise { q.append(" WHERE \(unescaped: exerciseColumn) = \(exercise)") }
        q.append(" ORDER BY \(unescaped: orderBy)")
        let rows = try db.query(q).map { row in try columns.map { try row.text($0) ?? "" } }
        return TableOutput(title: title, columns: columns, rows: rows, notes: notes)
    }

    static let syntheticNote = "readiness figures are SYNTHETIC demo data, not real C-levels (real ones are classified)"

    func readiness(exercise: String?) throws -> ReportDocument {
        var sections = [
            try table("Committed units at StartEx", ["exercise", "unit", "nation", "phase", "minimum_c_level", "c_level", "as_of", "age_at_start_days", "stale_at_start", "below_threshold", "current_c_level", "below_threshold_now", "overridden"],
                      from: "readiness_exercise", exercise: exercise, orderBy: "exercise, below_threshold DESC, nation, unit"),
        ]
        if exercise == nil {
            sections.append(try table("Latest readiness by unit", ["unit", "nation", "service", "c_level", "personnel", "supplies", "equipment", "training", "overridden", "remark", "as_of", "report_age_days", "stale"],
                                      from: "readiness_units", exercise: nil, orderBy: "nation, unit"))
            sections.append(try table("Roll-up by nation", ["nation", "units", "c1", "c2", "c3", "c4", "c5", "worst_c_level", "stale_units"],
                                      from: "readiness_by_nation", exercise: nil, orderBy: "nation"))
            sections.append(try table("Roll-up by alliance", ["alliance", "nations", "units", "c1", "c2", "c3", "c4", "c5", "worst_c_level", "stale_units"],
                                      from: "readiness_by_alliance", exercise: nil, orderBy: "alliance"))
        }
        return ReportDocument(title: "Readiness" + (exercise.map { " — \($0)" } ?? ""), sections: sections, notes: [Self.syntheticNote])
    }

    func interoperability(exercise: String?) throws -> ReportDocument {
        let matrix = try table("Nation × nation interoperability", ["exercise", "nation_a", "nation_b", "level", "level_name", "required", "shared", "evidence"],
                               from: "interoperability_matrix", exercise: exercise, orderBy: "exercise, nation_a, nation_b")
        let gaps = try table("Gap register", ["exercise", "observation", "dimension", "nations", "standard", "severity", "observed_level", "stage", "text"],
                             from: "gap_register", exercise: exercise, orderBy: "exercise, observation")
        let standards = try table("Who implements each standard", ["standard", "nation", "units", "unit_list"],
                                  from: "standard_implementers", exercise: nil, orderBy: "standard, nation")
        return ReportDocument(title: "Interoperability" + (exercise.map { " — \($0)" } ?? ""), sections: [matrix, gaps, standards],
                              htmlExtras: [HTMLCharts.matrices(matrix)],
                              notes: ["levels: 0 not interoperable, 1 deconflicted, 2 compatible, 3 integrated; derived from shared required standards, lowered by open after-action observations"])
    }

    func schedule(exercise: String?) throws -> ReportDocument {
        let exercises = try table("Exercises", ["exercise", "name", "status", "start_date", "end_date", "alliance", "lead_nations", "types"],
                                  from: "schedule_exercises", exercise: exercise, orderBy: "start_date, exercise")
        let phases = try table("Phases", ["exercise", "phase", "name", "start_date", "end_date"], from: "schedule_phases", exercise: exercise, orderBy: "exercise, start_date")
        let milestones = try table("Milestones", ["exercise", "milestone", "held_on"], from: "schedule_milestones", exercise: exercise, orderBy: "exercise, held_on")
        let units = try table("Unit utilisation", ["unit", "nation", "exercise", "phase", "role", "start_date", "end_date", "days"],
                              from: "unit_utilisation", exercise: exercise, orderBy: "unit, start_date")
        let areas = try table("Training-area utilisation", ["area", "host_nation", "kind", "exercise", "phase", "start_date", "end_date", "days"],
                              from: "area_utilisation", exercise: exercise, orderBy: "area, start_date")
        let conflicts = try conflictsTable(exercise: exercise)
        return ReportDocument(title: "Schedule" + (exercise.map { " — \($0)" } ?? ""), sections: [exercises, phases, milestones, units, areas, conflicts],
                              htmlExtras: [HTMLCharts.gantt(exercises: exercises, phases: phases, milestones: milestones, conflicts: conflicts)])
    }

    func conflictsTable(exercise: String?) throws -> TableOutput {
        var table = try self.table("Conflicts and near-conflicts", ["severity", "kind", "resource", "exercise_a", "exercise_b", "start_a", "end_a", "start_b", "end_b", "overlap_days", "gap_days", "detail"],
                                   from: "conflicts", exercise: nil, orderBy: "severity, resource, exercise_a")
        if let exercise {
            table.rows = table.rows.filter { $0[3] == exercise || $0[4] == exercise }
        }
        return table
    }

    func conflicts(exercise: String?) throws -> ReportDocument {
        ReportDocument(title: "Conflicts" + (exercise.map { " — \($0)" } ?? ""), sections: [try conflictsTable(exercise: exercise)],
                       notes: ["a conflict is an overlap of windows for one unit or training area; a near-conflict leaves under 14 days between them"])
    }
}

extension Muster {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "Readiness, interoperability, schedule and conflicts, from the read models.",
            discussion: """
                Reporting jobs can read the same data with plain SQL from the reporting schema (docs/reporting.md).
                Example:
                  muster report readiness --exercise ts25
                  muster report schedule --format html > schedule.html
                  muster report interoperability --exercise ts25 --format csv
                """)

        enum Kind: String, ExpressibleByArgument, CaseIterable {
            case readiness, interoperability, schedule, conflicts
        }

        @Argument(help: "readiness, interoperability, schedule or conflicts.") var kind: Kind
        @Option(help: "Only this exercise (its id, e.g. ts25).") var exercise: String?
        @Option(help: "table, json, csv or html (one self-contained file).") var format: OutputFormat = .table
        @OptionGroup var connection: ConnectionOptions

        func validate() throws {
            if let exercise, exercise.isEmpty || exercise.count > 63 || !exercise.allSatisfy({ ($0.isASCII && ($0.isLowercase || $0.isNumber)) || $0 == "-" }) {
                throw ValidationError("--exercise: '\(exercise.prefix(40))' is not an exercise id (lowercase letters, digits and hyphens)")
            }
        }

        func run() throws {
            try guarded {
                let session = try Session.open(connection)
                try ProjectionUpdates.catchUp(session)
                let queries = ReportQueries(db: session.db, schema: "reporting")
                print(try queries.document(kind, exercise: exercise).render(format))
            }
        }
    }
}

extension ReportQueries {
    func document(_ kind: Muster.Report.Kind, exercise: String?) throws -> ReportDocument {
        switch kind {
        case .readiness: try readiness(exercise: exercise)
        case .interoperability: try interoperability(exercise: exercise)
        case .schedule: try schedule(exercise: exercise)
        case .conflicts: try conflicts(exercise: exercise)
        }
    }
}
