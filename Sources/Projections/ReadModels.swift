import Foundation
public import EventSourcing
import Planning
public import Postgres

/// The read models Muster runs, and the stable `reporting` views over them.
public enum ReadModels {
    /// Every read model, in the order a worker runs them: the costliest first, so that two connections
    /// taking them in turn (`projections run --once`, `projections rebuild`) finish close together.
    public static var all: [any Projection] {
        [ReadinessProjection(), ReadinessHistoryProjection(), InteroperabilityProjection(), ScheduleProjection(), AuditTrailProjection()]
    }

    /// The roles that may read the `reporting` views.
    public static let readerRoles = ["muster_reporter", "muster_planner", "muster_auditor"]

    /// The schema reporting jobs read.
    public static let reportingSchema = "reporting"

    /// Every view the read models create, in creation order, per projection name.
    public static var viewNames: [String: [String]] {
        var out: [String: [String]] = [:]
        for p in all {
            if let r = p as? any ReportingProjection { out[p.name] = r.views.map(\.name) }
        }
        return out
    }

    /// Creates every reporting view in `viewSchema`, each reading the schema given for its projection.
    ///
    /// The auditors' replay builds scratch copies of the projections (`ProjectionRunner.buildScratch`) and
    /// creates the same views over them in a temporary schema.
    /// - Parameters:
    ///   - viewSchema: an existing schema to create the views in (an identifier that needs no quoting).
    ///   - sources: per projection name, the schema holding its tables; projections not listed are skipped.
    ///   - roles: roles granted SELECT on each view.
    ///   - db: a connection allowed to create views in `viewSchema` and read the sources.
    public static func createViews(in viewSchema: String, reading sources: [String: String],
                                   grantingTo roles: [String] = readerRoles, _ db: PostgresConnection) throws {
        for p in all {
            guard let source = sources[p.name] else { continue }
            try createViews(for: p, in: viewSchema, reading: source, grantingTo: roles, db)
        }
    }

    /// Creates one projection's reporting views in `viewSchema` over the tables in `source`; nothing for a
    /// projection without views.
    ///
    /// - Parameters:
    ///   - projection: the projection whose views to create.
    ///   - viewSchema: an existing schema to create the views in (an identifier that needs no quoting).
    ///   - source: the schema holding the projection's tables: `rm_<name>` or a scratch copy.
    ///   - roles: roles granted SELECT on each view.
    ///   - db: a connection allowed to create views in `viewSchema` and read `source`.
    public static func createViews(for projection: any Projection, in viewSchema: String, reading source: String,
                                   grantingTo roles: [String] = readerRoles, _ db: PostgresConnection) throws {
        guard let r = projection as? any ReportingProjection else { return }
        try r.createViews(in: viewSchema, reading: source, grantingTo: roles, db)
    }
}

/// A projection whose tables back documented views for reporting jobs.
public protocol ReportingProjection: Projection {
    /// The views, in creation order. Each reads only the projection's tables, never another view.
    var views: [ReportingView] { get }
}

extension ReportingProjection {
    /// Creates this projection's views in `viewSchema` over the tables in `source`, with comments and grants.
    ///
    /// - Parameters:
    ///   - viewSchema: the schema to create the views in, e.g. `reporting` (an identifier that needs no quoting).
    ///   - source: the schema holding the projection's tables: `rm_<name>`, or a scratch copy.
    ///   - roles: roles granted SELECT on each view.
    ///   - db: the connection to use, typically inside the runner's transaction.
    /// - Throws: `PostgresError` when a statement fails.
    public func createViews(in viewSchema: String, reading source: String,
                            grantingTo roles: [String] = ReadModels.readerRoles, _ db: PostgresConnection) throws {
        for view in views {
            try view.create(in: viewSchema, reading: source, grantingTo: roles, db)
        }
    }

    /// The live views: `reporting.*` over `rm_<name>`.
    public func createViews(liveSchema: String, _ db: PostgresConnection) throws {
        try createViews(in: ReadModels.reportingSchema, reading: liveSchema, db)
    }
}

/// One documented view of the reporting contract.
public struct ReportingView: Sendable {
    public let name: String
    /// What one row is, for `COMMENT ON VIEW` and docs/reporting.md.
    public let comment: String
    /// Every column with its meaning, in the view's column order.
    public let columns: [(name: String, comment: String)]
    /// The `SELECT` text; `{src}` stands for the schema holding the projection's tables.
    let select: String

    init(_ name: String, _ comment: String, columns: [(String, String)], _ select: String) {
        self.name = name
        self.comment = comment
        self.columns = columns.map { (name: $0.0, comment: $0.1) }
        self.select = select
    }

    func create(in viewSchema: String, reading source: String, grantingTo roles: [String], _ db: PostgresConnection) throws {
        let body = select.replacingOccurrences(of: "{src}", with: source)
        let qualified = "\(viewSchema).\(name)"
        var sql = "CREATE OR REPLACE VIEW \(qualified) AS\n\(body);\n"
        sql += "COMMENT ON VIEW \(qualified) IS \(literal(comment));\n"
        for column in columns {
            sql += "COMMENT ON COLUMN \(qualified).\(column.name) IS \(literal(column.comment));\n"
        }
        if !roles.isEmpty {
            sql += "GRANT SELECT ON \(qualified) TO \(roles.joined(separator: ", "));\n"
        }
        try db.execute(sql)
    }
}

/// A SQL string literal for a comment written in this module (never user input).
private func literal(_ text: String) -> String {
    "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
}
