import EventSourcing
import Foundation
import Postgres
import Projections

/// Keeps the read models current after a command, and checks them for auditors.
enum ProjectionUpdates {
    static func runner(_ session: Session, whenBusy: WorkerLockPolicy = .fail) -> ProjectionRunner {
        ProjectionRunner(session.db, projections: ReadModels.all, batchSize: 1000, whenBusy: whenBusy)
    }

    /// Applies every event not yet in the read models. When a long-lived worker (`muster projections run`)
    /// holds a projection, waits briefly for it to catch up instead.
    static func catchUp(_ session: Session) throws {
        let runner = runner(session)
        do {
            _ = try runner.catchUp()
        } catch let error as ProjectionError where error.isBusy {
            let deadline = Date().addingTimeInterval(10)
            while Date() < deadline {
                if try runner.status().allSatisfy({ $0.visibleLag == 0 }) { return }
                Thread.sleep(forTimeInterval: 0.05)
            }
            printError("note: the projection worker (pid \(error.holderPID.map(String.init) ?? "?")) has not caught up yet; reports may lag")
        }
    }

    /// Differences between each live projection and a fresh rebuild from the events.
    static func verifyAgainstRebuild(_ session: Session) throws -> [String] {
        let runner = runner(session, whenBusy: .wait)
        var findings: [String] = []
        for projection in ReadModels.all {
            let differences = try runner.compareWithRebuild(projection.name)
            print("projection \(projection.name): \(differences.isEmpty ? "equals a fresh rebuild" : "\(differences.count) difference(s)")")
            findings += differences.map { "projection \(projection.name): \($0)" }
        }
        return findings
    }
}
