import EventSourcing
import Foundation
import Postgres
import Projections

/// Keeps the read models current after a command, and checks them for auditors.
enum ProjectionUpdates {
    static func runner(_ session: Session, whenBusy: WorkerLockPolicy = .fail) -> ProjectionRunner {
        ProjectionRunner(session.db, projections: ReadModels.all, whenBusy: whenBusy)
    }

    /// Applies every event not yet in the read models. When a long-lived worker (`muster projections run`)
    /// holds a projection, waits briefly for it to catch up instead.
    ///
    /// The catch-up's batches commit without waiting for the WAL flush (`ProjectionRunner.asynchronousCommit`):
    /// the read models are derived from the log, and each batch commits atomically with its checkpoint, so a
    /// batch lost in a crash is simply applied again by the next catch-up. The command's own append has
    /// already committed durably. This saves an fsync on every command.
    static func catchUp(_ session: Session) throws {
        let runner = runner(session)
        runner.asynchronousCommit = true
        runner.willReplaceVersion = { projection, found in
            printError("note: read model \(projection.name) is marked '\(found)', and this muster has version \(projection.version): building it again from the event log, once; this can take a while")
        }
        do {
            _ = try runner.catchUp()
        } catch let error as ProjectionError where error.isBusy {
            // The worker was woken by the command's notification and usually needs a few milliseconds:
            // look again soon, then less often.
            let deadline = Date().addingTimeInterval(10)
            var pause = 0.002
            while Date() < deadline {
                if try runner.status().allSatisfy({ $0.visibleLag == 0 }) { return }
                Thread.sleep(forTimeInterval: pause)
                pause = min(pause * 2, 0.05)
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
