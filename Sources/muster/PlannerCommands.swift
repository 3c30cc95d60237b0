import ArgumentParser

enum PlannerCommands {
    static let groups: [any ParsableCommand.Type] = []
}
